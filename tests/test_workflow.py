"""End to end: Snakemake builds the manuscript in a temporary copy of the repository."""

from __future__ import annotations

import csv
import html as html_lib
import json
import re
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builds import clone_build
from pypdf import PdfReader

from cmvig_report.core.formatting import format_percent, format_percent_ci

ROOT = Path(__file__).resolve().parents[1]
RENDER_RULES = {"manuscript", "quarto_source", "publish"}  # publish: the manifest too

pytestmark = pytest.mark.e2e


def _snakemake(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", "--cores", "2", *args], cwd=repo, capture_output=True,
                          text=True)


def _scheduled(repo: Path, *args: str) -> set[str]:
    """Rules a dry run would execute, read from Snakemake's job-stats table."""
    run = _snakemake(repo, "-n", *args)
    assert run.returncode == 0, run.stderr
    text = run.stdout + run.stderr
    if "Nothing to be done" in text:
        return set()
    table = text.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", table, re.MULTILINE)} - {"all"}


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


@pytest.fixture
def built(shipped_build) -> Path:
    """One build of the shipped cohort (conftest.py), shared by the tests that only read it.

    Nothing may change it: a test that edits inputs or runs Snakemake for real works on its
    own copy (:func:`_clone`), so the tests pass in any order.
    """
    return shipped_build


def _clone(built: Path, dest: Path) -> Path:
    """A copy of the built project, outputs and Snakemake's records included (mtimes kept)."""
    return clone_build(built, dest)


def test_build_writes_every_contract_output(built):
    for rel in ("results/cohort.csv", "results/cleaning_log.csv", "results/estimates.json",
                "results/data_quality.csv", "results/disclosure_log.csv",
                "results/study_numbers.csv",
                "results/figures/figure1.svg", "results/figures/figure1.png",
                "results/figures/figure2.svg", "results/figures/figure2.png",
                "results/figures/figure3.svg", "results/figures/figure3.png",
                "report/figures/figure3.png",
                "report/manuscript.html", "report/manuscript.pdf", "report/manuscript.qmd",
                "report/manuscript.docx", "report/numbers.csv", "report/claims.csv",
                "report/checklist.csv",
                "report/checklist.pdf", "report/figures/figure1.png", "report/manifest.json"):
        path = built / rel
        assert path.is_file() and path.stat().st_size > 0, rel
    logs = sorted(p.name for p in (built / "logs").iterdir())
    assert logs == sorted(["clean_cohort.log", "estimates.log", "figure1.log", "figure2.log",
                           "figure3.log", "provenance.log", "manuscript.log",
                           "quarto_source.log", "publish.log"])
    # the Quarto source travels with its figures
    qmd = (built / "report/manuscript.qmd").read_text()
    assert "](figures/figure1.png)" in qmd


def test_pdf_prints_the_numbers_in_estimates_json(built):
    est = json.loads((built / "results/estimates.json").read_text())
    text = _pdf_text(built / "report/manuscript.pdf")
    for block in ("response", "os_from_cmvig", "os_from_hsct"):
        assert format_percent(est[block]["estimate"]) in text, block
    cohort = pd.read_csv(built / "results/cohort.csv")
    assert est["n_patients"] == len(cohort)
    assert est["n_responders"] == int(cohort["responded"].sum())


def test_pdf_abstract_matches_the_published_abstract(built):
    """The shipped cohort must print the paper's numbers (data/published.yaml) on page 1."""
    import yaml

    published = {v["key"]: v["published"] for v in
                 yaml.safe_load((built / "data/published.yaml").read_text())["values"]}
    first_page = " ".join(PdfReader(built / "report/manuscript.pdf").pages[0]
                          .extract_text().split())
    for block in ("response", "os_from_cmvig", "os_from_hsct"):
        expected = (f"{published[block + '.estimate']}% (95% CI "
                    f"{published[block + '.ci_lower']}\u2013{published[block + '.ci_upper']})")
        assert expected in first_page, expected
    assert f"Of {published['n_patients']} children" in first_page
    assert (f"{published['infection_type.recurrent']} had a recurrent and "
            f"{published['infection_type.refractory']} a refractory") in first_page


