"""What moved between two data freezes: printed numbers, and patients (counts only in print).

A *freeze* is a build's ``results/`` folder, copied aside by the user. :func:`compare` lists
every number whose printed text differs between two freezes (``report/changes.csv``, the
manuscript's appendix and ``python -m cmvig_report diff``); :func:`patient_changes` lists the
patients added, removed or changed, field by field (``results/changes_patients.csv``, internal:
it holds patient IDs).

Numbers are printed here with the manuscript's own formatters, so "67% (95% CI: 44–88)" in the
manuscript is "67% (95% CI: 44–88)" here too; a Kaplan–Meier landmark is one row, its estimate
and interval together, as the manuscript prints it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from .errors import PipelineError
from .formatting import (
    format_days,
    format_median_range,
    format_number,
    format_p,
    format_percent,
    format_percent_ci,
    format_period,
)

COLUMNS = ["source", "label", "old", "new", "old_text", "new_text"]
PATIENT_COLUMNS = ["patient_id", "field", "old", "new"]
ESTIMATES = "estimates.json"
TABLE1 = "table1.csv"
COHORT = "cohort.csv"
# Keys of estimates.json that are not results: how the build was set up, or its audit.
NOT_RESULTS = ("settings", "disclosure", "cmvig_period")
# Inside a landmark block only these are printed (the rest are the numbers behind them).
BLOCK_KEYS = ("estimate", "ci_lower", "ci_upper")
MISSING = "(absent)"


def _load_estimates(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / ESTIMATES
    if not path.is_file():
        raise PipelineError(f"{folder}: no {ESTIMATES} here; give the results/ folder of a "
                            "previous build (copied aside at a data freeze)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PipelineError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None


def _label(key: str) -> str:
    return key.replace("_", " ").replace(".", ": ")


def _text(key: str, value: Any) -> str | None:
    """How the manuscript prints ``value`` found at ``key``; None for what it does not print."""
    last = key.rsplit(".", 1)[-1]
    if isinstance(value, dict):
        if "estimate" in value:
            return format_percent_ci(value)
        if "median" in value:
            return format_median_range(value)
        if "first" in value and "last" in value:
            return format_period(value) if len(str(value.get("first") or "")) == 7 else None
        if "days" in value:
            return format_days(value["days"])
        return None
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if last in ("p", "logrank_p"):
        return format_p(value)
    if last in ("proportion",):
        return format_percent(value)
    if isinstance(value, int):
        return format_number(value)
    return None


def _walk(node: Any, key: str, out: dict[str, tuple[str, Any, str]]) -> None:
    text = _text(key, node) if key else None
    if text is not None:
        out[f"{ESTIMATES}#{key}"] = (_label(key), node, text)
        if isinstance(node, dict):
            return  # a block is one printed number
    if isinstance(node, dict):
        for k, v in node.items():
            if not key and k in NOT_RESULTS:
                continue
            _walk(v, f"{key}.{k}" if key else str(k), out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk(v, f"{key}[{i}]", out)


def printed_numbers(folder: str | Path, table1: str | Path | None = None
                    ) -> dict[str, tuple[str, Any, str]]:
    """Source -> (label, value, printed text) for the numbers of one freeze."""
    out: dict[str, tuple[str, Any, str]] = {}
    _walk(_load_estimates(folder), "", out)
    table = Path(table1) if table1 else Path(folder) / TABLE1
    if table.is_file():
        with open(table, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            groups = [c for c in reader.fieldnames or [] if c not in ("variable", "level")]
            for row in reader:
                name = f"{row['variable']}: {row['level']}" if row["level"] else row["variable"]
                for g in groups:
                    out[f"{TABLE1}#{name}/{g}"] = (f"Table 1, {name}, {g}", row[g], row[g])
    return out


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps({k: value[k] for k in BLOCK_KEYS if k in value} or value,
                          sort_keys=True)
    return MISSING if value is None else str(value)


def compare(old: str | Path, new: str | Path, table1: str | Path | None = None
            ) -> list[dict[str, str]]:
    """Every number whose printed text differs between freeze ``old`` and freeze ``new``."""
    before = printed_numbers(old)
    after = printed_numbers(new, table1)
    rows = []
    for source in sorted(set(before) | set(after)):
        b, a = before.get(source), after.get(source)
        old_text, new_text = (b[2] if b else MISSING), (a[2] if a else MISSING)
        if old_text == new_text:
            continue
        rows.append({"source": source, "label": (a or b)[0],  # type: ignore[index]
                     "old": _value(b[1]) if b else MISSING, "new": _value(a[1]) if a else MISSING,
                     "old_text": old_text, "new_text": new_text})
    return rows


def printed_only(rows: list[dict[str, str]], printed: set[str]) -> list[dict[str, str]]:
    """The rows of numbers the manuscript prints (sources of its register)."""
    return [r for r in rows if r["source"] in printed]


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
    from .io import atomic_write_bytes, atomic_write_text, rows_csv_bytes

    _load_estimates(compare_with)  # one plain error for a folder that is not a freeze
    rows, summary = patient_changes(Path(compare_with) / COHORT, cohort)
    atomic_write_bytes(changes_patients, rows_csv_bytes(rows, PATIENT_COLUMNS))
    atomic_write_text(changes_summary, json.dumps(summary, sort_keys=True, indent=2) + "\n")
    return [f"since the previous freeze: {summary['added']} patients added, "
            f"{summary['removed']} removed, {summary['changed']} with a field changed"]


def format_table(rows: list[dict[str, str]], markdown: bool = False) -> str:
    """The changes as an aligned terminal table, or a Markdown table (``markdown``)."""
    header = ["number", "source", "before", "after"]
    body = [[r["label"], r["source"], r["old_text"], r["new_text"]] for r in rows]
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
