"""Transplant facts (issue 28): optional columns, Table 1 rows, log10 viral loads, infusion
reactions with their exact interval, plausibility of the infection type, lab spellings and
Excel serial dates."""

from __future__ import annotations

import html as html_module
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cohort_factory import make_cohort
from openpyxl import Workbook
from report_fixtures import make_project, stage_args
from scipy.stats import beta

from cmvig_report.core.io import read_clean_cohort, write_csv
from cmvig_report.data.clinical import CLINICAL_FACTS, clinical_record
from cmvig_report.data.cohort import clean_cohort
from cmvig_report.data.cohort_cells import BELOW_LLOQ_SPELLINGS
from cmvig_report.data.cohort_viral_loads import parse_viral_load_results
from cmvig_report.devtools.synth import generate_cohort, write_cohort
from cmvig_report.errors import DataError
from cmvig_report.render.report import run_render
from cmvig_report.stats.analysis import compute_estimates, infusion_reaction_rate
from cmvig_report.stats.table1 import build_table1

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"
LLOQ = 137
NEW_FACTS = ("conditioning_intensity", "serotherapy", "t_cell_depletion", "cmv_prevention",
             "chronic_gvhd_at_cmvig", "lymphocytes_at_cmvig", "prior_cmv_episodes",
             "peak_viral_load_iu_ml")
DAYS = {"response_day": 50, "os_cmvig_day": 100, "os_hsct_day": 365, "lloq_iu_ml": LLOQ}


def _raw(name: str) -> pd.DataFrame:
    return pd.read_csv(RAW / name, dtype=str, keep_default_na=False)


def _base() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shipped export with P15's antiviral recorded: no plausibility finding at all."""
    patients, loads = _raw("patients.csv"), _raw("viral_loads.csv")
    patients.loc[patients["patient_id"] == "P15", "prior_antivirals"] = "ganciclovir"
    return patients, loads


def _with_facts(patients: pd.DataFrame) -> pd.DataFrame:
    return patients.assign(
        conditioning_intensity="MAC", serotherapy="ATG", t_cell_depletion="none",
        cmv_prevention="pre-emptive", chronic_gvhd_at_cmvig="no", lymphocytes_at_cmvig="0.45",
        prior_cmv_episodes="1", peak_viral_load_iu_ml="52000", infusion_reaction_grade="")


def _clean(tmp_path: Path, patients: pd.DataFrame, loads: pd.DataFrame | None = None, **kw):
    p, v = tmp_path / "patients.csv", tmp_path / "viral_loads.csv"
    patients.to_csv(p, index=False)
    (_raw("viral_loads.csv") if loads is None else loads).to_csv(v, index=False)
    return clean_cohort(p, v, LLOQ, **kw)


def _problems(tmp_path: Path, patients: pd.DataFrame, loads: pd.DataFrame | None = None):
    with pytest.raises(DataError) as info:
        _clean(tmp_path, patients, loads)
    return info.value.problems


# ---------------------------------------------------------------- cleaning

BAD_CELLS = [
    ("conditioning_intensity", "myeloablative", "must be one of MAC, RIC, NMA"),
    ("serotherapy", "thymoglobulin", "must be one of ATG, alemtuzumab, none"),
    ("t_cell_depletion", "CD34 selection", "must be one of none, ex vivo, PTCy"),
    ("cmv_prevention", "prophylaxis", "must be one of letermovir prophylaxis, pre-emptive"),
    ("chronic_gvhd_at_cmvig", "mild", "must be one of yes, no"),
    ("lymphocytes_at_cmvig", "-0.2", "lymphocytes x10^9/L >= 0"),
    ("lymphocytes_at_cmvig", "low", "lymphocytes x10^9/L >= 0"),
    ("prior_cmv_episodes", "1.5", "whole number of earlier CMV episodes >= 0"),
    ("peak_viral_load_iu_ml", "0", "a number of IU/mL > 0"),
    ("peak_viral_load_iu_ml", ">1,000,000", "a number of IU/mL > 0"),
    ("infusion_reaction_grade", "6", "a CTCAE grade: a whole number from 1 to 5"),
    ("infusion_reaction_grade", "2", "a grade needs infusion_reaction yes"),
]


