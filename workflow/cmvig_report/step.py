"""Run one Snakemake step: the rule's named inputs, outputs and params become the keyword
arguments of its stage function.

Every rule uses ``script: "../scripts/step.py"``, which hands its ``snakemake`` object to
:func:`run`. A stage's interface is therefore declared once, in its rule, and the function's
signature uses the same names. Whatever happens, the step writes its log: the notes and
timing on success, one plain message for an error in the user's input (exit status 1, no
traceback), and the full traceback for a crash, which is a bug and is re-raised.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterable
from importlib import import_module
from pathlib import Path
from typing import Any

from .errors import PipelineError

# rule name -> (module of cmvig_report, function); imported only when that rule runs, so a
# step pays only for the libraries it uses.
STEPS: dict[str, tuple[str, str]] = {
    "clean_cohort": ("cohort", "run_cohort"),
    "provenance": ("provenance", "run_provenance"),
    "estimates": ("analysis", "run_analysis"),
    "figure1": ("figures", "run_figure1"),
    "figure2": ("figures", "run_figure2"),
    "figure3": ("figure3", "run_figure3"),
    "manuscript": ("report", "run_render"),
    "quarto_source": ("report", "run_qmd"),
    "docx": ("quarto", "run_docx"),
    "publish": ("publish", "run_publish"),
    "freeze_changes": ("freeze", "run_freeze_changes"),
    "manifest": ("provenance", "run_manifest"),
}


def _plain(value: Any) -> Any:
    # Snakemake's named lists become plain lists; single files stay strings.
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, Iterable):
        return [_plain(v) for v in value]
    return value


def step_arguments(inputs: Any, outputs: Any, params: Any) -> dict[str, Any]:
    """One keyword argument per named input, output and param; a name used twice is a bug."""
    kwargs: dict[str, Any] = {}
    for group in (inputs, outputs, params):
        for name, value in group.items():
            if name in kwargs:
                raise ValueError(f"rule uses the name {name!r} twice (input/output/params)")
            kwargs[name] = _plain(value)
    return kwargs


def resolve(rule: str) -> Callable[..., list[str] | None]:
    """The stage function of ``rule``."""
    module, func = STEPS[rule]
    return getattr(import_module(f".{module}", __package__), func)


def run_step(rule: str, kwargs: dict[str, Any], log: str | None) -> int:
    """Call ``rule``'s stage with ``kwargs``; write the log; return the exit status."""
    started = time.perf_counter()
    lines = [f"step {rule}: " + " ".join(f"{k}={v}" for k, v in sorted(kwargs.items()))]
    status = 0
    try:
        notes = resolve(rule)(**kwargs) or []
        for note in notes:  # user-facing notes, e.g. "quarto not found: DOCX made by pandoc"
            print(f"[{rule}] {note}", file=sys.stderr)
        lines += list(notes)
    except PipelineError as exc:
        message = f"error in step '{rule}':\n{exc}"
        print(message, file=sys.stderr)
        lines.append(message)
        status = 1
    except BaseException:
        lines.append(traceback.format_exc())
        status = 2
        raise
    finally:
        took = time.perf_counter() - started
        lines.append(f"finished with status {status} in {took:.2f} s")
        if log:
            Path(log).parent.mkdir(parents=True, exist_ok=True)
            Path(log).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return status


def run(smk: Any) -> None:
    """Entry point for ``workflow/scripts/step.py`` (``smk`` is Snakemake's ``snakemake``)."""
    kwargs = step_arguments(smk.input, smk.output, smk.params)
    status = run_step(smk.rule, kwargs, smk.log[0] if smk.log else None)
    if status:
        sys.exit(status)
