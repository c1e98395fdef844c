"""The multi-centre DAG on a real SLURM cluster, through Snakemake's SLURM executor plugin.

Needs a SLURM controller that answers (``bash tests/slurm/start-cluster.sh`` starts a
single-node one) and a Python whose Snakemake has snakemake-executor-plugin-slurm: the one in
``CMVIG_SLURM_PYTHON`` if set (``.ci/run`` installs the plugin into a virtualenv of its own,
because the plugin slows every ``snakemake`` start when no controller answers), else this one.
Skipped, saying which is missing, otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cmvig_report.core.io import copy_project

pytestmark = [pytest.mark.e2e, pytest.mark.slurm]

ROOT = Path(__file__).resolve().parents[1]
CENTRES_CONFIG = ("--config", "centres=config/centres.tsv")
# What the test cluster adds to profiles/slurm: no accounting database, so ask squeue.
TEST_CLUSTER_PROFILE = ROOT / "tests" / "slurm" / "profile"
# A guard against a poll that never ends (the failure this test exists to catch), not a
# speed check: far above the run's time in docs/performance.md.
HANG_SECONDS = 1200


def _slurm_python() -> str:
    python = os.environ.get("CMVIG_SLURM_PYTHON", sys.executable)
    probe = subprocess.run([python, "-c", "import snakemake_executor_plugin_slurm"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"snakemake-executor-plugin-slurm is not importable by {python} "
                    "(pip install -e '.[slurm]', or set CMVIG_SLURM_PYTHON)")
    return python


def _require_cluster() -> None:
    if shutil.which("sinfo") is None:
        pytest.skip("no SLURM here (no sinfo; tests/slurm/start-cluster.sh starts one)")
    sinfo = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True,
                           text=True)
    if sinfo.returncode != 0 or not sinfo.stdout.strip():
        pytest.skip("no SLURM controller answers sinfo "
                    "(bash tests/slurm/start-cluster.sh starts a single-node one)")


def _files(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes()
            for top in ("results", "report") for p in sorted((repo / top).rglob("*"))
            if p.is_file()}


def _steps_done(output: str) -> int:
    done = re.search(r"(\d+) of (\d+) steps \(100%\) done", output)
    assert done and done[1] == done[2], output[-3000:]
    return int(done[1])


def test_the_centres_dag_completes_on_slurm_and_equals_the_local_run(tmp_path):
    _require_cluster()
    python = _slurm_python()

    local = copy_project(ROOT, tmp_path / "local")
    run = subprocess.run(["snakemake", "--cores", "2", "pooled", *CENTRES_CONFIG], cwd=local,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    local_steps = _steps_done(run.stderr)

    cluster = copy_project(ROOT, tmp_path / "cluster")
    run = subprocess.run([python, "-m", "snakemake", "--workflow-profile", "profiles/slurm",
                          "--profile", str(TEST_CLUSTER_PROFILE), "pooled", *CENTRES_CONFIG],
                         cwd=cluster, capture_output=True, text=True, timeout=HANG_SECONDS)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-6000:]
    # every step ran as a SLURM job, none on the submitting machine
    assert _steps_done(run.stderr) == local_steps
    assert len(re.findall(r"has been submitted with SLURM jobid \d+", log)) == local_steps

    on_cluster, at_home = _files(cluster), _files(local)
    for name in ("results/pooled/estimates.json", "report/pooled/manuscript.html",
                 *(f"report/centres/{c}/aggregate.json" for c in ("north", "south", "east"))):
        assert name in on_cluster
    assert sorted(on_cluster) == sorted(at_home)
    differing = [name for name in at_home if on_cluster[name] != at_home[name]]
    assert differing == []
