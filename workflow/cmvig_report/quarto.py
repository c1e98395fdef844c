"""Journal formats: run the Quarto CLI when it is installed, otherwise make DOCX with pandoc.

Quarto cannot be installed on every machine, so it is looked up on PATH at run time. It is
always called with an argument list (never a shell string), a working directory and a timeout,
and its stderr is surfaced when it fails.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .errors import PipelineError
from .io import fixed_source_date

QUARTO_TIMEOUT_S = 300


def find_quarto() -> str | None:
    """Path of the ``quarto`` executable on PATH, or None."""
    return shutil.which("quarto")


def quarto_command(qmd: str | Path, to: str, output: str, quarto: str = "quarto") -> list[str]:
    """The argument list that renders ``qmd`` to format ``to`` as file ``output``."""
    return [quarto, "render", Path(qmd).name, "--to", to, "--output", output]


def run_quarto(args: list[str], cwd: str | Path,
               timeout: float = QUARTO_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run Quarto; a missing binary, a timeout or a non-zero exit becomes a PipelineError."""
    try:
        result = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                                timeout=timeout, check=False)
    except FileNotFoundError:
        raise PipelineError(
            f"quarto not found ({args[0]}): install Quarto from quarto.org, or leave "
            "report/manuscript.docx to pandoc (the default when quarto is not on PATH)"
        ) from None
    except subprocess.TimeoutExpired:
        raise PipelineError(f"quarto did not finish within {timeout:g} s: {' '.join(args)}"
                            ) from None
    if result.returncode != 0:
        stderr = result.stderr.strip() or result.stdout.strip() or "(no output)"
        raise PipelineError(f"quarto failed with exit status {result.returncode}: "
                            f"{' '.join(args)}\n{stderr}")
    return result


def pandoc_docx(qmd: str | Path, docx_out: str | Path) -> None:
    """DOCX from the Quarto source with the pandoc bundled in pypandoc-binary."""
    import pypandoc

    qmd = Path(qmd).resolve()
    out = Path(docx_out).resolve()
    tmp = out.with_name(f".{out.name}.tmp.docx")
    try:
        with fixed_source_date():  # pandoc stamps the DOCX with the current time otherwise
            pypandoc.convert_file(str(qmd), "docx", format="markdown", outputfile=str(tmp),
                                  extra_args=[f"--resource-path={qmd.parent}"],
                                  cworkdir=str(qmd.parent))
        tmp.replace(out)
    except (RuntimeError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise PipelineError(f"pandoc could not make {docx_out}: {exc}") from None


def run_docx(qmd: str, docx_out: str) -> list[str]:
    """CLI entry: report/manuscript.docx by Quarto when installed, else by pandoc."""
    quarto = find_quarto()
    if quarto is None:
        pandoc_docx(qmd, docx_out)
        return [f"quarto not found on PATH: {docx_out} made by pandoc instead"]
    qmd_path = Path(qmd).resolve()
    out = Path(docx_out).resolve()
    run_quarto(quarto_command(qmd_path, "docx", out.name, quarto), cwd=qmd_path.parent)
    produced = qmd_path.parent / out.name
    if produced != out:
        produced.replace(out)
    return [f"{docx_out} rendered by Quarto ({quarto})"]
