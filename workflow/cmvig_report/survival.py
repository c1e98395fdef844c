"""Kaplan–Meier building blocks on plain arrays, wrapping lifelines.

Every interval is lifelines' default: the log-log ("exponential Greenwood") 95% interval, the same
as R's ``survfit(conf.type = "log-log")`` and the one the published intervals were computed with.
Functions never raise on small or odd groups; what cannot be estimated comes back as ``None``
with a ``reason`` so that ``estimates.json`` never holds NaN.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

DECIMALS = 6


def _arrays(durations: Any, events: Any) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    return d, e


def _round(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), DECIMALS)


def _fit_km(d: np.ndarray, e: np.ndarray):
    # lifelines is imported here, not at module level: it costs ~1.5 s and the figure and cohort
    # steps that import this module for at_risk_table do not all need it.
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter().fit(d, e)


def at_risk_table(durations: Any, events: Any, ticks: Any) -> pd.DataFrame:
    """Numbers at risk, events and censored at each tick (KMunicate convention).

    ``at_risk`` counts patients whose time is > tick; ``events`` and ``censored`` are
    cumulative counts with time <= tick, so the three always add up to n.
    """
    d, e = _arrays(durations, events)
    ticks = np.asarray(ticks, dtype=float)
    ev = np.sort(d[e])
    ce = np.sort(d[~e])
    n_events = np.searchsorted(ev, ticks, side="right")
    n_censored = np.searchsorted(ce, ticks, side="right")
    return pd.DataFrame({
        "tick": ticks.astype(int),
        "at_risk": len(d) - n_events - n_censored,
        "events": n_events,
        "censored": n_censored,
    })


def km_curve(durations: Any, events: Any) -> pd.DataFrame:
    """The KM step function with its log-log 95% band, one row per knot, from time 0."""
    d, e = _arrays(durations, events)
    if len(d) == 0:
        return pd.DataFrame({"time": [0.0], "survival": [1.0], "ci_lower": [1.0],
                             "ci_upper": [1.0]})
    kmf = _fit_km(d, e)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    out = pd.DataFrame({
        "time": sf.index.to_numpy(dtype=float),
        "survival": sf.to_numpy(),
        "ci_lower": ci.iloc[:, 0].to_numpy(),
        "ci_upper": ci.iloc[:, 1].to_numpy(),
    })
    if out["time"].iloc[0] > 0:
        out = pd.concat([pd.DataFrame({"time": [0.0], "survival": [1.0], "ci_lower": [1.0],
                                       "ci_upper": [1.0]}), out], ignore_index=True)
    return out


def km_landmark(durations: Any, events: Any, day: int, *,
                cumulative_incidence: bool = False) -> dict[str, Any]:
    """KM estimate at ``day`` with its log-log 95% interval, as a landmark block.

    With ``cumulative_incidence`` the block holds 1 − S(day) and the interval
    (1 − S_upper, 1 − S_lower), which is how a response rate is read off a KM of time to
    response. Keys: day, estimate, ci_lower, ci_upper, reason, n, at_risk, events, censored.
    """
    d, e = _arrays(durations, events)
    counts = at_risk_table(d, e, [day]).iloc[0]
    block: dict[str, Any] = {
        "day": int(day), "estimate": None, "ci_lower": None, "ci_upper": None, "reason": None,
        "n": len(d), "at_risk": int(counts["at_risk"]), "events": int(counts["events"]),
        "censored": int(counts["censored"]),
    }
    if len(d) == 0:
        block["reason"] = "no patients"
        return block
    curve = km_curve(d, e)
    row = curve[curve["time"] <= day].iloc[-1]
    s, lo, hi = float(row["survival"]), float(row["ci_lower"]), float(row["ci_upper"])
    if d.max() < day and s > 0:
        # Past the last follow-up the curve is unknown unless it already reached zero.
        block["reason"] = f"landmark beyond the last follow-up (day {int(d.max())})"
        return block
    block["estimate"] = _round(1 - s if cumulative_incidence else s)
    if s in (0.0, 1.0) or not (math.isfinite(lo) and math.isfinite(hi)):
        block["reason"] = (
            f"no 95% interval: the estimate is {block['estimate']:g}, "
            "where the log-log interval is undefined"
        )
        return block
    if cumulative_incidence:
        lo, hi = 1 - hi, 1 - lo
    block["ci_lower"], block["ci_upper"] = _round(lo), _round(hi)
    return block


def logrank(durations_a: Any, events_a: Any, durations_b: Any,
            events_b: Any) -> dict[str, Any]:
    """Log-rank test between two groups: statistic, p, df and a reason when not computable."""
    da, ea = _arrays(durations_a, events_a)
    db, eb = _arrays(durations_b, events_b)
    out: dict[str, Any] = {"statistic": None, "p": None, "df": 1, "reason": None}
    if len(da) == 0 or len(db) == 0:
        out["reason"] = "one group has no patients"
        return out
    if not (ea.any() or eb.any()):
        out["reason"] = "no events in either group"
        return out
    from lifelines.statistics import logrank_test

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = logrank_test(da, db, event_observed_A=ea, event_observed_B=eb)
    out["statistic"] = _round(result.test_statistic)
    out["p"] = _round(result.p_value)
    if out["p"] is None:
        out["reason"] = "test statistic not computable"
    return out


def reverse_km_median(durations: Any, events: Any) -> dict[str, Any]:
    """Median follow-up by the reverse Kaplan–Meier method (censoring treated as the event)."""
    d, e = _arrays(durations, events)
    if len(d) == 0:
        return {"days": None, "reason": "no patients"}
    if e.all():
        return {"days": None, "reason": "every patient had the event: no one censored"}
    median = _fit_km(d, ~e).median_survival_time_
    if not math.isfinite(median):
        return {"days": None, "reason": "median not reached"}
    return {"days": int(round(median)), "reason": None}


def aalen_johansen(durations: Any, event_codes: Any, day: int) -> dict[str, Any]:
    """Cumulative incidence of event 1 at ``day`` with event 2 competing (Aalen–Johansen)."""
    d = np.asarray(durations, dtype=float)
    codes = np.asarray(event_codes, dtype=int)
    out: dict[str, Any] = {"day": int(day), "estimate": None, "ci_lower": None,
                           "ci_upper": None, "reason": None}
    if len(d) == 0:
        out["reason"] = "no patients"
        return out
    if not (codes == 1).any():
        out.update(estimate=0.0, reason="no events of interest: interval undefined")
        return out
    if d.max() < day:
        out["reason"] = f"landmark beyond the last follow-up (day {int(d.max())})"
        return out
    from lifelines import AalenJohansenFitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines warns that it jitters tied times
        ajf = AalenJohansenFitter(calculate_variance=True, seed=2023)
        ajf.fit(d, codes, event_of_interest=1)
    cif = ajf.cumulative_density_.iloc[:, 0]
    ci = ajf.confidence_interval_
    pos = int(np.searchsorted(cif.index.to_numpy(dtype=float), day, side="right")) - 1
    if pos < 0:
        out.update(estimate=0.0, reason="no events by the landmark: interval undefined")
        return out
    out["estimate"] = _round(cif.iloc[pos])
    lo, hi = _round(ci.iloc[pos, 0]), _round(ci.iloc[pos, 1])
    if lo is None or hi is None:
        out["reason"] = "interval not computable"
    else:
        out["ci_lower"], out["ci_upper"] = lo, hi
    return out
