"""Commands for users: ``python -m cmvig_report preview`` (the manuscript in the browser,
reloaded on every save), ``python -m cmvig_report watch`` (re-render report/preview.pdf on every
save) and ``python -m cmvig_report diff OLD_RESULTS NEW_RESULTS`` (what moved between data freezes).

The pipeline's steps are not commands: Snakemake runs each through its rule's script,
``workflow/scripts/<rule>.py`` (see :mod:`cmvig_report.core.step`). Errors caused by the user
(:class:`PipelineError`) are printed as plain lines with exit status 1 and no traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import paths
from .errors import PipelineError


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    # the configuration as `snakemake` takes it, so that the preview is the build
    parser.add_argument("--configfile", "--configfiles", nargs="+", default=[], metavar="FILE",
                        help="config files merged over config/config.yaml, as for snakemake")
    parser.add_argument("--config", "-C", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides, as for snakemake (e.g. study=own "
                        "min_cell_count=5)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m cmvig_report``."""
    parser = argparse.ArgumentParser(prog="python -m cmvig_report", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("preview", help="live preview in the browser: serve the manuscript's "
                       "HTML on http://127.0.0.1:8000/ and reload it on every save")
    _config_arguments(p)
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    p.add_argument("--pdf", action="store_true",
                   help=f"also write {paths.PREVIEW_PDF} on every save (served as /preview.pdf)")
    p.add_argument("--interval", type=float, default=0.1, help="seconds between checks")
    p = sub.add_parser("watch", help="live preview: re-render report/preview.pdf on every "
                       "template or result change")
    _config_arguments(p)
    p.add_argument("--html", default=paths.PREVIEW_HTML)
    p.add_argument("--pdf", default=paths.PREVIEW_PDF)
    p.add_argument("--interval", type=float, default=0.1, help="seconds between checks")
    p = sub.add_parser("diff", help="printed numbers that moved between two results/ folders "
                       "(data freezes)")
    p.add_argument("old", help="the previous build's results/ folder")
    p.add_argument("new", help="the current build's results/ folder")
    p.add_argument("--md", action="store_true", help="a Markdown table, to paste into a review")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    args = vars(build_parser().parse_args(argv))
    command = args.pop("command")
    try:
        if command == "preview":
            from .devtools.preview import run_preview

            run_preview(**args)
        elif command == "watch":
            from .devtools.watch import run_watch

            run_watch(**args)
        elif command == "diff":
            from .data.freeze import run_diff

            print(run_diff(args["old"], args["new"], args["md"]), end="")
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
