"""Small-cell control of the printed estimates: an estimate goes wherever its counts go.

A proportion k/n, or a Kaplan–Meier or Aalen–Johansen estimate at a landmark with nothing
censored before it, times n is the events count exactly; printed to 6 decimals (numbers.csv,
claims.csv, the number appendix) or even as a whole percentage (28% of 46 children is 13), it
gives a hidden count back, and the hidden cells beside it follow by subtraction. Coarser rounding is
no remedy: a percentage to one decimal still pins k for any n up to 1000.

So the rule here is that an estimate prints only where every count it is computed from
prints, and is otherwise withheld: it prints as the hidden mark in every channel (text, tables,
tooltips, ``numbers.csv``, ``claims.csv``), with its confidence limits. Withholding, rather
than adding each estimate to the linear audit, keeps one rule for the linear case and the one
that is not: with censoring before the landmark the product-limit estimate is no linear
function of the printed counts, but it carries the order of events and censorings on its curve,
so there it is withheld whenever any count of its curve's family is hidden. An estimate
printed beside its printed counts with nothing censored equals events / n and tells a reader
nothing the counts do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import disclosure as dc
from .printed_counts import LANDMARK_COUNTS

# the values of a block that an estimate prints (the point estimate and its interval)
ESTIMATE_VALUES = ("estimate", "proportion", "ci_lower", "ci_upper")
WITHHELD_OUTPUT = "text; tooltips; register; claims; Table S1"
# the cohort-wide counts each family of estimates is computed from (estimates.json keys)
FAMILY_COUNTS = {"response": ("n_patients", "n_responders", "crude_response.responders",
                              "crude_response.n"),
                 "survival": ("n_patients", "deaths.total")}
# proportions: block -> the keys of the counts k and n it divides
PROPORTIONS = {"crude_response": ("responders", "n"),
               "infusion_reaction_rate": ("reactions", "n")}


def estimate_blocks(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every block of estimates.json that prints an estimate or a proportion, by key."""
    if isinstance(node, dict):
        own = [(path, node)] if path and any(k in node for k in ESTIMATE_VALUES[:2]) else []
        return own + [found for k, v in node.items() if k not in ("disclosure", "settings",
                                                                   "claims")
                      for found in estimate_blocks(v, f"{path}.{k}" if path else str(k))]
    if isinstance(node, list):
        return [found for i, v in enumerate(node)
                for found in estimate_blocks(v, f"{path}[{i}]")]
    return []


def family(path: str) -> str:
    """Whether a block estimates response, survival or safety (the counts it is made of)."""
    last = path.rsplit(".", 1)[-1]
    return ("survival" if last.startswith("os_") else "safety" if last.startswith("infusion")
            else "response")


def _counts_of(path: str, block: Mapping[str, Any]) -> list[str]:
    """The keys of the counts a block's estimate is computed from, printed in the block."""
    if path in PROPORTIONS:
        return [f"{path}.{k}" for k in PROPORTIONS[path]]
    return [f"{path}.{k}" for k in LANDMARK_COUNTS if isinstance(block.get(k), int)]


def _censored_before(block: Mapping[str, Any]) -> bool:
    # without a count of censorings (a block of estimates only) nothing says there were none
    return not isinstance(block.get("censored"), int) or block["censored"] > 0


def estimate_marks(estimates: Mapping[str, Any], hidden: Mapping[str, str], min_cell: int
                   ) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The estimates to withhold, given the plan's hidden counts (estimates key -> mark):
    estimates key -> mark for each withheld block and its values, and log rows.

    A block is withheld when a count it is computed from is hidden; a block of a landmark
    estimate with censoring before the landmark (or with no counts of its own) also when any
    count of its family (response or survival) is hidden anywhere, because such an estimate
    is not a linear function of its printed counts."""
    if min_cell <= 1 or not hidden:
        return {}, []
    blocks = estimate_blocks(estimates)
    counted = {path: _counts_of(path, block) for path, block in blocks}
    family_hidden = {f: any(k in hidden for k in keys) for f, keys in FAMILY_COUNTS.items()}
    family_hidden["safety"] = False  # a proportion only: its own counts decide
    for path, keys in counted.items():
        if any(k in hidden for k in keys):
            family_hidden[family(path)] = True
    marks: dict[str, str] = {}
    log: list[dict[str, Any]] = []
    for path, block in blocks:
        own = [k for k in counted[path] if k in hidden]
        if own:
            why = f"withheld: computed from a hidden count ({own[0]})"
        elif path not in PROPORTIONS and _censored_before(block) and family_hidden[family(path)]:
            why = ((f"withheld: not linear in its counts (censoring before day "
                    f"{block.get('day')})") if counted[path] else
                   "withheld: printed without counts of its own") + (
                f" and a {family(path)} count is hidden")
        else:
            continue
        mark = dc.COMPLEMENT_MARK  # "<5" beside an estimate would read as a percentage
        marks[path] = mark
        for key in ESTIMATE_VALUES:
            if block.get(key) is not None:
                marks[f"{path}.{key}"] = mark
                log.append({"kind": dc.SUPPRESSED_CELL, "output": WITHHELD_OUTPUT,
                            "item": f"{path}: {key}", "reason": why,
                            # as written in estimates.json; a string, so the log's counts
                            # stay whole numbers
                            "value": repr(float(block[key])),
                            # the block prints whole (percent_ci) under its own key
                            "source": "; ".join([f"estimates.json#{path}"] * (
                                key in ESTIMATE_VALUES[:2]) + [f"estimates.json#{path}.{key}"]),
                            "patient_id": ""})
    return marks, log
