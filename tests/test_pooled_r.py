"""Pooled estimates of the three shipped centres against R's ``survival`` on the concatenated
patients, the Aalen-Johansen variance against ``cmprsk::cuminc`` (fixtures in
tests/fixtures/r_pooled, made by an independent plain-Python script and R 4.2.2 / survival 3.5.3
/ cmprsk 2.2.11; the tests need neither R nor the scripts).

The pooling here is the pipeline's own: each centre's export cleaned by ``clean_cohort``, its
bundle built with daily times, the bundles pooled by ``federated.pooled_estimates``.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from r_pooled import (
    DAYS,
    FIXTURES,
    LANDMARK_TOLERANCE,
    check_estimates_against_r,
    r_curves,
    r_logrank,
    shipped_bundles,
)

from cmvig_report.centres import federated
from cmvig_report.stats import risk_tables, survival

CURVE_TOLERANCE = 1e-9  # the full curves: R writes 12 significant digits


@pytest.fixture(scope="module")
def bundles() -> list[dict]:
    return shipped_bundles()


@pytest.fixture(scope="module")
def pooled(bundles) -> dict:
    return federated.pooled_estimates(bundles, response_day=DAYS["response"],
                                      os_cmvig_day=DAYS["os_from_cmvig"],
                                      os_hsct_day=DAYS["os_from_hsct"])


def _pooled_table(bundles, analysis: str, centre: str, group: str):
    chosen = bundles if centre == "all" else [b for b in bundles if b["centre"] == centre]
    groups = list(federated.GROUPS) if group == "all" else [group]
    endpoint = "response" if analysis.startswith("response") else analysis.removesuffix(
        "_delayed_entry")
    return federated._tables(chosen, endpoint, groups,
                             delayed_entry=analysis == "os_from_hsct_delayed_entry")


def test_the_fixture_covers_every_shipped_centre_and_analysis(bundles):
    curves = r_curves()
    assert sorted(set(curves["centre"]) - {"all"}) == [b["centre"] for b in bundles]
    assert set(curves["analysis"]) == {"response_km", "response_aj", "os_from_cmvig",
                                       "os_from_hsct", "os_from_hsct_delayed_entry"}
    times = pd.read_csv(FIXTURES / "times.csv")
    for b in bundles:  # the same patients in R's data as in each centre's bundle
        entered = federated._tables([b], "response", federated.GROUPS)["entered"].sum()
        assert (times["centre"] == b["centre"]).sum() == entered


@pytest.mark.parametrize("key", sorted({(r.centre, r.infection_type, r.analysis)
                                        for r in r_curves().itertuples()}))
def test_every_point_of_every_pooled_curve_equals_r(bundles, key):
    # At every time R reports: the curve (estimate and log-log limits) to 1e-9, and the landmark
    # block read there, exact bound included where no event has happened yet, to 6 decimals.
    centre, group, analysis = key
    table = _pooled_table(bundles, analysis, centre, group)
    ref = r_curves().query("centre == @centre and infection_type == @group "
                           "and analysis == @analysis")
    assert set(ref["interval"]) <= {"log-log", "exact", "none"}
    if analysis == "response_aj":
        curve, estimate = risk_tables.aj_from_table(table), "incidence"
    else:
        curve, estimate = risk_tables.km_from_table(table), "survival"
    for row in ref.itertuples():
        if analysis == "response_aj":
            block = survival.aalen_johansen_landmark(table, int(row.time), at=row.time)
        else:
            block = survival.km_landmark_from_table(
                table, int(row.time), at=row.time,
                delayed_entry=analysis == "os_from_hsct_delayed_entry")
        where = (analysis, row.time)
        got = risk_tables.value_at(curve, estimate, row.time, math.nan)
        assert got == pytest.approx(row.estimate, abs=CURVE_TOLERANCE), where
        assert block["estimate"] == pytest.approx(row.estimate, abs=LANDMARK_TOLERANCE), where
        if row.interval == "none":
            assert (block["ci_lower"], block["ci_upper"]) == (None, None), where
            continue
        assert block["ci_lower"] == pytest.approx(row.lower, abs=LANDMARK_TOLERANCE), where
        assert block["ci_upper"] == pytest.approx(row.upper, abs=LANDMARK_TOLERANCE), where
        exact = block.get("ci_method") == survival.EXACT_ZERO_EVENTS
        assert exact == (row.interval == "exact"), where
        if row.interval == "log-log":
            for ours, theirs in (("ci_lower", row.lower), ("ci_upper", row.upper)):
                got = risk_tables.value_at(curve, ours, row.time, math.nan)
                assert got == pytest.approx(theirs, abs=CURVE_TOLERANCE), (*where, ours)


def test_the_fixture_has_points_without_an_event_yet():
    # the exact-bound case is compared above, not skipped: make sure R's file has it
    exact = r_curves().query("interval == 'exact'")
    assert len(exact) and (exact["estimate"] == 1).all()


def test_pooled_estimates_equal_r_on_the_concatenated_patients(pooled):
    check_estimates_against_r(pooled)
    # the events by the landmark, too
    curve = r_curves().query("analysis == 'response_km' and centre == 'all' "
                             "and infection_type == 'all'")
    assert pooled["n_patients"] == len(pd.read_csv(FIXTURES / "times.csv"))
    assert pooled["response"]["events"] == int(
        curve.loc[curve["time"] <= DAYS["response"], "n_event"].sum())


def test_stratifying_by_centre_changes_the_logrank_as_in_r(bundles):
    # the unstratified test on the pooled tables is R's survdiff without strata(centre)
    a = federated._tables(bundles, "response", ["recurrent"])
    b = federated._tables(bundles, "response", ["refractory"])
    plain = federated.logrank_stratified([(a, b)])
    ref = r_logrank("unstratified")
    assert plain["statistic"] == pytest.approx(ref["statistic"], abs=LANDMARK_TOLERANCE)
    assert plain["p"] == pytest.approx(ref["p"], abs=LANDMARK_TOLERANCE)
    assert ref["statistic"] != r_logrank("stratified_by_centre")["statistic"]


def test_week_bins_do_not_meet_r(bundles):
    # the comparison can fail: weekly bundles move the landmark to the end of its week
    weekly = federated.pooled_estimates(shipped_bundles("week"), response_day=DAYS["response"],
                                        os_cmvig_day=DAYS["os_from_cmvig"],
                                        os_hsct_day=DAYS["os_from_hsct"])
    with pytest.raises(AssertionError):
        check_estimates_against_r(weekly)
