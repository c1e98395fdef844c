"""Many centres: each centre's aggregate bundle, and the pooled estimates made from bundles only.

A centre shares one file, ``report/centres/{centre}/aggregate.json`` (docs/centres.md): for each
endpoint and infection type, one row per distinct time with the numbers entering, at risk,
having the event, the competing event and censored, and the Table 1 counts through the
small-cell plan. No patient ID, date or free text is in it. Pooling sums these tables over
centres: with times in days the pooled Kaplan–Meier and Aalen–Johansen estimates equal those of
the concatenated patient-level data, because both estimators depend on the data only through
these counts at each distinct time. The estimates are read off the summed tables by the
functions the single-export build reads its own patients' table with
(:mod:`cmvig_report.stats.risk_tables`, :func:`survival.km_landmark_from_table`,
:func:`survival.aalen_johansen_landmark`): one centre pooled alone gives its own estimates.

Ties follow lifelines: events before censorings at the same time; a patient entering (delayed
entry) at time t is at risk from the next time on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..core.io import read_clean_cohort, sha256_file, write_json
from ..data.groups import GROUPS, of_group
from ..data.groups import sizes as group_sizes
from ..errors import PipelineError
from ..privacy.printed_counts import catalogue, disclosure_plan
from ..stats import risk_tables, survival
from ..stats.analysis import (
    COMPETING_METHOD,
    PRIMARY_RESPONSE_METHOD,
    SENSITIVITY_METHODS,
    SURVIVAL_METHOD,
)

BUNDLE_FORMAT = "cmvig-aggregate/1"
# Width of one time unit in days; "day" keeps pooling exact.
TIME_UNITS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
ROW_COLUMNS = risk_tables.ROW_COLUMNS
ENDPOINTS = ("response", "os_from_cmvig", "os_from_hsct")
SUPPRESSED = "group smaller than min_cell_count: risk table withheld"


def binned(days: Any, unit: str) -> np.ndarray:
    """Times in days as whole ``unit``s, rounded up (a day-7 event is in week 1, day 8 in week
    2); days are returned as they are."""
    width = TIME_UNITS[unit]
    d = np.asarray(days, dtype=float)
    return d if width == 1.0 else np.ceil(d / width)


def risk_table(times: Any, events: Any, competing: Any = None, entry: Any = None
               ) -> dict[str, list[float | int]]:
    """A bundle's risk table: :func:`risk_tables.risk_table` as JSON-ready columns."""
    return risk_tables.as_columns(risk_tables.risk_table(times, events, competing, entry))


def landmark(table: pd.DataFrame, day: int, unit: str, *, one_minus: bool = False,
             delayed_entry: bool = False) -> dict[str, Any]:
    """A landmark block from a summed table: :func:`survival.km_landmark_from_table`, the one
    the single build uses, read at the end of the landmark's time unit."""
    return survival.km_landmark_from_table(table, day, at=float(binned([day], unit)[0]),
                                           one_minus=one_minus, delayed_entry=delayed_entry)


