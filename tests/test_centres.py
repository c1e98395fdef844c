"""Many centres end to end: the shipped centres sheet, bundles, pooling from a folder of bundles."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from r_pooled import check_estimates_against_r

from cmvig_report.centres import federated
from cmvig_report.core.io import copy_project

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
CENTRES = ("east", "north", "south")


def _snakemake(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", "--cores", "2", *args], cwd=repo, capture_output=True,
                          text=True)


@pytest.fixture(scope="module")
def centres_build(tmp_path_factory) -> Path:
    repo = copy_project(ROOT, tmp_path_factory.mktemp("centres") / "repo")
    run = _snakemake(repo, "pooled", "--config", "centres=config/centres.tsv")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return repo


def test_each_centre_gets_its_results_and_one_checked_bundle(centres_build):
    for centre in CENTRES:
        assert (centres_build / f"results/centres/{centre}/cohort.csv").is_file()
        assert (centres_build / f"report/centres/{centre}/aggregate.json").is_file()
    assert sorted(p.name for p in (centres_build / "report/centres").iterdir()) == list(CENTRES)


def test_a_bundle_names_no_patient_date_path_or_centre(centres_build):
    for centre in CENTRES:
        text = (centres_build / f"report/centres/{centre}/aggregate.json").read_text()
        cohort = pd.read_csv(centres_build / f"results/centres/{centre}/cohort.csv", dtype=str)
        assert not any(f'"{pid}"' in text for pid in cohort["patient_id"])
        assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
        assert "data/centres" not in text and f'"{centre}"' not in text


def test_pooled_estimates_equal_the_pool_of_the_bundles_and_of_the_patients(centres_build):
    est = json.loads((centres_build / "results/pooled/estimates.json").read_text())
    cohorts = [pd.read_csv(centres_build / f"results/centres/{c}/cohort.csv") for c in CENTRES]
    every = pd.concat(cohorts, ignore_index=True)
    assert est["n_patients"] == len(every)
    assert est["n_responders"] == int(every["responded"].sum())
    assert est["centres"]["names"] == list(CENTRES)
    from cmvig_report.stats import survival

    ref = survival.km_landmark(every["days_to_response_or_censoring"], every["responded"], 50,
                               one_minus=True)
    for key in ("estimate", "ci_lower", "ci_upper", "at_risk", "events"):
        assert est["response"][key] == ref[key]
    assert (centres_build / "results/pooled/forest_response.svg").is_file()


def test_the_built_pooled_estimates_equal_r_survival_on_the_concatenated_patients(
        centres_build):
    # tests/fixtures/r_pooled: R's survival on the three shipped centres' patients
    check_estimates_against_r(
        json.loads((centres_build / "results/pooled/estimates.json").read_text()))


def test_the_coordinating_centre_pools_a_folder_of_bundles_alone(centres_build, tmp_path):
    # The coordinating centre's copy holds no export and no centres sheet: bundles only.
    repo = copy_project(ROOT, tmp_path / "coordinator")
    shutil.rmtree(repo / "data" / "centres")
    received = tmp_path / "received"
    for centre in CENTRES:
        (received / centre).mkdir(parents=True)
        shutil.copy(centres_build / f"report/centres/{centre}/aggregate.json", received / centre)
    run = _snakemake(repo, "pooled", "--config", f"pooled_from={received}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert not (repo / "results" / "centres").exists()
    assert ((repo / "results/pooled/estimates.json").read_bytes()
            == (centres_build / "results/pooled/estimates.json").read_bytes())


def test_a_folder_without_bundles_or_with_another_file_is_refused(tmp_path):
    with pytest.raises(federated.PipelineError, match="no aggregate bundle"):
        federated.read_bundles([])
    bad = tmp_path / "x" / "aggregate.json"
    bad.parent.mkdir()
    bad.write_text('{"format": "something else"}')
    with pytest.raises(federated.PipelineError, match=r"x/aggregate.json: not an aggregate"):
        federated.read_bundles([str(bad)])


def test_a_centre_listed_twice_stops_the_build(tmp_path):
    repo = copy_project(ROOT, tmp_path / "repo")
    sheet = (repo / "config/centres.tsv").read_text()
    (repo / "config/centres.tsv").write_text(sheet + sheet.splitlines()[1] + "\n")
    run = _snakemake(repo, "-n", "pooled", "--config", "centres=config/centres.tsv")
    assert run.returncode != 0
    assert "centre 'north' is listed twice" in run.stderr + run.stdout


def test_the_pooled_manuscript_describes_the_centres_and_is_checked(centres_build):
    html = (centres_build / "report/pooled/manuscript.html").read_text()
    text = " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())  # without the register's spans
    est = json.loads((centres_build / "results/pooled/estimates.json").read_text())
    assert "federated" in text and "stratified by centre" in text
    assert f"{est['n_patients']} children" in text
    for centre in CENTRES:  # centres are numbered, never named
        assert centre not in html.lower()
    assert html.count('<th scope="row">Centre ') == len(CENTRES)
    # the PDF, DOCX and register of printed numbers are published with the HTML, after the same
    # leak check
    for name, magic in (("manuscript.pdf", b"%PDF"), ("manuscript.docx", b"PK"),
                        ("numbers.csv", b"section,context,text,source")):
        made = (centres_build / f"report/pooled/{name}").read_bytes()
        assert made.startswith(magic)
        assert made == (centres_build / f"results/unchecked/pooled/{name}").read_bytes()


def test_a_centres_manuscript_is_the_single_build_of_its_exports(tmp_path):
    # docs/centres.md, "Each centre's own manuscript": the centre's target in the multi-centre
    # DAG and a build of the centre's files alone, with an own-study small-cell plan
    settings = ("study=own", "min_cell_count=5")
    many = copy_project(ROOT, tmp_path / "many")
    run = _snakemake(many, "report/centres/east/manuscript.pdf", "--config",
                     "centres=config/centres.tsv", *settings)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    sheet = pd.read_csv(many / "config/centres.tsv", sep="\t", dtype=str).set_index("centre")
    row = sheet.loc["east"]
    assert row["lloq_iu_ml"]  # the sheet gives the centre its own limit: the single build too
    single = copy_project(ROOT, tmp_path / "single")
    run = _snakemake(single, "--config", *settings, f"patients={row['patients']}",
                     f"viral_loads={row['viral_loads']}", f"lloq_iu_ml={row['lloq_iu_ml']}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    centre = "centres/east/"
    for name in ("results/estimates.json", "results/table1.csv", "report/manuscript.pdf",
                 "report/manuscript.html", "report/manuscript.docx", "report/manuscript.qmd",
                 "report/numbers.csv", "report/claims.csv", "report/figures/figure2.png"):
        top, rest = name.split("/", 1)
        assert (many / top / centre / rest).read_bytes() == (single / name).read_bytes(), name
    # the centre's report folder lists its own files in its own manifest; nothing else built
    manifest = json.loads((many / "report" / centre / "manifest.json").read_text())
    assert sorted(manifest["outputs"]) == sorted(
        p.relative_to(many).as_posix() for p in (many / "report" / centre).rglob("*")
        if p.is_file() and p.name != "manifest.json")
    assert not (many / "report/manuscript.pdf").exists()
    assert not (many / "results/centres/north/estimates.json").exists()
