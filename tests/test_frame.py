"""The frame: config validation, linting, and the Snakemake DAG's incremental behaviour."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def _config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_shipped_config_is_valid():
    validate(copy.deepcopy(_config()), SCHEMA)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("response_day", "fifty", "response_day"),
        ("response_day", 0, "response_day"),
        ("lloq_iu_ml", -1, "lloq_iu_ml"),
        ("formats", ["pdf", "epub"], "epub"),
        ("study", "mine", "mine"),
        ("strict_metadata", "sometimes", "strict_metadata"),
        ("line_numbers", "sometimes", "line_numbers"),
        ("formats", "pdf,epub", "formats"),
        ("timeline_max_rows", 1000, "timeline_max_rows"),
        ("surival_day", 100, "surival_day"),  # unknown (misspelled) key
    ],
)
def test_bad_config_values_are_rejected_naming_the_key(key, value, fragment):
    config = _config()
    config[key] = value
    with pytest.raises(WorkflowError) as info:
        validate(config, SCHEMA)
    assert fragment in str(info.value)


def test_missing_required_key_is_rejected():
    config = _config()
    del config["patients"]
    with pytest.raises(WorkflowError, match="patients"):
        validate(config, SCHEMA)


def test_every_config_key_is_commented():
    lines = (ROOT / "config" / "config.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith((" ", "#", "-")):
            assert lines[i - 1].startswith("#"), f"config key without a comment: {line}"


def test_snakemake_lint_is_clean():
    run = subprocess.run(["snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Lints for" not in run.stdout + run.stderr


def test_ruff_is_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is part of the test extras: pip install -e '.[test]'")
    run = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


def test_bad_config_on_the_command_line_stops_snakemake(tmp_path):
    run = subprocess.run(
        ["snakemake", "-n", "--config", "response_day=soon"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert run.returncode != 0
    assert "response_day" in run.stdout + run.stderr
