"""The raw exports' columns and cell shapes, and reading their cells.

Dates (also Excel serial numbers), numbers and labels are read once per distinct value, and
every problem is collected with its spreadsheet row, ``patient_id``, column and value as typed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import Problem
from .groups import GROUPS

PATIENT_COLUMNS = [
    "patient_id", "sex", "age_at_hsct", "diagnosis", "donor_type", "graft_source",
    "cmv_serostatus", "hsct_date", "infection_type", "prior_antivirals", "cmvig_start_date",
    "cmvig_doses", "infusion_reaction", "last_followup_date", "status", "cause_of_death",
    "cmv_related_death",
]
VIRAL_LOAD_COLUMNS = ["patient_id", "sample_date", "cmv_dna_iu_ml"]
# Optional: the sample's own limit of quantification (assays change over a series); an empty
# cell means the config's lloq_iu_ml.
SAMPLE_LLOQ_COLUMN = "lloq_iu_ml"
DATE_COLUMNS = ["hsct_date", "cmvig_start_date", "last_followup_date"]
# Enumerations: allowed values after trimming spaces and folding case.
ENUMS = {
    "sex": ("M", "F"),
    "infection_type": GROUPS,
    "infusion_reaction": ("yes", "no"),
    "status": ("alive", "dead"),
}
TEXT_COLUMNS = ["diagnosis", "donor_type", "graft_source", "cmv_serostatus", "cause_of_death"]
# Texts read as a result below the limit of quantification, compared after folding case and
# runs of spaces (config below_lloq_spellings replaces this list; "<137" is always read).
BELOW_LLOQ_SPELLINGS = ("undetectable", "not detected", "ND", "negative",
                        "Target not detected", "TND", "<LLOQ", "below LLOQ")
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
PLAIN_NUMBER = r"^\d+(?:\.\d+)?$"
THOUSANDS_NUMBER = r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
BELOW_QUANT_LIMIT = r"^<\s*\d+(?:[.,]\d+)*(?:\s*iu/ml)?$"
# A result above the assay's upper limit ("> 1,000,000 IU/mL"): read as the limit, censored high.
ABOVE_QUANT_LIMIT = r"^>\s*(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:\s*iu/ml)?$"
# A date cell holding a bare whole number, as Excel shows a date it does not format (43304).
SERIAL_NUMBER = r"^\d{1,7}(?:\.0+)?$"
# Excel's day 0 in its (default) 1900 date system, with its 1900 leap-year bug folded in.
EXCEL_EPOCH = np.datetime64("1899-12-30")


@dataclass
class ExcelNumbers:
    """The cells of an ``.xlsx``'s date columns stored as numbers (column -> one flag per
    row), and day 0 of the workbook's date system."""

    cells: dict[str, pd.Series]
    epoch: str = str(EXCEL_EPOCH)


class Collector:
    """Gathers problems and log lines for one file, vectorised over masks."""

    def __init__(self, file: str, ids: pd.Series):
        self.file = file
        self.ids = ids
        self.problems: list[Problem] = []
        self.log: list[pd.DataFrame] = []

    def fail(self, mask: pd.Series, column: str | None, values: pd.Series | None,
             rule: str) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        idx = np.flatnonzero(mask.to_numpy())
        # Cap what is materialised: a systematic error in 900,000 rows must not build 900,000
        # objects just to print fifty of them.
        for i in idx[:200]:
            value = None if values is None else str(values.iloc[i])
            pid = str(self.ids.iloc[i]).strip() or None
            self.problems.append(Problem(self.file, int(i) + 2, pid, column, value, rule))

    def changed(self, column: str, before: pd.Series, after: pd.Series, reason: str,
                mask: pd.Series | None = None) -> None:
        """Log the rows where ``before`` differs from ``after`` (or, given ``mask``, those rows)."""
        if mask is None:
            mask = before.astype(str) != after.astype(str)
        mask = mask.fillna(False).to_numpy(dtype=bool)
        if not mask.any():
            return
        self.log.append(pd.DataFrame({
            "file": self.file,
            "row": np.flatnonzero(mask) + 2,
            "patient_id": self.ids[mask].str.strip().to_numpy(),
            "column": column,
            "before": before[mask].astype(str).to_numpy(),
            "after": after[mask].astype(str).to_numpy(),
            "reason": reason,
        }))


