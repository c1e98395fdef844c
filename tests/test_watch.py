"""Live preview: renders at start, re-renders on a template edit, survives a broken template."""

from __future__ import annotations

import queue
import shutil
import threading
from pathlib import Path

import pytest
from cohort_factory import abstract_like_cohort
from pypdf import PdfReader
from report_fixtures import make_project, stage_args

from cmvig_report.errors import PipelineError
from cmvig_report.watch import render_arguments, watch

ROOT = Path(__file__).resolve().parents[1]


def _pdf_text(path: str) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(path).pages).split())


def test_watch_rerenders_on_edit_and_keeps_going_after_an_error(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    args = {**stage_args(kwargs), "html": str(tmp_path / "preview.html"),
            "pdf": str(tmp_path / "preview.pdf")}
    renders: queue.Queue = queue.Queue()
    stop = threading.Event()
    log = tmp_path / "watch.log"
    with log.open("w") as out:
        thread = threading.Thread(target=watch, args=(args,), daemon=True, kwargs=dict(
            interval=0.05, stop=stop, out=out, on_render=lambda s, n: renders.put(n)))
        thread.start()
        try:
            assert renders.get(timeout=60) is not None  # the first render, at start
            assert "Replication Watch Marker" not in _pdf_text(args["pdf"])

            metadata = kwargs["_templates"] / "metadata.yaml"
            text = metadata.read_text()
            metadata.write_text(
                text.replace("short_title: ", "short_title: Replication Watch Marker ", 1))
            assert renders.get(timeout=60) is not None
            assert "Replication Watch Marker" in _pdf_text(args["pdf"])

            partial = kwargs["_templates"] / "partials" / "title.html.j2"
            good = partial.read_text()
            partial.write_text(good + "{{ no_such_variable }}")
            assert renders.get(timeout=60) is None  # failed, and the watcher is still alive
            partial.write_text(good)
            assert renders.get(timeout=60) is not None
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not thread.is_alive()
    messages = log.read_text()
    assert "no_such_variable" in messages and "not rendered" in messages
    assert messages.count("rendered in") == 3


def test_watch_needs_results_first(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    Path(kwargs["estimates"]).unlink()
    args = {**stage_args(kwargs), "html": str(tmp_path / "p.html"),
            "pdf": str(tmp_path / "p.pdf")}
    with pytest.raises(PipelineError, match="run `snakemake --cores 2` once first"):
        watch(args)


def test_render_arguments_follow_the_config(tmp_path):
    for name in ("config", "workflow", "templates", "data"):
        shutil.copytree(ROOT / name, tmp_path / name)
    args = render_arguments(tmp_path)
    assert args["replication"] is True  # the shipped inputs: compare with the paper
    assert args["line_numbers"] is False
    assert args["pdf"] == str(tmp_path / "report/preview.pdf")
    config = tmp_path / "config/config.yaml"
    text = config.read_text()
    config.write_text(text.replace("line_numbers: false", "line_numbers: true"))
    assert render_arguments(tmp_path)["line_numbers"] is True
    # another cohort copied over the shipped file is not compared with the paper
    raw = tmp_path / "data/raw/patients.csv"
    raw.write_text(raw.read_text().replace("P01,", "P1,"))
    assert render_arguments(tmp_path)["replication"] is False
    config.write_text(text.replace("response_day: 50", "response_day: fifty"))
    with pytest.raises(PipelineError, match="config.yaml"):
        render_arguments(tmp_path)


def test_auto_replication_recognises_the_shipped_cohort_by_content(tmp_path):
    from cmvig_report.settings import replication_check

    config = {"replication_check": "auto", "patients": "data/raw/patients.csv",
              "viral_loads": "data/raw/viral_loads.csv"}
    assert replication_check(config, ROOT)
    copy = tmp_path / "copy.csv"  # the same bytes under another path still count
    shutil.copy(ROOT / "data/raw/patients.csv", copy)
    assert replication_check({**config, "patients": str(copy)}, ROOT)
    copy.write_text(copy.read_text() + "\n")
    assert not replication_check({**config, "patients": str(copy)}, ROOT)
    assert not replication_check({**config, "patients": str(tmp_path / "missing.csv")}, ROOT)
    assert replication_check({**config, "replication_check": "yes"}, tmp_path)
    assert not replication_check({**config, "replication_check": False}, ROOT)


def test_preview_with_a_patient_id_is_deleted_and_reported(tmp_path):
    cohort = abstract_like_cohort()
    kwargs = make_project(tmp_path, cohort)
    project = kwargs["_project"]
    cohort.to_csv(project / "cohort.csv", index=False)
    (project / "viral_loads.csv").write_text("patient_id,sample_date\nT001,2019-03-04\n")
    leak_check = {"cohort": str(project / "cohort.csv"),
                  "viral_loads": str(project / "viral_loads.csv"),
                  "input_paths": [], "vocabulary": []}
    partial = kwargs["_templates"] / "partials" / "results.html.j2"
    partial.write_text(partial.read_text().replace("<h2 id=\"results\">Results</h2>",
                                                   "<h2 id=\"results\">Results (T003)</h2>"))
    args = {**stage_args(kwargs), "html": str(tmp_path / "p.html"),
            "pdf": str(tmp_path / "p.pdf")}
    renders: queue.Queue = queue.Queue()
    stop = threading.Event()
    log = tmp_path / "watch.log"
    with log.open("w") as out:
        thread = threading.Thread(target=watch, args=(args,), daemon=True, kwargs=dict(
            interval=0.05, stop=stop, out=out, leak_check=leak_check,
            on_render=lambda s, n: renders.put(n)))
        thread.start()
        try:
            assert renders.get(timeout=60) is None  # refused
        finally:
            stop.set()
            thread.join(timeout=30)
    assert "patient_id 'T003'" in log.read_text()
    assert not (tmp_path / "p.html").exists() and not (tmp_path / "p.pdf").exists()
