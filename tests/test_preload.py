"""The warm step server: steps run in its children, statuses and messages come back, and a
step runs by itself whenever the server is not there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cmvig_report import preload

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not preload.supported(), reason="needs fork and Unix sockets")


def _step(env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cmvig_report", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _cohort_args(out: Path) -> list[str]:
    return ["cohort", "--patients", "data/raw/patients.csv",
            "--viral-loads", "data/raw/viral_loads.csv", "--lloq", "137",
            "--cohort-out", str(out / "cohort.csv"),
            "--viral-loads-out", str(out / "viral_loads.csv"),
            "--cleaning-log-out", str(out / "cleaning_log.csv")]


def _analysis_args(cohort: Path, out: Path) -> list[str]:
    return ["--log", str(out / "analysis.log"), "analysis", "--cohort", str(cohort),
            "--response-day", "50", "--os-cmvig-day", "100", "--os-hsct-day", "365",
            "--lloq", "137", "--estimates-out", str(out / "estimates.json"),
            "--table1-csv-out", str(out / "table1.csv"),
            "--table1-html-out", str(out / "table1.html"),
            "--curves-out", str(out / "km_curves.csv")]


@pytest.fixture()
def server(tmp_path):
    """A server started the way the Snakefile's onstart hook does, stopped afterwards."""
    debug = tmp_path / "server.log"
    os.environ["CMVIG_PRELOAD_DEBUG"] = str(debug)
    try:
        path = preload.start({"clean_cohort", "estimates", "figure2"})
        assert path is not None
        env = dict(os.environ)
        deadline = time.time() + 30
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.02)
        yield env, debug
    finally:
        preload.stop()
        os.environ.pop("CMVIG_PRELOAD_DEBUG", None)


def test_a_step_runs_in_a_child_of_the_server_with_the_same_result(server, tmp_path):
    env, debug = server
    plain_env = {k: v for k, v in env.items() if k != preload.ENV_VAR}
    # the first step (cleaning) always runs in its own process
    assert _step(env, ROOT, *_cohort_args(tmp_path)).returncode == 0
    assert "fork cohort" not in (debug.read_text() if debug.exists() else "")
    via_server, direct = tmp_path / "via", tmp_path / "direct"
    via_server.mkdir()
    direct.mkdir()
    run = _step(env, ROOT, *_analysis_args(tmp_path / "cohort.csv", via_server))
    assert run.returncode == 0, run.stderr
    assert "fork analysis" in debug.read_text()
    assert "finished with status 0" in (via_server / "analysis.log").read_text()
    run = _step(plain_env, ROOT, *_analysis_args(tmp_path / "cohort.csv", direct))
    assert run.returncode == 0, run.stderr
    for name in ("estimates.json", "table1.csv", "table1.html", "km_curves.csv"):
        assert (via_server / name).read_bytes() == (direct / name).read_bytes()


def test_a_failing_step_reports_its_message_and_status_through_the_server(server, tmp_path):
    env, debug = server
    run = _step(env, ROOT, *_analysis_args(tmp_path / "missing.csv", tmp_path))
    assert run.returncode == 1
    # the child wrote to the client's own stderr
    assert "missing.csv: file not found" in run.stderr
    assert "Traceback" not in run.stderr
    assert "fork analysis" in debug.read_text()
    assert not (tmp_path / "estimates.json").exists()


def test_without_a_server_the_step_runs_by_itself(tmp_path):
    env = dict(os.environ, **{preload.ENV_VAR: str(tmp_path / "no-such-socket")})
    run = _step(env, ROOT, *_cohort_args(tmp_path))
    assert run.returncode == 0, run.stderr
    run = _step(env, ROOT, *_analysis_args(tmp_path / "cohort.csv", tmp_path))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "estimates.json").exists()


def test_the_server_exits_with_its_parent(tmp_path):
    # a parent that starts a server and exits at once, as Snakemake does at the end of a build
    code = ("import os, sys; from cmvig_report import preload; "
            "p = preload.start({'estimates', 'figure2'}); print(p); sys.stdout.flush(); "
            "os._exit(0)")
    path = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60).stdout.strip()
    assert path.endswith("socket")
    deadline = time.time() + 30
    while time.time() < deadline:
        alive = subprocess.run(["pgrep", "-f", f"cmvig_report.preload {path}"],
                               capture_output=True, text=True).stdout.strip()
        if not alive:
            break
        time.sleep(0.2)
    assert not alive, "the server outlived the process that started it"
    deadline = time.time() + 10
    while os.path.exists(os.path.dirname(path)) and time.time() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(os.path.dirname(path)), "the socket's folder was left behind"


def test_no_server_for_a_lone_heavy_step(monkeypatch):
    monkeypatch.delenv(preload.ENV_VAR, raising=False)
    # a template edit: only the manuscript imports anything heavy, nothing to overlap with
    assert preload.start({"manuscript", "quarto_source", "docx", "manifest"}) is None
    assert preload.ENV_VAR not in os.environ


def test_modules_follow_the_pipeline_order():
    assert preload.modules_for(["manuscript", "estimates"])[0] == "cmvig_report.analysis"
    assert preload.modules_for(["manifest", "docx"]) == []  # light steps run by themselves
    assert "lifelines" in preload.modules_for(["estimates"])
    assert json.dumps(preload.modules_for(["figure1", "figure2"])) == '["cmvig_report.figures"]'


def test_stage_is_read_after_the_log_option():
    assert preload.stage_of(["--log", "logs/cohort.log", "analysis", "--cohort", "cohort"]) == (
        "analysis")
    assert preload.stage_of(["--log", "x.log"]) is None
    assert preload.run_via_server(["--log", "x.log", "watch"]) is None  # always runs itself
