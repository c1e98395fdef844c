"""Survival estimates: the landmark blocks every manuscript prints, and the curves and tests
around them.

One engine: a landmark block, single build or pooled, is read off a risk table
(:mod:`cmvig_report.stats.risk_tables`) by :func:`km_landmark_from_table` (Kaplan–Meier) or
:func:`aalen_johansen_landmark` (cumulative incidence with a competing event); the
patient-level :func:`km_landmark` and :func:`aalen_johansen` make the patients' risk table and
call them, and so does the plotted curve (:func:`km_curve`). The medians and the log-rank test
wrap lifelines.

Every interval is the log-log ("exponential Greenwood") 95% interval, the same as R's
``survfit(conf.type = "log-log")``, lifelines' default, and the one the published intervals were
computed with. Ties follow lifelines (and R): events at a time come before censorings at that
time, so a patient censored on day t still counts as at risk for the events of day t.

Functions never raise on small or odd groups; what cannot be estimated comes back as ``None``
with a ``reason`` so that ``estimates.json`` never holds NaN. Deliberate choices:

* Where S(day) is exactly 1 (no event yet) the log-log interval does not exist; a landmark block
  gives the exact one-sided Clopper–Pearson bound instead (``ci_method`` says so). Where S is 0
  (everyone has had the event) it reports the estimate with null limits and a reason rather
  than a zero-width interval that would read as certainty. The plotted curve (:func:`km_curve`)
  draws a degenerate band there (the limits equal to S), which draws correctly.
* A landmark after the last follow-up time is unknown, unless the curve has already reached 0:
  a KM that has fallen to 0 stays there, so that estimate is still reported.

lifelines is imported inside the functions that fit: it is the slowest import of the pipeline
and the figure step imports this module only for :func:`at_risk_table`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from . import risk_tables

DECIMALS = 6
CURVE_COLUMNS = ["time", "survival", "ci_lower", "ci_upper"]

NO_PATIENTS = "no patients"
LOG_LOG = "log-log 95% interval"
# With no event by the landmark the log-log interval does not exist, but an exact bound does:
# with m patients followed to the landmark and none having the event, the Clopper–Pearson
# one-sided 97.5% bound for the event probability is 1 − 0.025^(1/m).
EXACT_ZERO_EVENTS = "exact one-sided 97.5% bound (Clopper-Pearson), no event by the landmark"
SAME_DAY_EXIT = risk_tables.SAME_DAY_EXIT
ZERO_VARIANCE = "log-rank statistic undefined: zero variance"


def beyond_followup_reason(last: float) -> str:
    """Reason for a landmark after the last follow-up time."""
    return f"landmark beyond the last follow-up (day {_day_text(last)})"


def undefined_interval_reason(estimate: float) -> str:
    """Reason for an estimate (S = 0 or 1) where the log-log interval does not exist."""
    return f"no 95% interval: the estimate is {estimate:g}, where the log-log interval is undefined"


def _day_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def paired_arrays(durations: Any, events: Any, dtype: type = bool,
                  what: str = "event flags") -> tuple[np.ndarray, np.ndarray]:
    """Durations (float) and one value per duration (``dtype``: event flags, or event codes
    for competing risks) as flat arrays of equal length."""
    d = np.asarray(durations, dtype=float).reshape(-1)
    e = np.asarray(events, dtype=dtype).reshape(-1)
    if d.shape != e.shape:
        raise ValueError(f"{len(d)} durations but {len(e)} {what}")
    return d, e



def rounded(x: Any) -> float | None:
    """``x`` rounded to :data:`DECIMALS` places, or ``None`` when missing or not finite."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return round(x, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def at_risk_table(durations: Any, events: Any, ticks: Any) -> pd.DataFrame:
    """Numbers at risk, events and censored at each tick (KMunicate convention).

    ``at_risk`` counts patients whose time is > tick; ``events`` and ``censored`` are
    cumulative counts with time <= tick, so the three always add up to n. This is what
    lifelines' ``add_at_risk_counts`` prints.
    """
    d, e = paired_arrays(durations, events)
    ticks = np.asarray(ticks, dtype=float).reshape(-1)
    n_events = np.searchsorted(np.sort(d[e]), ticks, side="right")
    n_censored = np.searchsorted(np.sort(d[~e]), ticks, side="right")
    integral = bool(np.all(np.mod(ticks, 1) == 0))
    return pd.DataFrame({
        "tick": ticks.astype(int) if integral else ticks,
        "at_risk": (len(d) - n_events - n_censored).astype(int),
        "events": n_events.astype(int),
        "censored": n_censored.astype(int),
    })


