"""File helpers shared by every stage: reading exports, atomic and deterministic writes.

pandas is imported inside the functions that need it: the report stage uses the write helpers
and must not pay for pandas' import on every template edit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PipelineError

if TYPE_CHECKING:
    import pandas as pd

EXCEL_SUFFIXES = {".xlsx", ".xlsm"}


def read_export(path: str | Path, sheet: str | int = 0) -> pd.DataFrame:
    """Read a clinical export (CSV in UTF-8, or .xlsx) with every cell as text.

    Cells stay strings so that validation can report the value exactly as the user typed it;
    missing cells become ``""``.
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    try:
        if path.suffix.lower() in EXCEL_SUFFIXES:
            df = pd.read_excel(path, sheet_name=sheet, dtype=str, keep_default_na=False)
            df = df.map(_excel_cell_to_text)
        else:
            df = pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding="utf-8-sig"
            )
    except UnicodeDecodeError as exc:
        raise PipelineError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{path}: the file is empty (no header row)") from None
    except (ValueError, KeyError) as exc:  # e.g. a missing sheet
        raise PipelineError(f"{path}: cannot read: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _excel_cell_to_text(value: Any) -> str:
    # openpyxl hands back dates typed as dates; render them the way the CSV export would.
    if value is None or (isinstance(value, float) and value != value):  # empty cell or NaN
        return ""
    text = str(value)
    if len(text) == 19 and text.endswith(" 00:00:00"):
        return text[:10]
    return text


def excel_number_cells(path: str | Path, sheet: str | int, columns: list[str]
                       ) -> tuple[dict[str, list[bool]], str]:
    """Which cells of ``columns`` an ``.xlsx`` sheet stores as plain numbers (not dates, not
    text), one flag per data row, and day 0 of the workbook's date system (ISO).

    :func:`read_export` reads every cell as text, so a date column's serial number (``43304``)
    and the text ``"43304"`` look alike there; the cohort step asks this only when a date
    column holds such a value.
    """
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb[sheet] if isinstance(sheet, str) else wb.worksheets[sheet]
        rows = ws.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        where = {col: header.index(col) for col in columns if col in header}
        flags: dict[str, list[bool]] = {col: [] for col in where}
        for row in rows:
            for col, i in where.items():
                value = row[i] if i < len(row) else None
                flags[col].append(isinstance(value, (int, float)) and not isinstance(value, bool))
        epoch = wb.epoch.date().isoformat() if hasattr(wb, "epoch") else "1899-12-30"
    finally:
        wb.close()
    return flags, epoch


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` is either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # mkstemp creates 0600; results are meant to be read by collaborators like any file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Atomic UTF-8 text write with ``\\n`` line endings."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Deterministic CSV: UTF-8, ``\\n`` line endings, no index (see :func:`csv_bytes`)."""
    atomic_write_bytes(path, csv_bytes(df))


_NEEDS_QUOTES = re.compile('[,"\r\n]')


def _csv_field(value: Any) -> str:
    text = str(value)
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_bytes(df: pd.DataFrame) -> bytes:
    """The bytes ``df.to_csv(index=False, lineterminator="\\n")`` writes, faster.

    Each column is printed once per distinct value (``str``, as pandas does; missing values
    empty) and the rows are joined by Arrow in C++, several times faster than pandas' writer on
    large viral-load tables (docs/performance.md). Unlike pandas, a field holding a carriage return
    is quoted, so that reading the file back cannot split the row. Columns of other dtypes
    (dates, categories) go through pandas.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if any(dtype.kind not in "biufO" for dtype in df.dtypes) or df.columns.duplicated().any():
        return df.to_csv(index=False, lineterminator="\n").encode("utf-8")
    header = ",".join(_csv_field(c) for c in df.columns) + "\n"
    if df.empty:  # no rows (or no columns)
        return header.encode("utf-8")
    columns = []
    last = len(df.columns) - 1
    for i, name in enumerate(df.columns):
        values = df[name]
        # the line end rides on the last column, so the joined rows are the file body
        end = "\n" if i == last else ""
        if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
            # plain numpy integers (never missing): Arrow prints them as str() does
            cells = pa.array(values.to_numpy()).cast(pa.large_string())
            if end:
                cells = pc.binary_join_element_wise(
                    cells, pa.scalar("", type=pa.large_string()),
                    pa.scalar(end, type=pa.large_string()))
            columns.append(cells)
            continue
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        if values.dtype.kind == "O":  # only text can hold a comma, quote or line break
            printed = pd.Series(uniques, dtype=object).astype(str)
            quote = printed.str.contains(_NEEDS_QUOTES).to_numpy(dtype=bool)
            printed[quote] = [_csv_field(v) for v in printed[quote]]
            text = printed.tolist() + [""]
        else:
            text = [str(v) for v in uniques] + [""]
        if len(df.columns) == 1:  # a lone empty field is quoted
            text = [t or '""' for t in text]
        text = [t + end for t in text]
        codes = np.where(codes < 0, len(text) - 1, codes)
        columns.append(pa.array(text, type=pa.large_string()).take(pa.array(codes)))
    rows = columns[0] if len(columns) == 1 else pc.binary_join_element_wise(
        *columns, pa.scalar(",", type=pa.large_string()))
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset:]
    body = rows.buffers()[2].to_pybytes()[offsets[0]:offsets[len(rows)]]
    return header.encode("utf-8") + body


def rows_csv_bytes(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    """Rows of plain values as CSV (``\\n`` line endings, the quoting of :func:`csv_bytes`),
    for the steps that must not import pandas."""
    lines = [",".join(_csv_field(c) for c in columns)]
    lines += [",".join(_csv_field(row.get(c, "")) for c in columns) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a small CSV written by :func:`rows_csv_bytes`, as dicts of text."""
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_json(obj: Any, path: str | Path) -> None:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    atomic_write_text(path, json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def fixed_source_date() -> Iterator[None]:
    """Make tools that stamp the current time (fontTools, pandoc) stamp a fixed one instead.

    A user's own ``SOURCE_DATE_EPOCH`` is respected; otherwise the epoch (1970-01-01) is used,
    so the same inputs always give the same bytes.
    """
    previous = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = previous or "0"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SOURCE_DATE_EPOCH"]


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_clean_cohort(path: str | Path) -> pd.DataFrame:
    """Read ``results/cohort.csv`` back with the dtypes of its schema
    (:mod:`.cohort_schema`, described in docs/interfaces.md)."""
    import pandas as pd

    from ..data import cohort_schema as schema

    if not Path(path).is_file():
        raise PipelineError(f"{path}: file not found (run the cohort step first)")

    df = pd.read_csv(path, dtype={c: str for c in schema.of_kind(schema.TEXT, schema.DATE)},
                     keep_default_na=False)
    for col, kind in schema.KINDS.items():
        if col not in df.columns and col not in schema.REQUIRED:
            continue  # an optional column the export did not have
        if kind == schema.BOOL:
            df[col] = df[col].astype(str).str.lower().eq("true")
        elif kind == schema.INT:
            df[col] = df[col].astype("int64")
        elif kind in (schema.FLOAT, schema.NULLABLE_INT):
            # an empty cell is a value not recorded (or none to record)
            df[col] = pd.to_numeric(df[col].replace("", None)).astype(
                float if kind == schema.FLOAT else "Int64")
    return df


# What a working copy of the project needs: used by the benchmark and the end-to-end tests,
# which must never touch the checkout's own results/ and report/.
PROJECT_FILES = ("Snakefile", "config", "profiles", "workflow", "templates", "data",
                 "pyproject.toml")


def copy_project(src: str | Path, dest: str | Path) -> Path:
    """Copy the project's sources (not its built outputs) from ``src`` into ``dest``."""
    import shutil

    src, dest = Path(src), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        if (src / name).is_dir():
            shutil.copytree(src / name, dest / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src / name, dest / name)
    return dest


# Reading the files a step is given, with one plain error naming the file and what it held.


def read_text(path: str | Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PipelineError(f"{path}: {what} not found") from None
    except UnicodeDecodeError as exc:
        raise PipelineError(f"{path}: {what} is not UTF-8 text ({exc.reason})") from None


def read_json(path: str | Path, what: str) -> Any:
    try:
        return json.loads(read_text(path, what))
    except json.JSONDecodeError as exc:
        raise PipelineError(f"{path}: {what} is not valid JSON (line {exc.lineno}: {exc.msg})"
                            ) from None


def read_yaml(path: str | Path, what: str) -> Any:
    """A YAML mapping, or a PipelineError naming the file and what it should have held."""
    import yaml  # only here: the Snakefile reads journal profiles through this on every run

    try:
        data = yaml.safe_load(read_text(path, what))
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: {what} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise PipelineError(f"{path}: {what} must be a YAML mapping (key: value lines)")
    return data
