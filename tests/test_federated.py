"""Pooling centres from their aggregate bundles (workflow/cmvig_report/centres/federated.py)."""

from __future__ import annotations

import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test
from r_pooled import CONFIG

from cmvig_report.centres import federated
from cmvig_report.data.cohort import clean_cohort
from cmvig_report.devtools.synth import generate_cohort, write_cohort
from cmvig_report.privacy.printed_counts import catalogue, size
from cmvig_report.stats import risk_tables, survival

SEEDS = {"north": (120, 11), "south": (80, 12), "east": (60, 13)}


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = {}
    for name, (n, seed) in SEEDS.items():
        folder = tmp_path_factory.mktemp(name)
        p, v = generate_cohort(n, seed)
        out[name] = clean_cohort(*write_cohort(p, v, folder), CONFIG["lloq_iu_ml"]).cohort
    return out


def _bundles(cohorts, unit="day", min_cell=0):
    return [{**federated.build_bundle(c, unit=unit, response_day=50, min_cell_count=min_cell,
                                      freeze_sha256={"patients": "0" * 64}), "centre": name}
            for name, c in cohorts.items()]


def _km_reference(durations, events, entry=None):
    return KaplanMeierFitter().fit(durations, events, entry=entry)


def _read(fit, day, column=0):
    frame = fit.survival_function_
    pos = int(np.searchsorted(frame.index.to_numpy(), day, side="right")) - 1
    return float(frame.iloc[pos, column]), fit.confidence_interval_.iloc[pos].to_numpy()


@pytest.mark.parametrize("day", [7, 28, 50, 100])
def test_pooled_km_of_daily_bundles_equals_km_of_the_concatenated_patients(cohorts, day):
    every = pd.concat(cohorts.values(), ignore_index=True)
    bundles = _bundles(cohorts)
    table = federated._tables(bundles, "response", federated.GROUPS)
    curve = risk_tables.km_from_table(table)
    ref = _km_reference(every["days_to_response_or_censoring"], every["responded"])
    s, ci = _read(ref, day)
    assert risk_tables.value_at(curve, "survival", day, 1.0) == pytest.approx(s, abs=1e-9)
    assert risk_tables.value_at(curve, "ci_lower", day, 1.0) == pytest.approx(ci[0], abs=1e-9)
    assert risk_tables.value_at(curve, "ci_upper", day, 1.0) == pytest.approx(ci[1], abs=1e-9)


@pytest.mark.parametrize("day", [100, 365, 730])
def test_pooled_survival_from_hsct_with_delayed_entry_equals_the_patient_level_fit(cohorts, day):
    every = pd.concat(cohorts.values(), ignore_index=True)
    bundles = _bundles(cohorts)
    pooled = federated.landmark(federated._tables(bundles, "os_from_hsct", federated.GROUPS),
                                day, "day")
    ref = survival.km_landmark(every["os_from_hsct_days"], every["died"], day,
                               entry=every["days_hsct_to_cmvig"])
    assert pooled["estimate"] == ref["estimate"]
    assert (pooled["ci_lower"], pooled["ci_upper"]) == (ref["ci_lower"], ref["ci_upper"])
    plain = federated.landmark(federated._tables(bundles, "os_from_hsct", federated.GROUPS,
                                                 delayed_entry=False), day, "day")
    ref_plain = survival.km_landmark(every["os_from_hsct_days"], every["died"], day)
    assert plain["estimate"] == ref_plain["estimate"]
    assert plain["at_risk"] == ref_plain["at_risk"]