@pytest.mark.parametrize(("column", "value", "rule"), BAD_CELLS)
def test_each_new_column_refuses_a_bad_value_in_one_line(tmp_path, column, value, rule):
    patients = _with_facts(_raw("patients.csv"))
    patients.loc[4, column] = value
    problems = _problems(tmp_path, patients)
    assert len(problems) == 1, problems
    (hit,) = problems
    assert (hit.row, hit.patient_id, hit.column, hit.value) == (6, "P05", column, value)
    assert rule in hit.rule
    line = str(hit)
    assert "\n" not in line
    for part in ("patients.csv", "row 6", "'P05'", f"column '{column}'", f"value '{value}'"):
        assert part in line, (part, line)


def test_new_columns_are_normalised_logged_and_read_back(tmp_path):
    patients = _with_facts(_raw("patients.csv"))
    patients.loc[0, list(NEW_FACTS)] = [" mac", "Alemtuzumab", "Ex  Vivo", "Pre-Emptive",
                                         "YES", "1.2", "0", "1,250,000"]
    patients.loc[1, list(NEW_FACTS)] = [""] * len(NEW_FACTS)
    patients.loc[2, ["t_cell_depletion", "infusion_reaction", "infusion_reaction_grade"]] = [
        "ptcy", "yes", "3"]
    result = _clean(tmp_path, patients)
    write_csv(result.cohort, tmp_path / "cohort.csv")
    back = read_clean_cohort(tmp_path / "cohort.csv").set_index("patient_id")
    assert back.loc["P01", list(NEW_FACTS)].tolist() == [
        "MAC", "alemtuzumab", "ex vivo", "pre-emptive", "yes", 1.2, 0, 1_250_000.0]
    assert back.loc["P03", "t_cell_depletion"] == "PTCy"
    assert back.loc["P03", "infusion_reaction_grade"] == 3
    assert pd.isna(back.loc["P02", "lymphocytes_at_cmvig"])
    assert pd.isna(back.loc["P02", "prior_cmv_episodes"])
    assert back["prior_cmv_episodes"].dtype == "Int64"
    assert back.loc["P02", "conditioning_intensity"] == ""
    log = result.cleaning_log
    peak = log[(log["column"] == "peak_viral_load_iu_ml") & (log["patient_id"] == "P01")]
    assert peak[["before", "after"]].values.tolist() == [["1,250,000", "1250000"]]
    assert {"conditioning_intensity", "t_cell_depletion", "cmv_prevention"} <= set(log["column"])
    assert set(NEW_FACTS) <= set(clinical_record(back.reset_index())["recorded"])


def test_absent_new_columns_are_named_as_not_recorded(tmp_path):
    cohort = _clean(tmp_path, _raw("patients.csv")).cohort
    record = clinical_record(cohort)
    assert set(NEW_FACTS) <= set(record["not_recorded"])
    assert record["not_recorded"] == list(CLINICAL_FACTS)


# ---------------------------------------------------------------- Table 1

def _rows(table: pd.DataFrame, variable: str) -> dict[str, list[str]]:
    rows = table[table["variable"] == variable]
    return {r.level: [r.overall, r.recurrent, r.refractory] for r in rows.itertuples()}


def _four(**columns) -> pd.DataFrame:
    cohort = make_cohort([{"type": "recurrent", "response": 10, "fu": 300},
                          {"type": "recurrent", "response": None, "fu": 300},
                          {"type": "refractory", "response": 20, "fu": 300},
                          {"type": "refractory", "response": None, "fu": 300}])
    return cohort.assign(**columns)


