"""A user's own study, end to end: the study profile, placeholders, the preview, the walk-through.

One own cohort (generated, 25 patients) is built twice, as a user would at two data freezes:
first plainly (``study=own patients=… viral_loads=…``), then with ``min_cell_count``,
``number_appendix`` and ``compare_with`` the first build's results. The tests that only read
share these builds; the walk-through of the README ("Your own study, step by step") has its
own project.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from cmvig_report.core.io import copy_project
from cmvig_report.devtools.synth import generate_cohort, write_cohort
from cmvig_report.journals.metadata import PLACEHOLDER, placeholders

ROOT = Path(__file__).resolve().parents[1]
# What a page of an own study must never say: it is neither the replication nor invented data.
REPLICATION_WORDS = ("replicat", "synthetic", "reconstruct", "biotest", "published file")

pytestmark = pytest.mark.e2e


def _snakemake(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", "--cores", "2", *args], cwd=repo, capture_output=True,
                          text=True)


def _texts(repo: Path) -> dict[str, str]:
    """The words of every manuscript file under report/, read independently of the pipeline."""
    texts = {}
    for path in sorted((repo / "report").glob("*.*")):
        if path.suffix == ".pdf":
            texts[path.name] = " ".join(p.extract_text() for p in PdfReader(path).pages)
        elif path.suffix == ".docx":
            with zipfile.ZipFile(path) as z:
                texts[path.name] = " ".join(re.sub(r"<[^>]+>", " ", z.read(n).decode())
                                            for n in z.namelist() if n.endswith(".xml"))
        elif path.suffix in (".html", ".qmd"):  # the words, not the stylesheet or the tags
            text = re.sub(r"<style.*?</style>", " ", path.read_text(encoding="utf-8"), flags=re.S)
            texts[path.name] = re.sub(r"<[^>]+>", " ", text)
    return {name: " ".join(text.split()) for name, text in texts.items()}


@pytest.fixture(scope="module")
def own(tmp_path_factory) -> dict:
    """The own cohort built at two freezes; returns the project, both runs and the overrides
    of the second."""
    tmp = tmp_path_factory.mktemp("own")
    repo = copy_project(ROOT, tmp / "repo")
    export = tmp / "export"
    write_cohort(*generate_cohort(25, seed=3), export)
    inputs = ["study=own", f"patients={export / 'patients.csv'}",
              f"viral_loads={export / 'viral_loads.csv'}"]
    first = _snakemake(repo, "--config", *inputs)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    freeze = tmp / "freeze-1"
    shutil.copytree(repo / "results", freeze)
    overrides = [*inputs, "min_cell_count=5", "number_appendix=true", f"compare_with={freeze}"]
    second = _snakemake(repo, "--config", *overrides)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return {"repo": repo, "export": export, "inputs": inputs, "overrides": overrides,
            "first": first, "second": second}


def test_no_page_of_an_own_study_says_replication_or_synthetic(own):
    texts = _texts(own["repo"])
    assert {"manuscript.pdf", "manuscript.html", "manuscript.qmd", "manuscript.docx",
            "checklist.pdf"} <= set(texts)
    for name, text in texts.items():
        found = [w for w in REPLICATION_WORDS if w in text.lower()]
        assert found == [], f"{name}: {found}"
    pdf = texts["manuscript.pdf"]
    assert "Appendix A. Changes since the previous data freeze" in pdf
    assert "Where each number comes from" in pdf
    # the reproducibility appendix names the two exports only
    inputs = json.loads((own["repo"] / "results/provenance.json").read_text())["inputs"]
    assert sorted(inputs) == ["patients", "viral_loads"]


def test_every_printed_placeholder_is_listed_at_the_end_of_the_build(own):
    terminal = own["first"].stderr
    end = terminal.rsplit("steps (100%) done", 1)[1]  # after the last job
    meta = yaml.safe_load((own["repo"] / "templates/metadata.yaml").read_text())
    expected = placeholders(meta)
    assert len(expected) >= 10
    assert f"{len(expected)} metadata placeholder(s) still printed" in end
    for field, text in expected:
        line = next(ln for ln in end.splitlines() if f"field {field!r}: {text}" in ln)
        assert "manuscript.html" in line and "manuscript.pdf" in line, line
        assert "manuscript.qmd" in line and "manuscript.docx" in line, line
    title = next(ln for ln in end.splitlines() if "field 'title'" in ln)
    assert "checklist.pdf" in title  # the checklist prints the title too


def test_strict_metadata_stops_the_build_naming_the_fields(own, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(own["repo"], repo, symlinks=True)
    qmd = repo / "results/unchecked/manuscript.qmd"
    qmd_before = qmd.read_bytes()
    run = _snakemake(repo, "--config", *own["overrides"], "strict_metadata=true")
    assert run.returncode != 0
    terminal = run.stdout + run.stderr
    assert "strict_metadata: true" in terminal and "Traceback" not in terminal
    for field in ("title", "short_title", "authors[0].name", "ethics.approval", "funding",
                  "data_availability"):
        assert f"field {field!r}" in terminal, field
    assert not (repo / "results/unchecked/manuscript.html").exists()
    # the Quarto source either failed the same way or never ran (with compare_with it waits
    # for the manuscript's list of changes): this run wrote no Quarto source
    assert not qmd.exists() or qmd.read_bytes() == qmd_before


def test_the_preview_is_the_build(own, tmp_path):
    """`watch --config …` with the build's overrides renders the build's HTML."""
    repo = own["repo"]
    log = tmp_path / "watch.log"
    preview = repo / "report/preview.html"
    preview.unlink(missing_ok=True)
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cmvig_report", "watch", "--config", *own["overrides"]],
            cwd=repo, stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "PYTHONPATH": str(repo / "workflow")})
        try:
            for _ in range(1200):  # a guard, not a timing: the first render ends the wait
                if "rendered in" in log.read_text() or proc.poll() is not None:
                    break
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    messages = log.read_text()
    assert "rendered in" in messages, messages
    assert "placeholder in templates/metadata.yaml, field 'title'" in messages
    built = (repo / "report/manuscript.html").read_text(encoding="utf-8")
    assert preview.read_text(encoding="utf-8") == built
    assert "Where each number comes from" in built and "previous data freeze" in built
    preview.unlink()
    (repo / "report/preview.pdf").unlink()


def test_a_mismatch_between_study_and_cohort_gives_one_warning_line(own):
    # dry runs: the shared build is not changed
    shipped = _snakemake(own["repo"], "-n", "--config", "study=own")
    warnings = [ln for ln in shipped.stderr.splitlines() if ln.startswith("warning: study")]
    assert warnings == [ln for ln in warnings if "inputs are the shipped synthetic cohort" in ln]
    assert len(warnings) == 1, shipped.stderr[-2000:]
    other = _snakemake(own["repo"], "-n", "--config", *own["inputs"][1:])  # no study=own
    warnings = [ln for ln in other.stderr.splitlines() if ln.startswith("warning: study")]
    assert len(warnings) == 1 and "not the shipped cohort" in warnings[0]
    matched = _snakemake(own["repo"], "-n", "--config", *own["inputs"])
    assert "warning: study" not in matched.stderr


# --------------------------------------------------------------------------------------------
# The README's walk-through, "Your own study, step by step"


def _readme_config(readme: str) -> str:
    """The YAML of the walk-through's study config, as the README gives it."""
    section = readme.split("## Your own study, step by step", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_readme_walk_through_from_export_to_submission(tmp_path):
    repo = copy_project(ROOT, tmp_path / "repo")
    # 1. the export: here a generated one, one cause of death typed as a clinician would
    patients, viral_loads = generate_cohort(30, seed=11)
    dead = patients.index[patients["cause_of_death"] != ""]
    patients.loc[dead[0], "cause_of_death"] = "Pneumonitis (CMV) - autopsy"
    write_cohort(patients, viral_loads, repo / "export")
    # 2. a config of one's own, copied from the README, paths pointing at the export
    study = yaml.safe_load(_readme_config((ROOT / "README.md").read_text()))
    assert study["study"] == "own" and study["strict_metadata"] is False
    study.update(patients="export/patients.csv", viral_loads="export/viral_loads.csv")
    config = repo / "config/my_study.yaml"
    config.write_text(yaml.safe_dump(study, allow_unicode=True))
    first = _snakemake(repo, "--configfile", "config/my_study.yaml")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "metadata placeholder(s) still printed" in first.stderr
    assert "print as 'other cause'" in first.stderr  # the unmapped cause is named
    # 3. the metadata: every placeholder filled in
    metadata = repo / "templates/metadata.yaml"
    meta = yaml.safe_load(metadata.read_text())
    meta.update(title="Salvage CMVIG in our unit", short_title="CMVIG in our unit",
                funding="This study received no specific funding.",
                conflicts="The authors declare no competing interests.",
                data_availability="From the corresponding author on reasonable request.")
    meta["authors"][0].update(name="C. Clinician", email="c.clinician@hospital.example")
    meta["authors"][1]["name"] = "D. Doctor"
    meta["affiliations"][0]["name"] = "Paediatrics, City Hospital"
    meta["setting"]["description"] = "the paediatric transplant unit of City Hospital"
    meta["ethics"] = {"committee": "The City Ethics Board approved the study.",
                      "approval": "reference CEB-17",
                      "consent": "waived by the committee (retrospective records)"}
    assert placeholders(meta) == []
    metadata.write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False))
    # 4. causes of death mapped, 5. small cells hidden, 6. the submission build is strict
    study["cause_of_death_categories"]["CMV pneumonia"].append("Pneumonitis (CMV) - autopsy")
    study.update(min_cell_count=5, strict_metadata=True)
    config.write_text(yaml.safe_dump(study, allow_unicode=True))
    final = _snakemake(repo, "--configfile", "config/my_study.yaml")
    assert final.returncode == 0, final.stderr[-3000:]
    assert "placeholder(s)" not in final.stderr and "other cause" not in final.stderr
    texts = _texts(repo)
    pdf = texts["manuscript.pdf"]
    assert "Salvage CMVIG in our unit" in pdf and "The City Ethics Board" in pdf
    for name, words in texts.items():
        assert not [w for w in REPLICATION_WORDS if w in words.lower()], name
        assert not PLACEHOLDER.search(words), name
    assert "CMV pneumonia" in texts["manuscript.html"]
