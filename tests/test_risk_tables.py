"""The risk-table engine (workflow/cmvig_report/stats/risk_tables.py, read by survival.py) against
lifelines fitted on the patients themselves, on generated data with ties, censorings on event
days and delayed entry. By-hand values are in test_survival.py, R's in test_pooled_r.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.exceptions import StatError

from cmvig_report.stats import risk_tables, survival

LANDMARK_TOLERANCE = 0.5 * 10 ** -survival.DECIMALS + 1e-12


@st.composite
def patients(draw, delayed_entry: bool):
    n = draw(st.integers(1, 25))
    exits = draw(st.lists(st.integers(1, 30), min_size=n, max_size=n))
    events = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if not delayed_entry:
        return np.array(exits, float), np.array(events), None
    # an entry before the exit, or on it (a follow-up ending on its entry day)
    entry = [draw(st.integers(0, t)) for t in exits]
    return np.array(exits, float), np.array(events), np.array(entry, float)


def _lifelines_at(durations, events, entry, day):
    if entry is not None:  # the pipeline's convention for a follow-up ending on its entry day
        durations = np.where(durations <= entry, entry + survival.SAME_DAY_EXIT, durations)
    try:
        fit = KaplanMeierFitter().fit(durations, events, entry=entry)
    except StatError:  # lifelines refuses a risk set that empties before later entries
        reject()
    frame = fit.survival_function_
    pos = int(np.searchsorted(frame.index.to_numpy(), day, side="right")) - 1
    if pos < 0:
        return 1.0, (math.nan, math.nan)
    return float(frame.iloc[pos, 0]), tuple(fit.confidence_interval_.iloc[pos].to_numpy())


@pytest.mark.parametrize("delayed_entry", [False, True])
def test_the_landmark_block_equals_lifelines_on_the_patients(delayed_entry):
    @settings(max_examples=150, deadline=None)
    @given(data=patients(delayed_entry), day=st.integers(0, 32))
    def check(data, day):
        durations, events, entry = data
        block = survival.km_landmark(durations, events, day, entry=entry)
        s, (lo, hi) = _lifelines_at(durations, events, entry, day)
        if block["estimate"] is None:  # beyond the follow-up, with someone still at risk
            assert block["reason"].startswith("landmark beyond") and s > 0
            return
        assert block["estimate"] == pytest.approx(s, abs=LANDMARK_TOLERANCE)
        if 0 < s < 1:
            assert block["ci_lower"] == pytest.approx(lo, abs=LANDMARK_TOLERANCE)
            assert block["ci_upper"] == pytest.approx(hi, abs=LANDMARK_TOLERANCE)
        elif s == 1 and block["ci_lower"] is not None:
            assert block["ci_method"] == survival.EXACT_ZERO_EVENTS
        else:  # S = 0, or S = 1 with nobody at risk on the day
            assert (block["ci_lower"], block["ci_upper"]) == (None, None)
        # the counts of the block add up to the patients
        assert (block["at_risk"] + block["events"] + block["censored"]
                + block.get("not_yet_entered", 0)) == len(durations)

    check()


@settings(max_examples=150, deadline=None)
@given(data=patients(False), competing=st.data())
def test_aalen_johansen_without_competing_events_is_one_minus_kaplan_meier(data, competing):
    # With no competing event the Aalen-Johansen estimate is 1 - S, and cmprsk's Aalen-type
    # variance reduces to S^2 * sum d/((n-1)(n-d)): with F = 1 - S each term is
    # S(t-)^2 tau d/n^2 (S(t)/S_j)^2, tau = (n-d)/(n-1), S_j = S(t_j-) (n-d)/n. It is
    # Greenwood's sum with n - 1 for n (so not lifelines' / survfit's variance).
    durations, events, _ = data
    table = risk_tables.risk_table(durations, events)
    aj = risk_tables.aj_from_table(table)
    km = risk_tables.km_from_table(table)
    assert np.allclose(aj["incidence"], 1 - km["survival"], atol=1e-12)
    n, d = table["at_risk"].to_numpy(float), table["events"].to_numpy(float)
    live = (n > d) & (d > 0)
    aalen = np.cumsum(np.where(live, d / ((n - 1) * (n - d)), 0.0))
    assert np.allclose(aj["variance"][km["survival"] > 0],
                       (km["survival"] ** 2 * aalen)[km["survival"] > 0], atol=1e-12)