def test_table1_shows_the_transplant_facts_when_recorded():
    t = build_table1(_four(
        conditioning_intensity=["RIC", "MAC", "MAC", ""],
        serotherapy=["ATG", "none", "alemtuzumab", "ATG"],
        t_cell_depletion=["PTCy", "none", "ex vivo", "PTCy"],
        cmv_prevention=["letermovir prophylaxis", "pre-emptive", "pre-emptive", "pre-emptive"],
        chronic_gvhd_at_cmvig=["no", "yes", "no", "no"],
        lymphocytes_at_cmvig=[0.2, 0.6, np.nan, 1.0],
        prior_cmv_episodes=pd.array([1, 3, 0, 0], dtype="Int64"),
        peak_viral_load_iu_ml=[1_000.0, 100_000.0, 10_000.0, 1_000_000.0]))
    # the contract's order, with the missing cell counted as not recorded
    assert _rows(t, "Conditioning intensity") == {
        "Myeloablative (MAC)": ["2 (50%)", "1 (50%)", "1 (50%)"],
        "Reduced intensity (RIC)": ["1 (25%)", "1 (50%)", "0 (0%)"],
        "not recorded": ["1 (25%)", "0 (0%)", "1 (50%)"]}
    assert list(_rows(t, "Serotherapy")) == ["ATG", "Alemtuzumab", "None"]
    assert _rows(t, "T-cell depletion")["Post-transplant cyclophosphamide (PTCy)"] == [
        "2 (50%)", "1 (50%)", "1 (50%)"]
    assert _rows(t, "CMV prevention strategy") == {
        "Letermovir prophylaxis": ["1 (25%)", "1 (50%)", "0 (0%)"],
        "Pre-emptive therapy": ["3 (75%)", "1 (50%)", "2 (100%)"]}
    assert _rows(t, "Chronic GVHD at the first CMVIG dose")["Yes"] == [
        "1 (25%)", "1 (50%)", "0 (0%)"]
    # 0.2, 0.6, 1.0 -> 0.6; recurrent 0.2, 0.6 -> 0.4; refractory 1.0
    assert _rows(t, "Lymphocytes at the first CMVIG dose, ×10⁹/L") == {
        "median (range)": ["0.60 (0.20–1.00)", "0.40 (0.20–0.60)", "1.00 (1.00–1.00)"]}
    assert _rows(t, "Earlier CMV episodes") == {
        "median (range)": ["0.5 (0–3)", "2 (1–3)", "0 (0–0)"]}
    # log10 3, 5, 4, 6: median 4.5, quartiles 3.75 and 5.25 (type 7) -> 3.8 and 5.3;
    # recurrent 3, 5: median 4, quartiles 3.5 and 4.5; refractory 4, 6: 5, 4.5 and 5.5
    assert _rows(t, "Peak CMV DNA before CMVIG, log10 IU/mL") == {
        "median (IQR)": ["4.5 (3.8–5.3)", "4.0 (3.5–4.5)", "5.0 (4.5–5.5)"]}


def test_table1_leaves_the_transplant_facts_out_when_absent_or_empty():
    plain = build_table1(_four())
    empty = build_table1(_four(conditioning_intensity="", lymphocytes_at_cmvig=np.nan,
                               peak_viral_load_iu_ml=np.nan))
    assert plain.equals(empty)
    for label in ("Conditioning intensity", "Serotherapy", "T-cell depletion",
                  "CMV prevention strategy", "Earlier CMV episodes"):
        assert label not in set(plain["variable"])