def test_manifest_checksums_every_input_and_output(built):
    manifest = json.loads((built / "report/manifest.json").read_text())
    assert set(manifest["inputs"]) >= {"patients", "viral_loads"}
    assert "report/manuscript.pdf" in manifest["outputs"]
    assert any(p.startswith("templates/") for p in manifest["templates"])
    import hashlib
    pdf_hash = hashlib.sha256((built / "report/manuscript.pdf").read_bytes()).hexdigest()
    assert manifest["outputs"]["report/manuscript.pdf"] == pdf_hash
    cohort_hash = hashlib.sha256((built / "results/cohort.csv").read_bytes()).hexdigest()
    assert manifest["results"]["results/cohort.csv"] == cohort_hash
    assert "results/figures/figure2.svg" in manifest["results"]
    assert manifest["software"]["lifelines"] not in ("", "not installed")
    assert manifest["config"]["response_day"] == 50
    # the code that ran: each file by its path in the project, and one checksum for it all,
    # which the manuscript does not print (an edit to a step's code re-renders nothing else)
    assert "workflow/cmvig_report/stats/analysis.py" in manifest["code"]
    analysis = (built / "workflow/cmvig_report/stats/analysis.py").read_bytes()
    assert manifest["code"]["workflow/cmvig_report/stats/analysis.py"] == hashlib.sha256(
        analysis).hexdigest()
    lines = "".join(f"{hashlib.sha256((built / f).read_bytes()).hexdigest()}  {f}\n"
                    for f in sorted(manifest["code"]))  # `sha256sum FILES | sha256sum`
    assert manifest["code_sha256"] == hashlib.sha256(lines.encode()).hexdigest()
    assert manifest["code_sha256"] not in _pdf_text(built / "report/manuscript.pdf")
    assert "code" not in json.loads((built / "results/provenance.json").read_text())
    assert manifest["git_commit"] is None  # the build's copy is no git checkout
    assert str(built) not in (built / "report/manifest.json").read_text()


def test_second_run_schedules_nothing(built, tmp_path):
    assert _scheduled(built) == set()
    assert _scheduled(_clone(built, tmp_path)) == set()  # a copy is up to date too


@pytest.mark.parametrize(("template", "expected"), [
    # Snakemake also compares checksums of small inputs, so each edit changes the content.
    ("style.css", {"manuscript", "publish"}),
    ("partials/methods.html.j2", {"manuscript", "publish"}),
    ("manuscript.qmd.j2", {"quarto_source", "publish"}),
    ("text.j2", RENDER_RULES),
    ("replication/metadata.yaml", RENDER_RULES),  # the replication's metadata
    # an own study's: not read by the replication's renderers; the manifest checksums it
    ("metadata.yaml", {"publish"}),
])
def test_template_edit_reruns_only_the_formats_that_read_it(built, tmp_path, template,
                                                             expected):
    repo = _clone(built, tmp_path)
    path = repo / "templates" / template
    comment = "\n/* a user's edit */\n" if template.endswith(".css") else (
        "\n# a user's edit\n" if template.endswith(".yaml") else "\n{# a user's edit #}\n")
    path.write_text(path.read_text() + comment)
    assert _scheduled(repo) == expected


@pytest.mark.parametrize(("module", "expected"), [
    # every step whose code imports the module and everything below them; no more (the code
    # checksum is in the manifest, not printed, so the publish step's code re-renders nothing)
    ("workflow/cmvig_report/stats/analysis.py", {"estimates", "figure2"} | RENDER_RULES),
    ("workflow/cmvig_report/figures/figure_style.py",
     {"figure1", "figure2", "figure3"} | RENDER_RULES),
    ("workflow/cmvig_report/release/publish.py", {"publish"}),
])
def test_code_edit_reruns_the_steps_that_run_it(built, tmp_path, module, expected):
    repo = _clone(built, tmp_path)
    path = repo / module
    path.write_text(path.read_text() + "\n# a developer's edit\n")
    assert _scheduled(repo) == expected


def test_a_changed_setting_reruns_the_steps_that_use_it(built):
    # a dry run changes nothing, so it may use the shared build
    scheduled = _scheduled(built, "--config", "response_day=30")
    assert scheduled >= {"estimates", "figure1", "provenance"} | RENDER_RULES
    assert "clean_cohort" not in scheduled


def test_raw_data_edit_reruns_the_chain_below_it(built, tmp_path):
    repo = _clone(built, tmp_path)
    raw = repo / "data/raw/viral_loads.csv"
    raw.write_text(raw.read_text() + "\n")  # a blank line: same data, different file
    assert _scheduled(repo) >= {"clean_cohort", "estimates", "figure1", "figure2",
                                "provenance"} | RENDER_RULES


