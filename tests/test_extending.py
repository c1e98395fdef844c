"""docs/extending.md is true: apply its steps to a copy of the project and build.

The page marks each step with ``<!-- apply: new|append|replace PATH -->`` followed by one code
block (new, append) or two (replace: the text as it is, then as it becomes). This test applies
them in order, builds the manuscript, and checks that the new figure and the new estimate are
drawn, printed and registered.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STEP = re.compile(r"<!-- apply: (new|append|replace) (\S+) -->\n((?:```[^\n]*\n.*?\n```\n?)+)",
                  flags=re.S)
BLOCK = re.compile(r"```[^\n]*\n(.*?)\n```", flags=re.S)


def steps() -> list[tuple[str, str, list[str]]]:
    text = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    return [(action, path, BLOCK.findall(blocks)) for action, path, blocks in STEP.findall(text)]


def apply(repo: Path, action: str, path: str, blocks: list[str]) -> None:
    target = repo / path
    if action == "new":
        assert not target.exists(), path
        target.write_text(blocks[0] + "\n", encoding="utf-8")
    elif action == "append":
        target.write_text(target.read_text(encoding="utf-8") + blocks[0] + "\n",
                          encoding="utf-8")
    else:
        old, new = blocks
        text = target.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{path}: the text to replace is not there exactly once"
        target.write_text(text.replace(old, new), encoding="utf-8")


def test_the_page_has_the_steps_it_describes():
    found = steps()
    assert [(a, p) for a, p, _ in found][:2] == [
        ("new", "workflow/cmvig_report/figures/figure4.py"), ("new", "workflow/scripts/figure4.py")]
    assert all(len(b) == (2 if a == "replace" else 1) for a, _, b in found)


@pytest.mark.e2e
def test_following_the_walkthrough_adds_a_figure_and_an_estimate(shipped_clone):
    repo = shipped_clone  # a built project, as the reader's is (conftest.py)
    for action, path, blocks in steps():
        apply(repo, action, path, blocks)
    run = subprocess.run(["snakemake", "--cores", "2"], cwd=repo, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (repo / "results/figures/figure4.svg").is_file()
    assert (repo / "report/figures/figure4.png").is_file()
    facts = json.loads((repo / "results/figures/figure4.json").read_text())
    est = json.loads((repo / "results/estimates.json").read_text())
    assert facts["patients_with_a_value"] == est["viral_load_at_cmvig"]["n"]
    html = (repo / "report/manuscript.html").read_text()
    assert "Figure 4." in html
    with open(repo / "report/numbers.csv", encoding="utf-8") as fh:
        sources = {r["source"] for r in csv.DictReader(fh)}
    assert "figure4.json#patients_with_a_value" in sources
    assert "estimates.json#viral_load_by_response.responders" in sources
    assert "![**Figure 4.**" in (repo / "report/manuscript.qmd").read_text()
