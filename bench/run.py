"""Benchmark the editing loop and scale; prints one table (a benchmark, not a test).

    python bench/run.py              # all scenarios (several minutes; more with the R peers)
    python bench/run.py --quick      # skip the 50,000-patient run

Works in a temporary copy of the repository, so the checkout's results/ and report/ are untouched.
Peak memory is the largest sum over the whole process tree (Snakemake and every job it starts)
of each process's proportional set size (PSS), sampled every 50 ms: PSS splits a page shared
by several processes among them, where plain RSS would count shared libraries once per process.
Targets are those of the project's performance issue; results go to docs/performance.md.
The browser preview's reload is timed in headless Chromium when it is installed.

With R (``Rscript``, the rmarkdown package, pandoc and LaTeX for the PDF) the R Markdown peer
report of bench/r/ is rendered from the same exports in the same run, its runs interleaved with
ours so that a busy machine slows both, and each row prints its ratio to its R peer. Without R
those rows say so.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
from pypdf import PdfReader

from cmvig_report.core.io import copy_project

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Run ``cmd``; return (seconds, peak MiB of the process tree)."""
    start = time.perf_counter()
    proc = psutil.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = 0
    while proc.poll() is None:
        total = 0
        try:
            for p in [proc, *proc.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a job may end while we look
                    total += p.memory_full_info().pss
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.05)  # reading smaps costs CPU: sample gently
    elapsed = time.perf_counter() - start
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    if proc.returncode != 0:
        sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{out[-3000:]}")
    return elapsed, peak / 2**20


