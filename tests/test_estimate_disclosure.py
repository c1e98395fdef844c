"""No printed estimate gives a hidden count back (``min_cell_count``), on any channel.

A generated export of 46 children (``synth``, seed 34) in which, with ``min_cell_count=5``, the
plan hides the deaths by the survival landmark (fewer than five, nobody censored before it) and
the responders among the recurrent infections (a complement): there one minus the Kaplan–Meier
estimate, times n, is the hidden deaths exactly. The build is searched where each block's
estimate and limits print (the HTML text and tooltips, ``numbers.csv``, ``claims.csv``): no
number printed there, at the precision printed, may leave a hidden count of the block as the
only integer it allows.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_small_cells import _check_build, _csv, _snapshot

from cmvig_report.core.io import copy_project
from cmvig_report.devtools.synth import main as synth_main

ROOT = Path(__file__).resolve().parents[1]
MIN_CELL = 5
DECIMAL = re.compile(r"(?<![\w.])(\d+(?:\.(\d+))?)(%?)")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("estimates")
    repo = copy_project(ROOT, tmp / "repo")
    assert synth_main(["--n", "46", "--seed", "34", "--out", str(tmp / "export")]) == 0
    run = subprocess.run(["snakemake", "--cores", "2", "--config", f"min_cell_count={MIN_CELL}",
                          "number_appendix=true", f"patients={tmp / 'export/patients.csv'}",
                          f"viral_loads={tmp / 'export/viral_loads.csv'}"], cwd=repo,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return _snapshot(repo, tmp / "build")


def pinned(text: str, n: int) -> set[int]:
    """The counts k of n that a number printed in ``text`` pins down, read as k / n or as
    1 − k / n, at the precision it is printed (a percentage or a fraction)."""
    out: set[int] = set()
    for m in DECIMAL.finditer(text):
        value, places, percent = float(m.group(1)), len(m.group(2) or ""), m.group(3)
        scale = 100.0 if percent or value > 1 else 1.0
        half = 0.5 * 10 ** -places / scale
        p = value / scale
        for q in (p, 1 - p):
            low, high = math.ceil(n * (q - half) - 1e-9), math.floor(n * (q + half) + 1e-9)
            if low == high:
                out.add(low)
    return out


class _Spans(HTMLParser):
    """data-source -> the texts and titles printed for it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, list[str]] = {}
        self._open: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        source = a.get("data-source")
        if source:
            self.found.setdefault(source, []).append(a.get("title") or "")
        if tag not in ("br", "img", "meta", "link", "input", "hr", "col"):
            self._open.append(source)

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for source in self._open:
            if source:
                self.found[source].append(data)


def _hidden_blocks(build: dict[str, Path]) -> dict[str, tuple[int, dict[str, int]]]:
    """block key -> (its n, its hidden counts and their true values), from the internal files."""
    est = json.loads((build["results"] / "estimates.json").read_text())
    hidden = est["disclosure"]["hidden"]
    out: dict[str, tuple[int, dict[str, int]]] = {}

    def walk(node, path=""):
        if isinstance(node, dict):
            if path and ("estimate" in node or "proportion" in node) and isinstance(
                    node.get("n"), int):
                counts = {k: v for k, v in node.items() if isinstance(v, int)
                          and not isinstance(v, bool) and f"{path}.{k}" in hidden}
                if counts:
                    out[path] = (node["n"], counts)
            for k, v in node.items():
                if k not in ("disclosure", "settings", "claims"):
                    walk(v, f"{path}.{k}" if path else k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(est)
    return out


def _printed(build: dict[str, Path]) -> dict[str, list[str]]:
    """estimates key -> every text a shareable file prints for it (HTML text and tooltip,
    numbers.csv and claims.csv rows)."""
    out: dict[str, list[str]] = {}
    spans = _Spans()
    spans.feed((build["report"] / "manuscript.html").read_text(encoding="utf-8"))
    for source, texts in spans.found.items():
        out.setdefault(source.removeprefix("estimates.json#"), []).extend(texts)
    for name in ("numbers.csv", "claims.csv"):
        for row in _csv(build["report"] / name):
            key = row["source"].removeprefix("estimates.json#")
            out.setdefault(key, []).extend([row["text"], row.get("value", "")])
    return out


def test_the_cohort_has_a_hidden_count_an_estimate_would_give_back(build):
    blocks = _hidden_blocks(build)
    est = json.loads((build["results"] / "estimates.json").read_text())
    block = est["os_from_cmvig"]
    assert "os_from_cmvig" in blocks and block["censored"] == 0 and 0 < block["events"] < MIN_CELL
    # the estimate is exactly 1 − deaths / n: printed, it would pin the deaths
    assert block["events"] in pinned(f"{100 * block['estimate']:.0f}%", block["n"])


def test_no_printed_estimate_pins_a_hidden_count(build):
    printed = _printed(build)
    checked = 0
    for path, (n, counts) in _hidden_blocks(build).items():
        sources = [path] + [f"{path}.{k}" for k in ("estimate", "proportion", "ci_lower",
                                                   "ci_upper")]
        for source in sources:
            for text in printed.get(source, []):
                leaked = pinned(text, n) & set(counts.values())
                assert not leaked, (source, text, counts)
                checked += 1
    assert checked > 0


def test_every_channel_still_hides_every_hidden_cell(build):
    assert _check_build(build) > 20
