"""Competing risks on plain arrays: the Aalen–Johansen cumulative incidence with its interval,
and Gray's test comparing cumulative incidences between groups.

The cumulative incidence is read off the patients' risk table (distinct times, numbers at
risk, events of each kind) by :func:`risk_tables.aj_from_table`, the one Aalen–Johansen
implementation, which the pooled build reads too; not lifelines' ``AalenJohansenFitter``, which
breaks ties between event types by random jitter and uses a different variance. Here:

* the estimate is the Aalen–Johansen cumulative incidence F(t) = Σ S(u−) d₁(u)/n(u), the same as
  R ``survfit`` with a multi-state factor (its ``pstate``) and ``cmprsk::cuminc``;
* its variance is the Aalen-type estimator that ``cmprsk::cuminc`` reports (Gray's code; the
  ``var`` of ``cmprsk::timepoints``), and the 95% interval is built on the log(−log) scale,
  F^exp(±z·se/(F·log F)), the transform used with ``cuminc`` (e.g. by ``tidycmprsk``);
* Gray's (1988) K-sample test with weight (1 − F(t−))^ρ, ρ = 0, and its variance estimator, as
  ``cmprsk::cuminc``'s ``Tests``.

Ties: events come before censorings at the same time (a child censored on day t is at risk for
the events of day t), as in R. Codes: 0 censored, 1 the event of interest, any other positive
code a competing event (they are pooled: the cumulative incidence of event 1 does not depend on
how the competing events are split).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import risk_tables
from .survival import aalen_johansen_landmark, paired_arrays, rounded

CIF_INTERVAL = risk_tables.AJ_INTERVAL
CIF_COLUMNS = ["time", "estimate", "variance", "ci_lower", "ci_upper"]
GRAY_METHOD = "Gray's test (rho = 0), as cmprsk::cuminc"


def _arrays(durations: Any, codes: Any) -> tuple[np.ndarray, np.ndarray]:
    return paired_arrays(durations, codes, int, "event codes")


def risk_table(durations: Any, codes: Any) -> pd.DataFrame:
    """The patients' risk table (:func:`risk_tables.risk_table`): code 1 the event of
    interest, any code ≥ 2 competing, 0 censored."""
    d, c = _arrays(durations, codes)
    return risk_tables.risk_table(d, c == 1, c >= 2)


def cif_curve(durations: Any, codes: Any) -> pd.DataFrame:
    """The cumulative incidence of event 1 as a step function with its variance and band.

    One row per distinct time (starting at time 0 with F = 0); read it right-continuous. It is
    the patients' risk table read by :func:`risk_tables.aj_from_table`, the one Aalen–Johansen
    implementation. The variance, like ``cuminc``'s, changes only at times of event 1. Where
    the interval does not exist (F = 0 or 1, or zero variance) the limits collapse onto the
    estimate, so that a curve file never holds NaN.
    """
    aj = risk_tables.aj_from_table(risk_table(durations, codes))
    out = pd.DataFrame({"time": aj["time"], "estimate": aj["incidence"],
                        "variance": aj["variance"],
                        "ci_lower": aj["ci_lower"].fillna(aj["incidence"]),
                        "ci_upper": aj["ci_upper"].fillna(aj["incidence"])})
    if not len(out) or out["time"].iloc[0] > 0:
        start = pd.DataFrame({c: [0.0] for c in CIF_COLUMNS})
        out = pd.concat([start, out], ignore_index=True)
    return out[CIF_COLUMNS]


def cif_at(durations: Any, codes: Any, day: float) -> tuple[float, float]:
    """(F(day), its variance), unrounded: the step function read at ``day``."""
    curve = cif_curve(durations, codes)
    pos = int(np.searchsorted(curve["time"].to_numpy(), day, side="right")) - 1
    return float(curve["estimate"].iloc[pos]), float(curve["variance"].iloc[pos])


def cif_landmark(durations: Any, codes: Any, day: int) -> dict[str, Any]:
    """Cumulative incidence of event 1 at ``day`` with its 95% interval, as a landmark block.

    Keys: day, estimate, ci_lower, ci_upper, ci_method, reason, n, at_risk (time > day),
    events, competing, censored (times ≤ day; the four counts add up to n). The estimate,
    interval and reason are :func:`survival.aalen_johansen_landmark`'s on the patients' risk
    table.
    """
    d, c = _arrays(durations, codes)
    block: dict[str, Any] = {
        "day": int(day), "estimate": None, "ci_lower": None, "ci_upper": None,
        "ci_method": CIF_INTERVAL, "reason": None, "n": len(d),
        "at_risk": int((d > day).sum()),
        "events": int(((d <= day) & (c == 1)).sum()),
        "competing": int(((d <= day) & (c >= 2)).sum()),
        "censored": int(((d <= day) & (c == 0)).sum()),
    }
    # The estimate, interval and reason are the Aalen-Johansen landmark of the pooled build and
    # of the secondary block: one reading of one curve.
    aj = aalen_johansen_landmark(risk_table(d, c), day)
    block.update({k: aj[k] for k in ("estimate", "ci_lower", "ci_upper", "reason")})
    return block


def gray_test(durations: Any, codes: Any, groups: Any, rho: float = 0.0) -> dict[str, Any]:
    """Gray's K-sample test of equal cumulative incidence of event 1 across ``groups``.

    Returns ``{statistic, p, df, reason}``; nulls with a reason when a group is empty, there is
    no event 1, or the variance matrix is singular (where ``cuminc`` reports −1).
    """
    d, c = _arrays(durations, codes)
    labels = np.asarray(groups).reshape(-1)
    names = [g for g in dict.fromkeys(sorted(map(str, labels)))]
    out: dict[str, Any] = {"statistic": None, "p": None, "df": max(len(names) - 1, 1),
                           "reason": None, "method": GRAY_METHOD}
    if len(names) < 2:
        out["reason"] = "one group has no patients"
        return out
    if not (c == 1).any():
        out["reason"] = "no events of interest in either group"
        return out
    found = gray_statistic(d, c, labels, rho)
    if found is None:
        out["reason"] = "Gray's statistic undefined: singular variance"
        return out
    out["statistic"], out["p"] = rounded(found[0]), rounded(found[1])
    return out


def gray_statistic(durations: Any, codes: Any, groups: Any,
                   rho: float = 0.0) -> tuple[float, float] | None:
    """Gray's chi-square statistic and its p-value, unrounded; None where undefined."""
    d, c = _arrays(durations, codes)
    labels = np.asarray(groups).reshape(-1).astype(str)
    names = sorted(set(labels))
    with np.errstate(all="ignore"):
        score, cov = _gray_score(d, np.where(c >= 2, 2, c), np.searchsorted(names, labels),
                                 len(names), rho)
    if not (np.isfinite(cov).all() and np.isfinite(score).all()) \
            or np.linalg.matrix_rank(cov) < len(score):
        return None
    from scipy.stats import chi2

    stat = float(score @ np.linalg.solve(cov, score))
    return stat, float(chi2.sf(stat, len(names) - 1))


