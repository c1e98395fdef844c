"""estimates.json: the abstract's numbers, the contract's keys, edge cases without NaN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cohort_factory import abstract_like_cohort, make_cohort

from cmvig_report.analysis import compute_estimates, run_analysis
from cmvig_report.cohort import clean_cohort

ROOT = Path(__file__).resolve().parents[1]
DAYS = {"response_day": 50, "os_cmvig_day": 100, "os_hsct_day": 365, "lloq_iu_ml": 137}


def _estimates(cohort) -> dict:
    est = compute_estimates(cohort, **DAYS)
    json.dumps(est, allow_nan=False)  # no NaN may reach the JSON
    return est


def test_abstract_shaped_cohort_gives_r_survfit_loglog_values():
    # Reference values from R: survfit(Surv(t, e) ~ 1, conf.type = "log-log"), summary at day.
    est = _estimates(abstract_like_cohort())
    r = est["response"]
    assert (round(r["estimate"], 3), round(r["ci_lower"], 3), round(r["ci_upper"], 3)) == (
        0.667, 0.436, 0.878)
    o = est["os_from_cmvig"]
    assert (round(o["estimate"], 3), round(o["ci_lower"], 3), round(o["ci_upper"], 3)) == (
        0.867, 0.564, 0.965)
    h = est["os_from_hsct"]
    assert (round(h["estimate"], 3), round(h["ci_lower"], 3), round(h["ci_upper"], 3)) == (
        0.800, 0.500, 0.931)


def test_contract_keys_present():
    est = _estimates(abstract_like_cohort())
    for key in ("n_patients", "n_responders", "infusion_reactions", "logrank_p"):
        assert key in est
    assert set(est["infection_type"]) == {"recurrent", "refractory"}
    for block in ("response", "os_from_cmvig", "os_from_hsct", "response_by_type.recurrent",
                  "response_by_type.refractory"):
        node = est
        for part in block.split("."):
            node = node[part]
        assert {"day", "estimate", "ci_lower", "ci_upper"} <= set(node)
    assert set(est["deaths"]) >= {"total", "cmv_related", "other"}
    assert est["deaths"]["total"] == est["deaths"]["cmv_related"] + est["deaths"]["other"]


def test_shipped_cohort_reproduces_published_values(tmp_path):
    published = yaml.safe_load((ROOT / "data" / "published.yaml").read_text())["values"]
    raw = ROOT / "data" / "raw"
    cleaned = clean_cohort(raw / "patients.csv", raw / "viral_loads.csv", 137).cohort
    est = _estimates(cleaned)
    for item in published:
        node = est
        for part in item["key"].split("."):
            node = node[part]
        value = node * item.get("scale", 1)
        assert int(value + 0.5) == item["published"], item["label"]


def test_secondary_estimates():
    est = _estimates(abstract_like_cohort())
    crude = est["crude_response"]
    # Clopper-Pearson for 10/15 (R: binom.test(10, 15)$conf.int = 0.3838037 0.8817589)
    assert (crude["responders"], crude["n"]) == (10, 15)
    assert crude["ci_lower"] == pytest.approx(0.3838037, abs=1e-6)
    assert crude["ci_upper"] == pytest.approx(0.8817589, abs=1e-6)
    # No death precedes a response before day 50, so Aalen-Johansen equals 1 - KM here.
    assert est["response_competing_risk"]["estimate"] == pytest.approx(10 / 15, abs=1e-6)


def test_edge_cases_are_null_with_reason_never_nan():
    only_recurrent = make_cohort([{"type": "recurrent", "response": 10, "fu": 200},
                                  {"type": "recurrent", "response": None, "fu": 30},
                                  {"type": "recurrent", "response": None, "fu": 200}])
    est = _estimates(only_recurrent)
    assert est["response_by_type"]["refractory"]["estimate"] is None
    assert est["response_by_type"]["refractory"]["reason"] == "no patients"
    assert est["logrank_p"] is None and est["logrank"]["reason"]
    # one censored at day 30, before the day-50 landmark: S = 2/3 after the day-10 response
    assert est["response"]["estimate"] == pytest.approx(1 / 3)
    assert est["response"]["censored"] == 1
    # nobody died: OS = 1 with an undefined interval, median follow-up estimable
    assert est["os_from_cmvig"]["estimate"] == 1.0 and est["os_from_cmvig"]["ci_lower"] is None
    one = make_cohort([{"type": "refractory", "response": None, "fu": 20}])
    est = _estimates(one)
    assert est["response"]["estimate"] is None
    assert "last follow-up (day 20)" in est["response"]["reason"]
    assert est["os_from_hsct"]["estimate"] is None
    ties = make_cohort([{"type": "recurrent", "response": 14, "fu": 100},
                        {"type": "refractory", "response": 14, "fu": 100},
                        {"type": "refractory", "response": None, "fu": 14},
                        {"type": "refractory", "response": None, "fu": 60}])
    est = _estimates(ties)
    # at day 14: 4 at risk (the censoring at 14 counts as still at risk), 2 events -> S = 1/2
    assert est["response"]["estimate"] == pytest.approx(1 / 2)


def test_run_analysis_writes_deterministic_files(tmp_path):
    cohort_csv = tmp_path / "cohort.csv"
    abstract_like_cohort().to_csv(cohort_csv, index=False)
    outputs = []
    for k in range(2):
        paths = {n: tmp_path / f"{n}{k}" for n in ("e.json", "t.csv", "t.html", "c.csv")}
        run_analysis(str(cohort_csv), 50, 100, 365, 137.0, str(paths["e.json"]),
                     str(paths["t.csv"]), str(paths["t.html"]), str(paths["c.csv"]))
        outputs.append([p.read_bytes() for p in paths.values()])
    assert outputs[0] == outputs[1]
    est = json.loads(outputs[0][0])
    assert list(est) == sorted(est)
    assert est["n_patients"] == 15
