"""What leaves the building: an identifier-heavy export through the whole build.

A cohort whose patient IDs are hospital record numbers, whose causes of death are free text
naming a clinician, exported into a folder named after a person, built with
``min_cell_count=5``: none of it may reach a shareable output, small counts must be hidden and
logged, and a template that types an identifier stops the build with no manuscript left.
Each test works on its own copy of the project (tests/test_workflow.py has the shipped build).
"""

from __future__ import annotations

import csv
import datetime as dt
import html as html_lib
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from cmvig_report.core.io import copy_project
from cmvig_report.devtools.synth import generate_cohort, write_cohort

ROOT = Path(__file__).resolve().parents[1]
FOLDER = "dr_jane_doe_export"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
# Free text as a clinician types it: one mapped to a category by the config, two not.
CAUSES = {
    "Multi-organ failure": "multi-organ  FAILURE",  # mapped: case and spaces differ
    "Invasive fungal infection": "Aspergillosis, confirmed by Dr Jane Doe (ward 7B)",
    "Bacterial sepsis": "line sepsis - see note by Dr Hibbert",
}

pytestmark = pytest.mark.e2e


def _record_numbers(patients: pd.DataFrame, viral_loads: pd.DataFrame) -> tuple:
    # Hospital record numbers: 8 digits, unmistakable in any text.
    ids = {pid: f"4{i:07d}" for i, pid in enumerate(patients["patient_id"], start=1200)}
    p = patients.assign(patient_id=patients["patient_id"].map(ids))
    p["cause_of_death"] = p["cause_of_death"].map(lambda c: CAUSES.get(c, c))
    v = viral_loads.assign(patient_id=viral_loads["patient_id"].map(ids))
    return p, v


