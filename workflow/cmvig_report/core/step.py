"""Run one Snakemake step: the rule's named inputs, outputs and params become the keyword
arguments of its stage function.

Each rule runs its own script, ``workflow/scripts/<rule>.py``, which imports the rule's stage
function and hands it, with its ``snakemake`` object, to :func:`run`. A stage's interface is
therefore declared once, in its rule, and the function's signature uses the same names. The
rule's wildcards (each by its name), ``threads`` and ``resources`` (a dict) are passed too, to
a function that names them in its signature. Whatever happens, the step writes its log: the
notes and timing on success, one plain message for an error in the user's input (exit status
1, no traceback), and the full traceback for a crash, which is a bug and is re-raised.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterable
from inspect import Parameter, signature
from pathlib import Path
from typing import Any

from ..errors import PipelineError

# The input that lists the files a step runs (codebase.stage_code): it is there for Snakemake,
# which re-runs the step when they change, not for the stage function.
CODE_INPUT = "code"


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
    """One keyword argument per named input (but ``code``), output and param; a name used twice
    is a bug."""
    kwargs: dict[str, Any] = {}
    for group in (inputs, outputs, params):
        for name, value in group.items():
            if group is inputs and name == CODE_INPUT:
                continue
            if name in kwargs:
                raise ValueError(f"rule uses the name {name!r} twice (input/output/params)")
            kwargs[name] = _plain(value)
    return kwargs


def accepted_names(stage: Callable[..., Any]) -> set[str]:
    """The keyword arguments ``stage`` names in its signature (not those a ``**kwargs`` takes)."""
    return {name for name, p in signature(stage).parameters.items()
            if p.kind in (Parameter.POSITIONAL_OR_KEYWORD, Parameter.KEYWORD_ONLY)}


def stage_arguments(smk: Any, stage: Callable[..., Any]) -> dict[str, Any]:
    """The keyword arguments of ``stage`` in the step ``smk``: the rule's named inputs, outputs
    and params (:func:`step_arguments`), and its wildcards (each by its name), ``threads`` and
    ``resources`` (a dict, Snakemake's own ``_cores`` and ``_nodes`` left out) when ``stage``
    names them."""
    kwargs = step_arguments(smk.input, smk.output, smk.params)
    extras = {**dict(smk.wildcards.items()), "threads": smk.threads,
              "resources": {k: v for k, v in smk.resources.items() if not k.startswith("_")}}
    wanted = accepted_names(stage)
    for name, value in extras.items():
        if name in wanted:
            if name in kwargs:
                raise ValueError(f"rule {smk.rule!r} uses the name {name!r} twice "
                                 "(input/output/params and wildcards/threads/resources)")
            kwargs[name] = _plain(value)
    return kwargs


def run_step(rule: str, stage: Callable[..., list[str] | None], kwargs: dict[str, Any],
             log: str | None) -> int:
    """Call ``stage`` (rule ``rule``'s function) with ``kwargs``; write the log; return the exit
    status."""
    started = time.perf_counter()
    lines = [f"step {rule}: " + " ".join(f"{k}={v}" for k, v in sorted(kwargs.items()))]
    status = 0
    try:
        notes = stage(**kwargs) or []
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


def run(smk: Any, stage: Callable[..., list[str] | None]) -> None:
    """Run ``stage`` as the step of ``smk`` (Snakemake's ``snakemake`` object in the rule's
    script); exit with the step's status when it fails."""
    kwargs = stage_arguments(smk, stage)
    status = run_step(smk.rule, stage, kwargs, smk.log[0] if smk.log else None)
    if status:
        sys.exit(status)
