"""Journal formats: run the Quarto CLI when it is installed, otherwise make DOCX with pandoc.

Quarto cannot be installed on every machine, so it is looked up on PATH at run time. It is
always called with an argument list (never a shell string), a working directory and a timeout,
and its stderr is surfaced when it fails.

Determinism: the pandoc route gives byte-identical DOCX files for the same .qmd (checked by
tests/test_quarto.py) because SOURCE_DATE_EPOCH is fixed while pandoc runs. The Quarto route
gets the same environment variable, but its output has not been checked here (no Quarto).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..core.io import fixed_source_date
from ..errors import PipelineError

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


def _front_matter(qmd: Path) -> dict:
    """The YAML front matter of a .qmd file ({} when there is none)."""
    import yaml

    text = qmd.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---", 4)
    try:
        data = yaml.safe_load(text[4:end]) if end > 0 else None
    except yaml.YAMLError as exc:
        raise PipelineError(f"{qmd}: the YAML front matter is not valid: {exc}") from None
    return data if isinstance(data, dict) else {}


def pandoc_metadata_args(front_matter: dict) -> list[str]:
    """Extra pandoc arguments for what plain pandoc does not read from Quarto's front matter.

    Quarto's structured authors (``- name: ..., affiliations: [...]``) are not understood by
    pandoc's DOCX writer, which would print no author line: pass "Name (affiliation)" strings.
    """
    args = []
    for author in front_matter.get("author") or []:
        if isinstance(author, dict) and author.get("name"):
            affs = [a.get("name", "") if isinstance(a, dict) else str(a)
                    for a in author.get("affiliations") or []]
            label = str(author["name"]) + (f" ({'; '.join(a for a in affs if a)})"
                                           if any(affs) else "")
            args.append(f"--metadata=author:{label}")
    return args


def pandoc_docx(qmd: str | Path, docx_out: str | Path, reference_doc: str | None = None) -> None:
    """DOCX from the Quarto source with the pandoc bundled in pypandoc-binary.

    Figures are linked relative to the .qmd, so pandoc runs in its directory with
    ``--resource-path`` pointing there. SOURCE_DATE_EPOCH (fixed unless the user set it) keeps
    pandoc from stamping the current time: the same source gives the same DOCX bytes.
    """
    qmd = Path(qmd).resolve()
    if not qmd.is_file():
        raise PipelineError(f"{qmd}: Quarto source not found")
    # --columns small enough that every pipe table counts as wide: pandoc then takes the
    # relative column widths from the dashes of its separator line (Table 1's labels get room).
    args = [f"--resource-path={qmd.parent}", "--columns=20",
            *pandoc_metadata_args(_front_matter(qmd))]
    _pandoc_to_docx(lambda pandoc, **kw: pandoc.convert_file(
        str(qmd), "docx", format="markdown", cworkdir=str(qmd.parent), **kw),
        docx_out, args, reference_doc)


def html_to_docx(text: str, docx_out: str | Path, resources: str | Path,
                 reference_doc: str | None = None) -> None:
    """DOCX of the HTML ``text`` (images found in ``resources``), as :func:`pandoc_docx`."""
    # the <h1> repeats the <title>, which pandoc already makes the DOCX's title
    args = [f"--resource-path={Path(resources).resolve()}", "--shift-heading-level-by=-1"]
    _pandoc_to_docx(lambda pandoc, **kw: pandoc.convert_text(text, "docx", format="html", **kw),
                    docx_out, args, reference_doc)


def _pandoc_to_docx(convert: Callable[..., object], docx_out: str | Path, args: list[str],
                    reference_doc: str | None) -> None:
    # one temporary file, a fixed date and one error line for every DOCX pandoc writes;
    # ``convert`` calls pypandoc (passed in, imported only here) with the output arguments
    import pypandoc

    out = Path(docx_out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.docx")
    if reference_doc:
        args = [*args, f"--reference-doc={Path(reference_doc).resolve()}"]
    try:
        with fixed_source_date():
            convert(pypandoc, outputfile=str(tmp), extra_args=args)
        tmp.replace(out)
    except (RuntimeError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise PipelineError(f"pandoc could not make {docx_out}: {exc}") from None


def run_docx(*, qmd: str, docx: str, reference_doc: list[str] | None = None) -> list[str]:
    """The DOCX of the Quarto source ``qmd`` (its PNG figures read through its links), by
    Quarto when installed, else by pandoc (step ``quarto_source``, :func:`.report.run_qmd`);
    ``reference_doc`` (templates/reference.docx, optional) gives the Word styles.
    """
    docx_out = docx
    reference = (reference_doc or [None])[0]
    quarto = find_quarto()
    if quarto is None:
        pandoc_docx(qmd, docx_out, reference)
        return [f"quarto not found on PATH: {docx_out} made by pandoc instead"]
    qmd_path = Path(qmd).resolve()
    if not qmd_path.is_file():
        raise PipelineError(f"{qmd}: Quarto source not found")
    out = Path(docx_out).resolve()
    with fixed_source_date():  # inherited by Quarto's pandoc, which stamps the DOCX otherwise
        run_quarto(quarto_command(qmd_path, "docx", out.name, quarto), cwd=qmd_path.parent)
    produced = qmd_path.parent / out.name
    if not produced.is_file():
        raise PipelineError(f"quarto reported success but wrote no {produced}")
    if produced != out:
        out.parent.mkdir(parents=True, exist_ok=True)
        produced.replace(out)
    return [f"{docx_out} rendered by Quarto ({quarto})"]
