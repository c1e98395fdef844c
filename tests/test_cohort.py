"""Cohort stage: contract validation, cleaning log and derived columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from cmvig_report.core.step import run_step
from cmvig_report.data.cohort import clean_cohort, run_cohort
from cmvig_report.data.cohort_viral_loads import parse_viral_load_results
from cmvig_report.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"
LLOQ = 137


def _raw(name: str) -> pd.DataFrame:
    return pd.read_csv(RAW / name, dtype=str, keep_default_na=False)


def _write(tmp_path: Path, patients: pd.DataFrame, viral_loads: pd.DataFrame) -> tuple[Path, Path]:
    p, v = tmp_path / "patients.csv", tmp_path / "viral_loads.csv"
    patients.to_csv(p, index=False)
    viral_loads.to_csv(v, index=False)
    return p, v


def _problems(tmp_path: Path, patients: pd.DataFrame, viral_loads: pd.DataFrame):
    p, v = _write(tmp_path, patients, viral_loads)
    with pytest.raises(DataError) as info:
        clean_cohort(p, v, LLOQ)
    return info.value.problems


# ---------------------------------------------------------------- the shipped cohort


def test_shipped_cohort_matches_published_counts():
    published = {
        v["key"]: v["published"]
        for v in yaml.safe_load((ROOT / "data" / "published.yaml").read_text())["values"]
    }
    c = clean_cohort(RAW / "patients.csv", RAW / "viral_loads.csv", LLOQ).cohort
    assert len(c) == published["n_patients"]
    assert (c["infection_type"] == "recurrent").sum() == published["infection_type.recurrent"]
    assert (c["infection_type"] == "refractory").sum() == published["infection_type.refractory"]
    assert c["died"].sum() == published["deaths.total"]
    assert c["cmv_death"].sum() == published["deaths.cmv_related"]
    assert (c["infusion_reaction"] == "yes").sum() == published["infusion_reactions"]
    # paper-facts: nobody without a response is censored before the response landmark, so
    # the share responding by day 50 is a plain proportion equal to the published 67%.
    by_50 = (c["responded"] & (c["days_to_response"] <= 50)).sum()
    assert not (~c["responded"] & (c["days_to_response_or_censoring"] < 50)).any()
    assert round(100 * by_50 / len(c)) == published["response.estimate"]
    # every CMVIG start inside the published enrolment window (July 2018 - December 2021)
    assert c["cmvig_start_date"].min() >= "2018-07-01"
    assert c["cmvig_start_date"].max() <= "2021-12-31"


def test_shipped_cleaning_log_records_every_kind_of_mess():
    log = clean_cohort(RAW / "patients.csv", RAW / "viral_loads.csv", LLOQ).cleaning_log
    assert list(log.columns) == ["file", "row", "patient_id", "column", "before", "after", "reason"]
    reasons = " | ".join(log["reason"].unique())
    for fragment in ("thousands separator", "below the limit", "row dropped", "letter case"):
        assert fragment in reasons
    dropped = log[log["reason"].str.contains("dropped")]
    assert len(dropped) == 1
    raw = _raw("viral_loads.csv")
    row = int(dropped["row"].iloc[0])
    assert raw.iloc[row - 2]["cmv_dna_iu_ml"] == ""  # row numbers count the header as 1
    assert raw.iloc[row - 2]["patient_id"] == dropped["patient_id"].iloc[0]


# ---------------------------------------------------------------- parsing and derivation


def test_every_viral_load_spelling_is_parsed():
    text = pd.Series(["<137", "< 137", "undetectable", "Not Detected", "nd", "NEGATIVE",
                      "12,300", "1,234,567.5", "450", " 88 ", "", "12,30", "abc", "-5"])
    out = parse_viral_load_results(text)
    assert out["below_quantification"].tolist() == [True] * 6 + [False] * 8
    assert out["cmv_dna_iu_ml"].iloc[6:10].tolist() == [12300.0, 1234567.5, 450.0, 88.0]
    assert out["is_empty"].tolist() == [False] * 10 + [True] + [False] * 3
    assert out["is_valid"].tolist() == [True] * 11 + [False] * 3


def test_derived_columns_on_a_hand_made_cohort(tmp_path):
    patients = pd.DataFrame({
        "patient_id": ["A", "B", "C"], "sex": ["F", "M", "F"], "age_at_hsct": ["3", "10.5", "0"],
        "diagnosis": ["ALL", "AML", "SCID"], "donor_type": ["x"] * 3, "graft_source": ["y"] * 3,
        "cmv_serostatus": ["D+/R+"] * 3, "hsct_date": ["2020-01-01"] * 3,
        "infection_type": ["recurrent", "Refractory ", "refractory"],
        "prior_antivirals": ["ganciclovir", "Ganciclovir ; foscarnet", ""],
        "cmvig_start_date": ["2020-03-01", "2020-02-01", "2020-01-31"],
        "cmvig_doses": ["2", "4", "1"], "infusion_reaction": ["no", "no", "yes"],
        "last_followup_date": ["2021-03-01", "2020-04-01", "2020-02-10"],
        "status": ["alive", "dead", "dead"], "cause_of_death": ["", "relapse", "CMV pneumonia"],
        "cmv_related_death": ["", "no", "yes"],
    })
    viral_loads = pd.DataFrame({
        "patient_id": ["A", "A", "A", "A", "B", "B", "C"],
        "sample_date": ["2020-02-25", "2020-03-01", "2020-03-15", "2020-03-22",
                        "2020-02-08", "2020-02-15", "2020-02-05"],
        # A: the day-0 result below LLOQ does not count; day 14 (136 < 137) is the response.
        "cmv_dna_iu_ml": ["5,000", "<137", "136", "ND", "137", "", "2000"],
    })
    p, v = _write(tmp_path, patients, viral_loads)
    out = clean_cohort(p, v, LLOQ)
    c = out.cohort.set_index("patient_id")
    # 2020 is a leap year: Jan 1 -> Mar 1 = 31 + 29 = 60 days; Mar 1 2020 -> Mar 1 2021 = 365.
    assert c["days_hsct_to_cmvig"].tolist() == [60, 31, 30]
    assert c["responded"].tolist() == [True, False, False]
    assert c.loc["A", "response_date"] == "2020-03-15"
    assert c.loc["A", "days_to_response"] == 14
    assert c["days_to_response_or_censoring"].tolist() == [14, 60, 10]
    assert c["os_from_cmvig_days"].tolist() == [365, 60, 10]
    assert c["os_from_hsct_days"].tolist() == [425, 91, 40]
    assert c["died"].tolist() == [False, True, True]
    assert c["cmv_death"].tolist() == [False, False, True]
    assert c["infection_type"].tolist() == ["recurrent", "refractory", "refractory"]
    assert c["prior_antivirals"].tolist() == ["ganciclovir", "ganciclovir;foscarnet", ""]
    assert c["n_prior_antivirals"].tolist() == [1, 2, 0]
    assert c["n_viral_load_samples"].tolist() == [4, 1, 1]  # B's empty result was dropped
    vl = out.viral_loads
    assert vl["days_since_cmvig"].tolist() == [-5, 0, 14, 21, 7, 5]
    assert vl["below_lloq"].tolist() == [False, True, True, True, False, False]
    log = out.cleaning_log
    assert ("B", 7) in set(zip(log["patient_id"], log["row"], strict=True))


# ---------------------------------------------------------------- one bad cohort per rule

BAD_PATIENT_CELLS = [
    # (row index in the shipped file, column, bad value, fragment of the rule)
    (0, "sex", "X", "must be one of M, F"),
    (1, "age_at_hsct", "-1", "number of years >= 0"),
    (2, "age_at_hsct", "four", "number of years >= 0"),
    (3, "hsct_date", "2019-02-30", "YYYY-MM-DD"),
    (4, "cmvig_start_date", "31/08/2019", "YYYY-MM-DD"),
    (5, "infection_type", "relapsed", "must be one of recurrent, refractory"),
    (6, "cmvig_doses", "0", "whole number >= 1"),
    (7, "cmvig_doses", "2.5", "whole number >= 1"),
    (8, "infusion_reaction", "maybe", "must be one of yes, no"),
    (9, "status", "lost", "must be one of alive, dead"),
    (10, "cause_of_death", "relapse", "must be empty when status is alive"),
    (11, "cmv_related_death", "no", "must be empty when status is alive"),
    (12, "patient_id", "", "must not be empty"),
    (13, "patient_id", "P01", "duplicate patient_id"),
    (14, "last_followup_date", "2021-01-01", "before cmvig_start_date"),
    (0, "cmvig_start_date", "2018-05-01", "before hsct_date"),
]


@pytest.mark.parametrize(("index", "column", "value", "rule"), BAD_PATIENT_CELLS)
def test_each_patient_rule_names_row_patient_column_and_value(tmp_path, index, column, value,
                                                               rule):
    patients = _raw("patients.csv")
    expected_id = patients.loc[index, "patient_id"] if column != "patient_id" else value
    patients.loc[index, column] = value
    problems = _problems(tmp_path, patients, _raw("viral_loads.csv"))
    hits = [p for p in problems if p.column == column and rule in p.rule]
    assert len(hits) == 1, problems
    hit = hits[0]
    assert hit.row == index + 2
    assert hit.value == value
    assert hit.patient_id == (expected_id or None)
    assert hit.file.endswith("patients.csv")


def test_dead_patient_without_cause_or_relatedness(tmp_path):
    patients = _raw("patients.csv")
    dead = patients.index[patients["status"] == "dead"][0]
    patients.loc[dead, ["cause_of_death", "cmv_related_death"]] = ["", "unknown"]
    problems = _problems(tmp_path, patients, _raw("viral_loads.csv"))
    assert {(p.row, p.column) for p in problems} == {
        (dead + 2, "cause_of_death"), (dead + 2, "cmv_related_death")
    }


def test_viral_load_rules(tmp_path):
    vl = _raw("viral_loads.csv")
    vl.loc[3, "patient_id"] = "P99"
    vl.loc[4, "sample_date"] = "yesterday"
    vl.loc[5, "cmv_dna_iu_ml"] = "lots"
    problems = _problems(tmp_path, _raw("patients.csv"), vl)
    got = {(p.row, p.column, p.value) for p in problems}
    assert got == {(5, "patient_id", "P99"), (6, "sample_date", "yesterday"),
                   (7, "cmv_dna_iu_ml", "lots")}
    assert any("not found in the patients file" in p.rule for p in problems)


def test_missing_column_and_empty_file(tmp_path):
    patients = _raw("patients.csv").drop(columns=["status"])
    problems = _problems(tmp_path, patients, _raw("viral_loads.csv"))
    assert [(p.column, p.row) for p in problems] == [("status", 1)]
    empty = _raw("patients.csv").iloc[0:0]
    problems = _problems(tmp_path, empty, _raw("viral_loads.csv"))
    assert "no patient rows" in problems[0].rule


def test_all_problems_reported_in_one_message(tmp_path):
    patients = _raw("patients.csv")
    patients.loc[0, "sex"] = "?"
    patients.loc[4, "cmvig_doses"] = "none"
    vl = _raw("viral_loads.csv")
    vl.loc[0, "cmv_dna_iu_ml"] = "n/a"
    p, v = _write(tmp_path, patients, vl)
    with pytest.raises(DataError) as info:
        clean_cohort(p, v, LLOQ)
    message = str(info.value)
    assert message.startswith("invalid input: 3 problems found")
    assert "row 2, patient_id 'P01', column 'sex', value '?'" in message
    assert "row 6, patient_id 'P05', column 'cmvig_doses', value 'none'" in message
    assert ("viral_loads.csv, row 2, patient_id 'P01', column 'cmv_dna_iu_ml', value 'n/a'"
            in message)


def test_step_reports_bad_data_plainly_logs_it_and_writes_nothing(tmp_path, capsys):
    patients = _raw("patients.csv")
    patients.loc[2, "infection_type"] = "chronic"
    p, v = _write(tmp_path, patients, _raw("viral_loads.csv"))
    out = tmp_path / "out"
    kwargs = dict(patients=str(p), viral_loads=str(v), sheet=0, lloq=137,
                  cause_categories={}, study_period="", cohort=str(out / "cohort.csv"),
                  clean_viral_loads=str(out / "vl.csv"), cleaning_log=str(out / "log.csv"),
                  data_quality=str(out / "dq.csv"), study_number_map=str(out / "sn.csv"))
    assert run_step("clean_cohort", run_cohort, kwargs, str(out / "step.log")) == 1
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    assert "row 4, patient_id 'P03', column 'infection_type', value 'chronic'" in stderr
    assert sorted(f.name for f in out.iterdir()) == ["step.log"]
    assert "chronic" in (out / "step.log").read_text()


def test_a_crashing_step_still_writes_its_log(tmp_path):
    def crash(**kwargs):
        raise RuntimeError("a bug, not the user's fault")

    log = tmp_path / "logs" / "estimates.log"
    with pytest.raises(RuntimeError):
        run_step("estimates", crash, {"cohort": "x"}, str(log))
    text = log.read_text()
    assert "Traceback" in text and "a bug, not the user's fault" in text
    assert "finished with status 2" in text


def test_xlsx_copy_gives_identical_results(tmp_path):
    patients, vl = _raw("patients.csv"), _raw("viral_loads.csv")
    px, vx = tmp_path / "patients.xlsx", tmp_path / "viral_loads.xlsx"
    patients.to_excel(px, index=False, sheet_name="export")
    vl.to_excel(vx, index=False, sheet_name="export")
    from_csv = clean_cohort(RAW / "patients.csv", RAW / "viral_loads.csv", LLOQ)
    from_xlsx = clean_cohort(px, vx, LLOQ, sheet="export")
    pd.testing.assert_frame_equal(from_csv.cohort, from_xlsx.cohort)
    pd.testing.assert_frame_equal(from_csv.viral_loads, from_xlsx.viral_loads)
    pd.testing.assert_frame_equal(
        from_csv.cleaning_log.drop(columns="file"), from_xlsx.cleaning_log.drop(columns="file")
    )


def test_xlsx_with_typed_cells_reads_like_the_csv(tmp_path):
    """A spreadsheet saved by hand holds real dates and numbers, not text."""
    patients = _raw("patients.csv")
    typed = patients.copy()
    for col in ("hsct_date", "cmvig_start_date", "last_followup_date"):
        typed[col] = pd.to_datetime(typed[col])
    typed["age_at_hsct"] = typed["age_at_hsct"].astype(float)
    typed["cmvig_doses"] = typed["cmvig_doses"].astype(int)
    px = tmp_path / "patients.xlsx"
    typed.to_excel(px, index=False)
    from_csv = clean_cohort(RAW / "patients.csv", RAW / "viral_loads.csv", LLOQ)
    from_xlsx = clean_cohort(px, RAW / "viral_loads.csv", LLOQ)
    pd.testing.assert_frame_equal(from_csv.cohort, from_xlsx.cohort)


def test_csv_with_byte_order_mark_from_excel(tmp_path):
    """Excel's "CSV UTF-8" export starts with a byte-order mark; the header must still match."""
    bom = tmp_path / "patients.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + (RAW / "patients.csv").read_bytes())
    c = clean_cohort(bom, RAW / "viral_loads.csv", LLOQ).cohort
    assert c["patient_id"].iloc[0] == "P01"


