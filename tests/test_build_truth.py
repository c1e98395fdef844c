"""A build never lies: a config that names something not there stops before any job, leaving
report/ as it was; report/ then holds only what the last build published, all in its
manifest."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from cmvig_report import paths
from cmvig_report.devtools.synth import generate_cohort, write_cohort

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.e2e


def _snakemake(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", "--cores", "2", *args], cwd=repo, capture_output=True,
                          text=True)


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _errors(run: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (run.stdout + run.stderr).splitlines()
            if line.startswith("error")]


@pytest.mark.parametrize(("setting", "line"), [
    ("patients=data/exports/juen/patients.xlsx",
     "error: config patients='data/exports/juen/patients.xlsx': no such file (no folder "
     "'data/exports/juen'; did you mean 'data/exports/june/patients.xlsx'?)"),
    ("journal=bmt",
     "error: config journal='bmt': no profile templates/journals/bmt.yaml (profiles: "
     + ", ".join(sorted(p.stem for p in (ROOT / "templates/journals").glob("*.yaml")))
     + "); did you mean 'bone-marrow-transplantation'?"),
    ("lloq_iu_m=100",
     "error: config key 'lloq_iu_m' is not a setting; did you mean 'lloq_iu_ml'?"),
    ("lloq_iu_ml=abc",
     "error: config lloq_iu_ml='abc': not a number (lower limit of quantification, IU/mL)"),
])
def test_a_config_naming_what_is_not_there_stops_in_one_line_and_keeps_report(
        shipped_clone, setting, line):
    repo = shipped_clone
    # last month's export is there; this month's folder is mistyped
    (repo / "data/exports/june").mkdir(parents=True)
    before = _digests(repo / "report")
    run = _snakemake(repo, "--config", setting)
    assert run.returncode != 0
    assert _errors(run) == [line]
    assert "Traceback" not in run.stdout + run.stderr
    assert "steps" not in run.stdout + run.stderr  # no job was scheduled
    assert _digests(repo / "report") == before


def test_report_holds_only_what_the_last_build_published(shipped_clone, tmp_path):
    repo = shipped_clone
    package = _snakemake(repo, "submission")
    assert package.returncode == 0, package.stderr[-3000:]
    manifest = json.loads((repo / "report/manifest.json").read_text())
    assert sorted(manifest["outputs"]) == sorted(
        f"report/{name}" for name in _digests(repo / "report") if name != "manifest.json")
    assert any(name.startswith("report/submission/") for name in manifest["outputs"])
    earlier = _digests(repo / "report")

    # the next export: another cohort, in a build without the submission target
    export = tmp_path / "export"
    write_cohort(*generate_cohort(46, seed=5), export)
    run = _snakemake(repo, "--config", "study=own", f"patients={export / 'patients.csv'}",
                     f"viral_loads={export / 'viral_loads.csv'}")
    assert run.returncode == 0, run.stderr[-3000:]
    now = _digests(repo / "report")
    manifest = json.loads((repo / "report/manifest.json").read_text())
    # the manifest lists every file in report/, with its checksum
    assert {f"report/{name}": digest for name, digest in now.items()
            if name != "manifest.json"} == manifest["outputs"]
    # the earlier build's package is gone, each file named; nothing else of it is left over
    assert not (repo / "report/submission").exists()
    for name in earlier:
        if name.startswith("submission/"):
            assert f"[publish] removed report/{name} (not made by this build)" in run.stderr
    # and report/ is exactly what this build's publish step makes, with its manifest
    assert sorted(now) == sorted([*paths.shared_files(list(paths.FORMATS), False),
                                  "manifest.json"])
    assert now["manuscript.pdf"] != earlier["manuscript.pdf"]