def logrank_stratified(strata: Sequence[tuple[pd.DataFrame, pd.DataFrame]]) -> dict[str, Any]:
    """Log-rank test of group A against group B, stratified: observed minus expected and the
    hypergeometric variance summed within each stratum (centre), then over strata."""
    o_minus_e = variance = 0.0
    for a, b in strata:
        both = risk_tables.sum_tables([a.to_dict("list"), b.to_dict("list")])
        a_on = risk_tables.sum_tables([a.to_dict("list"), _empty_like(both)])
        n = both["at_risk"].to_numpy(dtype=float)
        na = a_on["at_risk"].to_numpy(dtype=float)
        d = both["events"].to_numpy(dtype=float)
        da = a_on["events"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            o_minus_e += float(np.sum(np.where(n > 0, da - d * na / n, 0.0)))
            variance += float(np.sum(np.where(n > 1, na * (n - na) * d * (n - d)
                                              / (n * n * (n - 1)), 0.0)))
    out: dict[str, Any] = {"statistic": None, "p": None, "df": 1, "reason": None,
                           "strata": len(strata)}
    if variance <= 0:
        out["reason"] = survival.ZERO_VARIANCE
        return out
    stat = o_minus_e ** 2 / variance
    from scipy.stats import chi2

    out["statistic"], out["p"] = survival.rounded(stat), survival.rounded(chi2.sf(stat, 1))
    return out


def _empty_like(table: pd.DataFrame) -> dict[str, list]:
    # zero rows at every time of ``table``: puts one group's table on the pooled time grid
    return {"time": list(table["time"]), **{k: [0] * len(table) for k in ROW_COLUMNS[1:]}}


# --- a centre's bundle ------------------------------------------------------------------------

def endpoint_tables(cohort: pd.DataFrame, unit: str) -> dict[str, dict[str, Any]]:
    """Per endpoint and infection type, the risk table (times in ``unit``)."""
    out: dict[str, dict[str, Any]] = {name: {} for name in ENDPOINTS}
    for g in GROUPS:
        c = of_group(cohort, g)
        responded = c["responded"].astype(bool)
        died_first = c["died"].astype(bool) & ~responded
        out["response"][g] = risk_table(binned(c["days_to_response_or_censoring"], unit),
                                        responded, died_first)
        out["os_from_cmvig"][g] = risk_table(binned(c["os_from_cmvig_days"], unit), c["died"])
        out["os_from_hsct"][g] = risk_table(binned(c["os_from_hsct_days"], unit), c["died"],
                                            entry=binned(c["days_hsct_to_cmvig"], unit))
    return out


def build_bundle(cohort: pd.DataFrame, *, unit: str, response_day: int,
                 min_cell_count: int, freeze_sha256: Mapping[str, str]) -> dict[str, Any]:
    """The aggregate bundle of one centre: risk tables, Table 1 counts (hidden ones as their
    mark), the data-freeze checksums and the software version; nothing patient-level. The
    centre is named by the bundle's folder, not in the file: a centre's name is often the name
    of the folder its export sits in, which the leak check refuses in a shareable file."""
    if unit not in TIME_UNITS:
        raise ValueError(f"aggregate_time_unit must be one of {sorted(TIME_UNITS)}, got {unit!r}")
    plan = disclosure_plan(cohort, int(response_day), int(min_cell_count))
    # the counts the manuscript prints (not the cells only the small-cell plan's sums use)
    all_cells, _, _, printed_in = catalogue(cohort, int(response_day))
    cells = {name: n for name, n in all_cells.items() if name in printed_in}
    tables = endpoint_tables(cohort, unit)
    sizes = group_sizes(cohort)
    small = sorted(g for g, n in sizes.items() if 0 < n < int(min_cell_count))
    for g in small:
        for name in ENDPOINTS:
            tables[name][g] = {"suppressed": True, "reason": SUPPRESSED}
    return {
        "format": BUNDLE_FORMAT,
        "software": {"cmvig-report": __version__},
        "freeze_sha256": dict(sorted(freeze_sha256.items())),
        "time_unit": unit,
        "time_unit_days": TIME_UNITS[unit],
        "min_cell_count": int(min_cell_count),
        "response_day": int(response_day),
        "endpoints": tables,
        "suppressed_groups": small,
        "table1_counts": {name: plan.hidden.get(name, int(n)) for name, n in sorted(cells.items())},
        "table1_hidden": sorted(set(plan.hidden) & set(cells)),
    }


# --- pooling ----------------------------------------------------------------------------------

def _tables(bundles: Sequence[Mapping[str, Any]], endpoint: str, groups: Sequence[str],
            delayed_entry: bool = True) -> pd.DataFrame:
    parts = []
    for b in bundles:
        for g in groups:
            t = b["endpoints"][endpoint][g]
            if t.get("suppressed"):
                continue
            if not delayed_entry:
                t = _entry_at_zero(t)
            parts.append(t)
    return risk_tables.sum_tables(parts)


def _entry_at_zero(table: Mapping[str, Any]) -> dict[str, Any]:
    # everyone at risk from time 0: the primary analysis of survival from HSCT
    frame = pd.DataFrame({k: table[k] for k in ROW_COLUMNS})
    n = int(frame["entered"].sum())
    frame["entered"] = 0
    frame = pd.concat([pd.DataFrame([{"time": 0.0, **{k: 0 for k in ROW_COLUMNS[1:]}}]), frame])
    frame = frame.groupby("time", sort=True).sum().reset_index()
    frame.loc[0, "entered"] = n
    return frame.to_dict("list")


def pooled_estimates(bundles: Sequence[Mapping[str, Any]], *, response_day: int,
                     os_cmvig_day: int, os_hsct_day: int) -> dict[str, Any]:
    """The estimates a single-centre build prints that bundles allow, pooled over centres."""
    units = {b["time_unit"] for b in bundles}
    if len(units) != 1:
        raise ValueError(f"bundles use different time units: {sorted(units)}")
    unit = units.pop()
    both = list(GROUPS)
    resp = _tables(bundles, "response", both)
    by_type = {g: {**landmark(_tables(bundles, "response", [g]), response_day, unit,
                              one_minus=True),
                   "responders": int(_tables(bundles, "response", [g])["events"].sum()),
                   "method": PRIMARY_RESPONSE_METHOD}
               for g in GROUPS}
    at = float(binned([response_day], unit)[0])
    strata = [tuple(_tables([b], "response", [g]) for g in GROUPS) for b in bundles]
    os_hsct = _tables(bundles, "os_from_hsct", both, delayed_entry=False)
    deaths = _tables(bundles, "os_from_cmvig", both)
    centre_tables = {b["centre"]: _tables([b], "response", both) for b in bundles}
    per_centre = {name: landmark(table, response_day, unit, one_minus=True)
                  for name, table in centre_tables.items()}
    return {
        "n_patients": int(resp["entered"].sum()),
        "n_responders": int(resp["events"].sum()),
        "infection_type": {g: int(_tables(bundles, "response", [g])["entered"].sum())
                           for g in GROUPS},
        "response": {**landmark(resp, response_day, unit, one_minus=True),
                     "method": PRIMARY_RESPONSE_METHOD},
        "response_by_type": by_type,
        "logrank": {**logrank_stratified(strata), "method": "log-rank test stratified by centre"},
        "response_competing_risk": {
            **survival.aalen_johansen_landmark(resp, response_day, at=at),
            "method": COMPETING_METHOD},
        "os_from_cmvig": {**landmark(deaths, os_cmvig_day, unit),
                          "method": SURVIVAL_METHOD},
        "os_from_hsct": {**landmark(os_hsct, os_hsct_day, unit),
                         "method": SURVIVAL_METHOD},
        "sensitivity": {"os_from_hsct_delayed_entry": {
            **landmark(_tables(bundles, "os_from_hsct", both), os_hsct_day, unit,
                       delayed_entry=True),
            "method": SENSITIVITY_METHODS["os_from_hsct_delayed_entry"]}},
        "deaths": {"total": int(deaths["events"].sum())},
        "table1_counts": pooled_table1(bundles),
        "centres": {"n": len(bundles), "names": sorted(per_centre),
                    "time_unit": unit,
                    "suppressed_groups": {b["centre"]: list(b["suppressed_groups"])
                                          for b in bundles if b["suppressed_groups"]},
                    "min_cell_count": {b["centre"]: int(b["min_cell_count"]) for b in bundles},
                    "software": sorted({str(b["software"].get("cmvig-report", "unknown"))
                                        for b in bundles}),
                    "response_by_centre": dict(sorted(per_centre.items())),
                    "heterogeneity": heterogeneity(centre_tables, response_day, at)},
    }


def pooled_table1(bundles: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Table 1's counts summed over centres: ``{cell: {"count", "hidden_in"}}``. A count hidden
    by a centre's small-cell plan is not added: the sum is then ``None`` and ``hidden_in``
    names the centres that withheld it."""
    cells = sorted({name for b in bundles for name in b["table1_counts"]})
    out: dict[str, Any] = {}
    for name in cells:
        values = {b["centre"]: b["table1_counts"].get(name, 0) for b in bundles}
        hidden = sorted(c for c, v in values.items() if isinstance(v, str))
        out[name] = {"count": None if hidden else int(sum(values.values())),
                     "hidden_in": hidden}
    return out


NO_EVENT_BY_LANDMARK = ("no event by the landmark: log(-log S) is undefined at S = 1, and "
                        "such a centre's weight on that scale tends to 0")
ALL_HAD_EVENT = "every child had the event by the landmark: log(-log S) is undefined at S = 0"


def heterogeneity(tables: Mapping[str, pd.DataFrame], day: int, at: float) -> dict[str, Any]:
    """Cochran's Q and I² over the centres' Kaplan–Meier estimates at the landmark (``day``,
    read at ``at`` on the tables' time scale), on the scale of their intervals.

    Each centre's log-log interval is symmetric in θ = log(−log S), with the delta-method
    variance Var θ = G / (log S)², G being Greenwood's sum (the variance of log S). So
    θ_i and 1 / Var θ_i are the estimate and weight of centre i, and
    Q = Σ w_i (θ_i − θ̄)², θ̄ = Σ w_i θ_i / Σ w_i, on k − 1 degrees of freedom (k the centres
    used); I² = max(0, (Q − df) / Q). (Q is the same for 1 − S, the response probability: it
    is one scale up to sign.)

    Centres without a finite θ are not used and are named in ``left_out`` with the reason, never
    dropped silently:

    * no event by the landmark (S = 1): θ = −∞ and Var θ = ∞. As a centre's events d tend to 0
      its weight tends to 0 (≈ d) and its term of Q too (≈ d (log d)²): leaving it out is the
      limit of the inverse-variance test, and it adds no degree of freedom. Its estimate and
      exact bound still appear in ``response_by_centre`` and the forest plot;
    * S = 0 (every child at risk had the event): θ = +∞;
    * no estimate at all (the landmark after the centre's follow-up, or no children).

    Returns ``{q, df, p, i2, centres_used, left_out: {centre: reason}, scale, reason}``.
    """
    theta, var, left_out = [], [], {}
    for name, table in sorted(tables.items()):
        block = survival.km_landmark_from_table(table, day, at=at)
        if block["estimate"] is None:
            left_out[name] = block["reason"]
            continue
        curve = risk_tables.km_from_table(table)
        s = risk_tables.value_at(curve, "survival", at, 1.0)
        if s >= 1:
            left_out[name] = NO_EVENT_BY_LANDMARK
            continue
        if s <= 0:
            left_out[name] = ALL_HAD_EVENT
            continue
        theta.append(math.log(-math.log(s)))
        var.append(risk_tables.value_at(curve, "greenwood", at, 0.0) / math.log(s) ** 2)
    out: dict[str, Any] = {"q": None, "df": None, "p": None, "i2": None,
                           "centres_used": len(theta), "left_out": left_out,
                           "scale": "log(-log S), Greenwood variance", "reason": None}
    if len(theta) < 2:
        out["reason"] = "fewer than two centres with an event by the landmark"
        return out
    w = 1 / np.asarray(var)
    x = np.asarray(theta)
    mean = float(np.sum(w * x) / np.sum(w))
    q = float(np.sum(w * (x - mean) ** 2))
    df = len(theta) - 1
    from scipy.stats import chi2

    out.update(q=survival.rounded(q), df=df, p=survival.rounded(chi2.sf(q, df)),
               i2=survival.rounded(max(0.0, (q - df) / q) if q > 0 else 0.0))
    return out


# --- steps ------------------------------------------------------------------------------------

def stage_bundle(*, cohort: str, patients: str, viral_loads: str, centre: str, unit: str,
                 response_day: int, min_cell_count: int, staged: str) -> list[str]:
    """The centre's aggregate bundle, written to ``staged`` (before its leak check)."""
    df = read_clean_cohort(cohort)
    freeze = {"patients": sha256_file(patients), "viral_loads": sha256_file(viral_loads)}
    out = build_bundle(df, unit=str(unit), response_day=int(response_day),
                       min_cell_count=int(min_cell_count), freeze_sha256=freeze)
    write_json(out, staged)
    notes = [f"centre {centre}: {len(df)} patients in risk tables by {unit}"]
    if out["suppressed_groups"]:
        notes.append(f"centre {centre}: risk tables withheld for "
                     f"{', '.join(out['suppressed_groups'])} (fewer than min_cell_count "
                     f"{int(min_cell_count)} patients)")
    return notes


def publish_bundle(*, staged: str, cohort: str, clean_viral_loads: str,
                   input_paths: list[str], cause_categories: dict[str, list[str]],
                   published: str) -> list[str]:
    """The leak check of a staged bundle against the centre's IDs, dates, free text and input
    paths, then its copy to ``published`` (on a hit, deleted and nothing published)."""
    from ..release.publish import check_and_publish, sensitive_terms

    sensitive = sensitive_terms(cohort, clean_viral_loads, input_paths, cause_categories)
    notes = check_and_publish([staged], [published], [], sensitive)
    return [*notes, f"{published}: checked and published; no patient ID, date, input path or "
                    "raw free text found"]


def run_bundle(*, cohort: str, clean_viral_loads: str, patients: str, viral_loads: str,
               centre: str, unit: str, response_day: int, min_cell_count: int,
               input_paths: list[str], cause_categories: dict[str, list[str]], staged: str,
               published: str) -> list[str]:
    """Step ``centre_bundle``: :func:`stage_bundle`, then :func:`publish_bundle`, in one step
    (the bundle is the one file that leaves the centre)."""
    notes = stage_bundle(cohort=cohort, patients=patients, viral_loads=viral_loads,
                         centre=centre, unit=unit, response_day=response_day,
                         min_cell_count=min_cell_count, staged=staged)
    return notes + publish_bundle(staged=staged, cohort=cohort,
                                  clean_viral_loads=clean_viral_loads,
                                  input_paths=input_paths, cause_categories=cause_categories,
                                  published=published)


def read_bundles(files: Sequence[str]) -> list[dict[str, Any]]:
    """The bundles, checked to be bundles (one clear error naming the file otherwise), each
    named by its folder (``<centre>/aggregate.json``), in centre order."""
    bundles = []
    for f in files:
        try:
            b = json.loads(Path(f).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PipelineError(f"{f}: not a readable aggregate bundle ({exc})") from None
        if not isinstance(b, dict) or b.get("format") != BUNDLE_FORMAT:
            found = b.get("format") if isinstance(b, dict) else None
            raise PipelineError(f"{f}: not an aggregate bundle (format should be "
                                f"{BUNDLE_FORMAT!r}, found {found!r})")
        bundles.append({**b, "centre": Path(f).parent.name})
    names = [b["centre"] for b in bundles]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise PipelineError(f"centre(s) {', '.join(twice)} have more than one bundle")
    if not bundles:
        raise PipelineError("no aggregate bundle to pool (pooled_from holds no aggregate.json)")
    return sorted(bundles, key=lambda b: b["centre"])


def centre_numbers(names: Iterable[str]) -> dict[str, int]:
    """Each centre's printed number: 1, 2, ... in alphabetical order of its name."""
    return {name: k for k, name in enumerate(sorted(names), start=1)}


def forest_plot(per_centre: Mapping[str, Mapping[str, Any]], pooled: Mapping[str, Any],
                path: str, png: str | None = None) -> None:
    """Response by the landmark per centre and pooled, with 95% intervals (an SVG; and a PNG
    for the DOCX when ``png`` is given)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # centres as numbers (pooled_report.py says why)
    numbers = centre_numbers(per_centre)
    rows = [*((f"Centre {numbers[name]}", b) for name, b in sorted(per_centre.items())),
            ("Pooled", pooled)]
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "cmvig-report"}):
        fig, ax = plt.subplots(figsize=(6, 0.45 * len(rows) + 1.2))
        for i, (name, b) in enumerate(reversed(rows)):
            if b["estimate"] is None:
                continue
            marker = "D" if name == "Pooled" else "s"
            if b["ci_lower"] is not None:
                ax.plot([b["ci_lower"], b["ci_upper"]], [i, i], color="black", lw=1)
            ax.plot([b["estimate"]], [i], marker=marker, color="black")
        ax.set_yticks(range(len(rows)), [name for name, _ in reversed(rows)])
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"Cumulative response by day {pooled['day']} (95% CI)")
        fig.tight_layout()
        fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})
        if png:
            fig.savefig(png, format="png", dpi=200, metadata={"Software": None})
        plt.close(fig)


def run_pooled(*, bundles: list[str], response_day: int, os_cmvig_day: int, os_hsct_day: int,
               estimates: str, forest: str, forest_png: str | None = None) -> list[str]:
    """Step ``pooled_estimates``: estimates from the centres' bundles only, and the forest plot."""
    read = read_bundles(bundles)
    try:
        est = pooled_estimates(read, response_day=int(response_day),
                               os_cmvig_day=int(os_cmvig_day), os_hsct_day=int(os_hsct_day))
    except ValueError as exc:
        raise PipelineError(str(exc)) from None
    write_json(est, estimates)
    forest_plot(est["centres"]["response_by_centre"], est["response"], forest, forest_png)
    notes = [f"pooled {len(read)} centres, {est['n_patients']} patients"]
    for centre, groups in est["centres"]["suppressed_groups"].items():
        notes.append(f"centre {centre}: {', '.join(groups)} withheld in its bundle "
                     "(small counts); the pooled estimates leave them out")
    return notes