def _gray_score(d: np.ndarray, c: np.ndarray, g: np.ndarray, k: int,
                rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Score for groups 1..k−1 and its variance (Gray 1988, section 2), one stratum.

    Per group: left-continuous overall survival ``s_prev`` and cumulative incidence ``f_prev``;
    at each time with an event, the score adds the observed minus expected events of interest
    weighted by the estimated subdistribution risk sets R_j = n_j (1 − F_j(t−)) / S_j(t−).
    The variance collects, per group, the contributions of events of interest and of competing
    events to the influence of each group's estimates on the score.
    """
    n = np.bincount(g, minlength=k).astype(float)
    s_prev, s_now = np.ones(k), np.ones(k)
    f_prev, f_now = np.zeros(k), np.zeros(k)
    pooled_prev = 0.0
    score = np.zeros(k - 1)
    var = np.zeros((k - 1, k - 1))
    cc = np.zeros((k, k))   # running sums of a(t)·dF/(1 − F) per pair of groups
    v2 = np.zeros((k - 1, k))
    v3 = np.zeros(k)
    order = np.argsort(d, kind="stable")
    d, c, g = d[order], c[order], g[order]
    bounds = np.flatnonzero(np.diff(d)) + 1
    for block in np.split(np.arange(len(d)), bounds):
        cnt = np.zeros((3, k))
        np.add.at(cnt, (c[block], g[block]), 1)
        e1, e2 = cnt[1].sum(), cnt[2].sum()
        if e1 or e2:
            live = n > 0
            h = np.where(live, n / np.where(live, s_prev, 1), 0.0)
            sub_risk = np.where(live, n * (1 - f_prev) / np.where(live, s_prev, 1), 0.0)
            tr, tq = h.sum(), sub_risk.sum()
            s_now = np.where(live, s_prev * (n - cnt[1] - cnt[2]) / np.where(live, n, 1),
                             s_prev)
            f_now = np.where(live, f_prev + s_prev * cnt[1] / np.where(live, n, 1), f_prev)
            pooled = pooled_prev + e1 / tr
            weight = (1 - pooled_prev) ** rho
            a = -weight * np.outer(h, h) / tr
            np.fill_diagonal(a, weight * h * (1 - h / tr))
            a[~live, :] = 0
            a[:, ~live] = 0
            cc += a * e1 / (tr * (1 - pooled_prev))
            grp = np.arange(k - 1)
            score += np.where(live[:-1], weight * (cnt[1, :-1]
                                                   - e1 * sub_risk[:-1] / tq), 0.0)
            if e1:
                for j in np.flatnonzero(live):
                    t4 = 1 - (1 - pooled) / s_now[j] if s_now[j] > 0 else 1.0
                    t5 = 1 - (e1 - 1) / (tr * s_prev[j] - 1) if e1 > 1 else 1.0
                    t3 = t5 * s_prev[j] * e1 / (tr * n[j])
                    v3[j] += t4 * t4 * t3
                    t1 = a[grp, j] - t4 * cc[grp, j]
                    v2[:, j] += t1 * t4 * t3
                    var += np.outer(t1, t1) * t3
            if e2:
                for j in np.flatnonzero(live & (s_now > 0) & (cnt[2] > 0)):
                    t4 = (1 - pooled) / s_now[j]
                    t5 = 1 - (cnt[2, j] - 1) / (n[j] - 1) if cnt[2, j] > 1 else 1.0
                    t3 = t5 * s_prev[j] ** 2 * cnt[2, j] / n[j] ** 2
                    v3[j] += t4 * t4 * t3
                    t1 = t4 * cc[grp, j]
                    v2[:, j] -= t1 * t4 * t3
                    var += np.outer(t1, t1) * t3
            pooled_prev = pooled
            s_prev, f_prev = s_now.copy(), f_now.copy()
        n = n - np.bincount(g[block], minlength=k)
    top = cc[: k - 1]
    var += (top * v3) @ top.T + top @ v2.T + v2 @ top.T
    return score, var
