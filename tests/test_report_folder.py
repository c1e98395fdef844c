"""report/ holds the files this build published and nothing else, each in the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cmvig_report.release.report_folder import fingerprint, record_package, settle, tidy

MADE_FROM = {"config": {"journal": "frontiers-in-pediatrics"}, "inputs": {}, "software": {},
             "code_sha256": "c", "templates_sha256": "t", "results": {"results/x": "1"}}


def _write(paths: list[Path]) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{path.name}\n")


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_tidy_deletes_what_the_pipeline_made_and_moves_anything_else_aside(tmp_path):
    report = tmp_path / "report"
    kept = [report / "manuscript.html", report / "figures" / "figure1.png"]
    made = [report / "changes.csv", report / "figures" / "figure9.png",
            report / "submission" / "figure1.eps", report / "centres" / "gone" /
            "aggregate.json", report / "preview.html"]
    theirs = [report / "notes from the ward.txt"]
    _write(kept + made + theirs)
    notes = tidy(report, [str(p) for p in kept], set_aside=tmp_path / "aside")
    assert _files(report) == ["figures/figure1.png", "manuscript.html"]
    assert sorted(n.split(" ")[1] for n in notes if n.startswith("removed")) == sorted(
        p.as_posix() for p in made)
    assert _files(tmp_path / "aside") == ["notes from the ward.txt"]
    assert [n for n in notes if n.startswith("moved")] == [
        f"moved {theirs[0].as_posix()} to {tmp_path / 'aside' / 'notes from the ward.txt'}: "
        "not made by the pipeline (never leak-checked)"]
    assert not (report / "submission").exists() and not (report / "centres").exists()


def test_many_removals_are_counted_after_the_first_twenty(tmp_path):
    report = tmp_path / "report"
    _write([report / "submission" / f"f{i:02d}.tif" for i in range(25)])
    notes = tidy(report, [])
    assert len(notes) == 21 and notes[-1] == f"... and 5 more files removed from {report}/"


def _build(tmp_path: Path, made_from: dict) -> tuple[dict, list[str], list[str], str, Path]:
    report = tmp_path / "report"
    published = [str(report / "manuscript.html")]
    package = [str(report / "submission" / n) for n in ("manuscript.pdf", "MANIFEST.txt")]
    _write([Path(p) for p in published + package])
    record = {**made_from, "outputs": {p: "sha" for p in published}}
    return record, published, package, str(report / "manifest.json"), tmp_path / "sub.json"


def test_the_package_is_kept_while_it_was_made_from_this_build_and_listed(tmp_path):
    record, published, package, manifest, sub = _build(tmp_path, MADE_FROM)
    settle(record, manifest, published, [], package, sub)  # the build, no package recorded
    assert not Path(package[0]).exists()  # a package of unknown origin goes
    _write([Path(p) for p in package])
    record_package(manifest, package, str(sub))  # `snakemake submission`
    written = json.loads(Path(manifest).read_text())
    assert sorted(written["outputs"]) == sorted(published + package)
    assert written["submission"]["made_with"] == fingerprint(record)
    # the publish step runs again on the same build: the package stays, in the manifest
    Path(manifest).unlink()  # as Snakemake does before running the step
    assert settle(record, manifest, published, [], package, sub) == []
    written = json.loads(Path(manifest).read_text())
    assert sorted(written["outputs"]) == sorted(published + package)
    assert _files(tmp_path / "report") == sorted(
        ["manifest.json", "manuscript.html", "submission/MANIFEST.txt",
         "submission/manuscript.pdf"])


def test_the_package_of_another_build_or_journal_or_edited_goes(tmp_path):
    for change in ("cohort", "journal", "edited"):
        root = tmp_path / change
        record, published, package, manifest, sub = _build(root, MADE_FROM)
        record_package(manifest, package, str(sub))
        wanted = package
        if change == "cohort":
            record = {**record, "results": {"results/x": "2"}}
        elif change == "journal":
            wanted = [package[0].replace(".pdf", ".docx"), package[1]]
        else:
            Path(package[0]).write_text("changed by hand\n")
        notes = settle(record, manifest, published, [], wanted, sub)
        assert _files(root / "report") == ["manifest.json", "manuscript.html"], change
        assert len(notes) == 2 and all(n.startswith("removed ") for n in notes)
        assert sorted(json.loads(Path(manifest).read_text())["outputs"]) == published


def test_the_other_steps_files_for_this_config_are_kept_and_listed(tmp_path):
    record, published, package, manifest, sub = _build(tmp_path, MADE_FROM)
    report = tmp_path / "report"
    bundle = report / "centres" / "north" / "aggregate.json"
    old_bundle = report / "centres" / "gone" / "aggregate.json"
    pooled = report / "pooled" / "manuscript.html"
    _write([bundle, old_bundle, pooled])
    notes = settle(record, manifest, published, [str(bundle), str(pooled)], package, sub)
    outputs = json.loads(Path(manifest).read_text())["outputs"]
    assert sorted(outputs) == sorted([*published, str(bundle), str(pooled)])
    assert outputs[str(bundle)] == hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert f"removed {old_bundle.as_posix()} (not made by this build)" in notes
    assert not old_bundle.exists() and bundle.exists()