def watch_edit(repo: Path, template: Path, repeats: int = 5) -> tuple[float, float]:
    """Median seconds from a template save to a new report/preview.pdf under ``watch``,
    and the watcher's peak MiB."""
    preview = repo / "report" / "preview.pdf"
    proc = psutil.Popen([sys.executable, "-m", "cmvig_report", "watch", "--interval", "0.05"],
                        cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times, peak = [], 0.0  # the watcher is one process: its RSS is its memory
    try:
        deadline = time.time() + 60
        while not preview.exists():  # the first render, at start
            if time.time() > deadline or proc.poll() is not None:
                sys.exit("benchmark: the watcher did not render")
            time.sleep(0.05)
        time.sleep(0.3)
        for i in range(repeats):
            before = preview.stat().st_mtime_ns
            start = time.perf_counter()
            template.write_text(template.read_text() + f"\n/* watch edit {i} */\n")
            while preview.stat().st_mtime_ns == before:
                if time.perf_counter() - start > 60:
                    sys.exit("benchmark: the watcher did not re-render")
                time.sleep(0.01)
            times.append(time.perf_counter() - start)
            peak = max(peak, proc.memory_info().rss / 2**20)
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return sorted(times)[len(times) // 2], peak


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.read().decode("utf-8")


def preview_edit(repo: Path, template: Path, repeats: int = 5
                 ) -> tuple[float, float | None, float]:
    """Under ``preview``: median seconds from a template save to the new HTML served (the
    page's long-poll answers, then the page holds the edit), median seconds from the save to
    the open page reloaded in headless Chromium (its load event; None without Chromium), and
    the server's peak MiB."""
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import Browser, chromium

    proc = psutil.Popen([sys.executable, "-m", "cmvig_report", "preview", "--port", "0",
                         "--interval", "0.05"], cwd=repo, text=True,
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = next((m.group(1) for line in proc.stderr  # type: ignore[union-attr]
                if (m := re.search(r"serving (http://127\.0\.0\.1:\d+/)", line))), None)
    if url is None:
        sys.exit("benchmark: the preview did not start")
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # type: ignore[union-attr]
    executable = chromium()
    browser = None
    served, loaded, peak = [], [], 0.0
    try:
        if executable:
            browser = Browser(executable, repo.parent / "chromium-profile")
        page = _get(url)  # waits for the first render
        if browser:
            browser.open(url)
        for i in range(repeats):
            epoch = re.search(r"var epoch = (\d+);", page).group(1)  # type: ignore[union-attr]
            marker = f"/* preview edit {i} */"
            start = time.perf_counter()
            template.write_text(template.read_text() + f"\n{marker}\n")
            _get(f"{url}livereload/{epoch}")
            page = _get(url)
            served.append(time.perf_counter() - start)
            if marker not in page:
                sys.exit("benchmark: the preview served a page without the edit")
            if browser:
                loaded.append(browser.wait_for("Page.loadEventFired", timeout=120) - start)
            peak = max(peak, proc.memory_info().rss / 2**20)
            time.sleep(0.3)
    finally:
        if browser:
            browser.close()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    return (sorted(served)[len(served) // 2],
            sorted(loaded)[len(loaded) // 2] if loaded else None, peak)


Scenario = tuple[list[str], Path, Callable[[], None]]  # command, folder, what to do before


def median_of(repeats: int, cmd: list[str], cwd: Path,
              before: Callable[[], None]) -> tuple[float, float]:
    """Median time and largest peak memory of ``repeats`` runs, each after ``before()``."""
    return interleaved(repeats, [(cmd, cwd, before)])[0]


def interleaved(repeats: int, scenarios: list[Scenario]) -> list[tuple[float, float]]:
    """Median time and largest peak memory of each scenario, run in turn ``repeats`` times
    (A B A B ...), so that a load on the shared machine falls on each of them alike."""
    results: list[list[tuple[float, float]]] = [[] for _ in scenarios]
    for _ in range(repeats):
        for runs, (cmd, cwd, before) in zip(results, scenarios, strict=True):
            before()
            runs.append(timed(cmd, cwd))
    medians = []
    for runs in results:
        times = sorted(t for t, _ in runs)  # single runs on a shared VM vary: the median
        medians.append((times[len(times) // 2], max(m for _, m in runs)))
    return medians


def r_peer() -> tuple[list[str] | None, bool, str]:
    """The command that renders the R Markdown peer (None without R), whether it can write
    the PDF (LaTeX), and a note saying what is missing."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None, False, "R not installed: R peers not run"
    check = ("quit(status = if (requireNamespace('rmarkdown', quietly = TRUE) && "
             "requireNamespace('survival', quietly = TRUE) && "
             "rmarkdown::pandoc_available()) 0 else 1)")
    if subprocess.run([rscript, "-e", check], capture_output=True).returncode != 0:
        return None, False, "R without rmarkdown, survival or pandoc: R peers not run"
    latex = shutil.which("pdflatex") is not None
    return ([rscript, str(ROOT / "bench" / "r" / "render.R")], latex,
            "" if latex else "no pdflatex: R three-format peers not run")


def r_render(render: list[str], formats: str, data: Path, out: Path) -> Scenario:
    """A run of the R peer over ``data``'s two exports into a fresh ``out``."""
    return ([*render, formats, str(data / "patients.csv"), str(data / "viral_loads.csv"),
             str(out)], out.parent, lambda: clean(out.parent, (out.name,)))


def clean(repo: Path, names: tuple[str, ...]) -> None:
    for name in names:
        shutil.rmtree(repo / name, ignore_errors=True)


def pages(pdf: Path) -> int:
    return len(PdfReader(pdf).pages)


Row = tuple[str, float, float, str, str, float | None]  # ..., target, note, R peer's time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip N = 50,000")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per editing-loop scenario; the median is printed")
    args = parser.parse_args()
    snake = ["snakemake", "--cores", "2", "--quiet", "all"]
    rows: list[Row] = []
    render, latex, r_note = r_peer()
    r_rows: list[tuple[str, float, float]] = []

    with tempfile.TemporaryDirectory(prefix="cmvig-bench-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        copy_project(ROOT, repo)
        shipped = repo / "data" / "raw"
        r_out = Path(tmp) / "r-out"
        built = ("results", "report", "logs", ".snakemake")
        full: list[Scenario] = [(snake, repo, lambda: clean(repo, built))]
        if render and latex:
            full.append(r_render(render, "all", shipped, r_out))
        (t, m), *r_full = interleaved(args.repeats, full)
        n_pages = pages(repo / "report/manuscript.pdf")
        r_all = r_full[0][0] if r_full else None
        if r_full:
            r_rows.append(("R three-format render (N = 15)", *r_full[0]))
        rows.append(("full clean build (N = 15)", t, m, "<= 2.0 x R three formats",
                     f"{n_pages} pages; {args.repeats} runs", r_all))
        css = repo / "templates" / "style.css"
        edits = iter(range(1000))

        def edit_css() -> None:  # new content each time (Snakemake also compares checksums)
            css.write_text(css.read_text() + f"\n/* benchmark edit {next(edits)} */\n")

        loop: list[Scenario] = [(snake, repo, lambda: None), (snake, repo, edit_css)]
        if render:
            loop.append(r_render(render, "html", shipped, r_out))
        (t_noop, m_noop), (t, m), *r_loop = interleaved(args.repeats, loop)
        r_html = r_loop[0][0] if r_loop else None
        if r_loop:
            r_rows.append(("R HTML render (N = 15)", *r_loop[0]))
        rows.append(("no-op run", t_noop, m_noop, "<= 0.8 x R HTML", "", r_html))
        rows.append(("template edit -> new PDF", t, m, "<= 2.0 x R HTML", "snakemake", r_html))
        t, m = watch_edit(repo, css)
        rows.append(("template edit -> new preview PDF", t, m, "",
                     "live preview (watch)", None))
        t, reloaded, m = preview_edit(repo, css, args.repeats)
        rows.append(("template edit -> new HTML served", t, m, "<= 0.25 x R HTML",
                     "browser preview (preview), server side", r_html))
        rows.append(("template edit -> page reloaded in Chromium",
                     reloaded if reloaded is not None else float("nan"), m, "",
                     "browser preview (preview)" if reloaded is not None
                     else "no Chromium: not measured", r_html))
        vl = shipped / "viral_loads.csv"
        blank_lines = iter(range(1, 1000))

        def edit_raw() -> None:  # blank lines: same data, new file content
            vl.write_text(vl.read_text() + "\n" * next(blank_lines))

        t, m = median_of(args.repeats, snake, repo, edit_raw)
        rows.append(("raw-data edit -> new PDF", t, m, "", "", None))

        sizes = [1_000] if args.quick else [1_000, 50_000]
        for n in sizes:
            data = Path(tmp) / f"cohort{n}"
            subprocess.run([sys.executable, "-m", "cmvig_report.devtools.synth", "--n", str(n),
                            "--seed", "1", "--out", str(data)], check=True, cwd=repo)
            with open(data / "viral_loads.csv", "rb") as fh:
                n_vl = sum(1 for _ in fh) - 1
            cmd = [*snake[:-1], "--config", "study=own", f"patients={data / 'patients.csv'}",
                   f"viral_loads={data / 'viral_loads.csv'}", "--", "all"]
            scale: list[Scenario] = [(cmd, repo, lambda: clean(repo, built))]
            if render and latex and n == 50_000:
                scale.append(r_render(render, "all", data, r_out))
            (t, m), *r_scale = interleaved(args.repeats, scale)
            if r_scale:
                r_rows.append((f"R three-format render (N = {n:,})", *r_scale[0]))
            target = "<= 1.0 x R, <= 1024 MiB" if n == 50_000 else ""
            rows.append((f"end to end, N = {n:,} ({n_vl:,} PCR rows)", t, m, target,
                         f"{pages(repo / 'report/manuscript.pdf')} pages; {args.repeats} runs",
                         r_scale[0][0] if r_scale else None))

    mem = psutil.virtual_memory().total / 2**30
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, "
          f"Python {platform.python_version()}")
    print(f"{'scenario':44} {'time (s)':>9} {'peak MiB':>9} {'R (s)':>7} {'ratio':>6}  "
          f"{'target':26} note")
    for name, t, m, target, note, r_time in rows:
        r_cols = (f"{r_time:7.2f} {t / r_time:5.2f}x" if r_time else f"{'':7} {'':6}")
        print(f"{name:44} {t:9.2f} {m:9.0f} {r_cols}  {target:26} {note}")
    for name, t, m in r_rows:
        print(f"{name:44} {t:9.2f} {m:9.0f}")
    if r_note:
        print(r_note)


if __name__ == "__main__":
    main()
