"""The Quarto wrapper and the DOCX fallback.

Quarto is not installed on our machines. For the wrapper's contract (argument list, error
surfacing) a tiny stand-in executable named ``quarto`` is put on PATH; it plays Quarto for these
tests only and says nothing about Quarto's own behaviour.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from cohort_factory import abstract_like_cohort
from report_fixtures import make_project, qmd_args

from cmvig_report import paths
from cmvig_report.core.formatting import format_percent_ci
from cmvig_report.errors import PipelineError
from cmvig_report.render import quarto
from cmvig_report.render.report import run_qmd


def _stand_in(tmp_path: Path, script: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "quarto"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    return bin_dir


def test_command_is_an_argument_list():
    assert quarto.quarto_command("/x/report/manuscript.qmd", "docx", "manuscript.docx") == [
        "quarto", "render", "manuscript.qmd", "--to", "docx", "--output", "manuscript.docx"]


def test_missing_binary_gives_a_clear_message(tmp_path):
    with pytest.raises(PipelineError, match="quarto not found"):
        quarto.run_quarto([str(tmp_path / "no-such-quarto"), "render", "x.qmd"], cwd=tmp_path)


def test_non_zero_exit_surfaces_stderr(tmp_path, monkeypatch):
    bin_dir = _stand_in(tmp_path, 'echo "ERROR: unknown format elsevier-pdf" >&2\nexit 3\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert quarto.find_quarto() == str(bin_dir / "quarto")
    with pytest.raises(PipelineError) as info:
        quarto.run_quarto(quarto.quarto_command("m.qmd", "elsevier-pdf", "m.pdf"), cwd=tmp_path)
    assert "exit status 3" in str(info.value)
    assert "unknown format elsevier-pdf" in str(info.value)


def test_timeout_is_reported(tmp_path):
    bin_dir = _stand_in(tmp_path, "sleep 5\n")
    with pytest.raises(PipelineError, match="did not finish within 0.2 s"):
        quarto.run_quarto([str(bin_dir / "quarto")], cwd=tmp_path, timeout=0.2)


def test_run_docx_uses_quarto_when_present(tmp_path, monkeypatch):
    # The stand-in records its arguments and writes the file Quarto would write.
    bin_dir = _stand_in(tmp_path, 'echo "$@" > args.txt\ntouch "$6"\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    qmd = tmp_path / "report" / "manuscript.qmd"
    qmd.parent.mkdir()
    qmd.write_text("# hello\n")
    notes = quarto.run_docx(qmd=str(qmd), docx=str(qmd.parent / "manuscript.docx"))
    assert (qmd.parent / "manuscript.docx").exists()
    assert (qmd.parent / "args.txt").read_text().split() == [
        "render", "manuscript.qmd", "--to", "docx", "--output", "manuscript.docx"]
    assert "rendered by Quarto" in notes[0]


def _qmd(tmp_path: Path) -> tuple[dict, Path]:
    kwargs = make_project(tmp_path, abstract_like_cohort())
    qmd = kwargs["_project"] / "report" / "manuscript.qmd"
    run_qmd(**qmd_args(kwargs), qmd=str(qmd))
    return kwargs, qmd


def test_docx_by_pandoc_when_quarto_is_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert quarto.find_quarto() is None
    kwargs, qmd = _qmd(tmp_path)
    docx = qmd.parent / "manuscript.docx"
    notes = quarto.run_docx(qmd=str(qmd), docx=str(docx))
    assert notes == [f"quarto not found on PATH: {docx} made by pandoc instead"]
    with zipfile.ZipFile(docx) as z:
        xml = z.read("word/document.xml").decode()
        media = [n for n in z.namelist() if n.startswith("word/media/")]
    est = kwargs["_estimates"]
    for block in ("response", "os_from_cmvig", "os_from_hsct"):
        assert format_percent_ci(est[block]) in xml
    assert "A. Author (Replication team)" in xml  # structured authors passed to pandoc
    assert "Table 1." in xml and "Figure 2." in xml
    assert len(media) == len(paths.FIGURE_NAMES)  # every figure found through --resource-path


def test_pandoc_docx_is_byte_identical_across_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    _, qmd = _qmd(tmp_path)
    one, two = qmd.parent / "one.docx", qmd.parent / "two.docx"
    quarto.run_docx(qmd=str(qmd), docx=str(one))
    quarto.run_docx(qmd=str(qmd), docx=str(two))
    assert one.read_bytes() == two.read_bytes()


def test_pandoc_failure_is_a_plain_error(tmp_path):
    with pytest.raises(PipelineError, match="Quarto source not found"):
        quarto.pandoc_docx(tmp_path / "missing.qmd", tmp_path / "x.docx")
