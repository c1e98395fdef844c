"""Sensitivity analyses against R's survival package (fixtures in tests/fixtures/r_survival,
made once with R; the tests need only the CSVs).

Each cohort there was designed so that every sensitivity estimate departs from the primary one;
the analysis times were built by hand (build_times.py, independent of this package) and R's
``survfit(..., conf.type = "log-log")`` gives S(day) and its limits.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cmvig_report.data.cohort import clean_cohort
from cmvig_report.stats import survival
from cmvig_report.stats.analysis import sensitivity

FIXTURES = Path(__file__).parent / "fixtures" / "r_survival"
COHORTS = ("pcr_gap", "rebound", "late_entry", "mixed")
R = pd.read_csv(FIXTURES / "r_reference.csv")
TIMES = pd.read_csv(FIXTURES / "times.csv", dtype={"patient_id": str})


def _cohort(name: str) -> pd.DataFrame:
    return clean_cohort(FIXTURES / f"{name}_patients.csv", FIXTURES / f"{name}_viral_loads.csv",
                        137).cohort.set_index("patient_id")


def _r(cohort: str, analysis: str) -> pd.DataFrame:
    return R[(R["cohort"] == cohort) & (R["analysis"] == analysis)]


def _hand(cohort: str, analysis: str) -> pd.DataFrame:
    return TIMES[(TIMES["cohort"] == cohort) & (TIMES["analysis"] == analysis)].set_index(
        "patient_id")


def _check(block: dict, row: pd.Series, incidence: bool) -> None:
    """Our block against R's S(day) and log-log limits (1 - S for a response)."""
    est = 1 - row["surv"] if incidence else row["surv"]
    assert block["estimate"] == pytest.approx(est, abs=1e-6)
    if pd.isna(row["lower"]):  # R has no log-log interval where S is 0 or 1
        if row["surv"] == 1:  # no event yet: the exact one-sided bound instead
            assert block["ci_method"] == survival.EXACT_ZERO_EVENTS
        else:
            assert block["ci_lower"] is None and block["reason"]
        return
    lo, hi = (1 - row["upper"], 1 - row["lower"]) if incidence else (row["lower"], row["upper"])
    assert (block["ci_lower"], block["ci_upper"]) == (pytest.approx(lo, abs=1e-6),
                                                      pytest.approx(hi, abs=1e-6))


@pytest.mark.parametrize("name", COHORTS)
def test_derived_times_equal_the_hand_built_ones(name):
    c = _cohort(name)
    last = _hand(name, "response_censor_last_pcr")
    for pid, row in last.iterrows():
        if c.at[pid, "responded"]:
            assert row["time"] == c.at[pid, "days_to_response"] and row["event"] == 1
        else:
            expected = min(c.at[pid, "os_from_cmvig_days"],
                           0 if pd.isna(c.at[pid, "last_pcr_day"]) else c.at[pid, "last_pcr_day"])
            assert (row["time"], row["event"]) == (expected, 0), pid
    confirmed = _hand(name, "response_confirmed")
    assert confirmed["event"].astype(bool).to_dict() == c["confirmed_response"].to_dict()
    got = c["days_to_confirmed_response"].fillna(c["os_from_cmvig_days"]).astype(int)
    assert confirmed["time"].to_dict() == got.to_dict()
    entry = _hand(name, "os_from_hsct_delayed_entry")
    assert entry["entry"].astype(int).to_dict() == c["days_hsct_to_cmvig"].to_dict()


@pytest.mark.parametrize("name", COHORTS)
def test_sensitivity_estimates_match_r_survival(name):
    c = _cohort(name).reset_index()
    for _, row in _r(name, "os_from_hsct_delayed_entry").iterrows():
        est = sensitivity(c, response_day=50, os_hsct_day=int(row["day"]), days=[50])
        assert est["os_from_hsct_delayed_entry"]["day"] == row["day"]
        _check(est["os_from_hsct_delayed_entry"], row, incidence=False)
    for analysis in ("response_censor_last_pcr", "response_confirmed"):
        for _, row in _r(name, analysis).iterrows():
            est = sensitivity(c, response_day=int(row["day"]), os_hsct_day=365, days=[50])
            _check(est[analysis], row, incidence=True)
    by_day = sensitivity(c, response_day=50, os_hsct_day=365, days=[100, 28, 50, 42, 28])
    blocks = by_day["response_by_day"]
    assert [b["day"] for b in blocks] == [28, 42, 50, 100]  # sorted, once each
    for block, (_, row) in zip(blocks, _r(name, "response_by_day").sort_values("day").iterrows(),
                               strict=True):
        _check(block, row, incidence=True)


@pytest.mark.parametrize("name", COHORTS)
def test_each_sensitivity_estimate_departs_from_the_primary(name):
    """The fixtures are only worth having where the sensitivity analysis changes something."""
    c = _cohort(name).reset_index()
    primary = {int(d): survival.km_landmark(c["days_to_response_or_censoring"], c["responded"],
                                            int(d), one_minus=True)["estimate"]
               for d in (28, 42, 50, 100)}
    moved = {a: [d for d in primary
                 if sensitivity(c, response_day=d, os_hsct_day=365, days=[d])[a]["estimate"]
                 != primary[d]] for a in ("response_censor_last_pcr", "response_confirmed")}
    assert moved["response_censor_last_pcr"] and moved["response_confirmed"], moved


def test_delayed_entry_counts_a_death_on_the_day_of_entry():
    # Entered on day 40 (CMVIG start) and died that day: counted at risk for half a day, so
    # the death is not lost as R (which refuses stop == start) or lifelines would lose it.
    block = survival.km_landmark([40, 100, 200], [True, False, False], 50, entry=[40, 10, 20])
    assert block["events"] == 1
    assert block["estimate"] == pytest.approx(2 / 3, abs=1e-6)


def test_zero_events_give_the_exact_one_sided_bound():
    # 0 responses among 4 followed to day 50: upper 1 - 0.025^(1/4) = 0.6024 (R:
    # binom.test(0, 4)$conf.int[2] = 0.6023646)
    block = survival.km_landmark([60, 70, 80, 90], [False] * 4, 50, one_minus=True)
    assert block["estimate"] == 0.0 and block["ci_lower"] == 0.0
    assert block["ci_upper"] == pytest.approx(0.6023646, abs=1e-6)
    assert block["ci_method"] == survival.EXACT_ZERO_EVENTS and block["reason"] is None
    # survival with no death: the same bound, as a lower limit
    os_block = survival.km_landmark([60, 70, 80, 90], [False] * 4, 50)
    assert os_block["estimate"] == 1.0 and os_block["ci_upper"] == 1.0
    assert os_block["ci_lower"] == pytest.approx(1 - 0.6023646, abs=1e-6)
    # censored before the landmark: only those followed to it count (here 2 of 4)
    early = survival.km_landmark([20, 30, 80, 90], [False] * 4, 50, one_minus=True)
    assert early["ci_upper"] == pytest.approx(1 - 0.025 ** 0.5, abs=1e-6)
