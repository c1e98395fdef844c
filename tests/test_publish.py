"""Which files in report/ the publish step names as not published by it."""

from __future__ import annotations

from pathlib import Path

from cmvig_report.publish import unpublished_files


def test_only_files_no_publishing_step_checked_are_named(tmp_path: Path):
    report = tmp_path / "report"
    published = [report / "manuscript.html", report / "figures" / "figure1.svg"]
    # the other publishing steps' folders: submission, each centre's bundle, the pooled one
    theirs = [report / "submission" / "manuscript.pdf", report / "centres" / "north" /
              "aggregate.json", report / "pooled" / "manuscript.pdf"]
    stray = [report / "notes.txt", report / "figures" / "old.png",
             report / "pooledish" / "draft.pdf"]
    for path in published + theirs + stray:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    notes = unpublished_files([str(p) for p in published])
    named = sorted(n.split(f"{report}/", 1)[1].split(" was not", 1)[0] for n in notes)
    assert named == ["figures/old.png", "notes.txt", "pooledish/draft.pdf"]