def missing_columns(df: pd.DataFrame, required: list[str], file: str) -> list[Problem]:
    return [
        Problem(file, 1, None, col, None, "required column is missing from the header")
        for col in required if col not in df.columns
    ]


def per_unique(values: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``func`` applied to each distinct value once, spread back over ``values``.

    Export columns repeat a few thousand dates or spellings over hundreds of thousands of rows:
    parsing or printing the distinct values only is much faster than doing it cell by cell.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    done = func(pd.Series(uniques, dtype=values.dtype)).to_numpy()
    if (codes < 0).any():  # missing values stay missing
        done = np.append(done, pd.Series([None], dtype=done.dtype).to_numpy())
    return pd.Series(done[codes], index=values.index)


def _parse_dates_unique(raw: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
    printed = np.datetime_as_string(parsed.to_numpy(dtype="datetime64[D]"), unit="D")
    return parsed.where(printed == raw.to_numpy(dtype=str))


def parse_dates(raw: pd.Series) -> pd.Series:
    """Strict ``YYYY-MM-DD``: parse in C, then keep only values that print back identically."""
    return pd.to_datetime(per_unique(raw, _parse_dates_unique))


def strip_where_needed(raw: pd.Series, ok: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Strip spaces only from cells that fail ``ok`` as they are: on a 900,000-row export a
    full ``str.strip`` costs more than the whole validation of the clean majority."""
    good = ok(raw).to_numpy(dtype=bool)
    if good.all():
        return raw
    out = raw.copy()
    out[~good] = raw[~good].str.strip()
    return out


def plain_number(x: float) -> str:
    # 1000000.0 -> "1000000", 12.5 -> "12.5": as a number is typed, never "1e+06"
    return f"{x:f}".rstrip("0").rstrip(".")


def dates_or_serials(text: pd.Series, raw: pd.Series, column: str, c: Collector,
                      serial_dates: ExcelNumbers | None) -> pd.Series:
    """Strict ``YYYY-MM-DD`` dates of one column; a bare whole number is an Excel serial date.

    The cells ``serial_dates`` says an ``.xlsx`` stored as numbers are converted and logged. A
    number anywhere else (a CSV, or a cell stored as text) is an error naming the cell.
    """
    parsed = parse_dates(text)
    serial = pd.Series(False, index=text.index)
    failed = parsed.isna().to_numpy()
    if failed.any():  # only the cells that are no date: a long column is mostly dates
        serial[failed] = text[failed].str.match(SERIAL_NUMBER).fillna(False).to_numpy(bool)
    stored = serial_dates.cells.get(column) if serial_dates else None
    excel = serial & (stored if stored is not None else False)
    if excel.any():
        epoch = np.datetime64(serial_dates.epoch, "D")
        days = pd.to_numeric(text.where(excel), errors="coerce").fillna(0).astype("int64")
        converted = pd.to_datetime(epoch + days.to_numpy().astype("timedelta64[D]"))
        parsed = parsed.where(~excel, pd.Series(converted, index=text.index))
        c.changed(column, raw, iso_dates(parsed), "Excel serial number read as a date (a number "
                  f"cell of a date column; day 0 = {epoch})", mask=excel)
    c.fail(serial & ~excel, column, raw, "is a number, not a date: write the date YYYY-MM-DD "
           "(a spreadsheet shows a date it has not formatted as a serial number like 43304)")
    c.fail(parsed.isna() & ~serial, column, raw, "must be a date written YYYY-MM-DD")
    return parsed


def _iso_unique(dates: pd.Series) -> pd.Series:
    # distinct values only: missing dates never get here (per_unique keeps them missing)
    return pd.Series(np.datetime_as_string(dates.to_numpy(dtype="datetime64[D]"), unit="D"),
                     dtype=object)


def iso_dates(dates: pd.Series) -> pd.Series:
    """ISO text for each date; missing dates become empty text."""
    return per_unique(dates, _iso_unique).fillna("")
