"""Kaplan–Meier and its log-log interval against values worked out independently."""

from __future__ import annotations

import math

import pytest

from cmvig_report import survival

Z = 1.959963984540054  # 97.5th percentile of the standard normal


def _loglog(s: float, greenwood_sum: float) -> tuple[float, float]:
    """Log-log ("exponential Greenwood") limits: exp(-exp(log(-log S) -/+ z*se)),
    se = sqrt(sum d/(n(n-d))) / |log S|."""
    se = math.sqrt(greenwood_sum) / abs(math.log(s))
    centre = math.log(-math.log(s))
    return math.exp(-math.exp(centre + Z * se)), math.exp(-math.exp(centre - Z * se))


# Times 2, 3, 3, 5+, 6, 8+ (+ = censored). Worked by hand:
#   t=2: n=6, d=1 -> S = 5/6;             sum d/(n(n-d)) = 1/30
#   t=3: n=5, d=2 (a tie) -> S = 5/6*3/5 = 1/2;   sum = 1/30 + 2/15 = 1/6
#   t=5: censored, S unchanged; t=6: n=2, d=1 -> S = 1/4; sum = 1/6 + 1/2 = 2/3
#   t=8: censored.
TIMES = [2, 3, 3, 5, 6, 8]
EVENTS = [1, 1, 1, 0, 1, 0]


@pytest.mark.parametrize(("day", "s", "gsum"), [(2, 5 / 6, 1 / 30), (4, 0.5, 1 / 6),
                                                 (5, 0.5, 1 / 6), (7, 0.25, 2 / 3)])
def test_km_and_loglog_interval_by_hand(day, s, gsum):
    block = survival.km_landmark(TIMES, EVENTS, day)
    lo, hi = _loglog(s, gsum)
    assert block["estimate"] == pytest.approx(s, abs=1e-6)
    assert block["ci_lower"] == pytest.approx(lo, abs=1e-6)
    assert block["ci_upper"] == pytest.approx(hi, abs=1e-6)


def test_cumulative_incidence_flips_estimate_and_limits():
    s = survival.km_landmark(TIMES, EVENTS, 4)
    ci = survival.km_landmark(TIMES, EVENTS, 4, cumulative_incidence=True)
    assert ci["estimate"] == pytest.approx(1 - s["estimate"])
    assert ci["ci_lower"] == pytest.approx(1 - s["ci_upper"])
    assert ci["ci_upper"] == pytest.approx(1 - s["ci_lower"])


def test_freireich_6mp_arm_textbook_values():
    # Freireich et al. 1963, 6-MP arm (Kalbfleisch & Prentice; Klein & Moeschberger table 4.1).
    times = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    events = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    expected = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}
    for day, s in expected.items():
        assert round(survival.km_landmark(times, events, day)["estimate"], 3) == s


def test_at_risk_table_by_hand():
    table = survival.at_risk_table(TIMES, EVENTS, [0, 3, 5, 10])
    # at 3: times > 3 are 5+, 6, 8+ -> 3 at risk; events <= 3: 2, 3, 3 -> 3; censored 0
    assert table["at_risk"].tolist() == [6, 3, 2, 0]
    assert table["events"].tolist() == [0, 3, 3, 4]
    assert table["censored"].tolist() == [0, 0, 1, 2]
    assert (table[["at_risk", "events", "censored"]].sum(axis=1) == 6).all()


def test_landmark_counts_match_at_risk_table():
    block = survival.km_landmark(TIMES, EVENTS, 5)
    assert (block["at_risk"], block["events"], block["censored"]) == (2, 3, 1)


def test_edge_cases_give_null_with_reason():
    empty = survival.km_landmark([], [], 50)
    assert empty["estimate"] is None and empty["reason"] == "no patients"
    beyond = survival.km_landmark([10, 20, 30], [1, 0, 0], 50)
    assert beyond["estimate"] is None and "last follow-up (day 30)" in beyond["reason"]
    all_events = survival.km_landmark([10, 20], [1, 1], 50, cumulative_incidence=True)
    assert all_events["estimate"] == 1.0 and all_events["ci_lower"] is None
    assert "undefined" in all_events["reason"]
    none_yet = survival.km_landmark([60, 70], [1, 0], 50)
    assert none_yet["estimate"] == 1.0 and none_yet["ci_lower"] is None
    single = survival.km_landmark([80], [0], 50)
    assert single["estimate"] == 1.0 and single["reason"]


def test_logrank_needs_two_groups_and_an_event():
    assert survival.logrank([], [], [1, 2], [1, 1])["reason"] == "one group has no patients"
    assert survival.logrank([5], [0], [6], [0])["reason"] == "no events in either group"
    result = survival.logrank([1, 2, 3], [1, 1, 1], [10, 20, 30], [1, 1, 0])
    assert 0 < result["p"] < 0.1 and result["reason"] is None


def test_reverse_km_median_follow_up():
    # censored (alive) at 10, 20, 30; a death at 5 is censored for follow-up purposes:
    # reverse KM drops to 2/3 at 10, 1/3 at 20 -> median 20.
    assert survival.reverse_km_median([5, 10, 20, 30], [1, 0, 0, 0]) == {"days": 20,
                                                                          "reason": None}
    assert survival.reverse_km_median([5, 6], [1, 1])["days"] is None
