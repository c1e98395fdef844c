"""estimates.json: the abstract's numbers, the contract's keys, edge cases without NaN."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from cohort_factory import make_cohort

from cmvig_report.core.io import read_clean_cohort
from cmvig_report.data import quality
from cmvig_report.stats.analysis import assert_finite, compute_estimates, km_curves, run_analysis

ROOT = Path(__file__).resolve().parents[1]
DAYS = {"response_day": 50, "os_cmvig_day": 100, "os_hsct_day": 365, "lloq_iu_ml": 137}
Z = 1.959963984540054

# The abstract's shape, written out: (infection type, day of response or None, days of
# follow-up after CMVIG, died, days HSCT -> CMVIG, CMV death).
# 10 responses by day 50, the 5 non-responders all followed > 50 days; deaths on days 90 and 70
# after CMVIG (2 by day 100), and on days 150, 130 and 270 after HSCT (3 within a year: the
# fourth, day 405, is after it); every survivor is followed >= 470 days after HSCT.
ABSTRACT_ROWS = [
    ("recurrent", 14, 90, True, 60, False),
    ("recurrent", 21, 410, False, 60, False),
    ("recurrent", 21, 420, False, 60, False),  # tied responses
    ("recurrent", 28, 430, False, 60, False),
    ("recurrent", 35, 440, False, 60, False),
    ("recurrent", 42, 450, False, 60, False),
    ("recurrent", None, 330, True, 75, False),
    ("recurrent", None, 600, False, 60, False),
    ("refractory", 21, 160, True, 110, False),
    ("refractory", 28, 510, False, 60, False),
    ("refractory", 45, 520, False, 60, False),
    ("refractory", 49, 530, False, 60, False),
    ("refractory", None, 70, True, 60, True),
    ("refractory", None, 800, False, 60, False),
    ("refractory", None, 700, False, 60, False),
]


def abstract_cohort() -> pd.DataFrame:
    return make_cohort([
        {"type": t, "response": r, "fu": fu, "died": died, "hsct_to_cmvig": gap,
         "cmv_death": cmv} for t, r, fu, died, gap, cmv in ABSTRACT_ROWS])


def _estimates(cohort: pd.DataFrame) -> dict:
    est = compute_estimates(cohort, **DAYS)
    json.dumps(est, allow_nan=False)  # no NaN may reach the JSON
    assert_finite(est)
    return est


def _loglog(s: float, greenwood_sum: float) -> tuple[float, float]:
    se = math.sqrt(greenwood_sum) / abs(math.log(s))
    centre = math.log(-math.log(s))
    return math.exp(-math.exp(centre + Z * se)), math.exp(-math.exp(centre - Z * se))


def _triple(block: dict) -> tuple[float, float, float]:
    return tuple(round(block[k], 3) for k in ("estimate", "ci_lower", "ci_upper"))


def test_test_cohort_has_the_abstracts_shape():
    c = abstract_cohort()
    assert len(c) == 15 and c["infection_type"].value_counts().to_dict() == {
        "recurrent": 8, "refractory": 7}
    assert c["days_to_response"].le(50).sum() == 10 and (~c["responded"]).sum() == 5
    assert c.loc[~c["responded"], "os_from_cmvig_days"].min() > 50
    assert (c["died"] & c["os_from_cmvig_days"].le(100)).sum() == 2
    assert (c["died"] & c["os_from_hsct_days"].le(365)).sum() == 3
    assert c.loc[~c["died"], "os_from_hsct_days"].min() >= 365


def test_abstract_shaped_cohort_gives_r_survfit_loglog_values():
    # Reference values from R: survfit(Surv(t, e) ~ 1, conf.type = "log-log"), summary at the
    # landmark day; also the closed form of tests/test_survival.py (no censoring before it).
    est = _estimates(abstract_cohort())
    assert _triple(est["response"]) == (0.667, 0.436, 0.878)
    assert _triple(est["os_from_cmvig"]) == (0.867, 0.564, 0.965)
    assert _triple(est["os_from_hsct"]) == (0.800, 0.500, 0.931)
    assert (est["response"]["at_risk"], est["response"]["events"]) == (5, 10)
    assert (est["os_from_hsct"]["at_risk"], est["os_from_hsct"]["events"]) == (12, 3)


def test_response_by_type_and_logrank_by_hand():
    est = _estimates(abstract_cohort())
    # recurrent: 6 of 8 respond by day 50, none censored before: S = 2/8, sum = 6/(8*2)
    lo, hi = _loglog(2 / 8, 6 / 16)
    rec = est["response_by_type"]["recurrent"]
    assert (rec["estimate"], rec["ci_lower"], rec["ci_upper"]) == pytest.approx(
        (0.75, 1 - hi, 1 - lo), abs=1e-6)
    # refractory: 4 of 7: S = 3/7, sum = 4/(7*3)
    lo, hi = _loglog(3 / 7, 4 / 21)
    ref = est["response_by_type"]["refractory"]
    assert (ref["estimate"], ref["ci_lower"], ref["ci_upper"]) == pytest.approx(
        (4 / 7, 1 - hi, 1 - lo), abs=1e-6)
    assert (rec["responders"], ref["responders"]) == (6, 4)
    # log-rank: observed minus expected for recurrent and the hypergeometric variance, summed
    # over the distinct response days, counting at risk as time >= t.
    rows = [(t, r if r is not None else fu, r is not None) for t, r, fu, *_ in ABSTRACT_ROWS]
    o_minus_e = var = 0.0
    for day in sorted({x for _, x, e in rows if e}):
        n_a = sum(1 for t, x, _ in rows if x >= day and t == "recurrent")
        n = sum(1 for _, x, _ in rows if x >= day)
        d_a = sum(1 for t, x, e in rows if x == day and e and t == "recurrent")
        d = sum(1 for _, x, e in rows if x == day and e)
        o_minus_e += d_a - d * n_a / n
        var += n_a * (n - n_a) * d * (n - d) / (n * n * (n - 1))
    chi2 = o_minus_e**2 / var
    assert est["logrank"]["statistic"] == pytest.approx(chi2, abs=1e-6)
    assert est["logrank_p"] == pytest.approx(math.erfc(math.sqrt(chi2 / 2)), abs=1e-6)
    assert est["logrank"]["p"] == est["logrank_p"] and est["logrank"]["reason"] is None


def test_landmark_blocks_count_every_patient_once():
    """At risk, events and censored at each landmark add up to n, counted by hand here."""
    est = _estimates(abstract_cohort())
    c = abstract_cohort()
    checks = {
        "response": (c["days_to_response_or_censoring"], c["responded"], 50),
        "os_from_cmvig": (c["os_from_cmvig_days"], c["died"], 100),
        "os_from_hsct": (c["os_from_hsct_days"], c["died"], 365),
    }
    for key, (time, event, day) in checks.items():
        block = est[key]
        assert block["day"] == day and block["n"] == len(c)
        assert block["at_risk"] == int((time > day).sum()), key
        assert block["events"] == int(((time <= day) & event).sum()), key
        assert block["censored"] == int(((time <= day) & ~event).sum()), key
    rec = est["response_by_type"]["recurrent"]
    assert (rec["n"], rec["responders"], rec["events"]) == (8, 6, 6)
    assert est["infection_type"] == {"recurrent": 8, "refractory": 7}
    assert est["cmvig_period"] == {"first": c["cmvig_start_date"].min(),
                                   "last": c["cmvig_start_date"].max()}


def test_counts_and_descriptives():
    est = _estimates(abstract_cohort())
    assert (est["n_patients"], est["n_responders"], est["infusion_reactions"]) == (15, 10, 0)
    assert est["deaths"] == {"total": 4, "cmv_related": 1, "other": 3,
                             "causes": {"CMV pneumonia": 1, "Relapse": 3},
                             "cmv_related_causes": {"CMV pneumonia": 1}}
    # reverse KM: the 4 deaths (censored here) all come before the first survivor's last
    # contact, so the median is the 6th of the 11 survivors' follow-up times.
    assert est["median_followup_from_cmvig"]["days"] == 510
    assert est["median_followup_from_hsct"]["days"] == 570
    assert est["median_followup_from_hsct"]["reason"] is None
    assert est["days_hsct_to_cmvig"] == {"median": 60.0, "min": 60, "max": 110, "reason": None}
    assert est["sex"] == {"F": 7, "M": 8}
    assert est["settings"] == {"lloq_iu_ml": 137.0, "response_day": 50, "os_cmvig_day": 100,
                               "os_hsct_day": 365,
                               "viraemia_window_days": 14, "study": "replication",
                               # the refractory check's constants, as the Methods print them
                               "refractory_min_days": quality.REFRACTORY_MIN_DAYS,
                               "refractory_lookback_days": quality.REFRACTORY_LOOKBACK_DAYS,
                               "same_level_log10": quality.SAME_LEVEL_LOG10}


def test_secondary_estimates():
    est = _estimates(abstract_cohort())
    crude = est["crude_response"]
    # Clopper-Pearson for 10/15 (R: binom.test(10, 15)$conf.int = 0.3838037 0.8817589)
    assert (crude["responders"], crude["n"], crude["proportion"]) == (10, 15, 0.666667)
    assert crude["ci_lower"] == pytest.approx(0.3838037, abs=1e-6)
    assert crude["ci_upper"] == pytest.approx(0.8817589, abs=1e-6)
    assert crude["method"] == "Clopper-Pearson exact"
    # No death precedes a response before day 50, so Aalen-Johansen equals 1 - KM here.
    cr = est["response_competing_risk"]
    assert cr["estimate"] == pytest.approx(10 / 15, abs=1e-6)
    assert cr["ci_lower"] < cr["estimate"] < cr["ci_upper"]
    assert cr["method"] == ("Aalen-Johansen; death without response competing; "
                            "Aalen-type variance (cmprsk::cuminc), 95% CI on the log(-log) scale")
    assert cr["equals_one_minus_km"] is True


def test_no_infusion_reaction_gets_the_exact_upper_bound():
    # 0 of 15: 1 - 0.025^(1/15) = 1 - exp(ln(0.025) / 15) = 1 - exp(-0.245927) = 0.218 (22%)
    rate = _estimates(abstract_cohort())["infusion_reaction_rate"]
    assert (rate["reactions"], rate["n"], rate["proportion"]) == (0, 15, 0.0)
    assert rate["ci_upper"] == pytest.approx(0.2180, abs=1e-4)
    # the same as the two-sided 95% Clopper-Pearson limit (R: binom.test(0, 15)$conf.int)
    assert rate["ci_upper"] == pytest.approx(0.2180194, abs=1e-6)
    # 1 of 4: R binom.test(1, 4)$conf.int = 0.006309463 0.805879550
    rows = [{"type": "recurrent", "response": 5, "fu": 100, "reaction": "yes"}] + [
        {"type": "refractory", "response": None, "fu": 100}] * 3
    rate = _estimates(make_cohort(rows))["infusion_reaction_rate"]
    assert (rate["reactions"], rate["proportion"]) == (1, 0.25)
    assert rate["ci_lower"] == pytest.approx(0.006309463, abs=1e-6)
    assert rate["ci_upper"] == pytest.approx(0.805879550, abs=1e-6)


def test_delayed_entry_cannot_differ_only_when_every_entry_precedes_the_first_death():
    # Entries (HSCT -> CMVIG) on days 60 and 75 after HSCT; the first death on day 60 + 90.
    assert _estimates(abstract_cohort())["sensitivity"]["os_from_hsct_delayed_entry"][
        "cannot_differ"] is True
    # A death on day 60 + 10 = 70 after HSCT, before the child entering on day 75: the risk set
    # of that death loses one child with delayed entry (4 instead of 5), so S(70) is 3/4, not 4/5.
    rows = [{"type": "recurrent", "response": None, "fu": 10, "died": True},
            {"type": "recurrent", "response": None, "fu": 400, "hsct_to_cmvig": 75},
            *[{"type": "refractory", "response": None, "fu": 400}] * 3]
    est = _estimates(make_cohort(rows))
    delayed = est["sensitivity"]["os_from_hsct_delayed_entry"]
    assert delayed["cannot_differ"] is False
    assert est["os_from_hsct"]["estimate"] == pytest.approx(4 / 5, abs=1e-6)
    assert delayed["estimate"] == pytest.approx(3 / 4, abs=1e-6)
    # nobody dies: every estimate is 1 with or without delayed entry
    alive = [{"type": "recurrent", "response": 5, "fu": 400, "hsct_to_cmvig": 30 + i}
             for i in range(3)]
    assert _estimates(make_cohort(alive))["sensitivity"]["os_from_hsct_delayed_entry"][
        "cannot_differ"] is True


def test_competing_death_lowers_aalen_johansen_below_one_minus_km():
    # Patient 3 dies on day 10 without response; KM censors them, Aalen-Johansen does not:
    #   KM of response: t=5: 1 - 1/4 -> S = 3/4; t=20: n=2 -> S = 3/8; 1 - S = 5/8
    #   AJ: t=5: F = 1/4, S_all = 3/4; t=10 death: S_all = 1/2; t=20: F = 1/4 + 1/2 * 1/2 = 1/2
    c = make_cohort([{"type": "recurrent", "response": 5, "fu": 100},
                     {"type": "recurrent", "response": 20, "fu": 100},
                     {"type": "refractory", "response": None, "fu": 10, "died": True},
                     {"type": "refractory", "response": None, "fu": 100}])
    est = _estimates(c)
    assert est["response"]["estimate"] == pytest.approx(5 / 8, abs=1e-6)
    assert est["response_competing_risk"]["estimate"] == pytest.approx(1 / 2, abs=1e-6)
    assert est["response_competing_risk"]["equals_one_minus_km"] is False


def test_shipped_cohort_reproduces_published_values():
    from cmvig_report.data.cohort import clean_cohort

    published = yaml.safe_load((ROOT / "data" / "published.yaml").read_text())["values"]
    raw = ROOT / "data" / "raw"
    cleaned = clean_cohort(raw / "patients.csv", raw / "viral_loads.csv", 137).cohort
    est = _estimates(cleaned)
    est["study_period"] = {"first": "2018-07", "last": "2021-12"}  # set by the config
    for item in published:
        node = est
        for part in item["key"].split("."):
            node = node[part]
        if isinstance(node, dict):
            assert f"{node['first']}/{node['last']}" == item["published"]
            continue
        value = node * item.get("scale", 1)
        assert int(value + 0.5) == item["published"], item["label"]


NO_INTERVAL = "no 95% interval: the estimate is {}, where the log-log interval is undefined"


def test_zero_group_censoring_before_landmark_and_nobody_dies():
    est = _estimates(make_cohort([{"type": "recurrent", "response": 10, "fu": 200},
                                  {"type": "recurrent", "response": None, "fu": 30},
                                  {"type": "recurrent", "response": None, "fu": 200}]))
    ref = est["response_by_type"]["refractory"]
    assert ref["estimate"] is None and ref["reason"] == "no patients" and ref["n"] == 0
    assert est["logrank_p"] is None
    assert est["logrank"]["reason"] == "one group has no patients"
    # censored on day 30, before the day-50 landmark: t=10: S = 2/3; t=30 censored -> 1 - S = 1/3
    assert est["response"]["estimate"] == pytest.approx(1 / 3, abs=1e-6)
    assert est["response"]["censored"] == 1 and est["response"]["at_risk"] == 1
    # nobody died: OS = 1 with the exact lower bound over the 2 followed to day 100
    assert est["os_from_cmvig"]["estimate"] == 1.0
    assert est["os_from_cmvig"]["ci_lower"] == pytest.approx(0.025 ** 0.5, abs=1e-6)
    assert est["deaths"]["total"] == 0 and est["deaths"]["causes"] == {}
    assert est["median_followup_from_cmvig"]["days"] == 200


def test_single_patient_and_landmark_beyond_follow_up():
    est = _estimates(make_cohort([{"type": "refractory", "response": None, "fu": 20}]))
    assert est["response"]["estimate"] is None
    assert est["response"]["reason"] == "landmark beyond the last follow-up (day 20)"
    assert est["os_from_hsct"]["reason"] == "landmark beyond the last follow-up (day 80)"
    assert est["response_by_type"]["refractory"]["n"] == 1
    assert est["response_competing_risk"]["estimate"] is None
    assert est["crude_response"]["proportion"] == 0.0


def test_group_with_one_patient_followed_past_landmark():
    est = _estimates(make_cohort([{"type": "recurrent", "response": 10, "fu": 200},
                                  {"type": "recurrent", "response": None, "fu": 200},
                                  {"type": "refractory", "response": 30, "fu": 200}]))
    ref = est["response_by_type"]["refractory"]
    assert ref["estimate"] == 1.0 and ref["ci_lower"] is None
    assert ref["reason"] == NO_INTERVAL.format(1)
    assert est["logrank"]["p"] is not None


def test_tied_times():
    est = _estimates(make_cohort([{"type": "recurrent", "response": 14, "fu": 100},
                                  {"type": "refractory", "response": 14, "fu": 100},
                                  {"type": "refractory", "response": None, "fu": 14},
                                  {"type": "refractory", "response": None, "fu": 60}]))
    # at day 14: 4 at risk (the censoring on day 14 counts as still at risk), 2 events -> S = 1/2
    assert est["response"]["estimate"] == pytest.approx(1 / 2, abs=1e-6)
    assert (est["response"]["events"], est["response"]["censored"]) == (2, 1)


def test_everybody_responds_and_no_events_for_logrank():
    everyone = make_cohort([{"type": t, "response": r, "fu": 100}
                            for t, r in [("recurrent", 7), ("recurrent", 14),
                                         ("refractory", 21), ("refractory", 28)]])
    est = _estimates(everyone)
    assert est["response"]["estimate"] == 1.0 and est["response"]["ci_upper"] is None
    assert est["response"]["reason"] == NO_INTERVAL.format(1)
    nobody = make_cohort([{"type": "recurrent", "response": None, "fu": 100},
                          {"type": "refractory", "response": None, "fu": 100}])
    est = _estimates(nobody)
    assert est["logrank"] == {"statistic": None, "p": None, "df": 1, "method": "log-rank test",
                              "reason": "no events in either group"}
    assert est["response"]["estimate"] == 0.0  # exact bound, 0 of 2 followed to day 50
    assert est["response"]["ci_upper"] == pytest.approx(1 - 0.025 ** 0.5, abs=1e-6)


def test_every_patient_died_gives_no_follow_up_median():
    est = _estimates(make_cohort([{"type": "recurrent", "response": None, "fu": 30, "died": True},
                                  {"type": "refractory", "response": None, "fu": 40,
                                   "died": True}]))
    assert est["median_followup_from_cmvig"] == {
        "days": None, "reason": "every patient had the event: no one censored",
        "method": "reverse Kaplan-Meier median"}
    assert est["os_from_cmvig"]["estimate"] == 0.0


def test_empty_cohort_is_all_null_with_reasons():
    est = _estimates(abstract_cohort().iloc[:0])
    assert est["n_patients"] == 0
    for key in ("response", "os_from_cmvig", "os_from_hsct", "median_followup_from_cmvig",
                "crude_response", "response_competing_risk", "days_hsct_to_cmvig"):
        assert est[key]["reason"] == "no patients", key


def test_assert_finite_names_the_key():
    assert_finite({"a": [1.0, {"b": None}]})
    with pytest.raises(ValueError, match=r"a\[1\]\.b"):
        assert_finite({"a": [1.0, {"b": float("nan")}]})
    with pytest.raises(ValueError, match="x"):
        assert_finite({"x": float("inf")})


def test_km_curves_for_figure_2():
    curves = km_curves(abstract_cohort())
    assert list(curves.columns) == ["curve", "time", "survival", "ci_lower", "ci_upper"]
    assert list(dict.fromkeys(curves["curve"])) == ["response_recurrent", "response_refractory",
                                                     "os_from_cmvig"]
    first = curves.groupby("curve", sort=False).head(1)
    assert (first["time"] == 0).all() and (first["survival"] == 1).all()
    rec = curves[curves["curve"] == "response_recurrent"]
    assert rec.loc[rec["time"] == 21, "survival"].item() == pytest.approx(5 / 8)


def _run_args(cohort_csv: Path, tmp_path: Path) -> dict:
    quality = tmp_path / "data_quality.csv"
    quality.write_text("patient_id,check,detail\n")
    return dict(cohort=str(cohort_csv), data_quality=str(quality), response_day=50,
                os_cmvig_day=100, os_hsct_day=365, lloq=137.0, sensitivity_days=[28, 50],
                study_period=("", "data"), min_cell_count=0)


def test_run_analysis_writes_deterministic_files(tmp_path):
    cohort_csv = tmp_path / "cohort.csv"
    abstract_cohort().to_csv(cohort_csv, index=False)
    # the CSV round trip goes through the same reader the pipeline uses
    assert read_clean_cohort(cohort_csv)["days_to_response"].dtype == "Int64"
    outputs = []
    for k in range(2):
        paths = {n: tmp_path / f"{n}{k}" for n in ("e.json", "t.csv", "c.csv", "d.csv")}
        notes = run_analysis(**_run_args(cohort_csv, tmp_path), estimates=str(paths["e.json"]),
                             table1=str(paths["t.csv"]), curves=str(paths["c.csv"]),
                             disclosure_log=str(paths["d.csv"]))
        assert notes == []
        outputs.append([p.read_bytes() for p in paths.values()])
    assert outputs[0] == outputs[1]
    est = json.loads(outputs[0][0])
    assert list(est) == sorted(est)
    assert est["n_patients"] == 15
    assert _triple(est["response"]) == (0.667, 0.436, 0.878)
    assert "NaN" not in outputs[0][0].decode()


def test_run_analysis_notes_what_could_not_be_estimated(tmp_path):
    cohort_csv = tmp_path / "cohort.csv"
    make_cohort([{"type": "recurrent", "response": None, "fu": 20}]).to_csv(cohort_csv,
                                                                             index=False)
    notes = run_analysis(**_run_args(cohort_csv, tmp_path), estimates=str(tmp_path / "e.json"),
                         table1=str(tmp_path / "t.csv"), curves=str(tmp_path / "c.csv"),
                         disclosure_log=str(tmp_path / "d.csv"))
    assert "response at day 50: landmark beyond the last follow-up (day 20)" in notes
    assert "log-rank test: one group has no patients" in notes
    json.loads((tmp_path / "e.json").read_text())