def test_viral_load_at_cmvig_is_a_log10_median_with_quartiles():
    loads = [100.0, 1_000.0, 10_000.0, 100_000.0]
    cohort = _four()
    cohort["viral_load_at_cmvig"] = loads
    t = build_table1(cohort)
    # log10 2, 3 | 4, 5: overall median 3.5, quartiles 2.75 and 4.25 (halves round up)
    assert _rows(t, "CMV DNA at CMVIG start, log10 IU/mL") == {
        "median (IQR)": ["3.5 (2.8–4.3)", "2.5 (2.3–2.8)", "4.5 (4.3–4.8)"]}
    assert "CMV DNA at CMVIG start, IU/mL" not in set(t["variable"])
    est = compute_estimates(cohort, **DAYS)
    block = est["viral_load_at_cmvig"]["log10"]
    assert (block["median"], block["q1"], block["q3"], block["n"]) == (3.5, 2.75, 4.25, 4)


def test_letermovir_is_prophylaxis_apart_from_the_treatment_antivirals():
    cohort = make_cohort([
        {"type": "recurrent", "response": 10, "fu": 300, "drugs": "letermovir;ganciclovir"},
        {"type": "recurrent", "response": None, "fu": 300, "drugs": "ganciclovir"},
        {"type": "refractory", "response": None, "fu": 300, "drugs": "foscarnet"}])
    cohort["n_prior_antivirals"] = [1, 1, 1]  # as the cohort step counts: treatment only
    t = build_table1(cohort)
    assert "Letermovir" not in _rows(t, "Antivirals before CMVIG")
    assert _rows(t, "Prophylaxis before or with CMVIG") == {
        "Letermovir": ["1 (33%)", "1 (50%)", "0 (0%)"]}
    labels = list(dict.fromkeys(t["variable"]))
    assert labels.index("Prophylaxis before or with CMVIG") == labels.index(
        "Number of antivirals before CMVIG") + 1
    # no letermovir, no row
    assert "Prophylaxis before or with CMVIG" not in set(build_table1(
        cohort.assign(prior_antivirals="ganciclovir"))["variable"])


def test_the_cohort_step_counts_treatment_antivirals_only(tmp_path):
    patients, loads = _base()
    patients.loc[patients["patient_id"] == "P01", "prior_antivirals"] = "letermovir"
    result = _clean(tmp_path, patients, loads)
    c = result.cohort.set_index("patient_id")
    assert c.loc["P01", "prior_antivirals"] == "letermovir"  # kept as exported
    assert c.loc["P01", "n_prior_antivirals"] == 0
    checks = set(zip(result.data_quality["patient_id"], result.data_quality["check"],
                     strict=True))
    assert checks == {("P01", "recurrent_without_prior_antivirals")}


# ---------------------------------------------------------------- infusion reactions

def _reactions(k: int, n: int, grades: list | None = None) -> pd.DataFrame:
    rows = [{"type": "recurrent" if i % 2 else "refractory", "response": None, "fu": 300,
             "reaction": "yes" if i < k else "no"} for i in range(n)]
    cohort = make_cohort(rows)
    if grades is not None:
        cohort["infusion_reaction_grade"] = pd.array(grades + [None] * (n - k), dtype="Int64")
    return cohort


def test_infusion_reaction_interval_is_the_exact_binomial_one():
    k, n = 3, 20
    rate = infusion_reaction_rate(_reactions(k, n, [1, 2, 1]))
    # Clopper-Pearson limits are beta quantiles
    assert rate["ci_lower"] == pytest.approx(beta.ppf(0.025, k, n - k + 1), abs=1e-4)
    assert rate["ci_upper"] == pytest.approx(beta.ppf(0.975, k + 1, n - k), abs=1e-4)
    assert (rate["reactions"], rate["n"], rate["proportion"]) == (3, 20, 0.15)
    assert rate["grades"] == {"1": 2, "2": 1} and rate["worst_grade"] == 2
    assert "grades" not in infusion_reaction_rate(_reactions(k, n))


