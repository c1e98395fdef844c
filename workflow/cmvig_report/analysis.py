"""Stage 2: every number the manuscript prints, as ``results/estimates.json``; Table 1.

The keys are those of the public contract plus the extras listed in docs/interfaces.md. Values
that cannot be estimated are ``None`` with a ``reason``; the JSON never holds NaN.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from . import survival
from .io import atomic_write_text, read_clean_cohort, write_csv, write_json
from .table1 import build_table1, table1_html

GROUPS = ("recurrent", "refractory")


def _num(x: float) -> float:
    return round(float(x), survival.DECIMALS)


def _median_range(values: pd.Series) -> dict[str, Any]:
    if values.empty:
        return {"median": None, "min": None, "max": None, "reason": "no patients"}
    as_int = pd.api.types.is_integer_dtype(values)
    lo, hi = values.min(), values.max()
    return {
        "median": _num(values.median()),
        "min": int(lo) if as_int else _num(lo),
        "max": int(hi) if as_int else _num(hi),
        "reason": None,
    }


def _crude_response(cohort: pd.DataFrame, day: int) -> dict[str, Any]:
    n = len(cohort)
    k = int((cohort["responded"] & (cohort["days_to_response"].fillna(day + 1) <= day)).sum())
    out: dict[str, Any] = {"day": day, "responders": k, "n": n, "proportion": None,
                           "ci_lower": None, "ci_upper": None,
                           "method": "Clopper-Pearson exact", "reason": None}
    if n == 0:
        out["reason"] = "no patients"
        return out
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    out.update(proportion=_num(k / n), ci_lower=_num(ci.low), ci_upper=_num(ci.high))
    return out


def _competing_risk(cohort: pd.DataFrame, day: int) -> dict[str, Any]:
    codes = cohort["responded"].astype(int)
    codes = codes.where(cohort["responded"], 2 * cohort["died"].astype(int))
    out = survival.aalen_johansen(cohort["days_to_response_or_censoring"], codes, day)
    out["method"] = "Aalen-Johansen; death without response competing"
    return out


def compute_estimates(cohort: pd.DataFrame, *, response_day: int, os_cmvig_day: int,
                      os_hsct_day: int, lloq_iu_ml: float) -> dict[str, Any]:
    """All estimates for one cleaned cohort (columns of docs/interfaces.md)."""
    c = cohort
    t_resp, e_resp = c["days_to_response_or_censoring"], c["responded"]
    by_type: dict[str, Any] = {}
    for g in GROUPS:
        sub = c[c["infection_type"] == g]
        block = survival.km_landmark(sub["days_to_response_or_censoring"], sub["responded"],
                                     response_day, cumulative_incidence=True)
        block["responders"] = int(sub["responded"].sum())
        by_type[g] = block
    a, b = (c[c["infection_type"] == g] for g in GROUPS)
    lr = survival.logrank(a["days_to_response_or_censoring"], a["responded"],
                          b["days_to_response_or_censoring"], b["responded"])
    dead = c[c["died"]]
    causes = dead["cause_of_death"].value_counts()
    first = c["cmvig_start_date"].min() if len(c) else None
    last = c["cmvig_start_date"].max() if len(c) else None
    return {
        "n_patients": len(c),
        "n_responders": int(c["responded"].sum()),
        "infusion_reactions": int((c["infusion_reaction"] == "yes").sum()),
        "infection_type": {g: int((c["infection_type"] == g).sum()) for g in GROUPS},
        "response": survival.km_landmark(t_resp, e_resp, response_day, cumulative_incidence=True),
        "response_by_type": by_type,
        "logrank_p": lr["p"],
        "logrank": lr,
        "os_from_cmvig": survival.km_landmark(c["os_from_cmvig_days"], c["died"], os_cmvig_day),
        "os_from_hsct": survival.km_landmark(c["os_from_hsct_days"], c["died"], os_hsct_day),
        "deaths": {
            "total": len(dead),
            "cmv_related": int(dead["cmv_death"].sum()),
            "other": int((~dead["cmv_death"]).sum()),
            "causes": {str(k): int(v) for k, v in sorted(causes.items())},
            "cmv_related_causes": {
                str(k): int(v)
                for k, v in sorted(dead[dead["cmv_death"]]["cause_of_death"].value_counts().items())
            },
        },
        "median_followup_from_cmvig": survival.reverse_km_median(c["os_from_cmvig_days"],
                                                                 c["died"]),
        "median_followup_from_hsct": survival.reverse_km_median(c["os_from_hsct_days"],
                                                                c["died"]),
        "days_hsct_to_cmvig": _median_range(c["days_hsct_to_cmvig"]),
        "cmvig_doses": _median_range(c["cmvig_doses"]),
        "age_at_hsct": _median_range(c["age_at_hsct"]),
        "sex": {s: int((c["sex"] == s).sum()) for s in ("F", "M")},
        "cmvig_period": {"first": first, "last": last},
        "crude_response": _crude_response(c, response_day),
        "response_competing_risk": _competing_risk(c, response_day),
        "settings": {"lloq_iu_ml": lloq_iu_ml, "response_day": response_day,
                     "os_cmvig_day": os_cmvig_day, "os_hsct_day": os_hsct_day},
    }


def km_curves(cohort: pd.DataFrame) -> pd.DataFrame:
    """The Kaplan–Meier curves Figure 2 draws, as one tidy table (``results/km_curves.csv``).

    Written by the analysis stage, which has lifelines loaded already, so the figure step
    does not pay for importing it again.
    """
    parts = []
    for g in GROUPS:
        d = cohort[cohort["infection_type"] == g]
        if len(d):
            curve = survival.km_curve(d["days_to_response_or_censoring"], d["responded"])
            parts.append(curve.assign(curve=f"response_{g}"))
    if len(cohort):
        curve = survival.km_curve(cohort["os_from_cmvig_days"], cohort["died"])
        parts.append(curve.assign(curve="os_from_cmvig"))
    columns = ["curve", "time", "survival", "ci_lower", "ci_upper"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(
        columns=columns)


def assert_finite(obj: Any, path: str = "") -> None:
    """Raise ValueError naming the key of the first NaN or infinity found."""
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"non-finite number at {path or '<root>'}")
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_finite(v, f"{path}[{i}]")


def run_analysis(cohort: str, response_day: int, os_cmvig_day: int, os_hsct_day: int,
                 lloq: float, estimates_out: str, table1_csv_out: str,
                 table1_html_out: str, curves_out: str) -> list[str]:
    """CLI entry: write estimates.json, table1.csv, table1.html and km_curves.csv."""
    df = read_clean_cohort(cohort)
    est = compute_estimates(df, response_day=response_day, os_cmvig_day=os_cmvig_day,
                            os_hsct_day=os_hsct_day, lloq_iu_ml=lloq)
    assert_finite(est)
    json.dumps(est, allow_nan=False)
    table = build_table1(df)
    write_csv(table, table1_csv_out)
    atomic_write_text(table1_html_out, table1_html(table))
    write_csv(km_curves(df).round(survival.DECIMALS), curves_out)
    write_json(est, estimates_out)
    return []