@pytest.mark.parametrize("day", [14, 50, 100])
def test_pooled_aalen_johansen_equals_the_patient_level_fit(cohorts, day):
    every = pd.concat(cohorts.values(), ignore_index=True)
    responded = every["responded"].astype(bool)
    codes = responded.astype(int) + 2 * (every["died"].astype(bool) & ~responded).astype(int)
    times = every["days_to_response_or_censoring"].to_numpy(dtype=float)
    # lifelines jitters tied events of different kinds by up to 1e-4 days: censorings are moved
    # 1e-3 later so they stay after the events of their day, and the curve is read 1e-2 past
    # the landmark so a jittered event on the landmark day is in
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ajf = AalenJohansenFitter(calculate_variance=False, seed=1).fit(
            times + np.where(codes == 0, 1e-3, 0.0), codes, event_of_interest=1)
    frame = ajf.cumulative_density_
    pos = int(np.searchsorted(frame.index.to_numpy(), day + 1e-2, side="right")) - 1
    table = federated._tables(_bundles(cohorts), "response", federated.GROUPS)
    got = risk_tables.value_at(risk_tables.aj_from_table(table), "incidence", day, 0.0)
    assert got == pytest.approx(float(frame.iloc[pos, 0]), abs=1e-9)
    assert got > 0


def test_unstratified_logrank_of_one_pooled_stratum_equals_lifelines(cohorts):
    every = pd.concat(cohorts.values(), ignore_index=True)
    bundles = _bundles(cohorts)
    a = federated._tables(bundles, "response", ["recurrent"])
    b = federated._tables(bundles, "response", ["refractory"])
    got = federated.logrank_stratified([(a, b)])
    ra, rb = (every[every["infection_type"] == g] for g in federated.GROUPS)
    ref = logrank_test(ra["days_to_response_or_censoring"], rb["days_to_response_or_censoring"],
                       ra["responded"], rb["responded"])
    assert got["statistic"] == survival.rounded(ref.test_statistic)
    stratified = federated.pooled_estimates(bundles, response_day=50, os_cmvig_day=100,
                                            os_hsct_day=365)["logrank"]
    assert stratified["strata"] == 3 and stratified["statistic"] != got["statistic"]


def test_week_bins_never_put_the_pooled_curve_below_the_exact_one_at_the_week_end(cohorts):
    # Times rounded up to whole weeks keep each week's events and move its censorings after
    # them: within a week the binned factor 1 - D/n is at least the exact product over the
    # week's days, so the binned estimate at week k is at or above the exact one at day 7k
    # (docs/centres.md gives the sizes measured).
    every = pd.concat(cohorts.values(), ignore_index=True)
    weekly = federated._tables(_bundles(cohorts, unit="week"), "response", federated.GROUPS)
    curve = risk_tables.km_from_table(weekly)
    ref = _km_reference(every["days_to_response_or_censoring"], every["responded"])
    differs = False
    for week in range(1, 20):
        s_week = risk_tables.value_at(curve, "survival", float(week), 1.0)
        exact, _ = _read(ref, 7 * week)
        assert s_week >= exact - 1e-12
        differs |= s_week > exact + 1e-9
    assert differs


def test_a_bundle_holds_no_id_date_or_free_text(cohorts):
    text = json.dumps(_bundles(cohorts)[0])
    cohort = cohorts["north"]
    for pid in cohort["patient_id"]:
        assert f'"{pid}"' not in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
    # counts only: every number is an integer count or a time, no text beyond labels
    assert '"patient_id"' not in text and '"cause_of_death"' not in text


def test_a_small_group_is_withheld_and_the_pooled_result_says_so(cohorts):
    small = {**cohorts, "tiny": cohorts["east"].iloc[:12]}
    n_refractory = int((small["tiny"]["infection_type"] == "refractory").sum())
    assert 0 < n_refractory < 10
    bundles = _bundles(small, min_cell=10)
    tiny = bundles[-1]
    assert tiny["endpoints"]["response"]["refractory"]["suppressed"] is True
    assert "refractory" in tiny["suppressed_groups"]
    assert all(isinstance(v, str) for k, v in tiny["table1_counts"].items()
               if k in tiny["table1_hidden"])
    pooled = federated.pooled_estimates(bundles, response_day=50, os_cmvig_day=100,
                                        os_hsct_day=365)
    assert "refractory" in pooled["centres"]["suppressed_groups"]["tiny"]
    tiny_sizes = small["tiny"]["infection_type"].value_counts()
    kept = sum(len(c) for c in cohorts.values()) + int(tiny_sizes[tiny_sizes >= 10].sum())
    assert pooled["n_patients"] == kept