def _text(tmp_path: Path, cohort: pd.DataFrame, **kw) -> str:
    kwargs = make_project(tmp_path, cohort, **kw)
    html = kwargs["_project"] / "report" / "m.html"
    run_render(**stage_args(kwargs), html=str(html), pdf=None)
    text = re.sub(r"</?span\b[^>]*>", "", html.read_text())
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", text, flags=re.S)
    return html_module.unescape(" ".join(text.split()))


def test_the_text_gives_reactions_with_denominator_interval_and_grade(tmp_path):
    k, n = 3, 20
    low, high = (round(100 * beta.ppf(0.025, k, n - k + 1)),
                 round(100 * beta.ppf(0.975, k + 1, n - k)))
    text = _text(tmp_path / "shown", _reactions(k, n, [1, 2, 1]))
    assert (f"An infusion-related adverse event occurred in 3 children (3 of 20, 15%; exact 95% "
            f"CI {low}–{high}%); the most severe was of CTCAE grade 2.") in text
    hidden = {"min_cell_count": 5, "hidden": {"infusion_reactions": "<5",
                                              "infusion_reaction_rate.reactions": "<5"}}
    text = _text(tmp_path / "hidden", _reactions(k, n, [1, 2, 1]),
                 estimates_patch={"disclosure": hidden})
    assert "An infusion-related adverse event occurred in <5 children." in text
    assert "15%" not in text and "CTCAE grade" not in text


# ---------------------------------------------------------------- plausibility

def _findings(tmp_path: Path, patients: pd.DataFrame, loads: pd.DataFrame) -> dict:
    found = _clean(tmp_path, patients, loads).data_quality
    return {(r.patient_id, r.check): r.detail for r in found.itertuples()}


def _set_loads(loads: pd.DataFrame, pid: str, start: str, by_day: dict[int, str]) -> pd.DataFrame:
    loads = loads.copy()
    days = (pd.to_datetime(loads["sample_date"]) - pd.Timestamp(start)).dt.days
    for day, value in by_day.items():
        loads.loc[(loads["patient_id"] == pid) & (days == day), "cmv_dna_iu_ml"] = value
    return loads


def test_a_refractory_label_the_viral_loads_contradict_is_flagged_not_changed(tmp_path):
    patients, loads = _base()
    assert _findings(tmp_path, patients, loads) == {}
    # P02 (refractory, CMVIG 2018-11-02): a fall of more than 1 log10 over two weeks
    falling = _set_loads(loads, "P02", "2018-11-02", {-14: "500000", -7: "120000"})
    found = _findings(tmp_path, patients, falling)
    assert list(found) == [("P02", "refractory_not_supported_by_viral_loads")]
    assert "fell by 1.0 log10 from day -14 to day 0" in found[
        ("P02", "refractory_not_supported_by_viral_loads")]
    cleaned = _clean(tmp_path, patients, falling).cohort.set_index("patient_id")
    assert cleaned.loc["P02", "infection_type"] == "refractory"  # analysed as exported
    # a fall within the PCR's variation (46,640 from 100,000: 0.33 log10) still persists
    assert _findings(tmp_path, patients, _set_loads(
        loads, "P02", "2018-11-02", {-14: "100000"})) == {}
    # cleared in between: not persistent
    cleared = _set_loads(loads, "P02", "2018-11-02", {-7: "<137"})
    assert "cleared in between" in _findings(tmp_path, patients, cleared)[
        ("P02", "refractory_not_supported_by_viral_loads")]
    # P09 has results on days -7 and 0 only: two weeks cannot be judged, nothing is said
    assert _findings(tmp_path, patients, _set_loads(
        loads, "P09", "2020-07-28", {-7: "9000000"})) == {}


