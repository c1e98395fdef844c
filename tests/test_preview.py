"""Live preview in the browser: the served page, its reload after a save, the error page, the
loopback-only server, and a real headless Chromium reloading on a save."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser import Browser, chromium
from cohort_factory import abstract_like_cohort
from report_fixtures import make_project, stage_args

from cmvig_report.devtools.preview import serve
from cmvig_report.errors import PipelineError

ROOT = Path(__file__).resolve().parents[1]


def _save(path: Path, text: str, scratch: Path) -> None:
    """Save in one step, as an editor does (``scratch``: an unwatched folder)."""
    tmp = scratch / "saving"
    tmp.write_text(text)
    tmp.replace(path)


def _get(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


class Served:
    """:func:`serve` in a thread on a free port, stopped by the test."""

    def __init__(self, args: dict, **kwargs) -> None:
        self.stop = threading.Event()
        self.renders: queue.Queue = queue.Queue()
        urls: queue.Queue = queue.Queue()
        self.log = Path(args["html"]).with_suffix(".log")
        self._out = self.log.open("w")
        self.errors: list[BaseException] = []

        def run() -> None:
            try:
                serve(args, port=0, stop=self.stop, interval=0.05, out=self._out,
                      on_ready=urls.put, on_render=lambda s, n: self.renders.put(n), **kwargs)
            except BaseException as exc:  # noqa: BLE001 -- checked by the test
                self.errors.append(exc)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.url = urls.get(timeout=60)

    def poll(self, epoch: int) -> queue.Queue:
        """``/livereload/<epoch>`` as the page's script asks it, answered into a queue."""
        answers: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: answers.put(_get(f"{self.url}livereload/{epoch}")),
                         daemon=True).start()
        return answers

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        self._out.close()
        assert not self.thread.is_alive() and not self.errors