def censor_times(durations: Any, events: Any) -> np.ndarray:
    """Sorted distinct times at which someone was censored (the tick marks on a KM plot)."""
    d, e = paired_arrays(durations, events)
    return np.unique(d[~e])


def _fit_km(d: np.ndarray, e: np.ndarray, entry: np.ndarray | None = None) -> Any:
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter().fit(d, e, entry=entry)


def exact_zero_event_bound(m: int) -> float | None:
    """Clopper–Pearson one-sided 97.5% upper bound of an event probability with 0 of ``m``."""
    return rounded(1 - 0.025 ** (1 / m)) if m > 0 else None


def km_curve(durations: Any, events: Any, entry: Any = None) -> pd.DataFrame:
    """The KM step function with its log-log 95% band: ``time, survival, ci_lower, ci_upper``.

    One row per knot (each distinct time, censored ones included), starting with S = 1 at time 0;
    read it as a right-continuous step function (``where="post"``). It is the patients' risk
    table read by :func:`risk_tables.km_from_table`, as the landmark blocks are, so a curve and
    its landmarks cannot disagree. An empty group gives an empty frame.
    """
    d, e = paired_arrays(durations, events)
    if len(d) == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in CURVE_COLUMNS})
    start = None if entry is None else np.asarray(entry, dtype=float).reshape(-1)
    curve = risk_tables.km_from_table(risk_tables.risk_table(d, e, entry=start))
    s = curve["survival"].to_numpy()
    out = pd.DataFrame({
        "time": curve["time"].to_numpy(),
        "survival": s,
        # Never NaN in a curve file: where S is 1 the band collapses onto the estimate.
        "ci_lower": np.where(np.isnan(curve["ci_lower"]), s, curve["ci_lower"]),
        "ci_upper": np.where(np.isnan(curve["ci_upper"]), s, curve["ci_upper"]),
    })
    if out["time"].iloc[0] > 0 or out["survival"].iloc[0] < 1:
        # An event on day 0 would otherwise make the curve start below 1.
        first = pd.DataFrame({"time": [0.0], "survival": [1.0], "ci_lower": [1.0],
                              "ci_upper": [1.0]})
        out = pd.concat([first, out], ignore_index=True)
    return out


def km_landmark(durations: Any, events: Any, day: int, *, one_minus: bool = False,
                entry: Any = None) -> dict[str, Any]:
    """KM estimate at ``day`` of patient-level data, as a landmark block: the patients' risk
    table (:func:`risk_tables.risk_table`) read by :func:`km_landmark_from_table`, the function
    the pooled build calls on summed tables. With ``entry`` (delayed entry, left truncation) a
    patient is at risk from their entry time only; a follow-up that ends on the entry day
    counts :data:`SAME_DAY_EXIT` of a day."""
    d, e = paired_arrays(durations, events)
    start = None if entry is None else np.asarray(entry, dtype=float).reshape(-1)
    return km_landmark_from_table(risk_tables.risk_table(d, e, entry=start), day,
                                  one_minus=one_minus, delayed_entry=start is not None)