def test_planted_records_trip_the_treatment_and_serostatus_checks(tmp_path):
    patients, loads = _base()
    patients.loc[patients["patient_id"] == "P02", "prior_antivirals"] = "Letermovir"
    patients.loc[patients["patient_id"] == "P03", "cmv_serostatus"] = "D\u2212/R\u2212"
    patients = patients.assign(agvhd_grade_at_cmvig="0", steroids_at_cmvig="no")
    patients.loc[patients["patient_id"] == "P04", "agvhd_grade_at_cmvig"] = "III"
    patients.loc[patients["patient_id"] == "P05", ["agvhd_grade_at_cmvig",
                                                   "steroids_at_cmvig"]] = ["IV", "yes"]
    patients.loc[patients["patient_id"] == "P06", ["agvhd_grade_at_cmvig",
                                                   "steroids_at_cmvig"]] = ["IV", ""]
    assert set(_findings(tmp_path, patients, loads)) == {
        ("P02", "refractory_without_prior_antivirals"),
        ("P03", "seronegative_pair_with_cmv_infection"),
        ("P04", "severe_agvhd_without_steroids")}
    # without the GVHD columns that check says nothing
    bare, _ = _base()
    assert _findings(tmp_path, bare, loads) == {}


# ---------------------------------------------------------------- lab spellings

def test_lab_spellings_below_and_above_quantification():
    text = pd.Series(["Target not detected", "TND", "<LLOQ", "below  LLOQ", "<137 IU/mL",
                      ">1,000,000", "> 1000000 IU/mL", ">2.5e6", "neg."])
    out = parse_viral_load_results(text)
    assert out["below_quantification"].tolist() == [True] * 5 + [False] * 4
    assert out["above_quantification"].tolist() == [False] * 5 + [True, True, False, False]
    assert out["cmv_dna_iu_ml"].iloc[5:7].tolist() == [1_000_000.0, 1_000_000.0]
    assert out["is_valid"].tolist() == [True] * 7 + [False] * 2
    # the config's list replaces the default one
    mine = parse_viral_load_results(text, below_spellings=["neg."])
    assert mine["below_quantification"].tolist() == [False, False, False, False, True,
                                                     False, False, False, True]


def test_an_upper_limit_is_read_as_the_limit_and_logged(tmp_path):
    patients, loads = _base()
    loads.loc[1, "cmv_dna_iu_ml"] = "> 1,000,000 IU/mL"
    result = _clean(tmp_path, patients, loads)
    kept = result.viral_loads.set_index("row").loc[3]
    assert kept["cmv_dna_iu_ml"] == 1_000_000.0 and not kept["below_lloq"]
    log = result.cleaning_log
    line = log[(log["row"] == 3) & (log["column"] == "cmv_dna_iu_ml")]
    assert line[["before", "after"]].values.tolist() == [["> 1,000,000 IU/mL", "1000000"]]
    assert "censored high" in line["reason"].iloc[0]
    # a spelling outside the configured list is refused, naming the cell
    loads.loc[2, "cmv_dna_iu_ml"] = "TND"
    with pytest.raises(DataError) as info:
        _clean(tmp_path, patients, loads,
               below_lloq_spellings=[w for w in BELOW_LLOQ_SPELLINGS if w != "TND"])
    (problem,) = info.value.problems
    assert (problem.row, problem.column, problem.value) == (4, "cmv_dna_iu_ml", "TND")
    assert "below_lloq_spellings" in problem.rule


# ---------------------------------------------------------------- Excel serial dates

def _xlsx(path: Path, patients: pd.DataFrame, serial: dict[tuple[int, str], object]) -> None:
    """``patients`` as a workbook with real date cells, and the cells of ``serial`` (row
    index, column) -> value as typed in (an int is a number cell, a str a text cell)."""
    wb = Workbook()
    ws = wb.active
    ws.append(list(patients.columns))
    dates = ("hsct_date", "cmvig_start_date", "last_followup_date")
    for i, row in enumerate(patients.itertuples(index=False)):
        values = []
        for col, value in zip(patients.columns, row, strict=True):
            if (i, col) in serial:
                values.append(serial[(i, col)])
            elif col in dates:
                values.append(datetime.fromisoformat(value))
            else:
                values.append(value)
        ws.append(values)
    wb.save(path)


