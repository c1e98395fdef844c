"""The cohort generator: determinism, the contract, and a truth the pipeline recovers."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cmvig_report.cohort import clean_cohort
from cmvig_report.synth import generate_cohort, main, write_cohort

BQ = re.compile(r"^\s*(<\s*\d+|undetectable|not detected|nd|negative)\s*$", re.IGNORECASE)


def _independent_response(patients: pd.DataFrame, vl: pd.DataFrame, lloq: float) -> pd.Series:
    """The contract's definition, written plainly: first sample on day >= 1 below LLOQ."""
    start = pd.to_datetime(patients.set_index("patient_id")["cmvig_start_date"])
    day = (pd.to_datetime(vl["sample_date"]) - vl["patient_id"].map(start)).dt.days
    text = vl["cmv_dna_iu_ml"].fillna("")
    numeric = pd.to_numeric(text.str.replace(",", ""), errors="coerce")
    below = text.str.match(BQ) | (numeric < lloq)
    hits = vl[below & (day >= 1)].assign(day=day)
    return hits.groupby("patient_id")["day"].min()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = write_cohort(*generate_cohort(300, 5, messy=True), tmp_path / "a")
    b = write_cohort(*generate_cohort(300, 5, messy=True), tmp_path / "b")
    c = write_cohort(*generate_cohort(300, 6, messy=True), tmp_path / "c")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes() != c[0].read_bytes()


def test_contract_rules_hold():
    p, v = generate_cohort(2000, 11, messy=True)
    assert p["patient_id"].is_unique
    assert set(p["sex"]) <= {"M", "F"}
    assert set(p["infection_type"].str.strip().str.lower()) == {"recurrent", "refractory"}
    assert set(p["infusion_reaction"]) <= {"yes", "no"}
    assert (p["hsct_date"] <= p["cmvig_start_date"]).all()
    assert (p["cmvig_start_date"] <= p["last_followup_date"]).all()
    dead = p["status"] == "dead"
    assert (p.loc[dead, "cause_of_death"] != "").all()
    assert p.loc[dead, "cmv_related_death"].isin(["yes", "no"]).all()
    assert (p.loc[~dead, ["cause_of_death", "cmv_related_death"]] == "").all().all()
    assert (p["cmvig_doses"].astype(int) >= 1).all()
    assert v["patient_id"].isin(p["patient_id"]).all()
    last = v["patient_id"].map(p.set_index("patient_id")["last_followup_date"])
    assert (v["sample_date"] <= last).all()


def test_truth_matches_the_contract_definition_and_the_pipeline(tmp_path):
    p, v, truth = generate_cohort(400, 3, messy=True, return_truth=True)
    independent = _independent_response(p, v, 137)
    truth = truth.set_index("patient_id")
    expected = truth.loc[truth["responded"], "days_to_response"].astype(int)
    assert independent.sort_index().to_dict() == expected.sort_index().to_dict()
    paths = write_cohort(p, v, tmp_path)
    cohort = clean_cohort(*paths, 137).cohort.set_index("patient_id")
    assert cohort["responded"].equals(truth["responded"].reindex(cohort.index))
    got = cohort.loc[cohort["responded"], "days_to_response"].astype(int)
    assert got.to_dict() == expected.to_dict()


def test_messy_mode_has_every_kind_of_mess():
    _, v = generate_cohort(3000, 2, messy=True)
    results = set(v["cmv_dna_iu_ml"])
    lowered = {r.lower() for r in results}
    for spelling in ("<137", "< 137", "undetectable", "not detected", "nd", "negative"):
        assert spelling in lowered
    assert any("," in r for r in results)
    assert "" in results
    _, clean = generate_cohort(300, 2, messy=False)
    assert "" not in set(clean["cmv_dna_iu_ml"])


def test_fifty_thousand_patients_give_about_900k_results():
    _, v = generate_cohort(50_000, 1)
    assert 765_000 <= len(v) <= 1_035_000


def test_command_line(tmp_path, capsys):
    assert main(["--n", "25", "--seed", "4", "--out", str(tmp_path), "--messy"]) == 0
    assert len(pd.read_csv(tmp_path / "patients.csv")) == 25
    assert "25 patients" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--n", "x", "--out", str(tmp_path)])
