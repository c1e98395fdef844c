"""The words the manuscript uses about the data, each chosen by one small rule over the estimates.

A word such as "most", "every", "none" or "not recorded" states a fact as surely as a number
does, so the templates never choose one themselves: each is a *claim* made here, by a named
rule that reads a few values of ``estimates.json``, and the template prints the claim's word
(``est.claims.<name>.word``) or, where the rule finds no word honest, the values themselves.

The rules are deliberately strict:

* a share is "most" only when the lower 95% limit is above one half and "fewer than half" only
  when the upper limit is below it; otherwise the estimate is printed with its interval;
* a count is "every" or "none" only when it equals its denominator or zero and nothing is
  missing; otherwise it is printed as "k of n";
* a count hidden by small-cell control never earns a word that would give it back.

Every claim keeps the values it read (``reads``: input, estimates key, value), written to the
claims register ``report/claims.csv`` (:func:`register_rows`) with hidden counts printed as
their marks, as ``numbers.csv`` prints them. Plain Python: the renderer imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The words a rule may return (the templates compare against these).
EVERY, NONE, MOST, FEWER_THAN_HALF = "every", "none", "most", "fewer than half"
INTERVAL = "interval"  # no word is honest: print the estimate with its interval
COUNT = "count"  # no word is honest: print "k of n"
NOT_ESTIMABLE = "not estimable"
# the estimate is withheld by small-cell control (privacy/printed_estimates.py): it prints as
# the hidden mark, and no word may bound it
WITHHELD = "withheld"
RECORDED, NOT_RECORDED = "recorded", "not recorded"
ONE_LIMIT, SEVERAL_LIMITS, LIMIT_RANGE = "one limit", "several limits", "range of limits"
ORIGINAL_REPORT, OWN_STUDY = "compared with the original report", "own study"
# More limits than this are named by their range, not one by one.
MAX_LIMITS_NAMED = 3
# The block whose estimate the text's words about response are about (the abstract's estimate).
RESPONSE_SOURCE = "response"

COLUMNS = ["claim", "rule", "word", "input", "source", "text", "value", "suppressed"]


def _claim(rule: str, word: str, reads: Sequence[tuple[str, str, Any]]) -> dict[str, Any]:
    return {"rule": rule, "word": word,
            "reads": [{"input": i, "source": s, "value": v} for i, s, v in reads]}


def share_of_children(block: Mapping[str, Any], source: str,
                      hidden: Mapping[str, str] | None = None) -> dict[str, Any]:
    """How much of the series a landmark block's estimate covers.

    ``every``: every child had the event (events = n, estimate 1); ``none``: no child had it
    (no event, estimate 0); ``most``: the lower 95% limit is above one half; ``fewer than
    half``: the upper limit is below one half; ``interval`` otherwise (print the estimate and
    its interval); ``not estimable`` without an estimate. ``source`` is the block's key.
    """
    hidden = hidden or {}
    est, lo, hi = block.get("estimate"), block.get("ci_lower"), block.get("ci_upper")
    events, n = block.get("events"), block.get("n")
    reads = [("estimate", f"{source}.estimate", est), ("lower 95% limit", f"{source}.ci_lower", lo),
             ("upper 95% limit", f"{source}.ci_upper", hi),
             ("events", f"{source}.events", events), ("children", f"{source}.n", n)]
    counts_shown = not any(f"{source}.{k}" in hidden for k in ("events", "n"))
    if est is None:
        word = NOT_ESTIMABLE
    elif f"{source}.estimate" in hidden:  # a withheld estimate: its limits' word would bound it
        word = WITHHELD
    elif counts_shown and events == 0 and est == 0:
        word = NONE
    elif counts_shown and n and events == n and est == 1:
        word = EVERY
    elif lo is not None and lo > 0.5:
        word = MOST
    elif hi is not None and hi < 0.5:
        word = FEWER_THAN_HALF
    else:
        word = INTERVAL
    return _claim("share_of_children", word, reads)


def count_of_children(count: int, n: int, count_source: str, n_source: str,
                      missing: int = 0, missing_source: str = "",
                      hidden: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``every`` when ``count`` equals ``n``, ``none`` when it is zero, both only with nothing
    missing and no count hidden; ``count`` otherwise (print "k of n")."""
    hidden = hidden or {}
    reads = [("children with it", count_source, count), ("children", n_source, n)]
    if missing_source:
        reads.append(("children not recorded", missing_source, missing))
    shown = not any(s in hidden for _, s, _ in reads if s)
    if shown and missing == 0 and n > 0 and count == n:
        word = EVERY
    elif shown and missing == 0 and count == 0:
        word = NONE
    else:
        word = COUNT
    return _claim("count_of_children", word, reads)