def test_an_excel_serial_number_in_a_date_column_is_converted_and_logged(tmp_path):
    patients, _ = _base()
    path = tmp_path / "patients.xlsx"
    # Excel's serial 44197 is 1 January 2021 (P12: HSCT 2021-02-01, CMVIG 2021-03-30)
    _xlsx(path, patients, {(11, "hsct_date"): 44197})
    result = clean_cohort(path, RAW / "viral_loads.csv", LLOQ)
    c = result.cohort.set_index("patient_id")
    assert c.loc["P12", "hsct_date"] == "2021-01-01"
    assert c.loc["P11", "hsct_date"] == "2020-11-09"  # real date cells are untouched
    log = result.cleaning_log
    line = log[(log["column"] == "hsct_date")]
    assert line[["row", "patient_id", "before", "after"]].values.tolist() == [
        [13, "P12", "44197", "2021-01-01"]]
    assert "Excel serial number" in line["reason"].iloc[0]


def test_a_number_in_a_date_column_is_refused_outside_an_excel_date_cell(tmp_path):
    patients, _ = _base()
    csv = patients.copy()
    csv.loc[11, "hsct_date"] = "44197"
    (problem,) = _problems(tmp_path, csv)
    assert (problem.row, problem.patient_id, problem.column, problem.value) == (
        13, "P12", "hsct_date", "44197")
    assert "is a number, not a date" in problem.rule
    # the same number typed as text into a workbook is no date either
    path = tmp_path / "patients.xlsx"
    _xlsx(path, patients, {(11, "hsct_date"): "44197"})
    with pytest.raises(DataError) as info:
        clean_cohort(path, RAW / "viral_loads.csv", LLOQ)
    (problem,) = info.value.problems
    assert (problem.row, problem.column, problem.value) == (13, "hsct_date", "44197")


# ---------------------------------------------------------------- generator

def test_synth_clinical_makes_every_new_column_deterministically(tmp_path):
    first, loads = generate_cohort(80, 11, clinical=True)
    again, _ = generate_cohort(80, 11, clinical=True)
    assert first.equals(again)
    assert set(NEW_FACTS) | {"infusion_reaction_grade"} <= set(first.columns)
    graded = first["infusion_reaction_grade"].ne("")
    assert (graded == first["infusion_reaction"].eq("yes")).all()
    p, v = write_cohort(first, loads, tmp_path / "export")
    cohort = clean_cohort(p, v, LLOQ).cohort
    assert set(NEW_FACTS) <= set(clinical_record(cohort)["recorded"])
    # the peak is the highest result before the first dose, never below the load at CMVIG
    both = cohort[["peak_viral_load_iu_ml", "viral_load_at_cmvig"]].dropna()
    assert len(both) and (both["peak_viral_load_iu_ml"] >= both["viral_load_at_cmvig"]).all()


def test_figure1_lists_treatment_antivirals_only():
    from cmvig_report.figures.figure_flow import flow_counts

    cohort = make_cohort([{"type": "recurrent", "response": 10, "fu": 300,
                           "drugs": "letermovir;ganciclovir"},
                          {"type": "recurrent", "response": None, "fu": 300,
                           "drugs": "letermovir"}])
    names = [name for name, _ in flow_counts(cohort, 50)["recurrent"]["top_drugs"]]
    assert names == ["ganciclovir"]


def test_median_iqr_formatters_round_half_up():
    from cmvig_report.core.formatting import format_log10_median_iqr, format_median_iqr

    block = {"median": 4.25, "q1": 3.05, "q3": 5.0}
    assert format_median_iqr(block) == "4.3 (3.1–5.0)"
    assert format_log10_median_iqr(block) == "4.3 log10 IU/mL (IQR 3.1–5.0)"
    assert format_median_iqr({"median": None, "q1": None, "q3": None}) == "not estimable"