def test_pooled_table1_sums_the_centres_and_names_those_that_hid_a_count(cohorts):
    bundles = _bundles(cohorts)
    pooled = federated.pooled_table1(bundles)
    total = sum(len(c) for c in cohorts.values())
    assert pooled[size("overall")] == {"count": total, "hidden_in": []}
    # a bundle carries the counts the manuscript prints, not the "not ..." side of the plan's
    # sums (Table 2 prints every cell it pools)
    printed = catalogue(next(iter(cohorts.values())), 50)[3]
    assert set(bundles[0]["table1_counts"]) <= set(printed)
    assert not any("|not " in name for name in pooled)
    hiding = [{**bundles[0], "table1_counts": {**bundles[0]["table1_counts"],
                                                size("overall"): "<10"}}, *bundles[1:]]
    assert federated.pooled_table1(hiding)[size("overall")] == {
        "count": None, "hidden_in": ["north"]}


LANDMARK_BLOCKS = ("response", "response_by_type.recurrent", "response_by_type.refractory",
                   "os_from_cmvig", "os_from_hsct", "sensitivity.os_from_hsct_delayed_entry",
                   "response_competing_risk")


def _block(est: dict, key: str) -> dict:
    for part in key.split("."):
        est = est[part]
    return est


def _first_event_day(times: pd.Series, flags: pd.Series) -> int:
    return int(times[flags.astype(bool)].min())


@pytest.mark.parametrize("when", ["config", "before_any_event"])
@pytest.mark.parametrize("name", sorted(SEEDS))
def test_one_centre_pooled_alone_equals_its_single_build(cohorts, name, when):
    # The same landmark function makes both: every key of every landmark block, the interval
    # included, and the exact bound where no event has happened by the landmark.
    from cmvig_report.stats.analysis import compute_estimates

    c = cohorts[name]
    if when == "config":
        days = {"response_day": 50, "os_cmvig_day": 100, "os_hsct_day": 365}
    else:  # the day before the first response and the first death: S = 1 at each landmark
        days = {"response_day": _first_event_day(c["days_to_response_or_censoring"],
                                                 c["responded"]) - 1,
                "os_cmvig_day": _first_event_day(c["os_from_cmvig_days"], c["died"]) - 1,
                "os_hsct_day": _first_event_day(c["os_from_hsct_days"], c["died"]) - 1}
    single = compute_estimates(c, lloq_iu_ml=CONFIG["lloq_iu_ml"], **days)
    bundle = {**federated.build_bundle(c, unit="day", response_day=days["response_day"],
                                       min_cell_count=0, freeze_sha256={}), "centre": name}
    pooled = federated.pooled_estimates([bundle], **days)
    exact = 0
    for key in LANDMARK_BLOCKS:
        ours, theirs = _block(pooled, key), _block(single, key)
        assert {k: theirs[k] for k in ours} == ours, key
        assert ours["estimate"] is not None, key
        # every block has an interval, but a cumulative incidence of 0 (none is defined there)
        incidence = ours["ci_method"] == risk_tables.AJ_INTERVAL
        assert (ours["ci_lower"] is None) == (ours["estimate"] == 0 and incidence), key
        exact += ours.get("ci_method") == survival.EXACT_ZERO_EVENTS
    response = {k: v for k, v in single["response"].items() if k != "method"}
    assert pooled["centres"]["response_by_centre"][name] == response
    # the Aalen-Johansen block: one implementation, the cmprsk variance, the same interval
    aj, own_aj = pooled["response_competing_risk"], single["response_competing_risk"]
    assert aj["ci_method"] == own_aj["ci_method"] == risk_tables.AJ_INTERVAL
    assert (aj["estimate"], aj["ci_lower"], aj["ci_upper"]) == (
        own_aj["estimate"], own_aj["ci_lower"], own_aj["ci_upper"])
    if when == "config":
        assert 0 < aj["ci_lower"] < aj["estimate"] < aj["ci_upper"] < 1
    if when == "before_any_event":  # response, OS from CMVIG, OS from HSCT (and delayed entry)
        assert exact >= 4
    else:
        assert exact == 0


