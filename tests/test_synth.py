"""The cohort generator: determinism, the contract, and a truth the pipeline recovers."""

from __future__ import annotations

import re
import zipfile

import pandas as pd
import pytest

from cmvig_report.data.cohort import clean_cohort
from cmvig_report.devtools.synth import DRUGS, generate_cohort, main, write_cohort

BQ = re.compile(r"^\s*(<\s*\d+|undetectable|not detected|nd|negative)\s*$", re.IGNORECASE)
ISO = r"^\d{4}-\d\d-\d\d$"


def _days_since_cmvig(patients: pd.DataFrame, vl: pd.DataFrame) -> pd.Series:
    start = pd.to_datetime(patients.set_index("patient_id")["cmvig_start_date"])
    return (pd.to_datetime(vl["sample_date"]) - vl["patient_id"].map(start)).dt.days


def _below(vl: pd.DataFrame, lloq: float) -> pd.Series:
    text = vl["cmv_dna_iu_ml"].fillna("")
    numeric = pd.to_numeric(text.str.replace(",", ""), errors="coerce")
    return text.str.match(BQ) | (numeric < lloq)


def _independent_response(patients: pd.DataFrame, vl: pd.DataFrame, lloq: float) -> pd.Series:
    """The contract's definition, written plainly: first sample on day >= 1 below LLOQ."""
    day = _days_since_cmvig(patients, vl)
    hits = vl[_below(vl, lloq) & (day >= 1)].assign(day=day)
    return hits.groupby("patient_id")["day"].min()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = write_cohort(*generate_cohort(300, 5, messy=True), tmp_path / "a")
    b = write_cohort(*generate_cohort(300, 5, messy=True), tmp_path / "b")
    c = write_cohort(*generate_cohort(300, 6, messy=True), tmp_path / "c")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes() != c[0].read_bytes()
    assert a[1].read_bytes() != c[1].read_bytes()


@pytest.mark.parametrize("messy", [False, True])
def test_contract_rules_hold(messy):
    p, v = generate_cohort(2000, 11, messy=messy)
    assert list(p["patient_id"][:2]) == ["P0001", "P0002"]  # zero-padded to the width of n
    assert p["patient_id"].is_unique and p["patient_id"].is_monotonic_increasing
    assert set(p["sex"]) == {"M", "F"}
    assert set(p["status"]) == {"alive", "dead"}
    assert set(p["infusion_reaction"]) <= {"yes", "no"}
    assert set(p["infection_type"].str.strip().str.lower()) == {"recurrent", "refractory"}
    if not messy:
        assert set(p["infection_type"]) == {"recurrent", "refractory"}
    age = p["age_at_hsct"].astype(float)
    assert age.between(0, 18).all() and p["age_at_hsct"].str.fullmatch(r"\d+\.\d").all()
    for col in ("hsct_date", "cmvig_start_date", "last_followup_date"):
        assert p[col].str.match(ISO).all()
    assert (p["hsct_date"] <= p["cmvig_start_date"]).all()
    assert (p["cmvig_start_date"] <= p["last_followup_date"]).all()
    gap = pd.to_datetime(p["cmvig_start_date"]) - pd.to_datetime(p["hsct_date"])
    assert gap.dt.days.between(14, 200).all()
    dead = p["status"] == "dead"
    assert (p.loc[dead, "cause_of_death"] != "").all()
    assert p.loc[dead, "cmv_related_death"].isin(["yes", "no"]).all()
    assert (p.loc[~dead, ["cause_of_death", "cmv_related_death"]] == "").all().all()
    cmv_cause = p["cause_of_death"].str.contains("CMV")
    assert ((p["cmv_related_death"] == "yes") == (dead & cmv_cause)).all()
    assert p["cmvig_doses"].str.fullmatch(r"\d+").all()
    assert p["cmvig_doses"].astype(int).between(1, 12).all()
    drugs = p["prior_antivirals"].str.split(";").explode()
    assert set(drugs) <= {d for d, _ in DRUGS} | {""}
    assert p["prior_antivirals"].str.count(";").max() <= 3
    assert v["patient_id"].isin(p["patient_id"]).all()
    assert v["sample_date"].str.match(ISO).all()
    assert v.equals(v.sort_values(["patient_id", "sample_date"], kind="stable"))
    assert not v.duplicated(["patient_id", "sample_date"]).any()
    last = v["patient_id"].map(p.set_index("patient_id")["last_followup_date"])
    hsct = v["patient_id"].map(p.set_index("patient_id")["hsct_date"])
    assert (v["sample_date"] <= last).all() and (v["sample_date"] > hsct).all()
    results = v["cmv_dna_iu_ml"]
    numeric = results.str.fullmatch(r"\d{1,3}(,\d{3})*|\d+")
    assert (numeric | results.str.match(BQ) | (results == "")).all()
    if not messy:
        assert (results.str.fullmatch(r"\d+") | (results == "<137")).all()