@pytest.fixture
def project(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    args = {**stage_args(kwargs), "html": str(tmp_path / "preview.html"), "pdf": None}
    return kwargs, args


def test_the_page_reloads_after_a_save_and_a_failed_render_shows_its_error(project, tmp_path):
    kwargs, args = project
    served = Served(args)
    try:
        assert served.renders.get(timeout=60) is not None
        status, page = _get(served.url)
        assert status == 200 and "<h2 id=\"results\">Results</h2>" in page
        assert 'var epoch = 1;' in page and "/livereload/" in page
        # the script goes into the served page only, and the PDF is not made by default
        assert "livereload" not in Path(args["html"]).read_text()
        assert not list(tmp_path.glob("*.pdf"))

        answer = served.poll(1)
        metadata = kwargs["_metadata"]
        _save(metadata, metadata.read_text().replace(
            "short_title: ", "short_title: Replication Preview Marker ", 1), tmp_path)
        assert answer.get(timeout=60) == (200, "2")
        status, page = _get(served.url)
        assert status == 200 and "Replication Preview Marker" in page

        partial = kwargs["_templates"] / "partials" / "title.html.j2"
        good = partial.read_text()
        answer = served.poll(2)
        assert good.endswith("\n")
        _save(partial, good + "{{ no_such_variable }}\n", tmp_path)
        assert answer.get(timeout=60) == (200, "3")
        status, page = _get(served.url)
        assert status == 500 and "Replication Preview Marker" not in page
        line = len(good.splitlines()) + 1  # the line added
        assert re.search(rf"template templates/partials/title\.html\.j2, line {line}: undefined "
                         r"variable &#x27;no_such_variable&#x27;", page)
        assert 'var epoch = 3;' in page  # the error page reloads itself too

        answer = served.poll(3)
        _save(partial, good, tmp_path)
        assert answer.get(timeout=60) == (200, "4")
        status, page = _get(served.url)
        assert status == 200 and "Replication Preview Marker" in page
    finally:
        served.close()


def test_a_page_with_a_patient_id_is_never_served(project, tmp_path):
    kwargs, args = project
    root = kwargs["_project"]
    abstract_like_cohort().to_csv(root / "cohort.csv", index=False)
    (root / "viral_loads.csv").write_text("patient_id,sample_date\nT001,2019-03-04\n")
    leak_check = {"cohort": str(root / "cohort.csv"), "viral_loads": str(root / "viral_loads.csv"),
                  "input_paths": [], "vocabulary": []}
    partial = kwargs["_templates"] / "partials" / "results.html.j2"
    partial.write_text(partial.read_text().replace("<h2 id=\"results\">Results</h2>",
                                                   "<h2 id=\"results\">Results (T003)</h2>"))
    served = Served(args, leak_check=leak_check)
    try:
        assert served.renders.get(timeout=60) is None
        status, page = _get(served.url)
        assert status == 500 and "identifying information in the preview" in page
        assert "Results (T003)" not in page and not Path(args["html"]).exists()
    finally:
        served.close()


def test_a_config_saved_with_an_error_shows_it_and_a_good_one_renders_again(project, tmp_path):
    kwargs, args = project
    config = tmp_path / "config.yaml"
    config.write_text("response_day: 50\n")
    # beside the study's metadata, so that its bibliography path resolves the same way
    other = kwargs["_metadata"].with_name("metadata-marker.yaml")
    other.write_text(kwargs["_metadata"].read_text().replace(
        "short_title: ", "short_title: Config Reread Marker ", 1))

    def reconfigure() -> tuple[dict, None]:
        if "fifty" in config.read_text():
            raise PipelineError(f"{config}: 'fifty' is not of type 'integer'")
        return {**args, "metadata": str(other)}, None

    served = Served(args, config_files=[config], reconfigure=reconfigure)
    try:
        assert served.renders.get(timeout=60) is not None
        answer = served.poll(1)
        _save(config, "response_day: fifty\n", tmp_path)
        assert answer.get(timeout=60) == (200, "2")
        status, page = _get(served.url)
        assert status == 500 and "&#x27;fifty&#x27; is not of type" in page
        answer = served.poll(2)  # a template saved meanwhile: the config is still broken
        partial = kwargs["_templates"] / "partials" / "title.html.j2"
        _save(partial, partial.read_text() + "\n", tmp_path)
        assert answer.get(timeout=60) == (200, "3")
        status, page = _get(served.url)
        assert status == 500 and "&#x27;fifty&#x27; is not of type" in page
        answer = served.poll(3)
        _save(config, "response_day: 50\n", tmp_path)
        assert answer.get(timeout=60) == (200, "4")
        status, page = _get(served.url)
        assert status == 200 and "Config Reread Marker" in page, page[-1500:]
    finally:
        served.close()


def test_with_pdf_the_pdf_preview_is_served_until_a_render_fails(project, tmp_path):
    kwargs, args = project
    args["pdf"] = str(tmp_path / "preview.pdf")
    served = Served(args)
    try:
        assert served.renders.get(timeout=60) is not None
        with urllib.request.urlopen(served.url + "preview.pdf", timeout=60) as response:
            assert response.headers["Content-Type"] == "application/pdf"
            assert response.read() == Path(args["pdf"]).read_bytes()
        partial = kwargs["_templates"] / "partials" / "title.html.j2"
        answer = served.poll(1)
        _save(partial, partial.read_text() + "{{ no_such_variable }}\n", tmp_path)
        assert answer.get(timeout=60) == (200, "2")
        status, text = _get(served.url + "preview.pdf")  # the PDF on disk is the last good one
        assert status == 409 and "no_such_variable" in text
    finally:
        served.close()


def test_the_server_answers_its_loopback_address_only(project):
    _, args = project
    served = Served(args)
    try:
        assert served.url.startswith("http://127.0.0.1:")
        assert _get(served.url, host="example.org")[0] == 403  # a page from elsewhere
        assert _get(served.url + "results/estimates.json")[0] == 404
        port = served.url.rstrip("/").rsplit(":", 1)[1]
        assert _get(served.url, host=f"localhost:{port}")[0] == 200
    finally:
        served.close()


def test_the_preview_needs_results_first(project):
    kwargs, args = project
    Path(kwargs["estimates"]).unlink()
    with pytest.raises(PipelineError, match="run `snakemake --cores 2` once first"):
        serve(args, port=0)


def test_preview_command_takes_snakemakes_config_options_and_a_port():
    from cmvig_report.cli import build_parser

    args = vars(build_parser().parse_args(
        ["preview", "--configfile", "a.yaml", "--config", "study=own", "--port", "8123"]))
    assert args["configfile"] == ["a.yaml"] and args["config"] == ["study=own"]
    assert args["port"] == 8123 and args["pdf"] is False
    assert vars(build_parser().parse_args(["preview"]))["port"] == 8000


def _command_project(tmp_path: Path) -> Path:
    """A project the ``preview`` command runs in: fake results, the shipped config."""
    root = make_project(tmp_path, abstract_like_cohort())["_project"]
    shutil.copytree(ROOT / "config", root / "config")
    shutil.copytree(ROOT / "workflow" / "schemas", root / "workflow" / "schemas")
    return root


def start_command(root: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """``python -m cmvig_report preview --port 0`` in ``root``; returns it and its address."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
    proc = subprocess.Popen([sys.executable, "-m", "cmvig_report", "preview", "--port", "0",
                             "--interval", "0.05", *extra], cwd=root, env=env, text=True,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    for line in proc.stderr:  # type: ignore[union-attr]
        if match := re.search(r"serving (http://127\.0\.0\.1:\d+/)", line):
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep it drained
            return proc, match.group(1)
    raise AssertionError(f"preview did not start (exit status {proc.wait(timeout=30)})")


def stop_command(proc: subprocess.Popen) -> int:
    """Ctrl-C, as the user stops it."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


@pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (the browser test "
                    "needs it: apt-get install chromium)")
def test_an_open_page_in_chromium_reloads_after_a_save_and_shows_a_failed_render(tmp_path):
    root = _command_project(tmp_path)
    proc, url = start_command(root)
    browser = Browser(chromium(), tmp_path / "chromium")
    try:
        browser.open(url)
        assert "Replication Browser Marker" not in browser.text()
        assert not (root / "report" / "preview.pdf").exists()  # the HTML only, by default
        metadata = root / "templates" / "replication" / "metadata.yaml"
        text = metadata.read_text()
        _save(metadata, text.replace("title: >-\n  ", "title: >-\n  Replication Browser "
                                     "Marker ", 1), tmp_path)  # the title, as shown
        browser.wait_for("Page.loadEventFired", timeout=60)  # the page reloaded itself
        assert "Replication Browser Marker" in browser.text()

        partial = root / "templates" / "partials" / "title.html.j2"
        good = partial.read_text()
        _save(partial, good + "{{ no_such_variable }}", tmp_path)
        browser.wait_for("Page.loadEventFired", timeout=60)
        shown = browser.text()
        assert "not rendered" in shown and "partials/title.html.j2, line" in shown
        assert "Replication Browser Marker" not in shown
        _save(partial, good, tmp_path)
        browser.wait_for("Page.loadEventFired", timeout=60)
        assert "Replication Browser Marker" in browser.text()
    finally:
        browser.close()
        status = stop_command(proc)
    assert status == 0  # Ctrl-C stops it cleanly
