"""Risk tables: the counts at each distinct time that every survival estimate is computed from.

A risk table has one row per distinct time (of entry or exit) with the columns
:data:`ROW_COLUMNS`: how many entered the risk set then, how many were at risk, had the event,
the competing event, or were censored. The single-export build makes one from its patients
(:func:`risk_table`); a centre's aggregate bundle holds them, and pooling sums them
(:func:`sum_tables`). The Kaplan–Meier and Aalen–Johansen curves below, and the landmark blocks
of :mod:`cmvig_report.stats.survival` read off them, are therefore one computation for both builds.

Why numpy here rather than lifelines' fitters: lifelines fits subjects (one entry and one exit
each), while a bundle's table holds entries and exits as separate counts and does not link them;
rebuilding pseudo-subjects to feed lifelines would invent a pairing. The estimators need only
these counts: the Kaplan–Meier product, Greenwood's variance and its log-log interval, and the
Aalen–Johansen estimate with the Aalen-type variance of ``cmprsk::cuminc`` and its log(−log)
interval, each a few lines. ``tests/test_federated.py`` holds them to lifelines,
``tests/test_pooled_r.py`` to R's ``survival`` and ``cmprsk`` at every time, to 1e-9, and
``tests/test_competing.py`` the Aalen–Johansen ones to ``cmprsk::cuminc``.

Ties follow lifelines and R: events before censorings at the same time. Delayed entry follows
lifelines' Kaplan–Meier: an entrant at time t is at risk from the next time on (except those
entering at the table's first time, who are at risk from the start).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

ROW_COLUMNS = ("time", "entered", "at_risk", "events", "competing", "censored")
# the standard library's normal quantile, not scipy's: the bundle steps never import scipy
Z95 = NormalDist().inv_cdf(0.975)
# A patient whose follow-up ends on the day they enter (death on the day of the first CMVIG
# dose) is at risk for this long, so that the death still counts with delayed entry; R's
# survival refuses such an interval and lifelines would drop the patient from the risk set.
SAME_DAY_EXIT = 0.5


def risk_table(times: Any, events: Any, competing: Any = None, entry: Any = None
               ) -> pd.DataFrame:
    """Counts at each distinct time (of entry or exit), as columns :data:`ROW_COLUMNS`.

    ``events`` flags the event of interest, ``competing`` the competing event (ignored where
    ``events`` is set), anything else is censored; ``entry`` gives each patient's entry time
    (delayed entry; everyone enters at 0 without it). ``at_risk`` at time t: those entered at
    or before t minus those who left before t. A follow-up ending on the entry time counts
    :data:`SAME_DAY_EXIT` of a unit.
    """
    t = np.asarray(times, dtype=float).reshape(-1)
    e = np.asarray(events, dtype=bool).reshape(-1)
    if t.shape != e.shape:
        raise ValueError(f"{len(t)} times but {len(e)} event flags")
    c = (np.zeros_like(e) if competing is None
         else np.asarray(competing, dtype=bool).reshape(-1) & ~e)
    start = np.zeros_like(t) if entry is None else np.asarray(entry, dtype=float).reshape(-1)
    if entry is not None:
        t = np.where(t <= start, start + SAME_DAY_EXIT, t)
    grid = np.unique(np.concatenate([t, start]))
    rows = {name: np.zeros(len(grid), dtype=int) for name in ROW_COLUMNS[1:]}
    np.add.at(rows["entered"], np.searchsorted(grid, start), 1)
    pos = np.searchsorted(grid, t)
    np.add.at(rows["events"], pos[e], 1)
    np.add.at(rows["competing"], pos[c], 1)
    np.add.at(rows["censored"], pos[~e & ~c], 1)
    rows["at_risk"] = _at_risk(rows["entered"], rows["events"] + rows["competing"]
                               + rows["censored"])
    return pd.DataFrame({"time": grid, **{k: rows[k] for k in ROW_COLUMNS[1:]}})


def _at_risk(entered: np.ndarray, left: np.ndarray) -> np.ndarray:
    return np.cumsum(entered) - np.concatenate([[0], np.cumsum(left)[:-1]])


def as_columns(table: pd.DataFrame) -> dict[str, list[float | int]]:
    """A risk table as JSON-ready lists (times as floats, counts as ints), as in a bundle."""
    return {"time": [float(x) for x in table["time"]],
            **{k: [int(x) for x in table[k]] for k in ROW_COLUMNS[1:]}}


def sum_tables(tables: Sequence[Mapping[str, Sequence[float]] | pd.DataFrame]) -> pd.DataFrame:
    """Several risk tables summed on the union of their times (at risk recomputed from entries
    and exits, so a time one table lacks is counted right)."""
    frames = [pd.DataFrame({k: list(t[k]) for k in ROW_COLUMNS}) for t in tables
              if len(t["time"])]
    if not frames:
        return pd.DataFrame({k: pd.Series(dtype=float) for k in ROW_COLUMNS})
    total = (pd.concat(frames).groupby("time", sort=True)[list(ROW_COLUMNS[1:])].sum()
             .reset_index())
    left = (total["events"] + total["competing"] + total["censored"]).to_numpy()
    total["at_risk"] = _at_risk(total["entered"].to_numpy(), left)
    return total


def exits(table: pd.DataFrame) -> pd.Series:
    """Those leaving the risk set at each time: events, competing events and censorings."""
    return table["events"] + table["competing"] + table["censored"]


def km_population(table: pd.DataFrame) -> np.ndarray:
    """The Kaplan–Meier risk set at each time: lifelines counts a late entrant at risk from the
    time after its entry (but those entering at the first time, who are there from the start)."""
    entered = table["entered"].to_numpy(dtype=float).copy()
    if len(entered):
        entered[0] = 0
    return table["at_risk"].to_numpy(dtype=float) - entered


def km_from_table(table: pd.DataFrame, *, deaths_censor: bool = True) -> pd.DataFrame:
    """Kaplan–Meier of ``events`` (``competing`` censors unless ``deaths_censor`` is false, when
    it counts as an event too) at each time of ``table``: ``time, survival, greenwood, ci_lower,
    ci_upper``. ``greenwood`` is Greenwood's sum of d / (n (n − d)), the variance of log S; the
    limits are the log-log 95% interval, exp(−exp(log(−log S) ± z √greenwood / |log S|)),
    undefined (NaN or degenerate) where S is 1 or 0."""
    n = km_population(table)
    d = table["events"].to_numpy(dtype=float)
    if not deaths_censor:
        d = d + table["competing"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        step = np.where(n > 0, 1 - d / n, 1.0)
        s = np.cumprod(step)
        v = np.cumsum(np.where((n > 0) & (n > d), d / (n * (n - d)), 0.0))
        half = Z95 * np.sqrt(v) / np.log(s)
        lo, hi = s ** np.exp(-half), s ** np.exp(half)
    return pd.DataFrame({"time": table["time"].to_numpy(dtype=float), "survival": s,
                         "greenwood": v, "ci_lower": lo, "ci_upper": hi})


BOUNDARY = 1e-12
AJ_INTERVAL = "Aalen-type variance (cmprsk::cuminc), 95% CI on the log(-log) scale"


def loglog_limits(f: float, variance: float) -> tuple[float, float] | None:
    """95% limits of a cumulative incidence on the log(−log) scale,
    F^exp(±z·se/(F·log F)); None where undefined (F = 0 or 1, or no variance)."""
    # A sum of increments can land a rounding error away from 0 or 1, where the transform's
    # slope is zero and the interval does not exist (an exact 1 - 1e-16 overflows exp).
    if not (BOUNDARY < f < 1 - BOUNDARY) or not variance > 0:
        return None
    spread = math.exp(Z95 * math.sqrt(variance) / abs(f * math.log(f)))
    return f ** spread, f ** (1 / spread)


def aj_from_table(table: pd.DataFrame) -> pd.DataFrame:
    """Aalen–Johansen cumulative incidence F of ``events`` with ``competing`` competing, at each
    time of ``table``: ``time, incidence, variance, ci_lower, ci_upper, overall_survival``. The
    one implementation: the single build's landmark and curves (:mod:`cmvig_report.stats.competing`,
    :func:`cmvig_report.stats.survival.aalen_johansen_landmark`) and the pooled build read it.

    F(t) = Σ_j S(t_j−) d1_j / n_j. The variance is the Aalen-type estimator of Gray's
    ``cmprsk::cuminc`` (the ``var`` of ``cmprsk::timepoints``), which needs only the counts:
    with S_j = S(t_j) and, per kind of event k at t_j (d1, then d2 the competing events),
    w = S(t_j−)² τ d_k / n_j², τ = 1 − (d_k − 1)/(n_j − 1) for tied events, and
    g = 1 + F_j / S_j for the event of interest, F_j / S_j for a competing one,

        Var F(t) = Σ w (g − F(t)/S_j)²,

    summed over event times up to t (a competing term is dropped where S_j = 0, and 1/S_j is
    taken as 0 there). As in ``cuminc`` it is updated only at times of the event of interest
    and carried forward in between. The limits are :func:`loglog_limits`, NaN where undefined.
    Written for tables without delayed entry (the response endpoint): every entrant is at risk
    from the start.
    """
    n = table["at_risk"].to_numpy(dtype=float)
    d1 = table["events"].to_numpy(dtype=float)
    d2 = table["competing"].to_numpy(dtype=float)
    live = n > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.cumprod(np.where(live, 1 - (d1 + d2) / n, 1.0))
        s_before = np.concatenate([[1.0], s[:-1]])
        f = np.cumsum(np.where(live, s_before * d1 / n, 0.0))
        inv = np.where(s > 0, 1 / s, 0.0)

        def weight(k: np.ndarray) -> np.ndarray:
            tie = np.where(k > 1, 1 - (k - 1) / (n - 1), 1.0)
            return np.where(live & (k > 0), s_before ** 2 * tie * k / n ** 2, 0.0)

        w1, w2 = weight(d1), np.where(s > 0, weight(d2), 0.0)
    # Var = Σ w (g − F·inv)² = A + F²·C − 2F·B with running sums A = Σ w g², B = Σ w g inv,
    # C = Σ w inv² over both kinds of event.
    g1, g2 = 1 + inv * f, inv * f
    a = np.cumsum(w1 * g1 ** 2 + w2 * g2 ** 2)
    b = np.cumsum((w1 * g1 + w2 * g2) * inv)
    c = np.cumsum((w1 + w2) * inv ** 2)
    var = np.maximum(a + f ** 2 * c - 2 * f * b, 0.0)  # rounding can leave -1e-18
    # carried forward from the last time of the event of interest (0 before the first)
    last = np.maximum.accumulate(np.where(d1 > 0, np.arange(len(n)), -1))
    var = np.where(last >= 0, var[np.maximum(last, 0)], 0.0)
    limits = [loglog_limits(fv, vv) for fv, vv in zip(f, var, strict=True)]
    return pd.DataFrame({"time": table["time"].to_numpy(dtype=float), "incidence": f,
                         "variance": var,
                         "ci_lower": [lim[0] if lim else math.nan for lim in limits],
                         "ci_upper": [lim[1] if lim else math.nan for lim in limits],
                         "overall_survival": s})


def value_at(curve: pd.DataFrame, column: str, time: float, default: float) -> float:
    """A step function's value at ``time``: the last row at or before it (``default`` before
    the first row)."""
    pos = int(np.searchsorted(curve["time"].to_numpy(), time, side="right")) - 1
    return default if pos < 0 else float(curve[column].iloc[pos])
