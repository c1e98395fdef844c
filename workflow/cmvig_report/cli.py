"""Command line used by the Snakemake rules: ``python -m cmvig_report STAGE ...``.

Each subcommand only parses paths and settings and calls one stage function, importing that
stage lazily so a step pays only for the libraries it uses. Errors caused by the user's input
(:class:`~cmvig_report.errors.PipelineError`) are printed as plain lines on stderr and in the
step's log, with exit status 1 and no traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib import import_module
from pathlib import Path

from .errors import PipelineError


def _yes_no(text: str) -> bool:
    if text.lower() in {"yes", "true", "1", "on"}:
        return True
    if text.lower() in {"no", "false", "0", "off"}:
        return False
    raise argparse.ArgumentTypeError(f"expected yes/no, got {text!r}")


def _key_path(text: str) -> tuple[str, str]:
    key, sep, path = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return key, path


def _sheet(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cmvig_report", description=__doc__)
    parser.add_argument("--log", type=Path, help="write this step's log here")
    sub = parser.add_subparsers(dest="stage", required=True)

    p = sub.add_parser("cohort", help="validate and clean the raw exports")
    p.add_argument("--patients", required=True)
    p.add_argument("--viral-loads", required=True)
    p.add_argument("--sheet", type=_sheet, default=0)
    p.add_argument("--lloq", type=float, required=True)
    p.add_argument("--cohort-out", required=True)
    p.add_argument("--viral-loads-out", required=True)
    p.add_argument("--cleaning-log-out", required=True)

    p = sub.add_parser("analysis", help="estimates.json and Table 1")
    p.add_argument("--cohort", required=True)
    p.add_argument("--response-day", type=int, required=True)
    p.add_argument("--os-cmvig-day", type=int, required=True)
    p.add_argument("--os-hsct-day", type=int, required=True)
    p.add_argument("--lloq", type=float, required=True)
    p.add_argument("--estimates-out", required=True)
    p.add_argument("--table1-csv-out", required=True)
    p.add_argument("--table1-html-out", required=True)
    p.add_argument("--curves-out", required=True)

    for name in ("figure1", "figure2"):
        p = sub.add_parser(name, help=f"draw {name}")
        p.add_argument("--cohort", required=True)
        if name == "figure1":
            p.add_argument("--response-day", type=int, required=True)
            p.add_argument("--max-rows", type=int, default=40)
        else:
            p.add_argument("--estimates", required=True)
            p.add_argument("--curves", required=True)
        p.add_argument("--svg-out", required=True)
        p.add_argument("--png-out", required=True)
        p.add_argument("--meta-out", required=True)

    p = sub.add_parser("provenance", help="checksums of inputs and results, config, versions")
    p.add_argument("--input", type=_key_path, action="append", default=[], dest="inputs")
    p.add_argument("--config-json", required=True, help="the config used, as JSON text")
    p.add_argument("--out", required=True)

    p = sub.add_parser("render", help="manuscript HTML and PDF (WeasyPrint)")
    _render_arguments(p)
    p.add_argument("--html-out", required=True)
    p.add_argument("--pdf-out", help="omit to skip the PDF")

    p = sub.add_parser("qmd", help="manuscript as Quarto source")
    _render_arguments(p)
    p.add_argument("--table1-csv", required=True)
    p.add_argument("--qmd-out", required=True)

    p = sub.add_parser("docx", help="DOCX from the Quarto source (Quarto, else pandoc)")
    p.add_argument("--qmd", required=True)
    p.add_argument("--docx-out", required=True)

    p = sub.add_parser("watch", help="live preview: re-render report/preview.pdf on every "
                       "template or result change")
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--html-out", default="report/preview.html")
    p.add_argument("--pdf-out", default="report/preview.pdf")
    p.add_argument("--interval", type=float, default=0.1, help="seconds between checks")

    p = sub.add_parser("manifest", help="report/manifest.json: the audit trail")
    p.add_argument("--provenance", required=True)
    p.add_argument("--result", action="append", default=[], dest="results")
    p.add_argument("--output", action="append", default=[], dest="outputs")
    p.add_argument("--template", action="append", default=[], dest="templates")
    p.add_argument("--out", required=True)
    return parser


def _render_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--templates", required=True, help="templates directory")
    p.add_argument("--estimates", required=True)
    p.add_argument("--table1-html", required=True)
    p.add_argument("--figures-dir", required=True)
    p.add_argument("--provenance", required=True)
    p.add_argument("--published", required=True)
    p.add_argument("--replication", type=_yes_no, required=True)
    p.add_argument("--line-numbers", type=_yes_no, default=False)


# stage -> (module, function); imported only when that stage runs.
STAGES = {
    "cohort": ("cohort", "run_cohort"),
    "analysis": ("analysis", "run_analysis"),
    "figure1": ("figures", "run_figure1"),
    "figure2": ("figures", "run_figure2"),
    "provenance": ("provenance", "run_provenance"),
    "render": ("report", "run_render"),
    "qmd": ("report", "run_qmd"),
    "docx": ("quarto", "run_docx"),
    "manifest": ("provenance", "run_manifest"),
    "watch": ("watch", "run_watch"),
}


def main(argv: list[str] | None = None) -> int:
    """Run one stage; return the process exit status."""
    args = vars(build_parser().parse_args(argv))
    stage = args.pop("stage")
    log_path: Path | None = args.pop("log")
    started = time.perf_counter()
    log_lines = [f"stage {stage}: " + " ".join(f"{k}={v}" for k, v in sorted(args.items()))]
    status = 0
    try:
        module_name, func_name = STAGES[stage]
        func = getattr(import_module(f".{module_name}", __package__), func_name)
        notes = func(**args) or []
        for note in notes:  # user-facing notes, e.g. "quarto not found: DOCX made by pandoc"
            print(f"[{stage}] {note}", file=sys.stderr)
        log_lines += list(notes)
    except PipelineError as exc:
        message = f"error in step '{stage}':\n{exc}"
        print(message, file=sys.stderr)
        log_lines.append(message)
        status = 1
    log_lines.append(f"finished with status {status} in {time.perf_counter() - started:.2f} s")
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("\n".join(log_lines) + "\n", encoding="utf-8")
    return status
