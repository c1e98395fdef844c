"""Builds shared between end-to-end tests.

One Snakemake build of the shipped cohort serves every test that starts from it: the tests that
only read it use it as it is (:func:`shipped_build`); a test that edits inputs or runs Snakemake
for real works on its own copy (:func:`shipped_clone`, or ``builds.clone_build``), outputs and
Snakemake's records included, modification times kept, so that Snakemake sees the copy as up to
date. Nothing may change the shared build, so the tests pass in any order and alone.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from builds import clone_build
from hypothesis import HealthCheck, settings

from cmvig_report.core.io import copy_project

ROOT = Path(__file__).resolve().parents[1]

# Property tests: a few examples in the inner loop, more in CI (CMVIG_HYPOTHESIS_PROFILE=ci).
# Derandomised, so a run is repeatable and CI never fails by chance; no example database
# is written into the repository.
_PROPERTIES = dict(deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("default", max_examples=4, **_PROPERTIES)
settings.register_profile("ci", max_examples=20, **_PROPERTIES)
settings.load_profile(os.environ.get("CMVIG_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def shipped_build(tmp_path_factory) -> Path:
    """The repository copied and built once (``snakemake --cores 2``), for the whole session."""
    repo = copy_project(ROOT, tmp_path_factory.mktemp("shipped") / "repo")
    run = subprocess.run(["snakemake", "--cores", "2"], cwd=repo, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return repo


@pytest.fixture
def shipped_clone(shipped_build, tmp_path) -> Path:
    """A copy of :func:`shipped_build` of the test's own, to edit and rebuild."""
    return clone_build(shipped_build, tmp_path)
