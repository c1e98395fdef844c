"""What moved between two data freezes: printed numbers, and patients (counts only in print).

A *freeze* is a build's ``results/`` folder, copied aside by the user. :func:`compare` lists
every number whose printed text differs between two freezes (``report/changes.csv``, the
manuscript's appendix and ``python -m cmvig_report diff``); :func:`patient_changes` lists the
patients added, removed or changed, field by field (``results/changes_patients.csv``, internal:
it holds patient IDs).

The numbers compared are each freeze's own register of printed numbers (``numbers.csv``, read
back from its manuscript): the text as the reader saw it, already passed through that build's
small-cell control. So a difference is listed in the manuscript's own wording, whatever the
format ("8.9 years (range 0.8–16.8)"), and the diff can never show more than either
manuscript did: a hidden count is its mark on both sides.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from ..core.io import read_rows
from ..errors import PipelineError
from ..paths import NUMBERS, RESULTS, UNCHECKED

COLUMNS = ["section", "quantity", "before", "now", "source"]
PATIENT_COLUMNS = ["patient_id", "field", "old", "new"]
ESTIMATES = "estimates.json"
COHORT = "cohort.csv"
MISSING = "(absent)"
# The register inside a results/ folder (the staged copy of report/numbers.csv).
REGISTER = Path(UNCHECKED).relative_to(RESULTS) / NUMBERS
# The changes appendix's own counts of patients: a diff of the diff.
NOT_COMPARED = ("changes_summary.json",)
# Appendices are lettered in order of those present: "Appendix B. Changes ..." is the same
# section as "Appendix C. Changes ..." in a build that adds another appendix.
_APPENDIX_LETTER = re.compile(r"^Appendix [A-Z]\.\s*")


def _load_estimates(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / ESTIMATES
    if not path.is_file():
        raise PipelineError(f"{folder}: no {ESTIMATES} here; give the results/ folder of a "
                            "previous build (copied aside at a data freeze)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PipelineError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None


def read_register(folder: str | Path) -> list[dict[str, str]]:
    """The register of printed numbers of the freeze ``folder`` (a build's results/)."""
    _load_estimates(folder)  # one plain error for a folder that is not a freeze
    path = Path(folder) / REGISTER
    if not path.is_file():
        raise PipelineError(f"{folder}: no register of printed numbers ({REGISTER}); this "
                            "freeze was made before registers were kept or its build did not "
                            "finish: rebuild it, or compare with a later freeze")
    return read_rows(path)


def _keyed(rows: list[dict[str, str]]) -> dict[tuple[str, str, int], dict[str, str]]:
    # The same source printed twice in one section (the abstract's n, say) is matched by order.
    out: dict[tuple[str, str, int], dict[str, str]] = {}
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        if row.get("source", "").startswith(NOT_COMPARED):
            continue
        section = _APPENDIX_LETTER.sub("Appendix: ", row.get("section", ""))
        k = (section, row.get("source", ""))
        seen[k] = seen.get(k, -1) + 1
        out[(*k, seen[k])] = row
    return out


def _quantity(row: dict[str, str]) -> str:
    # Registers written before contexts were recorded fall back to the source's key.
    context = row.get("context") or ""
    return context or row.get("source", "").split("#", 1)[-1].replace("_", " ")


def compare_registers(before: list[dict[str, str]], after: list[dict[str, str]],
                      hide_before: bool = False) -> list[dict[str, str]]:
    """Every printed number whose text differs between two registers, in the order of the
    newer manuscript (numbers that are gone follow). ``hide_before`` prints
    :data:`UNDER_OTHER_LIMIT` instead of each old text."""
    old, new = _keyed(before), _keyed(after)
    order = list(new) + [k for k in old if k not in new]
    rows = []
    for key in order:
        b, a = old.get(key), new.get(key)
        before_text = b["text"] if b else MISSING
        now_text = a["text"] if a else MISSING
        if before_text == now_text:
            continue
        shown: dict[str, str] = a or b  # type: ignore[assignment]
        rows.append({"section": key[0], "quantity": _quantity(shown),
                     "before": UNDER_OTHER_LIMIT if hide_before and b else before_text,
                     "now": now_text, "source": key[1]})
    return rows


UNDER_OTHER_LIMIT = "(not shown: previous freeze made under a lower min_cell_count)"


def min_cell_count(folder: str | Path) -> int:
    """The small-cell limit the freeze ``folder`` was built with (0 = none)."""
    return int((_load_estimates(folder).get("disclosure") or {}).get("min_cell_count") or 0)


def previous_register(folder: str | Path, limit: int
                      ) -> tuple[list[dict[str, str]], bool, list[str]]:
    """The register of the previous freeze, whether its texts must be hidden, and notes.

    A freeze made under a lower small-cell limit printed counts that this build hides: the
    changes then list which numbers moved but none of their old texts (rebuild the old freeze
    under the same limit to see them)."""
    rows = read_register(folder)
    before = min_cell_count(folder)
    if before >= limit or limit <= 1:
        return rows, False, []
    return rows, True, [f"warning: {folder} was built with min_cell_count {before}, this build "
                        f"uses {limit}: the changes list what moved without its old values; "
                        f"rebuild that freeze with min_cell_count={limit} to compare them"]


def compare(old: str | Path, new: str | Path) -> list[dict[str, str]]:
    """Every number whose printed text differs between freeze ``old`` and freeze ``new``
    (the old register as the newer freeze's small-cell limit allows)."""
    before, hide, _ = previous_register(old, min_cell_count(new))
    return compare_registers(before, read_register(new), hide)


def patient_changes(old_cohort: str | Path, new_cohort: str | Path
                    ) -> tuple[list[dict[str, str]], dict[str, int]]:
    """Patients added, removed, or with a field changed: rows for the internal list, and the
    counts the manuscript prints (``added``, ``removed``, ``changed``)."""
    def read(path: str | Path) -> dict[str, dict[str, str]]:
        if not Path(path).is_file():
            raise PipelineError(f"{path}: cohort file not found")
        with open(path, encoding="utf-8", newline="") as fh:
            return {r["patient_id"]: r for r in csv.DictReader(fh)}

    before, after = read(old_cohort), read(new_cohort)
    rows: list[dict[str, str]] = []
    changed = 0
    for pid in sorted(set(before) | set(after)):
        if pid not in before:
            rows.append({"patient_id": pid, "field": "(patient added)", "old": "", "new": ""})
        elif pid not in after:
            rows.append({"patient_id": pid, "field": "(patient removed)", "old": "", "new": ""})
        else:
            diffs = [(f, before[pid].get(f, MISSING), after[pid].get(f, MISSING))
                     for f in sorted(set(before[pid]) | set(after[pid]))
                     if before[pid].get(f, MISSING) != after[pid].get(f, MISSING)]
            changed += bool(diffs)
            rows += [{"patient_id": pid, "field": f, "old": o, "new": n} for f, o, n in diffs]
    summary = {"added": len(set(after) - set(before)), "removed": len(set(before) - set(after)),
               "changed": changed}
    return rows, summary


def run_freeze_changes(*, cohort: str, compare_with: str, changes_patients: str,
                       changes_summary: str) -> list[str]:
    """Step ``freeze_changes``: the internal list of patient changes and its counts."""
    from ..core.io import atomic_write_bytes, atomic_write_text, rows_csv_bytes

    _load_estimates(compare_with)  # one plain error for a folder that is not a freeze
    rows, summary = patient_changes(Path(compare_with) / COHORT, cohort)
    atomic_write_bytes(changes_patients, rows_csv_bytes(rows, PATIENT_COLUMNS))
    atomic_write_text(changes_summary, json.dumps(summary, sort_keys=True, indent=2) + "\n")
    return [f"since the previous freeze: {summary['added']} patients added, "
            f"{summary['removed']} removed, {summary['changed']} with a field changed"]


def format_table(rows: list[dict[str, str]], markdown: bool = False) -> str:
    """The changes as an aligned terminal table, or a Markdown table (``markdown``)."""
    header = ["section", "number", "before", "now"]
    body = [[r["section"], r["quantity"], r["before"], r["now"]] for r in rows]
    if markdown:
        esc = [[c.replace("|", "\\|") for c in row] for row in body]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in esc]) + "\n"
    if not body:
        return "no printed number changed\n"
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    return "\n".join(lines + [fmt.format(*row).rstrip() for row in body]) + "\n"


def run_diff(old: str, new: str, md: bool = False) -> str:
    """``python -m cmvig_report diff OLD NEW``: the table of what moved."""
    return format_table(compare(old, new), markdown=md)
