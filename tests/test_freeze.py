"""Data freezes: what moved between two builds, in changes.csv, the appendix and ``diff``."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from cmvig_report.data.cohort_derive import lasting_study_numbers
from cmvig_report.data.freeze import (
    REGISTER,
    UNDER_OTHER_LIMIT,
    compare,
    compare_registers,
    format_table,
    patient_changes,
    previous_register,
)

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"


def _second_freeze_data(dest: Path) -> tuple[Path, Path]:
    """The shipped export with one more death (P07, 90 days after its first CMVIG dose, so
    that survival moves), one responder fewer (P10), one patient more (P16, a copy of P01)
    and the patients file in another row order (an export is not sorted)."""
    patients = pd.read_csv(RAW / "patients.csv", dtype=str, keep_default_na=False)
    row = patients.index[patients["patient_id"] == "P07"][0]
    death = pd.Timestamp(patients.loc[row, "cmvig_start_date"]) + pd.Timedelta(days=90)
    patients.loc[row, ["status", "cause_of_death", "cmv_related_death",
                       "last_followup_date"]] = [
        "dead", "Bacterial sepsis", "no", death.date().isoformat()]
    loads = pd.read_csv(RAW / "viral_loads.csv", dtype=str, keep_default_na=False)
    p10 = loads["patient_id"] == "P10"
    # every result of P10 becomes quantifiable: no response any more
    loads.loc[p10, "cmv_dna_iu_ml"] = "2500"
    new = patients[patients["patient_id"] == "P01"].assign(patient_id="P16")
    patients = pd.concat([new, patients.iloc[::-1]], ignore_index=True)
    loads = pd.concat([loads, loads[loads["patient_id"] == "P01"].assign(patient_id="P16")],
                      ignore_index=True)
    dest.mkdir(parents=True, exist_ok=True)
    patients.to_csv(dest / "patients.csv", index=False)
    loads.to_csv(dest / "viral_loads.csv", index=False)
    return dest / "patients.csv", dest / "viral_loads.csv"


def _register(path: Path) -> dict[tuple[str, str], list[str]]:
    # A source printed more than once in a section (the response landmark in the abstract) keeps
    # every printed text, in order: the freeze matches such numbers by their order.
    out: dict[tuple[str, str], list[str]] = {}
    with open(path, encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out.setdefault((r["section"], r["source"]), []).append(r["text"])
    return out


@pytest.mark.e2e
def test_a_second_freeze_lists_what_moved(shipped_clone, tmp_path):
    repo = shipped_clone  # the first freeze: the shipped cohort, built (conftest.py)
    old = tmp_path / "freeze-1"
    shutil.copytree(repo / "results", old)
    old_register = _register(repo / "report/numbers.csv")

    patients, loads = _second_freeze_data(tmp_path / "freeze-2-data")
    run = subprocess.run(["snakemake", "--cores", "2", "--config", f"patients={patients}",
                          f"viral_loads={loads}", f"compare_with={old}"],
                         cwd=repo, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    new_register = _register(repo / "report/numbers.csv")

    # every row of changes.csv is a printed number whose printed text moved, word for word
    with open(repo / "report/changes.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for row in rows:
        key = (row["section"], row["source"])
        if not row["section"].startswith("Appendix"):  # its letters move with the appendices
            old_texts, new_texts = old_register.get(key, []), new_register.get(key, [])
            assert row["before"] in old_texts or (
                row["before"] == "(absent)" and len(new_texts) > len(old_texts)), row
            assert row["now"] in new_texts or (
                row["now"] == "(absent)" and len(old_texts) > len(new_texts)), row
            assert old_texts != new_texts, row
        assert row["before"] != row["now"]
    # and every printed number that moved is listed (outside the appendices, whose letters
    # and contents depend on the build)
    moved = {k for k in set(old_register) | set(new_register)
             if not k[0].startswith("Appendix")
             and old_register.get(k) != new_register.get(k)}
    assert moved == {(r["section"], r["source"]) for r in rows
                     if not r["section"].startswith("Appendix")}
    by_source = {(r["section"], r["source"]): r for r in rows}
    age = by_source[("Results: Patients", "estimates.json#age_at_hsct")]
    assert "years (range" in age["before"] and "years (range" in age["now"]
    assert age["quantity"] == "The median age at transplantation was"
    deaths = by_source[("Abstract", "estimates.json#deaths.total")]
    old_deaths = json.loads((old / "estimates.json").read_text())["deaths"]["total"]
    new_deaths = json.loads((repo / "results/estimates.json").read_text())["deaths"]["total"]
    assert new_deaths == old_deaths + 1  # P07 died; P16 copies P01, who is alive
    assert (deaths["before"], deaths["now"]) == (f"{old_deaths} children",
                                                 f"{new_deaths} children")

    # the appendix says the same, with patient counts only
    text = " ".join(" ".join(p.extract_text() for p in
                             PdfReader(repo / "report/manuscript.pdf").pages).split())
    assert "Changes since the previous data freeze" in text
    assert "1 child was added, 0 removed and 2 had at least one field changed" in text
    internal = pd.read_csv(repo / "results/changes_patients.csv", dtype=str)
    assert set(internal["patient_id"]) == {"P07", "P10", "P16"}
    assert "P07" not in text and "P10" not in text

    # returning patients keep their study numbers; the new one gets the next number
    before = pd.read_csv(old / "study_numbers.csv", dtype={"patient_id": str})
    after = pd.read_csv(repo / "results/study_numbers.csv", dtype={"patient_id": str})
    merged = before.merge(after, on="patient_id", suffixes=("_old", "_new"))
    assert len(merged) == 15 and (merged["study_number_old"] == merged["study_number_new"]).all()
    assert (merged["assigned_in_new"] == "previous freeze").all()
    p16 = after[after["patient_id"] == "P16"].iloc[0]
    assert (p16["study_number"], p16["assigned_in"]) == (before["study_number"].max() + 1,
                                                         "this freeze")

    # the command line prints the same rows, aligned or as Markdown
    diff = subprocess.run([sys.executable, "-m", "cmvig_report", "diff", str(old),
                           str(repo / "results")], capture_output=True, text=True)
    assert diff.returncode == 0, diff.stderr
    assert "The median age at transplantation was" in diff.stdout
    assert age["before"] in diff.stdout and age["now"] in diff.stdout
    md = subprocess.run([sys.executable, "-m", "cmvig_report", "diff", "--md", str(old),
                         str(repo / "results")], capture_output=True, text=True)
    assert md.stdout.startswith("| section | number | before | now |")
    assert (f"| Results: Patients | The median age at transplantation was | {age['before']} "
            f"| {age['now']} |") in md.stdout


def _row(section: str, source: str, text: str, context: str = "") -> dict[str, str]:
    return {"section": section, "source": source, "text": text, "context": context}


def test_registers_are_compared_by_section_source_and_order():
    before = [_row("Abstract", "e#n", "15 children", "In all,"),
              _row("Abstract", "e#n", "15", "of"),
              _row("Table 1", "t#Sex: Male/recurrent", "<5", "Male / Recurrent"),
              _row("Appendix B. Changes", "e#x", "1"),
              _row("Results", "e#gone", "3 days")]
    after = [_row("Abstract", "e#n", "16 children", "In all,"),
             _row("Abstract", "e#n", "15", "of"),
             _row("Table 1", "t#Sex: Male/recurrent", "5 (31%)", "Male / Recurrent"),
             _row("Appendix C. Changes", "e#x", "1"),  # another appendix came before it
             _row("Results", "e#new", "2 days", "")]
    rows = compare_registers(before, after)
    assert [(r["section"], r["quantity"], r["before"], r["now"]) for r in rows] == [
        ("Abstract", "In all,", "15 children", "16 children"),
        ("Table 1", "Male / Recurrent", "<5", "5 (31%)"),
        ("Results", "new", "(absent)", "2 days"),
        ("Results", "gone", "3 days", "(absent)"),
    ]


def test_a_freeze_compared_with_itself_lists_nothing(tmp_path):
    freeze = tmp_path / "results"
    (freeze / REGISTER).parent.mkdir(parents=True)
    (freeze / "estimates.json").write_text("{}")
    (freeze / REGISTER).write_text("section,context,text,source\nAbstract,In all,15,e#n\n")
    assert compare(freeze, freeze) == []
    assert format_table([]) == "no printed number changed\n"


def test_a_freeze_without_a_register_is_one_plain_line(tmp_path):
    (tmp_path / "estimates.json").write_text("{}")
    run = subprocess.run([sys.executable, "-m", "cmvig_report", "diff", str(tmp_path),
                          str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().startswith(f"error: {tmp_path}: no register of printed numbers")


def test_diff_of_a_folder_without_estimates_is_one_plain_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "cmvig_report", "diff", str(tmp_path),
                          str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"error: {tmp_path}: no estimates.json here; give the results/ folder of a previous "
        "build (copied aside at a data freeze)"]


def test_returning_patients_keep_their_study_numbers():
    p = pd.DataFrame({"patient_id": ["A", "B", "C", "D"],
                      "infection_type": ["refractory", "recurrent", "recurrent", "refractory"],
                      "cmvig_start_date": pd.to_datetime(
                          ["2020-01-01", "2020-02-01", "2019-01-01", "2018-01-01"])})
    # fresh numbering: recurrent first, then by CMVIG start
    numbers, assigned = lasting_study_numbers(p, {})
    assert list(numbers) == [4, 2, 1, 3] and set(assigned) == {"this freeze"}
    # A and B return; X (number 7) left: C and D get 8 and 9, never 7 again
    numbers, assigned = lasting_study_numbers(p, {"A": 3, "B": 1, "X": 7})
    assert list(numbers) == [3, 1, 8, 9]
    assert list(assigned) == ["previous freeze", "previous freeze", "this freeze",
                              "this freeze"]


def test_patient_changes_name_field_old_and_new(tmp_path):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("patient_id,status\nA,alive\nB,alive\nC,alive\n")
    new.write_text("patient_id,status\nA,alive\nB,dead\nD,alive\n")
    rows, summary = patient_changes(old, new)
    assert summary == {"added": 1, "removed": 1, "changed": 1}
    assert {"patient_id": "B", "field": "status", "old": "alive", "new": "dead"} in rows


def test_a_freeze_under_a_lower_limit_lists_what_moved_without_old_values(tmp_path):
    freeze = tmp_path / "old"
    (freeze / REGISTER).parent.mkdir(parents=True)
    (freeze / "estimates.json").write_text('{"disclosure": {"min_cell_count": 0}}')
    (freeze / REGISTER).write_text("section,context,text,source\n"
                                   "Abstract,During follow-up,4 children,e#deaths\n"
                                   "Abstract,In all,15 children,e#n\n")
    rows, hide, notes = previous_register(freeze, 5)
    assert hide and notes[0].startswith(f"warning: {freeze} was built with min_cell_count 0")
    now = [_row("Abstract", "e#deaths", "<5 children", "During follow-up"),
           _row("Abstract", "e#n", "15 children", "In all")]
    # what moved is listed, the old count is not; what did not move is not listed
    assert compare_registers(rows, now, hide) == [
        {"section": "Abstract", "quantity": "During follow-up", "before": UNDER_OTHER_LIMIT,
         "now": "<5 children", "source": "e#deaths"}]
    assert previous_register(freeze, 0)[1] is False
