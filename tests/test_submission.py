"""The journal profiles and the submission package (`snakemake --cores 2 submission`)."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from PIL import Image

from cmvig_report import paths
from cmvig_report.core.io import copy_project, sha256_file
from cmvig_report.errors import PipelineError
from cmvig_report.journals.journal import limit_notes, load_profile, word_limits
from cmvig_report.journals.submission import figure_file, table_markdown

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted((ROOT / paths.JOURNALS).glob("*.yaml"))


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_each_shipped_profile_loads_and_says_what_it_was_checked_against(path):
    profile = load_profile(path)
    assert "re-check" in profile["checked_against"]
    assert profile["figures"]["dpi"] >= 300


def test_the_two_shipped_profiles_differ_where_their_journals_do():
    frontiers, bmt = (load_profile(ROOT / paths.JOURNALS / f"{n}.yaml")
                      for n in ("frontiers-in-pediatrics", "bone-marrow-transplantation"))
    assert [s["heading"] for s in frontiers["abstract"]["sections"]] == [
        "Background", "Methods", "Results", "Conclusions"]
    assert [s["heading"] for s in bmt["abstract"]["sections"]] == [""]
    assert frontiers["citation_style"] != bmt["citation_style"]
    assert (frontiers["figures"]["dpi"], bmt["figures"]["dpi"]) == (300, 600)


def test_a_broken_profile_is_named_with_its_key(tmp_path):
    good = yaml.safe_load((ROOT / paths.JOURNALS / "frontiers-in-pediatrics.yaml").read_text())
    path = tmp_path / "j.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in good.items() if k != "citation_style"}))
    with pytest.raises(PipelineError, match=r"^journal profile .*j\.yaml: missing "
                                            r"citation_style$"):
        load_profile(path)
    good["abstract"]["sections"] = good["abstract"]["sections"][:3]  # no conclusion
    path.write_text(yaml.safe_dump(good))
    with pytest.raises(PipelineError, match="must hold each of background, methods, results, "
                                            "conclusion once"):
        load_profile(path)
    with pytest.raises(PipelineError, match=r"journal 'nosuch': no profile .* \(profiles: j\)"):
        load_profile(tmp_path / "nosuch.yaml")


def test_limits_exceeded_warn_one_line_each_or_stop_under_strict_metadata():
    profile = load_profile(ROOT / paths.JOURNALS / "bone-marrow-transplantation.yaml")
    limits = word_limits(profile, {})
    assert limits == {"abstract": 250, "main_text": 4000}
    assert word_limits(profile, {"word_limits": {"abstract": 300}})["abstract"] == 300
    notes = limit_notes({"abstract": 251, "main_text": 4000}, limits, 7, profile, False)
    assert notes[1:] == [
        "warning: the abstract has 251 words, over the limit of 250 (Bone Marrow "
        "Transplantation)",
        "warning: the manuscript has 7 displays (figures and tables), over the 6 Bone Marrow "
        "Transplantation allows"]
    assert limit_notes({"abstract": 250, "main_text": 4000}, limits, 6, profile, True)[1:] == []
    with pytest.raises(PipelineError, match="strict_metadata: true"):
        limit_notes({"abstract": 251, "main_text": 10}, limits, 1, profile, True)


def test_a_figure_file_has_the_profiles_format_and_resolution(tmp_path):
    svg = tmp_path / "f.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="144pt" height="72pt" '
                   'viewBox="0 0 144 72"><rect x="0" y="0" width="72" height="72" '
                   'fill="#000"/></svg>')
    assert figure_file(svg, tmp_path / "f.tif", "tiff", 600) == (1200, 600)  # 2 x 1 inches
    with Image.open(tmp_path / "f.tif") as image:
        assert image.format == "TIFF" and image.info["dpi"] == (600, 600)
        assert image.getpixel((100, 300)) == (0, 0, 0)  # the black square, left half
        assert image.getpixel((1100, 300)) == (255, 255, 255)  # white background
    assert figure_file(svg, tmp_path / "f.pdf", "pdf", 300) == (0, 0)
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")


def test_a_table_is_cut_from_the_quarto_source_with_its_caption():
    qmd = "Text.\n\n| a | b |\n|--:|--:|\n| 1 | 2 |\n\n: **Table 1.** Caption.\n\nMore.\n"
    assert table_markdown(qmd, ": **Table 1.**") == (
        "| a | b |\n|--:|--:|\n| 1 | 2 |\n\n: **Table 1.** Caption.\n")
    with pytest.raises(PipelineError, match="no table captioned"):
        table_markdown(qmd, ": **Table 2.**")


@pytest.mark.e2e
def test_submission_package_holds_what_the_profile_asks_for(tmp_path):
    repo = copy_project(ROOT, tmp_path / "repo")
    run = subprocess.run(["snakemake", "--cores", "2", "submission", "--config",
                          "journal=bone-marrow-transplantation"], cwd=repo,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    folder = repo / paths.REPORT / paths.SUBMISSION
    expected = paths.submission_files("tiff")
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
    assert "files checked and published" in run.stderr  # through the leak check
    # each figure at 600 dpi, as large as its drawing
    for name in paths.FIGURE_NAMES:
        svg = (repo / paths.figure(name, "svg")).read_text()
        width_pt = float(re.search(r'<svg[^>]*\bwidth="([\d.]+)pt"', svg).group(1))
        with Image.open(folder / f"{name}.tif") as image:
            assert image.info["dpi"] == (600, 600)
            assert abs(image.size[0] - width_pt / 72 * 600) <= 1
    # the journal takes the figures as files: the review copy has none inside
    with zipfile.ZipFile(folder / "manuscript.docx") as docx:
        assert not [n for n in docx.namelist() if n.startswith("word/media/")]
    with zipfile.ZipFile(folder / "table1.docx") as docx:
        body = docx.read("word/document.xml").decode()
        assert "<w:tbl>" in body and "Table 1." in body
    # MANIFEST.txt: every other file with its checksum and size
    lines = [line.split("  ") for line in (folder / "MANIFEST.txt").read_text().splitlines()
             if not line.startswith("#")]
    assert [name for _, _, name in lines] == expected[:-1]
    for digest, size, name in lines:
        assert digest == sha256_file(folder / name) and int(size) == (folder / name).stat().st_size


@pytest.mark.e2e
def test_a_profile_alone_gives_its_journal_its_own_package(tmp_path):
    """Transplant Infectious Disease: only `--config journal=...` changes, no template is
    edited; the package follows its profile (600 dpi TIFF, double-spaced review copy with
    line numbers, the supplement apart) and the build says the profile is not checked yet."""
    repo = copy_project(ROOT, tmp_path / "repo")
    templates = {p: p.read_bytes() for p in (repo / "templates").rglob("*") if p.is_file()}
    run = subprocess.run(["snakemake", "--cores", "2", "submission", "--config",
                          "journal=transplant-infectious-disease"], cwd=repo,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert {p: p.read_bytes() for p in (repo / "templates").rglob("*") if p.is_file()} \
        == templates
    assert run.stderr.count("transplant-infectious-disease.yaml (Transplant Infectious "
                            "Disease) is not checked") == 1
    folder = repo / paths.REPORT / paths.SUBMISSION
    assert sorted(p.name for p in folder.iterdir()) == sorted(paths.submission_files("tiff"))
    assert "# Submission package for Transplant Infectious Disease (Original Article)" in \
        (folder / "MANIFEST.txt").read_text()
    with Image.open(folder / "figure1.tif") as image:
        assert image.info["dpi"] == (600, 600)
    with zipfile.ZipFile(folder / "manuscript.docx") as docx:
        body = docx.read("word/document.xml").decode()
        styles = docx.read("word/styles.xml").decode()
    assert "<w:lnNumType" in body and 'w:line="480"' in styles
    with zipfile.ZipFile(folder / "cover_letter.docx") as docx:
        assert "as an Original Article in" in re.sub(r"<[^>]+>", "",
                                                     docx.read("word/document.xml").decode())