def test_patient_without_any_viral_load_is_a_non_responder(tmp_path):
    vl = _raw("viral_loads.csv")
    vl = vl[vl["patient_id"] != "P01"]
    p, v = _write(tmp_path, _raw("patients.csv"), vl)
    c = clean_cohort(p, v, LLOQ).cohort.set_index("patient_id")
    assert not c.loc["P01", "responded"]
    assert c.loc["P01", "n_viral_load_samples"] == 0
    assert c.loc["P01", "days_to_response_or_censoring"] == c.loc["P01", "os_from_cmvig_days"]


def _base(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shipped export with P15's antiviral recorded: no plausibility finding at all."""
    patients, loads = _raw("patients.csv"), _raw("viral_loads.csv")
    patients.loc[patients["patient_id"] == "P15", "prior_antivirals"] = "ganciclovir"
    return patients, loads


def _findings(tmp_path: Path, patients: pd.DataFrame, loads: pd.DataFrame,
              period: tuple[str, str] | None = None) -> set[tuple[str, str]]:
    p, v = _write(tmp_path, patients, loads)
    found = clean_cohort(p, v, LLOQ, study_period=period).data_quality
    return set(zip(found["patient_id"], found["check"], strict=True))


def test_each_plausibility_check_trips_alone(tmp_path):
    patients, loads = _base(tmp_path)
    assert _findings(tmp_path, patients, loads) == set()

    late = pd.DataFrame([{"patient_id": "P01", "sample_date": "2022-12-01",
                          "cmv_dna_iu_ml": "900"}])
    assert _findings(tmp_path, patients, pd.concat([loads, late])) == {
        ("P01", "pcr_after_last_followup")}

    days = (pd.to_datetime(loads["sample_date"]) - pd.Timestamp("2018-07-23")).dt.days
    no_after = loads[~((loads["patient_id"] == "P01") & (days >= 1))]
    assert _findings(tmp_path, patients, no_after) == {("P01", "no_pcr_after_cmvig")}

    quiet = loads.copy()
    quiet.loc[(quiet["patient_id"] == "P01") & days.between(-14, 0), "cmv_dna_iu_ml"] = "<137"
    assert _findings(tmp_path, patients, quiet) == {("P01", "not_viraemic_at_cmvig")}

    assert _findings(tmp_path, _raw("patients.csv"), loads) == {
        ("P15", "recurrent_without_prior_antivirals")}

    # P01 and P02 started CMVIG in 2018 (July and November)
    assert _findings(tmp_path, patients, loads, ("2019-01", "2021-12")) == {
        ("P01", "cmvig_outside_study_period"), ("P02", "cmvig_outside_study_period")}


def test_a_sample_after_death_stops_the_run_naming_the_patient(tmp_path, capsys):
    patients, loads = _base(tmp_path)
    after = pd.DataFrame([{"patient_id": "P02", "sample_date": "2019-01-20",
                           "cmv_dna_iu_ml": "900"}])
    p, v = _write(tmp_path, patients, pd.concat([loads, after], ignore_index=True))
    out = tmp_path / "out"
    kwargs = dict(patients=str(p), viral_loads=str(v), sheet=0, lloq=137, cause_categories={},
                  study_period="", cohort=str(out / "c.csv"), clean_viral_loads=str(out / "v.csv"),
                  cleaning_log=str(out / "l.csv"), data_quality=str(out / "d.csv"),
                  study_number_map=str(out / "s.csv"))
    assert run_step("clean_cohort", run_cohort, kwargs, None) == 1
    err = capsys.readouterr().err
    assert (f"row {len(loads) + 2}, patient_id 'P02', column 'sample_date', value '2019-01-20': "
            "sample dated after the patient's death (last_followup_date 2019-01-11") in err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_a_sample_with_its_own_lloq_changes_the_response(tmp_path):
    patients, loads = _base(tmp_path)
    # P09 never responds: a result of 150 IU/mL on day 28 is not below the config's 137 ...
    day28 = (loads["patient_id"] == "P09") & (loads["sample_date"] == "2020-08-25")
    assert day28.sum() == 1
    loads.loc[day28, "cmv_dna_iu_ml"] = "150"
    p, v = _write(tmp_path, patients, loads)
    cohort = clean_cohort(p, v, LLOQ).cohort.set_index("patient_id")
    assert not cohort.loc["P09", "responded"]
    # ... but it is below the limit of 200 IU/mL that this sample's assay reports
    loads["lloq_iu_ml"] = ""
    loads.loc[day28, "lloq_iu_ml"] = "200"
    p, v = _write(tmp_path, patients, loads)
    result = clean_cohort(p, v, LLOQ)
    cohort = result.cohort.set_index("patient_id")
    assert cohort.loc["P09", "responded"] and cohort.loc["P09", "days_to_response"] == 28
    applied = result.viral_loads.set_index(["patient_id", "sample_date"])["lloq_iu_ml"]
    assert applied[("P09", "2020-08-25")] == 200 and applied[("P01", "2018-07-30")] == 137
    loads.loc[day28, "lloq_iu_ml"] = "two hundred"
    p, v = _write(tmp_path, patients, loads)
    with pytest.raises(DataError, match="column 'lloq_iu_ml', value 'two hundred'"):
        clean_cohort(p, v, LLOQ)