def fact_recorded(column: str, recorded: Sequence[str], missing: int | None, n: int,
                  hidden: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Whether the export recorded an optional clinical fact (``column``): ``not recorded``
    when no child has a value, ``every`` when every child has one, ``count`` when some have
    (print how many of n)."""
    hidden = hidden or {}
    source = f"clinical.missing.{column}"
    reads: list[tuple[str, str, Any]] = [("recorded", "clinical.recorded", column in recorded),
                                         ("children", "n_patients", n)]
    if column not in recorded:
        return _claim("fact_recorded", NOT_RECORDED, reads)
    reads.append(("children not recorded", source, missing))
    if missing == 0 and source not in hidden:
        return _claim("fact_recorded", EVERY, reads)
    return _claim("fact_recorded", COUNT, reads)


def fields_missing(missing: Mapping[str, int], n: int,
                   hidden: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Whether any patient field was left empty: the required fields never are (the contract
    stops the build), so this reads the optional clinical columns the export gave. ``none``
    only when every such column has a value for every child; ``some`` otherwise."""
    hidden = hidden or {}
    reads = [("children", "n_patients", n)] + [
        (f"children without {col}", f"clinical.missing.{col}", k) for col, k in missing.items()]
    complete = all(k == 0 and f"clinical.missing.{col}" not in hidden
                   for col, k in missing.items())
    return _claim("fields_missing", NONE if complete else "some", reads)


def limits_used(limits: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Which limit(s) of quantification the response rule used: ``one limit``, ``several
    limits`` (each named with its samples) or, beyond :data:`MAX_LIMITS_NAMED`, ``range of
    limits`` (the lowest and highest)."""
    reads = [x for i, lim in enumerate(limits) for x in (
        (f"limit {i + 1}, IU/mL", f"lloq.limits[{i}].value", lim["value"]),
        (f"limit {i + 1}, samples", f"lloq.limits[{i}].samples", lim["samples"]))]
    word = (ONE_LIMIT if len(limits) <= 1 else SEVERAL_LIMITS
            if len(limits) <= MAX_LIMITS_NAMED else LIMIT_RANGE)
    return _claim("limits_used", word, reads)


def original_report(study: str) -> dict[str, Any]:
    """Whether the text may set its methods beside the original report's: only a replication
    (config ``study: replication``) repeats a published analysis."""
    word = ORIGINAL_REPORT if study == "replication" else OWN_STUDY
    return _claim("original_report", word, [("study", "settings.study", study)])


def build(est: Mapping[str, Any], hidden: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every claim of the text, from the estimates (``est`` without ``claims``); ``hidden`` is
    the small-cell plan (estimates key -> mark)."""
    hidden = hidden or {}
    clinical = est["clinical"]
    given = clinical["antivirals_given"]
    n = est["n_patients"]
    return {
        "response_share": share_of_children(est[RESPONSE_SOURCE], RESPONSE_SOURCE, hidden),
        "infusion_reactions": count_of_children(
            est["infusion_reactions"], n, "infusion_reactions", "n_patients", hidden=hidden),
        "antivirals_given": count_of_children(
            given["children"], given["n"], "clinical.antivirals_given.children",
            "clinical.antivirals_given.n", given["not_recorded"],
            "clinical.antivirals_given.not_recorded", hidden),
        "resistance_testing": fact_recorded(
            "resistance_testing", clinical["recorded"],
            clinical["missing"].get("resistance_testing"), n, hidden),
        "fields_missing": fields_missing(clinical["missing"], n, hidden),
        "lloq_limits": limits_used(est["lloq"]["limits"]),
        "original_report": original_report(est["settings"]["study"]),
    }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def register_rows(claims: Mapping[str, Any], hidden: Mapping[str, str]) -> list[dict[str, str]]:
    """The claims register (``report/claims.csv``, columns :data:`COLUMNS`): one row per value
    a claim read. A value hidden by small-cell control has its mark in ``text``, an empty
    ``value`` and ``suppressed`` = yes, as in ``numbers.csv``."""
    rows = []
    for name, claim in claims.items():
        for read in claim["reads"]:
            mark = hidden.get(read["source"])
            rows.append({"claim": name, "rule": claim["rule"], "word": claim["word"],
                         "input": read["input"], "source": f"estimates.json#{read['source']}",
                         "text": mark or _text(read["value"]),
                         "value": "" if mark else _text(read["value"]),
                         "suppressed": "yes" if mark else "no"})
    return rows
