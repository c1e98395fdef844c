"""Kaplan–Meier, its log-log interval and the other estimators against values worked out
independently (by hand, in the comments, or from published textbook tables), never by calling
lifelines in the test."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmvig_report.stats import survival

Z = 1.959963984540054  # 97.5th percentile of the standard normal


def _loglog(s: float, greenwood_sum: float) -> tuple[float, float]:
    """Log-log ("exponential Greenwood") limits: exp(-exp(log(-log S) -/+ z*se)),
    se = sqrt(sum d/(n(n-d))) / |log S|."""
    se = math.sqrt(greenwood_sum) / abs(math.log(s))
    centre = math.log(-math.log(s))
    return math.exp(-math.exp(centre + Z * se)), math.exp(-math.exp(centre - Z * se))


# Times 2, 3, 3, 5+, 6, 8+ (+ = censored). Worked by hand:
#   t=2: n=6, d=1 -> S = 5/6;             sum d/(n(n-d)) = 1/(6*5) = 1/30
#   t=3: n=5, d=2 (a tie) -> S = 5/6*3/5 = 1/2;   sum = 1/30 + 2/(5*3) = 1/6
#   t=5: censored, S unchanged; t=6: n=2, d=1 -> S = 1/4; sum = 1/6 + 1/(2*1) = 2/3
#   t=8: censored.
# e.g. at day 4: se = sqrt(1/6)/|log 0.5| = 0.408248/0.693147 = 0.588980,
#   log(-log 0.5) = -0.366513 -> limits exp(-exp(-0.366513 ± 1.96*0.588980)) = (0.110948, 0.803709)
TIMES = [2, 3, 3, 5, 6, 8]
EVENTS = [1, 1, 1, 0, 1, 0]


@pytest.mark.parametrize(("day", "s", "gsum"), [(2, 5 / 6, 1 / 30), (4, 0.5, 1 / 6),
                                                 (5, 0.5, 1 / 6), (7, 0.25, 2 / 3),
                                                 (8, 0.25, 2 / 3)])
def test_km_and_loglog_interval_by_hand(day, s, gsum):
    block = survival.km_landmark(TIMES, EVENTS, day)
    lo, hi = _loglog(s, gsum)
    assert block["estimate"] == pytest.approx(s, abs=1e-6)
    assert block["ci_lower"] == pytest.approx(lo, abs=1e-6)
    assert block["ci_upper"] == pytest.approx(hi, abs=1e-6)
    assert block["reason"] is None


def test_day_4_interval_written_out():
    block = survival.km_landmark(TIMES, EVENTS, 4)
    assert (block["ci_lower"], block["ci_upper"]) == pytest.approx((0.110948, 0.803709), abs=1e-6)


def test_events_come_before_censorings_at_the_same_time():
    # 3, 3+, 5: the patient censored on day 3 is still at risk for the day-3 event:
    # S(3) = 1 - 1/3 = 2/3 (censoring first would give 1 - 1/2). Greenwood sum = 1/(3*2) = 1/6.
    block = survival.km_landmark([3, 3, 5], [1, 0, 1], 4)
    assert block["estimate"] == pytest.approx(2 / 3, abs=1e-6)
    lo, hi = _loglog(2 / 3, 1 / 6)
    assert (block["ci_lower"], block["ci_upper"]) == pytest.approx((lo, hi), abs=1e-6)
    assert (block["at_risk"], block["events"], block["censored"]) == (1, 1, 1)


def test_one_minus_flips_estimate_and_limits():
    lo, hi = _loglog(0.5, 1 / 6)
    ci = survival.km_landmark(TIMES, EVENTS, 4, one_minus=True)
    assert ci["estimate"] == pytest.approx(0.5, abs=1e-6)
    assert ci["ci_lower"] == pytest.approx(1 - hi, abs=1e-6)
    assert ci["ci_upper"] == pytest.approx(1 - lo, abs=1e-6)


@pytest.mark.parametrize(("k", "n", "expected"), [
    # No censoring before the landmark: S = (n-k)/n and the Greenwood sum telescopes to
    # sum_i 1/((n-i)(n-i-1)) = 1/(n-k) - 1/n = k/(n(n-k)). R survfit(conf.type = "log-log")
    # gives the same three triples (the abstract's 67% (44-88), 87% (56-96), 80% (50-93)).
    (10, 15, (0.667, 0.436, 0.878)),  # response: 1 - S with flipped limits
    (2, 15, (0.867, 0.564, 0.965)),   # OS from CMVIG at day 100
    (3, 15, (0.800, 0.500, 0.931)),   # OS from HSCT at day 365
])
def test_abstract_intervals_in_closed_form(k, n, expected):
    s = (n - k) / n
    lo, hi = _loglog(s, k / (n * (n - k)))
    durations = list(range(1, k + 1)) + [1000] * (n - k)
    events = [1] * k + [0] * (n - k)
    if k == 10:
        block = survival.km_landmark(durations, events, 50, one_minus=True)
        mine = (1 - s, 1 - hi, 1 - lo)
    else:
        block = survival.km_landmark(durations, events, 50)
        mine = (s, lo, hi)
    assert tuple(round(x, 3) for x in mine) == expected
    got = (block["estimate"], block["ci_lower"], block["ci_upper"])
    assert tuple(round(x, 3) for x in got) == expected


def test_freireich_6mp_arm_textbook_values():
    # Freireich et al. 1963, 6-MP arm (Kalbfleisch & Prentice; Klein & Moeschberger table 4.1).
    times = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    events = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    expected = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}
    for day, s in expected.items():
        assert round(survival.km_landmark(times, events, day)["estimate"], 3) == s
    # between knots the step function keeps its last value; past day 23 only censorings follow
    assert round(survival.km_landmark(times, events, 30)["estimate"], 3) == 0.448
    assert round(survival.km_landmark(times, events, 35)["estimate"], 3) == 0.448


def test_km_curve_knots_start_at_one():
    curve = survival.km_curve(TIMES, EVENTS)
    assert list(curve.columns) == ["time", "survival", "ci_lower", "ci_upper"]
    assert curve["time"].tolist() == [0, 2, 3, 5, 6, 8]
    assert curve["survival"].tolist() == pytest.approx([1, 5 / 6, 0.5, 0.5, 0.25, 0.25])
    assert curve.iloc[0][["ci_lower", "ci_upper"]].tolist() == [1.0, 1.0]
    assert not curve.isna().any().any()
    assert survival.km_curve([], []).empty
    # an event on day 0 still starts the drawn curve at 1
    assert survival.km_curve([0, 4], [1, 0])["survival"].tolist()[:2] == [1.0, 0.5]


def test_censor_times():
    assert survival.censor_times(TIMES, EVENTS).tolist() == [5.0, 8.0]
    assert survival.censor_times([4, 4, 1], [0, 0, 1]).tolist() == [4.0]


def test_at_risk_table_by_hand():
    table = survival.at_risk_table(TIMES, EVENTS, [0, 3, 5, 10])
    # at 3: times > 3 are 5+, 6, 8+ -> 3 at risk; events <= 3: 2, 3, 3 -> 3; censored 0
    # at 5: times > 5 are 6, 8+ -> 2; events 3; censored 5+ -> 1
    assert table["tick"].tolist() == [0, 3, 5, 10]
    assert table["at_risk"].tolist() == [6, 3, 2, 0]
    assert table["events"].tolist() == [0, 3, 3, 4]
    assert table["censored"].tolist() == [0, 0, 1, 2]
    assert (table[["at_risk", "events", "censored"]].sum(axis=1) == 6).all()


def test_landmark_counts_match_at_risk_table():
    block = survival.km_landmark(TIMES, EVENTS, 5)
    assert (block["at_risk"], block["events"], block["censored"]) == (2, 3, 1)
    assert block["n"] == 6


NO_INTERVAL_0 = "no 95% interval: the estimate is 0, where the log-log interval is undefined"
NO_INTERVAL_1 = "no 95% interval: the estimate is 1, where the log-log interval is undefined"


@pytest.mark.parametrize(("durations", "events", "kwargs", "estimate", "reason"), [
    ([], [], {}, None, "no patients"),
    # censored on day 30, before the day-50 landmark: unknown
    ([10, 20, 30], [1, 0, 0], {}, None, "landmark beyond the last follow-up (day 30)"),
    # an event and a censoring tied on the last day: still unknown after it
    ([30, 30], [1, 0], {}, None, "landmark beyond the last follow-up (day 30)"),
    # everybody responds (S = 0): 1 - S = 1, known beyond the last time, no interval
    ([10, 20], [1, 1], {"one_minus": True}, 1.0, NO_INTERVAL_1),
    ([10, 20], [1, 1], {}, 0.0, NO_INTERVAL_0),
    ([20], [1], {}, 0.0, NO_INTERVAL_0),
])
def test_edge_cases_give_null_with_reason(durations, events, kwargs, estimate, reason):
    block = survival.km_landmark(durations, events, 50, **kwargs)
    assert block["estimate"] == estimate
    assert block["ci_lower"] is None and block["ci_upper"] is None
    assert block["reason"] == reason
    assert block["at_risk"] + block["events"] + block["censored"] == block["n"] == len(durations)
    json.dumps(block, allow_nan=False)


@pytest.mark.parametrize(("durations", "events", "kwargs", "m"), [
    # nobody has the event by day 50 (S = 1): lifelines' interval is (1, 1); the exact
    # one-sided bound over the m patients followed to the landmark replaces it
    ([60, 70], [1, 0], {}, 2),
    ([60, 70], [1, 0], {"one_minus": True}, 2),
    ([80], [0], {}, 1),
    ([80], [1], {}, 1),
    ([30, 80, 90], [0, 0, 1], {"one_minus": True}, 2),
])
def test_no_event_by_the_landmark_gives_the_exact_bound(durations, events, kwargs, m):
    block = survival.km_landmark(durations, events, 50, **kwargs)
    bound = 1 - 0.025 ** (1 / m)  # R: binom.test(0, m)$conf.int[2]
    if kwargs:
        assert (block["estimate"], block["ci_lower"]) == (0.0, 0.0)
        assert block["ci_upper"] == pytest.approx(bound, abs=1e-6)
    else:
        assert (block["estimate"], block["ci_upper"]) == (1.0, 1.0)
        assert block["ci_lower"] == pytest.approx(1 - bound, abs=1e-6)
    assert block["ci_method"] == survival.EXACT_ZERO_EVENTS and block["reason"] is None


def test_the_exact_bound_counts_the_risk_set_at_the_landmark_with_delayed_entry():
    # Entries 0, 0, 50, 60; follow-up to 80, 90, 100, 110; no death by day 50. At risk on
    # (entry, exit], as R's Surv(entry, exit) and lifelines' entry= count them: the child
    # entering on day 50 and the one entering on day 60 are not in the risk set at day 50, so
    # m = 2 (entry < 50 <= exit; R: binom.test(0, 2)$conf.int[2] = 1 - 0.025^(1/2) = 0.841886).
    block = survival.km_landmark([80, 90, 100, 110], [0, 0, 0, 1], 50, entry=[0, 0, 50, 60])
    assert block["ci_method"] == survival.EXACT_ZERO_EVENTS
    assert (block["estimate"], block["ci_upper"]) == (1.0, 1.0)
    assert block["ci_lower"] == pytest.approx(1 - 0.841886, abs=1e-6)
    assert block["not_yet_entered"] == 1


def test_median_time_with_interval_matches_r():
    # R: summary(survfit(Surv(t, e) ~ 1, conf.type = "log-log"))$table gives median 45,
    # 0.95LCL 21, 0.95UCL NA (the upper band never falls to 0.5)
    t = [14, 21, 21, 28, 35, 42, 100, 200, 300, 45, 49, 28, 400, 500, 600]
    e = [1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert survival.km_median(t, e) == {"days": 45, "ci_lower": 21, "ci_upper": None,
                                         "reason": None}
    assert survival.km_median([10, 20], [0, 0])["reason"] == "median not reached"


def test_logrank_hand_computed():
    # A: 1, 2, 3 (all events); B: 10, 20, 30+.  O_A = 3.
    #   t=1: nA=3, nB=3, d=1 -> E_A = 3/6 = 0.5,  V = 3*3*1*5/(36*5)  = 0.25
    #   t=2: nA=2, nB=3, d=1 -> E_A = 2/5 = 0.4,  V = 2*3*1*4/(25*4)  = 0.24
    #   t=3: nA=1, nB=3, d=1 -> E_A = 1/4 = 0.25, V = 1*3*1*3/(16*3)  = 0.1875
    #   t=10, 20: nA=0 -> nothing.   chi2 = (3 - 1.15)^2 / 0.6775 = 5.051661, p = 0.024602
    result = survival.logrank([1, 2, 3], [1, 1, 1], [10, 20, 30], [1, 1, 0])
    assert result["statistic"] == pytest.approx(1.85**2 / 0.6775, abs=1e-6)
    assert result["p"] == pytest.approx(math.erfc(math.sqrt(1.85**2 / 0.6775 / 2)), abs=1e-6)
    assert result["df"] == 1 and result["reason"] is None


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(1, 90), st.booleans(), st.booleans()), min_size=2,
                max_size=60))
def test_logrank_equals_lifelines_on_any_two_groups(rows):
    # SciPy computes the test (a faster import); lifelines, the engine the published p-values
    # were computed with, is the reference
    from lifelines.statistics import logrank_test

    a = [(t, e) for t, e, in_a in rows if in_a]
    b = [(t, e) for t, e, in_a in rows if not in_a]
    ours = survival.logrank([t for t, _ in a], [e for _, e in a], [t for t, _ in b],
                            [e for _, e in b])
    if ours["reason"] is not None:
        return
    ref = logrank_test([t for t, _ in a], [t for t, _ in b], event_observed_A=[e for _, e in a],
                       event_observed_B=[e for _, e in b])
    # (ours are rounded to 6 decimals, as estimates.json holds them)
    assert ours["statistic"] == pytest.approx(ref.test_statistic, abs=5e-7)
    assert ours["p"] == pytest.approx(ref.p_value, abs=5e-7)


def test_logrank_not_testable():
    assert survival.logrank([], [], [1, 2], [1, 1])["reason"] == "one group has no patients"
    assert survival.logrank([5], [0], [6], [0])["reason"] == "no events in either group"
    # the only event happens when group B has left: no information (lifelines would say p = 1)
    zero = survival.logrank([10], [1], [5], [0])
    assert zero == {"statistic": None, "p": None, "df": 1,
                    "reason": "log-rank statistic undefined: zero variance"}


def test_reverse_km_median_follow_up():
    # censored (alive) at 10, 20, 30; a death at 5 is censored for follow-up purposes:
    # reverse KM drops to 2/3 at 10, 1/3 at 20 -> median 20.
    assert survival.reverse_km_median([5, 10, 20, 30], [1, 0, 0, 0]) == {"days": 20,
                                                                          "reason": None}
    assert survival.reverse_km_median([5, 6], [1, 1]) == {
        "days": None, "reason": "every patient had the event: no one censored"}
    assert survival.reverse_km_median([], []) == {"days": None, "reason": "no patients"}
    # alive at 10, 20; then deaths at 30, 40: reverse KM = 3/4 at 10, 1/2 at 20 -> median 20
    assert survival.reverse_km_median([10, 20, 30, 40], [0, 0, 1, 1])["days"] == 20
    # one alive at 10 among deaths at 20, 30: reverse KM = 2/3 and never lower -> not reached
    assert survival.reverse_km_median([10, 20, 30], [0, 1, 1]) == {
        "days": None, "reason": "median not reached"}


# Aalen-Johansen by hand: codes 1 response, 2 death first, 0 censored.
#   5(1), 5(2), 5(0), 10(1), 20(0)
#   t=5: n=5, S(5-)=1, one response -> F = 1/5; both events -> S(5) = 3/5; the censoring on
#        day 5 comes after the events;  t=10: n=2, one response -> F = 1/5 + 3/5 * 1/2 = 1/2.
AJ_TIMES = [5, 5, 5, 10, 20]
AJ_CODES = [1, 2, 0, 1, 0]


def test_aalen_johansen_and_its_interval_by_hand():
    # Variance: the Aalen-type estimator of cmprsk::cuminc, per event kind k at time t_j
    #   w = S(t_j-)^2 * tau * d_k / n^2 (tau = 1 for untied events), g = 1 + F_j/S_j for a
    #   response, F_j/S_j for a death; Var F(t) = sum w (g - F(t)/S_j)^2.
    #   j=5 (S_j = 3/5, F_j = 1/5): w = 1/25 for each kind; g = 1/3 (death), 4/3 (response)
    #   j=10 (S(10-) = 3/5, S_j = 3/10, F_j = 1/2): w = (9/25)/4 = 0.09, g = 1 + 5/3 = 8/3
    #   at 10, F = 1/2: 0.04 (1/3 - 5/6)^2 + 0.04 (4/3 - 5/6)^2 + 0.09 (8/3 - 5/3)^2
    #                 = 0.01 + 0.01 + 0.09 = 0.11, se = 0.331662
    #   log(-log): se/(F |log F|) = 0.956997; limits 0.5^exp(+-1.96 * 0.956997)
    #   = (0.010859, 0.899218).
    #   R: timepoints(cuminc(c(5,5,5,10,20), c(1,2,0,1,0)), 10) gives est 0.5, var 0.11; the
    #   limits from it 0.01085889 0.89921799 (survfit's multi-state jackknife would give 0.065)
    out = survival.aalen_johansen(AJ_TIMES, AJ_CODES, 10)
    assert out["estimate"] == pytest.approx(0.5, abs=1e-6)
    half = Z * math.sqrt(0.11) / (0.5 * math.log(2))
    assert out["ci_lower"] == pytest.approx(0.5 ** math.exp(half), abs=1e-6)
    assert out["ci_upper"] == pytest.approx(0.5 ** math.exp(-half), abs=1e-6)
    assert (out["ci_lower"], out["ci_upper"]) == pytest.approx((0.010859, 0.899218), abs=1e-6)
    assert out["ci_method"] == "Aalen-type variance (cmprsk::cuminc), 95% CI on the log(-log) scale"
    assert survival.aalen_johansen(AJ_TIMES, AJ_CODES, 9)["estimate"] == pytest.approx(0.2)


def test_aalen_johansen_without_competing_events_equals_one_minus_km():
    out = survival.aalen_johansen(TIMES, EVENTS, 4)
    assert out["estimate"] == pytest.approx(0.5, abs=1e-6)


def test_aalen_johansen_edge_cases():
    assert survival.aalen_johansen([], [], 50)["reason"] == "no patients"
    beyond = survival.aalen_johansen([10, 30], [1, 0], 50)
    assert beyond["estimate"] is None
    assert beyond["reason"] == "landmark beyond the last follow-up (day 30)"
    none = survival.aalen_johansen([60, 70], [2, 0], 50)
    assert none["estimate"] == 0.0 and none["reason"] == NO_INTERVAL_0
    everyone = survival.aalen_johansen([10, 20], [1, 1], 50)
    assert everyone["estimate"] == 1.0 and everyone["reason"] == NO_INTERVAL_1
    for out in (beyond, none, everyone):
        json.dumps(out, allow_nan=False)


def test_rounded_never_returns_nan():
    assert survival.rounded(float("nan")) is None
    assert survival.rounded(None) is None
    assert survival.rounded(-0.0000001) == 0.0
    assert survival.rounded(1 / 3) == 0.333333