def km_landmark_from_table(table: pd.DataFrame, day: int, *, at: float | None = None,
                           one_minus: bool = False, delayed_entry: bool = False
                           ) -> dict[str, Any]:
    """The landmark block: the Kaplan–Meier estimate at ``day`` with its 95% interval, from a
    risk table (:mod:`cmvig_report.stats.risk_tables`); the single build and the pooled build both
    make theirs here.

    ``at`` is the landmark on the table's time scale when that is not days (a day-50 landmark
    in weekly tables is read at week 8); ``day`` is the label. The value is the step function
    at ``at`` (the last time at or before it). The interval is the log-log 95% interval
    (Greenwood variance), as lifelines and R's ``survfit(conf.type = "log-log")``. Exceptions:

    * no event by the landmark (S = 1): the log-log interval does not exist, so the interval is
      the exact one-sided 97.5% Clopper–Pearson bound 1 − 0.025^(1/m) on the event probability,
      m the Kaplan–Meier risk set at the landmark (R's ``n.risk``: still in follow-up at it and,
      with delayed entry, entered before it); ``ci_method`` says so;
    * S = 0 (everyone has had the event): estimate, no interval, a ``reason``;
    * a landmark after the last follow-up time is unknown, unless the curve has reached 0.

    With ``one_minus`` the block holds 1 − S and the interval (1 − S_upper, 1 − S_lower): the
    probability of the event read off a KM with competing events censored (not a cumulative
    incidence: see :func:`aalen_johansen_landmark`).
    Keys: day, estimate, ci_lower, ci_upper, ci_method, reason, n, at_risk (time > landmark),
    events and censored (time <= landmark; competing events count as censored), and with
    ``delayed_entry`` not_yet_entered (entering after the landmark).
    """
    at = float(day if at is None else at)
    times = table["time"].to_numpy(dtype=float)
    left = risk_tables.exits(table).to_numpy()
    upto = times <= at
    entered = table["entered"].to_numpy()
    block: dict[str, Any] = {
        "day": int(day), "estimate": None, "ci_lower": None, "ci_upper": None,
        "ci_method": LOG_LOG, "reason": None, "n": int(entered.sum()),
        "at_risk": int(entered[upto].sum() - left[upto].sum()),
        "events": int(table["events"].to_numpy()[upto].sum()),
        "censored": int((table["censored"] + table["competing"]).to_numpy()[upto].sum()),
    }
    if delayed_entry:
        block["not_yet_entered"] = int(entered[~upto].sum())
    if block["n"] == 0:
        block["reason"] = NO_PATIENTS
        return block
    curve = risk_tables.km_from_table(table)
    s = risk_tables.value_at(curve, "survival", at, 1.0)
    last = float(times[left > 0].max())
    if last < at and s > 0:
        block["reason"] = beyond_followup_reason(last)
        return block
    block["estimate"] = rounded(1 - s if one_minus else s)
    if s >= 1:
        bound = exact_zero_event_bound(_km_risk_set(times, entered, left, at))
        if bound is not None:
            block["ci_method"] = EXACT_ZERO_EVENTS
            if one_minus:
                block["ci_lower"], block["ci_upper"] = 0.0, bound
            else:
                block["ci_lower"], block["ci_upper"] = rounded(1 - bound), 1.0
            return block
    lo = risk_tables.value_at(curve, "ci_lower", at, 1.0)
    hi = risk_tables.value_at(curve, "ci_upper", at, 1.0)
    if s <= 0 or s >= 1 or not (math.isfinite(lo) and math.isfinite(hi)):
        block["reason"] = undefined_interval_reason(block["estimate"])
        return block
    if one_minus:
        lo, hi = 1 - hi, 1 - lo
    block["ci_lower"], block["ci_upper"] = rounded(lo), rounded(hi)
    return block