@pytest.fixture(scope="module")
def identifying(tmp_path_factory) -> dict:
    """A project built from an identifying export with min_cell_count=5."""
    tmp = tmp_path_factory.mktemp("shareable")
    repo = copy_project(ROOT, tmp / "repo")
    patients, viral_loads = _record_numbers(*generate_cohort(40, seed=5))
    export = tmp / FOLDER
    write_cohort(patients, viral_loads, export)
    run = subprocess.run(
        ["snakemake", "--cores", "2", "--config", "study=own",
         f"patients={export / 'patients.csv'}",
         f"viral_loads={export / 'viral_loads.csv'}", "min_cell_count=5"],
        cwd=repo, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return {"repo": repo, "patients": patients, "viral_loads": viral_loads, "run": run,
            "export": export}


def _shared_texts(repo: Path) -> dict[str, str]:
    """The text of every shareable output, read independently of the pipeline's scanner."""
    texts = {}
    for path in sorted((repo / "report").rglob("*")) + sorted(
            (repo / "results/figures").glob("*.svg")):
        if path.suffix == ".pdf":
            texts[str(path)] = " ".join(p.extract_text() for p in PdfReader(path).pages)
        elif path.suffix == ".docx":
            with zipfile.ZipFile(path) as z:
                texts[str(path)] = " ".join(re.sub(r"<[^>]+>", "", z.read(n).decode("utf-8"))
                                            for n in z.namelist() if n.endswith(".xml"))
        elif path.suffix in (".html", ".qmd", ".svg", ".csv", ".json"):
            texts[str(path)] = path.read_text(encoding="utf-8")
    return {k: " ".join(v.split()) for k, v in texts.items()}


def _date_spellings(day: dt.date) -> list[str]:
    month = MONTHS[day.month - 1]
    return [day.isoformat(), f"{day.day:02d}/{day.month:02d}/{day.year}",
            f"{day.month:02d}/{day.day:02d}/{day.year}", f"{day.day} {month} {day.year}",
            f"{month} {day.day}, {day.year}"]


def test_no_identifier_reaches_a_shareable_output(identifying):
    texts = _shared_texts(identifying["repo"])
    assert any(k.endswith("manuscript.pdf") for k in texts) and len(texts) >= 8
    p, v = identifying["patients"], identifying["viral_loads"]
    ids = set(p["patient_id"])
    dates = {dt.date.fromisoformat(d) for col in ("hsct_date", "cmvig_start_date",
                                                   "last_followup_date") for d in p[col]}
    dates |= {dt.date.fromisoformat(d) for d in v["sample_date"]}
    forbidden = ids | {s for d in dates for s in _date_spellings(d)} | {
        FOLDER, str(identifying["export"]), "Dr Jane Doe", "Dr Hibbert", "Aspergillosis",
        "multi-organ  FAILURE"}
    for name, text in texts.items():
        # whole tokens: "3 October 2024" is not inside "13 October 2024"
        found = sorted(f for f in forbidden
                       if re.search(rf"(?<![\w]){re.escape(f)}(?![\w])", text))
        assert found == [], f"{name}: {found[:5]}"
    # the causes are printed as the config's categories; the unmapped ones as "other cause"
    html = texts[str(identifying["repo"] / "report/manuscript.html")]
    assert "Multi-organ failure" in html and "other cause" in html


def test_internal_files_keep_the_audit_trail(identifying):
    repo = identifying["repo"]
    numbers = pd.read_csv(repo / "results/study_numbers.csv", dtype=str)
    assert set(numbers["patient_id"]) == set(identifying["patients"]["patient_id"])
    assert sorted(numbers["study_number"].astype(int)) == list(range(1, 41))
    log = pd.read_csv(repo / "results/disclosure_log.csv", dtype=str, keep_default_na=False)
    unmapped = log[log["kind"] == "unmapped free text"]
    assert set(unmapped["value"]) == {CAUSES["Invasive fungal infection"],
                                      CAUSES["Bacterial sepsis"]}
    terminal = identifying["run"].stdout + identifying["run"].stderr
    assert "print as 'other cause'" in terminal
    assert "data quality:" in terminal


def _table1_cells(repo: Path) -> list[str]:
    html = (repo / "report/manuscript.html").read_text()
    table = html.split('<table class="table1">', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    rows = re.findall(r'<tr class="level">.*?</tr>', body, flags=re.S)
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for r in rows
            for c in re.findall(r"<td>(.*?)</td>", r, flags=re.S)]


def test_small_counts_are_hidden_and_logged(identifying):
    repo = identifying["repo"]
    cells = _table1_cells(repo)
    assert cells
    for cell in cells:  # a count of 1 to 4 never shows, nor the percentage of a hidden one
        assert cell in ("<5", "[c]", "0", "–") or re.fullmatch(r"\d+( \(\d+%\))?", cell), cell
        if re.fullmatch(r"\d+.*", cell):
            assert int(cell.split()[0]) == 0 or int(cell.split()[0]) >= 5, cell
    assert "<5" in cells
    log = pd.read_csv(repo / "results/disclosure_log.csv", dtype=str, keep_default_na=False)
    hidden_logged = log[log["kind"] == "suppressed cell"]
    # an estimate withheld with the count it would give back is logged with its value
    withheld = hidden_logged["reason"].str.startswith("withheld:")
    assert all(0 <= float(v) <= 1 for v in hidden_logged.loc[withheld, "value"])  # proportions
    cells_logged = hidden_logged[~withheld]
    assert (cells_logged["reason"].str.startswith("complementary")).any()
    # a hidden cell is small, a complement, worked out from a hidden one (the events behind a
    # landmark when the deaths are hidden), or hidden by the audit (secondary)
    assert (cells_logged["value"].astype(int).between(1, 4)
            | cells_logged["reason"].str.startswith(("complementary", "derived", "hidden with",
                                                     "secondary"))
            ).all()
    in_table = cells_logged[cells_logged["output"].str.contains("Table 1")]
    assert len(in_table) == sum(c in ("<5", "[c]") for c in cells)

    # Figure 1's flow boxes: counts are 0, >= 5 or hidden
    svg = (repo / "results/figures/figure1.svg").read_text()
    text = " ".join(re.findall(r">([^<>]+)<", svg)).replace("\u00a0", " ")
    counts = re.findall(r"(?:n = |by day \d+: |follow-up: |Died: |CMV-related |other causes )"
                        r"(<5|\[c\]|[\d,]+)", text)
    assert counts
    for value in counts:
        assert value in ("<5", "[c]") or int(value.replace(",", "")) == 0 or \
            int(value.replace(",", "")) >= 5, value

    # Figure 3: panel titles print each group's n through the plan, and a group whose n or
    # responders are hidden is drawn as its median band only (its lines could be counted)
    svg = (repo / "results/figures/figure3.svg").read_text()
    titles = re.findall(r"infection \(n = (<5|\[c\]|[\d,]+)\)", svg)
    assert len(titles) == 2
    for value in titles:
        assert value in ("<5", "[c]") or int(value.replace(",", "")) >= 5, value
    facts = json.loads((repo / "results/figures/figure3.json").read_text())
    hidden = json.loads((repo / "results/estimates.json").read_text())["disclosure"]["hidden"]
    for group in ("recurrent", "refractory"):
        if {f"infection_type.{group}", f"response_by_type.{group}.responders"} & set(hidden):
            assert group in facts["groups_summarised_only"]
    # its caption prints the children per type through the plan too
    html = (repo / "report/manuscript.html").read_text()
    caption = re.search(r'<figcaption id="figure3">(.*?)</figcaption>', html, flags=re.S)[1]
    per_type = re.findall(r'data-source="estimates.json#infection_type\.(\w+)"[^>]*>([^<]+)<',
                          caption)
    assert [g for g, _ in per_type] == ["recurrent", "refractory"]
    for group, shown in per_type:
        expected = hidden.get(f"infection_type.{group}")
        assert shown.split()[0] == html_lib.escape(expected) if expected else \
            int(shown.split()[0].replace(",", "")) >= 5, (group, shown)

    # the text: every count printed from estimates.json is hidden, zero or >= 5
    with open(repo / "report/numbers.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    count_keys = ("n_patients", "n_responders", "infusion_reactions", "infection_type.",
                  "deaths.", "sex.", "crude_response.responders", "data_quality.")
    printed = [r for r in rows if r["source"].startswith("estimates.json#")
               and r["source"].split("#")[1].startswith(count_keys)]
    assert printed
    for r in printed:
        first = r["text"].split()[0]
        assert first in ("<5", "[c]") or int(first.replace(",", "")) == 0 \
            or int(first.replace(",", "")) >= 5, r


def test_generated_cohort_is_never_called_synthetic(identifying):
    text = " ".join(p.extract_text() for p in PdfReader(
        identifying["repo"] / "report/manuscript.pdf").pages).lower()
    assert "synthetic" not in text and "reconstruct" not in text
    assert "replication check" not in text


def test_a_typed_identifier_stops_the_build_and_leaves_no_manuscript(identifying, tmp_path):
    repo = tmp_path / "repo"
    import shutil

    shutil.copytree(identifying["repo"], repo, symlinks=True)
    pid = identifying["patients"]["patient_id"].iloc[3]
    partial = repo / "templates/partials/results.html.j2"
    partial.write_text(partial.read_text().replace(
        "<h3 id=\"results-patients\">Patients</h3>",
        f"<h3 id=\"results-patients\">Patients (see chart {pid})</h3>"))
    export = identifying["export"]
    run = subprocess.run(
        ["snakemake", "--cores", "2", "--config", "study=own",
         f"patients={export / 'patients.csv'}",
         f"viral_loads={export / 'viral_loads.csv'}", "min_cell_count=5"],
        cwd=repo, capture_output=True, text=True)
    assert run.returncode != 0
    terminal = run.stdout + run.stderr
    assert f"patient_id '{pid}'" in terminal and "manuscript.html, line" in terminal
    assert "manuscript.pdf, page" in terminal
    assert "Traceback" not in terminal
    assert not list((repo / "report").glob("manuscript.*"))
    assert not list((repo / "results/unchecked").glob("manuscript.*"))