def test_truth_matches_the_contract_definition():
    p, v, truth = generate_cohort(2000, 3, messy=True, return_truth=True)
    day = _days_since_cmvig(p, v)
    # Below-LLOQ results before CMVIG exist, so ignoring day <= 0 is really exercised; so are
    # plain numbers under the LLOQ (the "numerically < lloq" branch of the definition).
    assert (_below(v, 137) & (day <= 0)).any()
    numeric = pd.to_numeric(v["cmv_dna_iu_ml"].str.replace(",", ""), errors="coerce")
    assert ((numeric < 137) & (day >= 1)).any()
    independent = _independent_response(p, v, 137)
    truth = truth.set_index("patient_id")
    expected = truth.loc[truth["responded"], "days_to_response"].astype(int)
    assert 0 < len(expected) < len(truth)
    assert independent.sort_index().to_dict() == expected.sort_index().to_dict()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_cleaning_stage_recovers_the_truth(tmp_path, fmt):
    p, v, truth = generate_cohort(200, 3, messy=True, return_truth=True)
    truth = truth.set_index("patient_id")
    expected = truth.loc[truth["responded"], "days_to_response"].astype(int)
    paths = write_cohort(p, v, tmp_path, fmt=fmt)
    cohort = clean_cohort(*paths, 137).cohort.set_index("patient_id")
    assert cohort["responded"].equals(truth["responded"].reindex(cohort.index))
    got = cohort.loc[cohort["responded"], "days_to_response"].astype(int)
    assert got.to_dict() == expected.to_dict()


def test_another_lloq_moves_the_truth_with_it():
    p, v, truth = generate_cohort(300, 8, lloq_iu_ml=500, return_truth=True)
    expected = truth.loc[truth["responded"]].set_index("patient_id")["days_to_response"]
    got = _independent_response(p, v, 500)
    assert got.sort_index().to_dict() == expected.astype(int).sort_index().to_dict()
    assert set(v["cmv_dna_iu_ml"]) >= {"<500"}


def test_distributions_are_plausible():
    p, v, truth = generate_cohort(5000, 9, return_truth=True)
    assert 0.55 < truth["responded"].mean() < 0.75
    days = truth["days_to_response"].dropna()
    assert days.between(7, 80).all() and days.min() < 14 and days.max() > 70
    assert (days % 7 != 0).any()  # not all on multiples of a week: few artificial ties
    assert 0.18 < (p["status"] == "dead").mean() < 0.32
    assert 0.005 < (p["infusion_reaction"] == "yes").mean() < 0.04
    assert not ((p["donor_type"] == "Haploidentical") & (p["graft_source"] == "Cord blood")).any()
    scid = p["diagnosis"] == "Severe combined immunodeficiency"
    assert p.loc[scid, "age_at_hsct"].astype(float).max() <= 2
    # CMV deaths only without a response: their PCR series stays positive.
    cmv = (p["cmv_related_death"] == "yes").to_numpy()
    assert cmv.any() and not (cmv & truth["responded"].to_numpy()).any()


def test_messy_mode_is_the_same_cohort_with_mess_on_top():
    p0, v0, t0 = generate_cohort(500, 12, return_truth=True)
    p1, v1, t1 = generate_cohort(500, 12, messy=True, return_truth=True)
    assert t0.equals(t1)
    assert p0.drop(columns="infection_type").equals(p1.drop(columns="infection_type"))
    assert (p1["infection_type"].str.strip().str.lower() == p0["infection_type"]).all()
    assert (p0["infection_type"] != p1["infection_type"]).any()
    assert v0[["patient_id", "sample_date"]].equals(v1[["patient_id", "sample_date"]])


def test_messy_mode_has_every_kind_of_mess():
    p, v = generate_cohort(3000, 2, messy=True)
    results = set(v["cmv_dna_iu_ml"])
    lowered = {r.lower() for r in results}
    for spelling in ("<137", "< 137", "undetectable", "not detected", "nd", "negative"):
        assert spelling in lowered
    assert {"ND", "nd", "NEGATIVE", "negative"} <= results  # the case varies too
    assert any(re.fullmatch(r"\d{1,3}(,\d{3})+", r) for r in results)
    assert "" in results
    labels = set(p["infection_type"])
    assert any(x != x.strip() for x in labels) and any(x.strip().isupper() for x in labels)
    _, clean = generate_cohort(300, 2, messy=False)
    assert "" not in set(clean["cmv_dna_iu_ml"])


def test_xlsx_round_trips_and_has_no_timestamps(tmp_path):
    p, v = generate_cohort(30, 4, messy=True)
    paths = write_cohort(p, v, tmp_path, fmt="xlsx")
    for df, path in zip((p, v), paths, strict=True):
        back = pd.read_excel(path, dtype=str, keep_default_na=False)
        assert back.equals(df.astype(str))
        with zipfile.ZipFile(path) as z:
            assert {i.date_time for i in z.infolist()} == {(2000, 1, 1, 0, 0, 0)}
            assert b"2000-01-01T00:00:00Z" in z.read("docProps/core.xml")
    with pytest.raises(ValueError, match="format"):
        write_cohort(p, v, tmp_path, fmt="json")


def test_fifty_thousand_patients_give_about_900k_results():
    _, v = generate_cohort(50_000, 1)
    assert 765_000 <= len(v) <= 1_035_000


def test_command_line(tmp_path, capsys):
    assert main(["--n", "25", "--seed", "4", "--out", str(tmp_path), "--messy"]) == 0
    patients = pd.read_csv(tmp_path / "patients.csv", dtype=str)
    assert len(patients) == 25 and patients["patient_id"].iloc[0] == "P01"
    assert "25 patients" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--n", "x", "--out", str(tmp_path)])