def _km_risk_set(times: np.ndarray, entered: np.ndarray, left: np.ndarray, at: float) -> int:
    # The Kaplan-Meier risk set at ``at``: not left before it, and entered before it (or at the
    # table's first time), as risk_tables.km_population counts late entrants.
    came = entered[times < at].sum() + (entered[0] if len(times) and times[0] == at else 0)
    return int(came - left[times < at].sum())


def logrank(durations_a: Any, events_a: Any, durations_b: Any,
            events_b: Any) -> dict[str, Any]:
    """Two-group log-rank test: ``{statistic, p, df, reason}``; nulls and a reason if impossible."""
    da, ea = paired_arrays(durations_a, events_a)
    db, eb = paired_arrays(durations_b, events_b)
    out: dict[str, Any] = {"statistic": None, "p": None, "df": 1, "reason": None}
    if len(da) == 0 or len(db) == 0:
        out["reason"] = "one group has no patients"
        return out
    if not (ea.any() or eb.any()):
        out["reason"] = "no events in either group"
        return out
    # a test with no information at all would print statistic 0 and p = 1, which reads as "no
    # difference": a zero variance is reported as not testable instead.
    if _logrank_variance(da, ea, db, eb) <= 0:
        out["reason"] = ZERO_VARIANCE
        return out
    # SciPy's log-rank (the same Mantel-Haenszel statistic as lifelines' and R's survdiff, to
    # 1e-14; tests/test_survival.py): lifelines' statistics module imports its fitters, the
    # slowest import of the estimates step
    from scipy.stats import CensoredData
    from scipy.stats import logrank as scipy_logrank

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        result = scipy_logrank(CensoredData(uncensored=da[ea], right=da[~ea]),
                               CensoredData(uncensored=db[eb], right=db[~eb]))
    out["statistic"], out["p"] = rounded(result.statistic ** 2), rounded(result.pvalue)
    if out["statistic"] is None or out["p"] is None:
        out["statistic"] = out["p"] = None
        out["reason"] = ZERO_VARIANCE
    return out


def _logrank_variance(da: np.ndarray, ea: np.ndarray, db: np.ndarray, eb: np.ndarray) -> float:
    # Hypergeometric variance summed over event times: zero when at every event time only one
    # group is still at risk, or everyone at risk has the event.
    d_all = np.concatenate([da, db])
    e_all = np.concatenate([ea, eb])
    total = 0.0
    for t in np.unique(d_all[e_all]):
        na, nb = int((da >= t).sum()), int((db >= t).sum())
        n, d = na + nb, int(((d_all == t) & e_all).sum())
        if n > 1:
            total += na * nb * d * (n - d) / (n * n * (n - 1))
    return total


def reverse_km_median(durations: Any, events: Any) -> dict[str, Any]:
    """Median follow-up by the reverse Kaplan–Meier method: ``{days, reason}``.

    Censoring is the event and the event (death) censors. The median is lifelines'
    ``median_survival_time_``, the first time the reverse curve is at or below 0.5 (R's
    survfit would take the midpoint if the curve sat exactly at 0.5 over an interval).
    """
    d, e = paired_arrays(durations, events)
    if len(d) == 0:
        return {"days": None, "reason": NO_PATIENTS}
    if e.all():
        return {"days": None, "reason": "every patient had the event: no one censored"}
    median = float(_fit_km(d, ~e).median_survival_time_)
    if not math.isfinite(median):
        return {"days": None, "reason": "median not reached"}
    return {"days": int(round(median)), "reason": None}


