"""The contract's optional clinical columns: validation, Table 1 rows, small-cell control, text."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cohort_factory import make_cohort
from report_fixtures import make_project, stage_args

from cmvig_report.core.io import read_clean_cohort, write_csv
from cmvig_report.data.clinical import CLINICAL_COLUMNS, CLINICAL_FACTS, clinical_record
from cmvig_report.data.cohort import clean_cohort
from cmvig_report.data.endpoints import NEW_THERAPY_COLUMNS
from cmvig_report.devtools.synth import generate_cohort, write_cohort
from cmvig_report.errors import DataError
from cmvig_report.privacy.disclosure import cell_name
from cmvig_report.privacy.printed_counts import catalogue, disclosure_plan
from cmvig_report.render.report import run_render
from cmvig_report.stats.table1 import build_table1, fmt_median_range

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"
LLOQ = 137
NEW_LABELS = ("CMVIG product", "CMVIG dose", "Days between CMVIG doses",
              "Antivirals at the first CMVIG dose", "CMV disease at the first CMVIG dose",
              "Acute GVHD grade at the first CMVIG dose",
              "Systemic steroids at the first CMVIG dose", "Resistance genotyping")


def _raw(name: str) -> pd.DataFrame:
    return pd.read_csv(RAW / name, dtype=str, keep_default_na=False)


def _with_clinical(patients: pd.DataFrame) -> pd.DataFrame:
    """The shipped patients with valid clinical columns (every cell filled)."""
    n = len(patients)
    return patients.assign(
        cmvig_product="Cytotect CP", cmvig_dose="100", cmvig_dose_unit="U/kg",
        cmvig_interval_days="7", antivirals_at_cmvig="foscarnet",
        cmv_disease_at_cmvig=["none", "probable", "proven"] * (n // 3) + ["none"] * (n % 3),
        agvhd_grade_at_cmvig="0", steroids_at_cmvig="no", resistance_testing="not tested",
        conditioning_intensity="MAC", serotherapy="ATG", t_cell_depletion="none",
        cmv_prevention="pre-emptive", chronic_gvhd_at_cmvig="no", lymphocytes_at_cmvig="0.45",
        prior_cmv_episodes="1", peak_viral_load_iu_ml="12,300", infusion_reaction_grade="")


def _clean(tmp_path: Path, patients: pd.DataFrame):
    p, v = tmp_path / "patients.csv", tmp_path / "viral_loads.csv"
    patients.to_csv(p, index=False)
    _raw("viral_loads.csv").to_csv(v, index=False)
    return clean_cohort(p, v, LLOQ)


def _problems(tmp_path: Path, patients: pd.DataFrame):
    with pytest.raises(DataError) as info:
        _clean(tmp_path, patients)
    return info.value.problems


# ---------------------------------------------------------------- validation

BAD_CELLS = [
    ("cmvig_dose", "abc", "cmvig_dose", "must be a number > 0"),
    ("cmvig_dose", "0", "cmvig_dose", "must be a number > 0"),
    ("cmvig_dose_unit", "mL/kg", "cmvig_dose_unit", "must be one of U/kg, mg/kg"),
    ("cmvig_interval_days", "3.5", "cmvig_interval_days", "whole number of days >= 1"),
    ("cmvig_interval_days", "0", "cmvig_interval_days", "whole number of days >= 1"),
    ("cmv_disease_at_cmvig", "suspected", "cmv_disease_at_cmvig",
     "must be one of none, probable, proven"),
    ("agvhd_grade_at_cmvig", "2", "agvhd_grade_at_cmvig", "write grade 2 as II"),
    ("agvhd_grade_at_cmvig", "V", "agvhd_grade_at_cmvig", "must be one of 0, I, II, III, IV"),
    ("steroids_at_cmvig", "maybe", "steroids_at_cmvig", "must be one of yes, no"),
    ("resistance_testing", "UL98", "resistance_testing",
     "must be one of not tested, no mutation, UL97, UL54, UL97+UL54"),
    # a dose without its unit, a unit without its dose
    ("cmvig_dose_unit", "", "cmvig_dose_unit", "required when cmvig_dose is given"),
    ("cmvig_dose", "", "cmvig_dose_unit", "must be empty when cmvig_dose is empty"),
]


@pytest.mark.parametrize(("column", "value", "named", "rule"), BAD_CELLS)
def test_each_clinical_rule_names_row_patient_column_and_value(tmp_path, column, value, named,
                                                                rule):
    patients = _with_clinical(_raw("patients.csv"))
    patients.loc[4, column] = value
    problems = _problems(tmp_path, patients)
    assert len(problems) == 1, problems
    hit = problems[0]
    assert (hit.row, hit.patient_id, hit.column) == (6, patients.loc[4, "patient_id"], named)
    assert hit.value == patients.loc[4, named]
    assert rule in hit.rule
    assert hit.file.endswith("patients.csv")
    assert f"column '{named}'" in str(hit) and f"value '{hit.value}'" in str(hit)


def test_a_dose_column_without_its_unit_column_is_a_header_problem(tmp_path):
    patients = _with_clinical(_raw("patients.csv")).drop(columns="cmvig_dose_unit")
    (problem,) = _problems(tmp_path, patients)
    assert (problem.row, problem.column) == (1, "cmvig_dose_unit")
    assert "cmvig_dose needs it" in problem.rule


def test_absent_clinical_columns_are_no_error_and_listed_as_not_recorded(tmp_path):
    result = _clean(tmp_path, _raw("patients.csv"))
    assert not set(CLINICAL_COLUMNS) & set(result.cohort.columns)
    record = clinical_record(result.cohort)
    assert record["recorded"] == [] and record["not_recorded"] == list(CLINICAL_FACTS)
    # one recurrent child of the shipped cohort has no antiviral recorded before CMVIG
    assert record["antivirals_given"] == {"children": 14, "n": 15, "not_recorded": 0}


def test_clinical_spellings_are_normalised_and_logged(tmp_path):
    patients = _with_clinical(_raw("patients.csv"))
    patients.loc[0, ["cmvig_dose_unit", "agvhd_grade_at_cmvig", "steroids_at_cmvig",
                     "resistance_testing", "antivirals_at_cmvig", "cmv_disease_at_cmvig"]] = [
        " u/KG", "iii ", "YES", "ul97 + ul54", " Foscarnet ; Ganciclovir", "Proven"]
    patients.loc[1, ["cmvig_dose", "cmvig_dose_unit", "cmvig_interval_days"]] = ["", "", ""]
    result = _clean(tmp_path, patients)
    first = result.cohort.set_index("patient_id").loc[patients.loc[0, "patient_id"]]
    assert (first["cmvig_dose_unit"], first["agvhd_grade_at_cmvig"], first["steroids_at_cmvig"],
            first["resistance_testing"], first["antivirals_at_cmvig"],
            first["cmv_disease_at_cmvig"]) == (
        "U/kg", "III", "yes", "UL97+UL54", "foscarnet;ganciclovir", "proven")
    log = result.cleaning_log
    assert {"cmvig_dose_unit", "agvhd_grade_at_cmvig", "steroids_at_cmvig",
            "resistance_testing", "antivirals_at_cmvig"} <= set(log["column"])
    # written and read back with their dtypes; an empty cell stays missing
    write_csv(result.cohort, tmp_path / "cohort.csv")
    back = read_clean_cohort(tmp_path / "cohort.csv")
    assert list(back.columns[-len(CLINICAL_COLUMNS):]) == list(CLINICAL_COLUMNS)
    assert back["cmvig_dose"].dtype == float and back["cmvig_interval_days"].dtype == "Int64"
    assert back["agvhd_grade_at_cmvig"].dtype == object
    second = back.set_index("patient_id").loc[patients.loc[1, "patient_id"]]
    assert pd.isna(second["cmvig_dose"]) and pd.isna(second["cmvig_interval_days"])
    assert second["cmvig_dose_unit"] == ""
    assert clinical_record(back)["recorded"] == list(CLINICAL_FACTS)


# ---------------------------------------------------------------- Table 1

def _tiny(mixed_units: bool = False) -> pd.DataFrame:
    c = make_cohort([{"type": "recurrent", "response": 10, "fu": 300},
                     {"type": "recurrent", "response": None, "fu": 300},
                     {"type": "refractory", "response": 20, "fu": 300},
                     {"type": "refractory", "response": None, "fu": 300}])
    return c.assign(
        cmvig_product=["Cytotect CP"] * 4,
        cmvig_dose=[100.0, 50.0, 100.0, 400.0 if mixed_units else np.nan],
        cmvig_dose_unit=["U/kg", "U/kg", "U/kg", "mg/kg" if mixed_units else ""],
        cmvig_interval_days=pd.array([7, 14, 7, None], dtype="Int64"),
        antivirals_at_cmvig=["foscarnet;ganciclovir", "", "foscarnet", "ganciclovir"],
        cmv_disease_at_cmvig=["proven", "none", "none", ""],
        agvhd_grade_at_cmvig=["II", "0", "0", "I"],
        steroids_at_cmvig=["yes", "no", "", "no"],
        resistance_testing=["UL97", "not tested", "no mutation", "UL97"],
        conditioning_intensity=["MAC", "RIC", "MAC", ""],
        serotherapy=["ATG", "none", "alemtuzumab", "ATG"],
        t_cell_depletion=["PTCy", "none", "ex vivo", "none"],
        cmv_prevention=["letermovir prophylaxis", "pre-emptive", "pre-emptive", ""],
        chronic_gvhd_at_cmvig=["no", "yes", "no", "no"],
        lymphocytes_at_cmvig=[0.2, 0.5, np.nan, 1.1],
        prior_cmv_episodes=pd.array([1, 2, 0, None], dtype="Int64"),
        peak_viral_load_iu_ml=[1_000.0, 100_000.0, 10_000.0, 1_000_000.0])


def _rows(table: pd.DataFrame, variable: str) -> dict[str, list[str]]:
    rows = table[table["variable"] == variable]
    return {r.level: [r.overall, r.recurrent, r.refractory] for r in rows.itertuples()}


def test_table1_prints_the_clinical_rows_with_hand_computed_values():
    t = build_table1(_tiny())
    assert _rows(t, "CMVIG product") == {"Cytotect CP": ["4 (100%)", "2 (100%)", "2 (100%)"]}
    # one unit: no unit row; the child without a dose is left out of the median
    assert _rows(t, "CMVIG dose, U/kg") == {"median (range)": [
        "100 (50–100)", "75 (50–100)", fmt_median_range(pd.Series([100.0]))]}
    assert "CMVIG dose unit" not in set(t["variable"])
    assert _rows(t, "Days between CMVIG doses") == {"median (range)": [
        "7 (7–14)", "10.5 (7–14)", fmt_median_range(pd.Series([7]))]}
    assert _rows(t, "Antivirals at the first CMVIG dose") == {
        "Foscarnet": ["2 (50%)", "1 (50%)", "1 (50%)"],
        "Ganciclovir": ["2 (50%)", "1 (50%)", "1 (50%)"]}
    disease = _rows(t, "CMV disease at the first CMVIG dose")
    assert list(disease) == ["None", "Proven", "not recorded"]  # in the contract's order
    assert disease == {"None": ["2 (50%)", "1 (50%)", "1 (50%)"],
                       "Proven": ["1 (25%)", "1 (50%)", "0 (0%)"],
                       "not recorded": ["1 (25%)", "0 (0%)", "1 (50%)"]}
    assert _rows(t, "Acute GVHD grade at the first CMVIG dose") == {
        "Grade 0": ["2 (50%)", "1 (50%)", "1 (50%)"],
        "Grade I": ["1 (25%)", "0 (0%)", "1 (50%)"],
        "Grade II": ["1 (25%)", "1 (50%)", "0 (0%)"]}
    assert _rows(t, "Systemic steroids at the first CMVIG dose") == {
        "Yes": ["1 (25%)", "1 (50%)", "0 (0%)"], "No": ["2 (50%)", "1 (50%)", "1 (50%)"],
        "not recorded": ["1 (25%)", "0 (0%)", "1 (50%)"]}
    resistance = _rows(t, "Resistance genotyping")
    assert list(resistance) == ["Not tested", "No mutation", "UL97"]
    assert resistance["UL97"] == ["2 (50%)", "1 (50%)", "1 (50%)"]


def test_doses_in_two_units_are_printed_by_unit_never_pooled():
    t = build_table1(_tiny(mixed_units=True))
    assert _rows(t, "CMVIG dose unit") == {"U/kg": ["3 (75%)", "2 (100%)", "1 (50%)"],
                                           "mg/kg": ["1 (25%)", "0 (0%)", "1 (50%)"]}
    assert _rows(t, "CMVIG dose, U/kg")["median (range)"][0] == "100 (50–100)"
    assert _rows(t, "CMVIG dose, mg/kg")["median (range)"] == [
        fmt_median_range(pd.Series([400.0])), "–", fmt_median_range(pd.Series([400.0]))]
    assert not any(v == "CMVIG dose" for v in t["variable"])


def test_absent_or_empty_clinical_columns_add_no_rows():
    plain = build_table1(make_cohort([{"type": "recurrent", "response": 10, "fu": 300}]))
    empty = make_cohort([{"type": "recurrent", "response": 10, "fu": 300}]).assign(
        steroids_at_cmvig="", cmvig_dose=np.nan, cmvig_dose_unit="")
    assert plain.equals(build_table1(empty))
    assert not set(NEW_LABELS) & set(plain["variable"])


def _generated(tmp_path: Path, n: int, seed: int) -> pd.DataFrame:
    patients, loads = generate_cohort(n, seed, clinical=True)
    p, v = write_cohort(patients, loads, tmp_path / "export")
    write_csv(clean_cohort(p, v, LLOQ).cohort, tmp_path / "cohort.csv")
    return read_clean_cohort(tmp_path / "cohort.csv")


def test_small_cell_control_covers_the_clinical_rows(tmp_path):
    cohort = _generated(tmp_path, 30, 5)
    cells, _, _, where = catalogue(cohort, 50)
    # every level of the new categorical rows is a cell, the multi-select with its complement
    for label, level in (("Antivirals at the first CMVIG dose", "Ganciclovir"),
                         ("Antivirals at the first CMVIG dose", "not Ganciclovir"),
                         ("Resistance genotyping", "Not tested"),
                         ("Systemic steroids at the first CMVIG dose", "Yes"),
                         ("CMVIG dose unit", "mg/kg")):
        assert cell_name(label, level, "recurrent") in cells, (label, level)
    assert where[cell_name("Resistance genotyping", "Not tested", "overall")] == "Table 1"

    plan = disclosure_plan(cohort, 50, 5)
    table = build_table1(cohort, plan.hidden, plan.min_cell)
    new = table[table["variable"].str.startswith(NEW_LABELS)]
    marks = {"<5", "[c]"}
    hidden_here = 0
    for row in new.itertuples():
        for value in (row.overall, row.recurrent, row.refractory):
            hidden_here += value in marks
            if row.level == "median (range)" or value in marks:
                continue
            k = int(value.split()[0])
            assert k == 0 or k >= 5, (row.variable, row.level, value)
    assert hidden_here > 0
    # a dose unit whose count is below the limit hides its median too
    shut = 0
    for unit in ("U/kg", "mg/kg"):
        for g in ("overall", "recurrent", "refractory"):
            mark = plan.hidden.get(cell_name("CMVIG dose unit", unit, g), "")
            dose = table[(table["variable"] == f"CMVIG dose, {unit}")][g].iloc[0]
            if mark == "<5":
                assert dose == "<5"
                shut += 1
            elif mark == "[c]":  # hidden to protect another cell: its median is no small count
                assert dose not in marks
    assert shut > 0


def test_a_median_of_fewer_values_than_the_limit_is_hidden():
    rows = [{"type": "recurrent" if i < 6 else "refractory", "response": None, "fu": 300}
            for i in range(12)]
    cohort = make_cohort(rows).assign(
        cmvig_interval_days=pd.array([7, 14, 2] + [None] * 3 + [7] * 6, dtype="Int64"))
    plan = disclosure_plan(cohort, 50, 5)
    row = _rows(build_table1(cohort, plan.hidden, plan.min_cell), "Days between CMVIG doses")
    # three values among the recurrent: hidden; six refractory and nine overall: shown
    assert row["median (range)"] == ["7 (2–14)", "<5", "7 (7–7)"]


# ---------------------------------------------------------------- text

def _text(tmp_path: Path, cohort: pd.DataFrame) -> str:
    kwargs = make_project(tmp_path, cohort)
    html = kwargs["_project"] / "report" / "m.html"
    run_render(**stage_args(kwargs), html=str(html), pdf=None)
    text = re.sub(r"</?span\b[^>]*>", "", html.read_text())
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", text, flags=re.S)
    return " ".join(text.split())


def test_text_names_what_was_recorded_and_what_was_not(tmp_path):
    recorded = _text(tmp_path / "all", _tiny())
    everything = ("the CMVIG product, the dose per kilogram {0} the interval between doses; the "
                  "antivirals given, CMV end-organ disease (probable or proven), the grade of "
                  "acute graft-versus-host disease (GVHD), systemic steroids, chronic GVHD {0} "
                  "the lymphocyte count at the first dose; antiviral resistance genotyping; the "
                  "conditioning intensity, serotherapy (ATG or alemtuzumab), T-cell depletion "
                  "(ex vivo or post-transplant cyclophosphamide) {0} the CMV prevention strategy "
                  "(letermovir prophylaxis or pre-emptive therapy); {0} the number of earlier "
                  "CMV episodes {0} the peak viral load before CMVIG")
    assert f"The export also recorded {everything.format('and')}." in recorded
    assert "Doses are summarised separately for each unit" in recorded
    assert "Table 1 also gives the clinical details recorded at the first CMVIG dose" in recorded
    assert "did not record" not in recorded
    assert "Acute GVHD grade at the first CMVIG dose" in recorded  # Table 1 itself

    bare = make_cohort([{"type": "recurrent", "response": 10, "fu": 300},
                        {"type": "refractory", "response": None, "fu": 300}])
    absent = _text(tmp_path / "none", bare)
    assert (f"The export did not record {everything.format('or')}, so the series cannot be "
            "described or compared with others on these points.") in absent
    assert "also recorded" not in absent and "Table 1 also gives" not in absent

    some = _text(tmp_path / "some", bare.assign(steroids_at_cmvig=["yes", "no"],
                                                cmvig_product=["Cytotect CP", ""]))
    assert ("The export also recorded the CMVIG product, and systemic steroids at the first "
            "dose.") in some
    assert ("The export did not record the dose per kilogram or the interval between doses; the "
            "antivirals given, CMV end-organ disease (probable or proven), the grade of acute "
            "graft-versus-host disease (GVHD), chronic GVHD or the lymphocyte count at the first "
            "dose; antiviral resistance genotyping; the conditioning intensity, serotherapy (ATG "
            "or alemtuzumab), T-cell depletion (ex vivo or post-transplant cyclophosphamide) or "
            "the CMV prevention strategy (letermovir prophylaxis or pre-emptive therapy); or the "
            "number of earlier CMV episodes or the peak viral load before CMVIG, so") in some
    assert "Doses are summarised" not in some


def test_the_limitations_say_every_child_had_antivirals_only_when_true(tmp_path):
    everyone = make_cohort([{"type": "recurrent", "response": 10, "fu": 300},
                            {"type": "refractory", "response": None, "fu": 300}])
    assert "Every child also received antivirals" in _text(tmp_path / "a", everyone)
    one_without = make_cohort([{"type": "recurrent", "response": 10, "fu": 300, "drugs": ""},
                               {"type": "refractory", "response": None, "fu": 300},
                               {"type": "refractory", "response": None, "fu": 200}])
    text = _text(tmp_path / "b", one_without)
    assert "Every child also received" not in text
    assert ("An antiviral was also recorded before or with the first dose for 2 of 3 children"
            in text)
    assert "Most children" not in text
    # an antiviral given with the first dose counts too
    given_with = one_without.assign(antivirals_at_cmvig=["foscarnet", "", ""])
    assert "Every child also received antivirals" in _text(tmp_path / "c", given_with)


# ---------------------------------------------------------------- generator

def test_synth_clinical_adds_valid_columns_and_changes_nothing_else(tmp_path):
    plain, loads = generate_cohort(60, 4)
    clinical, loads_c = generate_cohort(60, 4, clinical=True)
    # --clinical also adds a new anti-CMV therapy after CMVIG (endpoints.py), last
    assert list(clinical.columns) == (list(plain.columns) + list(CLINICAL_COLUMNS)
                                      + list(NEW_THERAPY_COLUMNS))
    assert clinical[plain.columns].equals(plain) and loads_c.equals(loads)
    cohort = _generated(tmp_path, 60, 4)
    assert clinical_record(cohort)["recorded"] == list(CLINICAL_FACTS)
    assert set(cohort["cmvig_dose_unit"]) - {""} == {"U/kg", "mg/kg"}
