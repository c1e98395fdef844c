"""Errors that the command line turns into plain messages instead of tracebacks."""

from __future__ import annotations

from dataclasses import dataclass

# Enough to show the pattern of a systematic problem without flooding the terminal.
MAX_PROBLEMS_SHOWN = 50


class PipelineError(Exception):
    """An error caused by the user's input, config or templates, not by a bug.

    The CLI prints ``str(error)`` without a traceback and exits with status 1.
    """


@dataclass(frozen=True)
class Problem:
    """One violation of the input contract, located as a spreadsheet user would find it."""

    file: str
    row: int | None  # spreadsheet row number, header = row 1
    patient_id: str | None
    column: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.patient_id:
            parts.append(f"patient_id {self.patient_id!r}")
        if self.column:
            parts.append(f"column {self.column!r}")
        if self.value is not None:
            parts.append(f"value {self.value!r}")
        return ", ".join(parts) + f": {self.rule}"


class DataError(PipelineError):
    """Every contract violation found in one pass over the input files."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(
            problems,
            key=lambda p: (p.file, p.row if p.row is not None else -1, p.column or "", p.rule),
        )
        super().__init__(self._message())

    def _message(self) -> str:
        n = len(self.problems)
        lines = [f"invalid input: {n} problem{'s' if n != 1 else ''} found"]
        lines += [f"  {p}" for p in self.problems[:MAX_PROBLEMS_SHOWN]]
        if n > MAX_PROBLEMS_SHOWN:
            lines.append(f"  ... and {n - MAX_PROBLEMS_SHOWN} more (fix the above and re-run)")
        return "\n".join(lines)
