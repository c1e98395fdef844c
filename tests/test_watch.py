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

from cmvig_report.devtools.watch import load_config, parse_overrides, render_arguments, watch
from cmvig_report.errors import PipelineError

ROOT = Path(__file__).resolve().parents[1]


def _save(path: Path, text: str, scratch: Path) -> None:
    """Save as an editor does, in one step: a watcher never sees a half-written file (which
    would give one render more than the test expects). ``scratch``: an unwatched folder."""
    tmp = scratch / "saving"
    tmp.write_text(text)
    tmp.replace(path)


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

            metadata = kwargs["_metadata"]
            text = metadata.read_text()
            _save(metadata,
                  text.replace("short_title: ", "short_title: Replication Watch Marker ", 1),
                  tmp_path)
            assert renders.get(timeout=60) is not None
            assert "Replication Watch Marker" in _pdf_text(args["pdf"])

            partial = kwargs["_templates"] / "partials" / "title.html.j2"
            good = partial.read_text()
            _save(partial, good + "{{ no_such_variable }}", tmp_path)
            assert renders.get(timeout=60) is None  # failed, and the watcher is still alive
            _save(partial, good, tmp_path)
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


def test_render_arguments_follow_the_config_as_snakemake_builds_it(tmp_path):
    for name in ("config", "workflow", "templates", "data"):
        shutil.copytree(ROOT / name, tmp_path / name)
    args = render_arguments(tmp_path, load_config(tmp_path))
    assert args["settings"].replication is True  # the shipped config reports the replication
    assert args["metadata"] == str(tmp_path / "templates/replication/metadata.yaml")
    assert args["published"] == str(tmp_path / "data/published.yaml")
    assert args["settings"].line_numbers is False and args["settings"].number_appendix is False
    assert args["pdf"] == str(tmp_path / "report/preview.pdf")
    # a --configfile over config/config.yaml, then --config overrides, as for snakemake
    extra = tmp_path / "journal.yaml"
    extra.write_text("number_appendix: true\nline_numbers: false\n")
    config = load_config(tmp_path, [str(extra)],
                         ["study=own", "line_numbers=true", f"compare_with={tmp_path}/old"])
    args = render_arguments(tmp_path, config)
    assert config["response_day"] == 50  # the rest of config/config.yaml is kept
    assert args["settings"].replication is False and "published" not in args
    assert args["metadata"] == str(tmp_path / "templates/metadata.yaml")
    assert args["settings"].line_numbers is True and args["settings"].number_appendix is True
    assert args["settings"].compare_with == f"{tmp_path}/old"
    assert args["changes_summary"] == str(tmp_path / "results/changes_summary.json")
    with pytest.raises(PipelineError, match="response_day"):
        load_config(tmp_path, [], ["response_day=fifty"])
    with pytest.raises(PipelineError, match="KEY=VALUE"):
        load_config(tmp_path, [], ["study"])


def test_config_overrides_are_read_as_snakemake_reads_them():
    from snakemake.cli import parse_config  # Snakemake's own reader, for comparison only

    entries = ["min_cell_count=5", "lloq_iu_ml=137.5", "strict_metadata=true",
               "line_numbers=True", "formats=qmd,docx", "sensitivity_days=[28, 50]",
               "study=own", "patients=my data/patients.csv", "compare_with=",
               "cause_of_death_categories={Sepsis: [sepsis]}"]
    assert parse_overrides(entries) == parse_config(entries)


def test_watch_command_takes_snakemakes_config_options():
    from cmvig_report.cli import build_parser

    args = vars(build_parser().parse_args(
        ["watch", "--configfile", "a.yaml", "b.yaml", "--config", "study=own",
         "min_cell_count=5"]))
    assert args["configfile"] == ["a.yaml", "b.yaml"]
    assert args["config"] == ["study=own", "min_cell_count=5"]


def test_the_shipped_cohort_is_only_a_safety_net(tmp_path):
    from cmvig_report.core.settings import is_shipped_cohort, study_warning

    config = {"study": "replication", "patients": "data/raw/patients.csv",
              "viral_loads": "data/raw/viral_loads.csv"}
    assert is_shipped_cohort(config, ROOT) and study_warning(config, ROOT) is None
    copy = tmp_path / "copy.csv"  # the same bytes under another path still count
    shutil.copy(ROOT / "data/raw/patients.csv", copy)
    assert study_warning({**config, "patients": str(copy)}, ROOT) is None
    warning = study_warning({**config, "study": "own"}, ROOT)
    assert warning.startswith("warning: study: own, but the inputs are the shipped")
    assert "\n" not in warning
    copy.write_text(copy.read_text() + "\n")  # another cohort, as the replication
    warning = study_warning({**config, "patients": str(copy)}, ROOT)
    assert warning.startswith("warning: study: replication, but the inputs are not the shipped")
    assert study_warning({**config, "patients": str(copy), "study": "own"}, ROOT) is None


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


def test_the_preview_leak_check_follows_a_template_edit(tmp_path):
    from cmvig_report.devtools.watch import _leaks

    cohort, loads = tmp_path / "cohort.csv", tmp_path / "viral_loads.csv"
    cohort.write_text("patient_id,cause_of_death\nMRN-55102,\n")
    loads.write_text("patient_id,sample_date\nMRN-55102,2021-03-04\n")
    template = tmp_path / "text.j2"
    # the export's folder, "kestrel", is a word the manuscript prints itself: not checkable
    template.write_text("Data from the kestrel registry.\n")
    check = {"cohort": str(cohort), "viral_loads": str(loads),
             "input_paths": [str(tmp_path / "kestrel" / "patients.csv")], "vocabulary": [],
             "template_files": [str(template)]}
    html = tmp_path / "preview.html"
    html.write_text("<p>The kestrel registry.</p>")
    cached: dict = {}
    assert _leaks(str(html), check, cached) == []
    # the template no longer uses the word: the folder name is searched again, and found
    _save(template, "Data from the registry.\n", tmp_path)
    assert any("kestrel" in hit for hit in _leaks(str(html), check, cached))