def _table(exits: list[tuple[float, str]]) -> pd.DataFrame:
    # a hand-made risk table (everyone enters at 0): "e" an event, "c" censored
    times = [t for t, _ in exits]
    return risk_tables.risk_table(times, [kind == "e" for _, kind in exits])


def test_heterogeneity_on_the_log_log_scale_by_hand():
    # Landmark day 3. Kaplan-Meier S and Greenwood's sum G = sum d/(n(n-d)) by hand:
    #   a: events at 1, 2 of 4, then censored at 3, 4:  S = 3/4 * 2/3 = 1/2, G = 1/12 + 1/6 = 1/4
    #   b: event at 1 of 5, censored at 5 (x4):        S = 4/5,              G = 1/20
    #   c: event at 2 of 3, censored at 5 (x2):        S = 2/3,              G = 1/6
    #   d: no event by day 3 (an event at 4):          S = 1, left out (weight -> 0)
    #   e: every child had the event by day 3:         S = 0, left out
    # theta = log(-log S), Var theta = G / (log S)^2 (delta method), w = 1 / Var;
    # Q = sum w (theta - mean_w)^2 on 2 df, p = exp(-Q / 2) for 2 df, I2 = max(0, (Q - 2) / Q)
    tables = {"a": _table([(1, "e"), (2, "e"), (3, "c"), (4, "c")]),
              "b": _table([(1, "e"), *[(5, "c")] * 4]),
              "c": _table([(2, "e"), (5, "c"), (5, "c")]),
              "d": _table([(4, "e"), (6, "c")]),
              "e": _table([(1, "e"), (2, "e")])}
    s = {"a": 1 / 2, "b": 4 / 5, "c": 2 / 3}
    g = {"a": 1 / 4, "b": 1 / 20, "c": 1 / 6}
    theta = {k: math.log(-math.log(v)) for k, v in s.items()}
    w = {k: math.log(s[k]) ** 2 / g[k] for k in s}
    mean = sum(w[k] * theta[k] for k in s) / sum(w.values())
    q = sum(w[k] * (theta[k] - mean) ** 2 for k in s)
    got = federated.heterogeneity(tables, 3, 3.0)
    assert got["q"] == pytest.approx(q, abs=1e-6)
    assert (got["df"], got["centres_used"]) == (2, 3)
    assert got["p"] == pytest.approx(math.exp(-q / 2), abs=1e-6)
    assert got["i2"] == pytest.approx(max(0.0, (q - 2) / q), abs=1e-6)
    assert got["left_out"] == {"d": federated.NO_EVENT_BY_LANDMARK,
                               "e": federated.ALL_HAD_EVENT}
    # the scale matters: weights read off the response scale would give another Q
    assert got["q"] != pytest.approx(_q_on_the_probability_scale(s, g), abs=1e-3)


def _q_on_the_probability_scale(s: dict, g: dict) -> float:
    w = {k: 1 / (s[k] ** 2 * g[k]) for k in s}  # Var S = S^2 G
    mean = sum(w[k] * s[k] for k in s) / sum(w.values())
    return sum(w[k] * (s[k] - mean) ** 2 for k in s)


def test_heterogeneity_with_one_usable_centre_says_why():
    tables = {"a": _table([(1, "e"), (2, "e"), (3, "c"), (4, "c")]),
              "d": _table([(4, "e"), (6, "c")])}
    got = federated.heterogeneity(tables, 3, 3.0)
    assert got["q"] is None and got["centres_used"] == 1
    assert got["reason"] == "fewer than two centres with an event by the landmark"
    assert got["left_out"] == {"d": federated.NO_EVENT_BY_LANDMARK}
