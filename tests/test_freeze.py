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

from cmvig_report.formatting import format_percent_ci
from cmvig_report.freeze import compare, format_table, patient_changes
from cmvig_report.io import copy_project

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"


def _second_freeze_data(dest: Path) -> tuple[Path, Path]:
    """The shipped export with one more death (P07, 90 days after its first CMVIG dose, so
    that survival moves) and one responder fewer (P10)."""
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
    dest.mkdir(parents=True, exist_ok=True)
    patients.to_csv(dest / "patients.csv", index=False)
    loads.to_csv(dest / "viral_loads.csv", index=False)
    return dest / "patients.csv", dest / "viral_loads.csv"


@pytest.mark.e2e
def test_a_second_freeze_lists_what_moved(tmp_path):
    repo = copy_project(ROOT, tmp_path / "repo")
    first = subprocess.run(["snakemake", "--cores", "2"], cwd=repo, capture_output=True,
                           text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    old = tmp_path / "freeze-1"
    shutil.copytree(repo / "results", old)
    old_est = json.loads((old / "estimates.json").read_text())

    patients, loads = _second_freeze_data(tmp_path / "freeze-2-data")
    run = subprocess.run(["snakemake", "--cores", "2", "--config", f"patients={patients}",
                          f"viral_loads={loads}", f"compare_with={old}"],
                         cwd=repo, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    new_est = json.loads((repo / "results/estimates.json").read_text())
    assert (old_est["deaths"]["total"], new_est["deaths"]["total"]) == (4, 5)

    with open(repo / "report/changes.csv", encoding="utf-8") as fh:
        rows = {r["source"]: r for r in csv.DictReader(fh)}
    deaths = rows["estimates.json#deaths.total"]
    assert (deaths["old"], deaths["new"], deaths["old_text"], deaths["new_text"]) == (
        "4", "5", "4", "5")
    for block in ("response", "os_from_cmvig", "os_from_hsct"):
        moved = rows[f"estimates.json#{block}"]
        assert moved["old_text"] == format_percent_ci(old_est[block])
        assert moved["new_text"] == format_percent_ci(new_est[block])
    assert rows["estimates.json#n_responders"]["new_text"] == "9"

    # the appendix says the same, with patient counts only
    text = " ".join(" ".join(p.extract_text() for p in
                             PdfReader(repo / "report/manuscript.pdf").pages).split())
    assert "Changes since the previous data freeze" in text
    assert "0 children were added, 0 removed and 2 had at least one field changed" in text
    assert f"{format_percent_ci(old_est['response'])} {format_percent_ci(new_est['response'])}" \
        in text
    internal = pd.read_csv(repo / "results/changes_patients.csv", dtype=str)
    assert set(internal["patient_id"]) == {"P07", "P10"}
    assert "P07" not in text and "P10" not in text

    # the command line prints the same numbers, aligned or as Markdown
    diff = subprocess.run([sys.executable, "-m", "cmvig_report", "diff", str(old),
                           str(repo / "results")], capture_output=True, text=True)
    assert diff.returncode == 0
    assert "deaths: total" in diff.stdout and format_percent_ci(new_est["response"]) \
        in diff.stdout
    md = subprocess.run([sys.executable, "-m", "cmvig_report", "diff", "--md", str(old),
                         str(repo / "results")], capture_output=True, text=True)
    assert md.stdout.startswith("| number | source | before | after |")
    assert "| deaths: total | estimates.json#deaths.total | 4 | 5 |" in md.stdout


def test_a_freeze_compared_with_itself_lists_nothing():
    shipped = ROOT / "tests" / "fixtures" / "freeze"
    assert compare(shipped, shipped) == []
    assert format_table([]) == "no printed number changed\n"


def test_diff_of_a_folder_without_estimates_is_one_plain_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "cmvig_report", "diff", str(tmp_path),
                          str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"error: {tmp_path}: no estimates.json here; give the results/ folder of a previous "
        "build (copied aside at a data freeze)"]


def test_patient_changes_name_field_old_and_new(tmp_path):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("patient_id,status\nA,alive\nB,alive\nC,alive\n")
    new.write_text("patient_id,status\nA,alive\nB,dead\nD,alive\n")
    rows, summary = patient_changes(old, new)
    assert summary == {"added": 1, "removed": 1, "changed": 1}
    assert {"patient_id": "B", "field": "status", "old": "alive", "new": "dead"} in rows
