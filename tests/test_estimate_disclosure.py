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


def pinned(text: str, n: int, bare: bool = True) -> set[int]:
    """The counts k of n that a number printed in ``text`` pins down, read as k / n or as
    1 − k / n, at the precision it is printed (a percentage or a fraction). "95%" (the
    interval's level) is a label; ``bare``: whether a whole number without "%" is read too
    (beside an estimate it is a percentage; in a tooltip it is a count, checked elsewhere)."""
    out: set[int] = set()
    for m in DECIMAL.finditer(text.replace("95%", " ")):
        value, places, percent = float(m.group(1)), len(m.group(2) or ""), m.group(3)
        if not (bare or percent or m.group(2)):
            continue
        scale = 100.0 if percent or value > 1 else 1.0
        half = 0.5 * 10 ** -places / scale
        p = value / scale
        for q in (p, 1 - p):
            low, high = math.ceil(n * (q - half) - 1e-9), math.floor(n * (q + half) + 1e-9)
            if low == high:
                out.add(low)
    return out


class _Spans(HTMLParser):
    """data-source -> (the texts printed for it, its tooltips)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, tuple[list[str], list[str]]] = {}
        self._open: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        source = a.get("data-source")
        if source:
            self.found.setdefault(source, ([], []))[1].append(a.get("title") or "")
        if tag not in ("br", "img", "meta", "link", "input", "hr", "col"):
            self._open.append(source)

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for source in self._open:
            if source:
                self.found[source][0].append(data)


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


def _printed(build: dict[str, Path]) -> dict[str, list[tuple[str, bool]]]:
    """estimates key -> every text a shareable file prints for it, and whether a bare whole
    number in it is the estimate (HTML text and tooltips, numbers.csv and claims.csv rows)."""
    out: dict[str, list[tuple[str, bool]]] = {}
    spans = _Spans()
    spans.feed((build["report"] / "manuscript.html").read_text(encoding="utf-8"))
    for source, (texts, titles) in spans.found.items():
        key = source.removeprefix("estimates.json#")
        out.setdefault(key, []).extend([("".join(texts), True)] + [(t, False) for t in titles])
    for name in ("numbers.csv", "claims.csv"):
        for row in _csv(build["report"] / name):
            key = row["source"].removeprefix("estimates.json#")
            out.setdefault(key, []).extend([(row["text"], True), (row.get("value", ""), True)])
    return out


def _shareable_text(report: Path) -> str:
    return "\n".join(f.read_text(encoding="utf-8", errors="replace")
                     for f in sorted(report.rglob("*")) if f.is_file()
                     and f.suffix in (".html", ".csv", ".qmd", ".json", ".md", ".txt"))


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
            for text, bare in printed.get(source, []):
                leaked = pinned(text, n, bare) & set(counts.values())
                assert not leaked, (source, text, counts)
                checked += 1
    assert checked > 0


def test_every_channel_still_hides_every_hidden_cell(build):
    assert _check_build(build) > 20


def test_no_hidden_block_prints_its_estimate_anywhere(build):
    # whatever file or appendix prints it, without a source to find it by: the estimate and
    # its limits to the register's six decimals
    est = json.loads((build["results"] / "estimates.json").read_text())
    text = _shareable_text(build["report"])
    for path in _hidden_blocks(build):
        block = est
        for part in re.findall(r"[^.\[\]]+", path):
            block = block[int(part)] if part.isdigit() else block[part]
        for key in ("estimate", "proportion", "ci_lower", "ci_upper"):
            value = block.get(key)
            if isinstance(value, float) and 0 < value < 1:
                assert f"{value:.6f}".rstrip("0") not in text, (path, key, value)
