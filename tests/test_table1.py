"""Table 1 counts, formatting and ordering (escaping is the templates', tests/test_report.py)."""

from __future__ import annotations

import pandas as pd
from cohort_factory import make_cohort

from cmvig_report.stats.table1 import build_table1, fmt_count, fmt_median_range

GROUPS = ["overall", "recurrent", "refractory"]


def _cohort() -> pd.DataFrame:
    return make_cohort([
        {"type": "recurrent", "response": 10, "fu": 100, "drugs": "ganciclovir;foscarnet",
         "age": 2.0, "doses": 3, "diagnosis": "<b>x</b>", "sex": "F"},
        {"type": "recurrent", "response": None, "fu": 100, "drugs": "ganciclovir",
         "age": 4.5, "doses": 5, "diagnosis": "Fanconi anaemia", "sex": "M"},
        {"type": "refractory", "response": 20, "fu": 100, "drugs": "", "age": 11.0, "doses": 8,
         "diagnosis": "Fanconi anaemia", "sex": "F", "hsct_to_cmvig": 90},
    ])


def test_counts_and_percentages():
    t = build_table1(_cohort()).set_index(["variable", "level"])
    assert t.loc[("Patients", ""), GROUPS].tolist() == ["3", "2", "1"]
    # ganciclovir in two patients of three: 2/3 = 66.7% -> 67%; a multi-select variable
    gan = t.loc[("Antivirals before CMVIG", "Ganciclovir")]
    assert gan.tolist() == ["2 (67%)", "2 (100%)", "0 (0%)"]
    assert t.loc[("Antivirals before CMVIG", "Foscarnet")].tolist() == [
        "1 (33%)", "1 (50%)", "0 (0%)"]
    assert t.loc[("Sex", "Female")].tolist() == ["2 (67%)", "1 (50%)", "1 (100%)"]
    assert t.loc[("Sex", "Male")].tolist() == ["1 (33%)", "1 (50%)", "0 (0%)"]
    # doses 3, 5, 8 -> median 5; recurrent 3, 5 -> 4
    assert t.loc[("CMVIG doses", "median (range)")].tolist() == ["5 (3–8)", "4 (3–5)",
                                                                  "8 (8–8)"]
    # ages 2.0 and 4.5: median 3.25 rounds half up to 3.3 (the project's rounding rule)
    assert t.loc[("Age at HSCT, years", "median (range)"), "recurrent"] == "3.3 (2.0–4.5)"
    # antivirals per patient 2, 1, 0: a median halfway between two whole numbers keeps .5
    assert t.loc[("Number of antivirals before CMVIG", "median (range)")].tolist() == [
        "1 (0–2)", "1.5 (1–2)", "0 (0–0)"]
    assert t.loc[("Days from HSCT to CMVIG", "median (range)")].tolist() == [
        "60 (60–90)", "60 (60–60)", "90 (90–90)"]


def test_levels_by_descending_count_then_name():
    t = build_table1(_cohort())
    diagnoses = t.loc[t["variable"] == "Underlying disease", "level"].tolist()
    assert diagnoses == ["Fanconi anaemia", "<b>x</b>"]
    drugs = t.loc[t["variable"] == "Antivirals before CMVIG", "level"].tolist()
    assert drugs == ["Ganciclovir", "Foscarnet"]
    tied = make_cohort([{"type": "recurrent", "response": None, "fu": 10, "drugs": d}
                        for d in ("valganciclovir", "cidofovir", "foscarnet;cidofovir")])
    t = build_table1(tied)
    assert t.loc[t["variable"] == "Antivirals before CMVIG", "level"].tolist() == [
        "Cidofovir", "Foscarnet", "Valganciclovir"]


def test_drug_listed_twice_counts_the_patient_once():
    c = make_cohort([{"type": "recurrent", "response": None, "fu": 10,
                      "drugs": "foscarnet;foscarnet"},
                     {"type": "refractory", "response": None, "fu": 10, "drugs": "ganciclovir"}])
    t = build_table1(c).set_index(["variable", "level"])
    assert t.loc[("Antivirals before CMVIG", "Foscarnet")].tolist() == [
        "1 (50%)", "1 (100%)", "0 (0%)"]


def test_empty_group_prints_dashes():
    c = make_cohort([{"type": "recurrent", "response": None, "fu": 10}])
    t = build_table1(c).set_index(["variable", "level"])
    assert t.loc[("Patients", ""), "refractory"] == "0"
    assert t.loc[("CMVIG doses", "median (range)"), "refractory"] == "–"
    assert t.loc[("Sex", "Male"), "refractory"] == "–"


def test_formatters():
    assert fmt_count(1, 8) == "1 (13%)"  # 12.5 rounds half up
    assert fmt_count(5, 8) == "5 (63%)"
    assert fmt_count(2, 3) == "2 (67%)"
    assert fmt_count(0, 0) == "–"
    assert fmt_median_range(pd.Series([], dtype=float)) == "–"
    assert fmt_median_range(pd.Series([0.84, 16.75]), 1) == "8.8 (0.8–16.8)"
    assert fmt_median_range(pd.Series([3, 4, 9])) == "4 (3–9)"


def test_table_is_deterministic():
    a = build_table1(_cohort())
    b = build_table1(_cohort().sample(frac=1, random_state=1))
    pd.testing.assert_frame_equal(a, b)