def km_median(durations: Any, events: Any) -> dict[str, Any]:
    """Median time to the event with its 95% interval: ``{days, ci_lower, ci_upper, reason}``.

    The median is the first time S(t) <= 0.5 (lifelines), and its limits are where the
    log-log confidence band crosses 0.5 (Brookmeyer–Crowley, as R's ``survfit`` prints); a limit
    that is never reached is ``None`` (the interval is open to the right).
    """
    d, e = paired_arrays(durations, events)
    out: dict[str, Any] = {"days": None, "ci_lower": None, "ci_upper": None, "reason": None}
    if len(d) == 0:
        out["reason"] = NO_PATIENTS
        return out
    from lifelines.utils import median_survival_times

    kmf = _fit_km(d, e)
    median = float(kmf.median_survival_time_)
    limits = median_survival_times(kmf.confidence_interval_).to_numpy(dtype=float).reshape(-1)
    if not math.isfinite(median):
        out["reason"] = "median not reached"
        return out
    out["days"] = int(round(median))
    # lifelines gives (time where the lower band crosses, where the upper band crosses): the
    # upper band crosses first, so it holds the lower limit of the median.
    lo, hi = sorted(limits)
    out["ci_lower"] = int(round(lo)) if math.isfinite(lo) else None
    out["ci_upper"] = int(round(hi)) if math.isfinite(hi) else None
    return out


def aalen_johansen(durations: Any, event_codes: Any, day: int) -> dict[str, Any]:
    """Cumulative incidence of event 1 at ``day`` with event 2 competing (Aalen–Johansen), from
    patient-level data: codes 1 event of interest, 2 competing event, 0 censored. The patients'
    risk table read by :func:`aalen_johansen_landmark` (which the pooled build calls too).
    Returns ``{day, estimate, ci_lower, ci_upper, ci_method, reason}``.
    """
    d = np.asarray(durations, dtype=float).reshape(-1)
    codes = np.asarray(event_codes, dtype=int).reshape(-1)
    return aalen_johansen_landmark(risk_tables.risk_table(d, codes == 1, codes == 2), day)


def aalen_johansen_landmark(table: pd.DataFrame, day: int, *, at: float | None = None
                            ) -> dict[str, Any]:
    """Aalen–Johansen cumulative incidence of ``events`` at ``day`` with ``competing``
    competing, and its 95% interval, from a risk table without delayed entry.

    Read off :func:`risk_tables.aj_from_table`, the one Aalen–Johansen implementation (the
    own study's primary estimate, :func:`cmvig_report.stats.competing.cif_landmark`, reads it too):
    the variance is the Aalen-type estimator of ``cmprsk::cuminc`` and the interval is built
    on the log(−log) scale (``ci_method`` says so; ``tests/test_pooled_r.py`` compares it with
    R). ``at`` is the landmark on the table's time scale when that is not days, as in
    :func:`km_landmark_from_table`.

    Without an event of interest by the landmark the estimate is 0 with no interval; where F is
    1 it has none either (a ``reason`` says so). After the last follow-up time the curve is known
    only if nobody is left at risk then.
    Returns ``{day, estimate, ci_lower, ci_upper, ci_method, reason}``.
    """
    at = float(day if at is None else at)
    out: dict[str, Any] = {"day": int(day), "estimate": None, "ci_lower": None,
                           "ci_upper": None, "ci_method": risk_tables.AJ_INTERVAL,
                           "reason": None}
    if int(table["entered"].sum()) == 0:
        out["reason"] = NO_PATIENTS
        return out
    curve = risk_tables.aj_from_table(table)
    left = risk_tables.exits(table).to_numpy()
    last = float(table["time"].to_numpy(dtype=float)[left > 0].max())
    if last < at and risk_tables.value_at(curve, "overall_survival", at, 1.0) > 0:
        out["reason"] = beyond_followup_reason(last)
        return out
    f = risk_tables.value_at(curve, "incidence", at, 0.0)
    out["estimate"] = rounded(f)
    lo = rounded(risk_tables.value_at(curve, "ci_lower", at, 0.0))
    hi = rounded(risk_tables.value_at(curve, "ci_upper", at, 0.0))
    if f <= 0 or f >= 1 or lo is None or hi is None:
        out["reason"] = undefined_interval_reason(out["estimate"])
    else:
        out["ci_lower"], out["ci_upper"] = lo, hi
    return out