def _digests(repo: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
            for d in ("results", "report") for p in sorted((repo / d).rglob("*"))
            if p.is_file() and p.name != "workflow-report.html"}


def test_a_forced_rebuild_gives_byte_identical_outputs(built, tmp_path):
    repo = _clone(built, tmp_path)
    before = _digests(repo)
    run = _snakemake(repo, "--forceall")
    assert run.returncode == 0, run.stderr[-2000:]
    after = _digests(repo)
    assert set(before) == set(after)
    assert sorted(k for k in before if before[k] != after[k]) == []


def test_workflow_report_builds(built, tmp_path):
    repo = _clone(built, tmp_path)
    run = subprocess.run(["snakemake", "--report", "results/workflow-report.html"], cwd=repo,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    html = (repo / "results/workflow-report.html").read_text(errors="replace")
    assert "figure2.svg" in html


def test_a_file_in_report_that_was_not_published_is_moved_out_and_named(built, tmp_path):
    repo = _clone(built, tmp_path)
    (repo / "report/notes from the ward.txt").write_text("kept here by hand\n")
    run = _snakemake(repo, "-R", "publish")
    assert run.returncode == 0, run.stderr[-2000:]
    assert ("moved report/notes from the ward.txt to results/set_aside/notes from the "
            "ward.txt: not made by the pipeline (never leak-checked)") in run.stderr
    assert not (repo / "report/notes from the ward.txt").exists()
    assert (repo / "results/set_aside/notes from the ward.txt").read_text() == \
        "kept here by hand\n"


def test_bad_input_stops_before_the_manuscript_and_keeps_the_old_one(built, tmp_path):
    repo = _clone(built, tmp_path)
    pdf_before = (repo / "report/manuscript.pdf").read_bytes()
    bad = pd.read_csv(repo / "data/raw/patients.csv", dtype=str, keep_default_na=False)
    bad.loc[3, "cmvig_doses"] = "0"
    bad_path = tmp_path / "bad_patients.csv"
    bad.to_csv(bad_path, index=False)
    run = _snakemake(repo, "--config", f"patients={bad_path}")
    assert run.returncode != 0
    terminal = run.stdout + run.stderr
    assert f"{bad_path}, row 5, patient_id 'P04', column 'cmvig_doses', value '0'" in terminal
    assert "Traceback" not in terminal
    assert (repo / "report/manuscript.pdf").read_bytes() == pdf_before
    assert not list((repo / "results").glob(".*.tmp"))
    # as docs/contract.md says: the failing step's outputs are gone, the rest is the last
    # good run's
    assert not (repo / "results/cohort.csv").exists()
    assert (repo / "results/estimates.json").read_bytes() == (
        built / "results/estimates.json").read_bytes()
    log = (repo / "logs/clean_cohort.log").read_text()
    assert "cmvig_doses" in log and "finished with status 1" in log


def test_every_abstract_number_is_in_the_register_with_its_source(built):
    import csv

    est = json.loads((built / "results/estimates.json").read_text())
    with open(built / "report/numbers.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["section"] == "Abstract"]
    printed = {(r["source"], r["text"]) for r in rows}
    for block in ("response", "os_from_cmvig", "os_from_hsct"):
        assert (f"estimates.json#{block}", format_percent_ci(est[block])) in printed, block
    for key in ("infection_type.recurrent", "infection_type.refractory"):
        value = est[key.split(".")[0]][key.split(".")[1]]
        assert (f"estimates.json#{key}", str(value)) in printed, key
    assert ("estimates.json#n_patients", f"{est['n_patients']} children") in printed
    assert ("estimates.json#study_period", "July 2018 \u2013 December 2021") in printed
    # and the HTML shows where each comes from
    from cmvig_report.render.register_html import untracked_numbers

    assert untracked_numbers((built / "report/manuscript.html").read_text()) == []


def test_checklist_pages_hold_their_section_headings(built):
    import csv

    with open(built / "report/checklist.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 30
    pages = [" ".join(p.extract_text().split()) for p in
             PdfReader(built / "report/manuscript.pdf").pages]
    reported = [r for r in rows if r["status"] == "reported"]
    assert len(reported) >= 25
    for row in reported:
        page = pages[int(row["page"]) - 1]
        assert row["section"].split(" ", 1)[0] in page, row  # heading (or caption label)
    for row in rows:
        if row["status"] != "reported":
            assert row["note"], row
    assert PdfReader(built / "report/checklist.pdf").pages


def test_shipped_manuscript_has_every_section_and_declaration(built):
    text = _pdf_text(built / "report/manuscript.pdf")
    flat = " ".join(text.split())
    for heading in ("Abstract", "Introduction", "Methods", "Results", "Discussion",
                    "Limitations", "Conclusion", "Declarations", "Ethics",
                    "Author contributions (CRediT)", "Data availability", "Funding",
                    "Conflicts of interest", "References", "Supplementary Table S1",
                    "Appendix A. Replication check", "Appendix B. Reproducibility"):
        assert heading in flat, heading
    abstract = flat.split("Abstract", 1)[1].split("Keywords", 1)[0]
    squashed = re.sub(r"[\s\u2010\u00ad-]", "", abstract)  # line breaks and hyphenation
    assert "syntheticreconstruction" in squashed
    assert "July2018\u2013December2021" in squashed  # the published window
    assert "0000-0000-0000-0000" not in flat
    assert "rather than being typed" not in flat
    # Table 1 has the viral load at CMVIG start, as the cohort gives it: log10 median (IQR)
    cohort = pd.read_csv(built / "results/cohort.csv")
    table = pd.read_csv(built / "results/table1.csv").set_index(["variable", "level"])
    logs = np.log10(cohort["viral_load_at_cmvig"].dropna())
    q1, median, q3 = np.percentile(logs, [25, 50, 75])

    def tenth(x: float) -> str:  # half up, as the manuscript rounds
        return str(Decimal(repr(float(x))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))

    cell = table.loc[("CMV DNA at CMVIG start, log10 IU/mL", "median (IQR)"), "overall"]
    assert cell == f"{tenth(median)} ({tenth(q1)}\u2013{tenth(q3)})"
    assert "median time to response" in flat.lower()


def test_study_period_follows_the_config_and_is_checked(built, tmp_path):
    repo = _clone(built, tmp_path)
    run = _snakemake(repo, "--config", "study_period=2019-01/2020-12")
    assert run.returncode == 0, run.stderr[-2000:]
    est = json.loads((repo / "results/estimates.json").read_text())
    assert est["study_period"] == {"first": "2019-01", "last": "2020-12", "source": "config"}
    quality = pd.read_csv(repo / "results/data_quality.csv")
    outside = quality[quality["check"] == "cmvig_outside_study_period"]
    cohort = pd.read_csv(repo / "results/cohort.csv")
    months = cohort["cmvig_start_date"].str[:7]
    expected = cohort.loc[(months < "2019-01") | (months > "2020-12"), "patient_id"]
    assert sorted(outside["patient_id"]) == sorted(expected) and len(expected) > 0
    flat = " ".join(_pdf_text(repo / "report/manuscript.pdf").split())
    assert "January 2019 \u2013 December 2020" in flat


def test_figure_captions_have_no_stray_line_breaks(built):
    """Every line of a caption but its last is a full line: no word left alone on a line
    ("(B) Overall" / "survival ..."), which WeasyPrint produced before a number."""
    html = (built / "report/manuscript.html").read_text()
    captions = [" ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", c)).split())
                for c in re.findall(r'<figcaption id="figure\d">(.*?)</figcaption>', html,
                                    flags=re.S)]
    assert len(captions) == 3
    lines = _pdf_text(built / "report/manuscript.pdf").splitlines()
    for caption in captions:
        start = next(i for i, line in enumerate(lines) if line.startswith(caption[:30]))
        taken, end = 0, start
        while taken < len(caption) - 1:
            taken += len(lines[end]) + 1
            end += 1
        block = lines[start:end]
        assert " ".join(" ".join(block).split()) == caption
        widest = max(len(line) for line in block)
        short = [line for line in block[:-1] if len(line) < 0.6 * widest]
        assert short == [], f"{caption[:12]}: stray line break at {short}"


def test_figure3_numbers_are_in_the_register(built):
    with open(built / "report/numbers.csv", encoding="utf-8") as fh:
        rows = {r["source"]: r for r in csv.DictReader(fh)}
    facts = json.loads((built / "results/figures/figure3.json").read_text())
    assert rows["figure3.json#results_drawn"]["value"] == str(facts["results_drawn"])
    assert {"estimates.json#infection_type.recurrent",
            "estimates.json#infection_type.refractory"} <= set(rows)
