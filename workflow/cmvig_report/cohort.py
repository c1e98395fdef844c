"""Stage 1: validate the raw exports against the contract, clean them, derive the analysis cohort.

Validation is a table of vectorised rules (one boolean mask per rule) rather than a schema
library: each rule must report the spreadsheet row, ``patient_id``, column and the value exactly
as typed, every problem is collected before anything is written, and the stage must clean
50,000 patients in seconds. ``pandera`` was tried for this and dropped: it is slow to import
(docs/performance.md) and its failure cases still needed re-mapping to rows, ids and raw values,
which is most of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .clinical import (
    CLINICAL_COLUMNS,
    CLINICAL_ENUMS,
    CLINICAL_NUMBERS,
    CTCAE_MAX_GRADE,
    ENUM_HINTS,
    treatment_drugs,
)
from .cohort_schema import columns as cohort_columns
from .endpoints import NEW_THERAPY_COLUMNS
from .errors import DataError, PipelineError, Problem
from .groups import GROUPS
from .groups import order as group_order
from .io import EXCEL_SUFFIXES, excel_number_cells, read_export, write_csv
from .paths import DISCLOSURE_LOG, STUDY_NUMBERS
from .quality import VIRAEMIA_WINDOW_DAYS, parse_study_period, plausibility, summary_line

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
# A cause of death outside the config's vocabulary prints as this, never verbatim.
OTHER_CAUSE = "other cause"
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


@dataclass
class CleanCohort:
    """The outputs of the cohort stage."""

    cohort: pd.DataFrame
    viral_loads: pd.DataFrame
    cleaning_log: pd.DataFrame
    data_quality: pd.DataFrame


class _Collector:
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


def _missing_columns(df: pd.DataFrame, required: list[str], file: str) -> list[Problem]:
    return [
        Problem(file, 1, None, col, None, "required column is missing from the header")
        for col in required if col not in df.columns
    ]


def _per_unique(values: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
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


def _parse_dates(raw: pd.Series) -> pd.Series:
    """Strict ``YYYY-MM-DD``: parse in C, then keep only values that print back identically."""
    return pd.to_datetime(_per_unique(raw, _parse_dates_unique))


def _strip_where_needed(raw: pd.Series, ok: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Strip spaces only from cells that fail ``ok`` as they are: on a 900,000-row export a
    full ``str.strip`` costs more than the whole validation of the clean majority."""
    good = ok(raw).to_numpy(dtype=bool)
    if good.all():
        return raw
    out = raw.copy()
    out[~good] = raw[~good].str.strip()
    return out


def _plain(x: float) -> str:
    # 1000000.0 -> "1000000", 12.5 -> "12.5": as a number is typed, never "1e+06"
    return f"{x:f}".rstrip("0").rstrip(".")


def _dates_or_serials(text: pd.Series, raw: pd.Series, column: str, c: _Collector,
                      serial_dates: ExcelNumbers | None) -> pd.Series:
    """Strict ``YYYY-MM-DD`` dates of one column; a bare whole number is an Excel serial date.

    The cells ``serial_dates`` says an ``.xlsx`` stored as numbers are converted and logged. A
    number anywhere else (a CSV, or a cell stored as text) is an error naming the cell.
    """
    parsed = _parse_dates(text)
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
        c.changed(column, raw, _iso(parsed), "Excel serial number read as a date (a number "
                  f"cell of a date column; day 0 = {epoch})", mask=excel)
    c.fail(serial & ~excel, column, raw, "is a number, not a date: write the date YYYY-MM-DD "
           "(a spreadsheet shows a date it has not formatted as a serial number like 43304)")
    c.fail(parsed.isna() & ~serial, column, raw, "must be a date written YYYY-MM-DD")
    return parsed


def _iso_unique(dates: pd.Series) -> pd.Series:
    # distinct values only: missing dates never get here (_per_unique keeps them missing)
    return pd.Series(np.datetime_as_string(dates.to_numpy(dtype="datetime64[D]"), unit="D"),
                     dtype=object)


def _iso(dates: pd.Series) -> pd.Series:
    """ISO text for each date; missing dates become empty text."""
    return _per_unique(dates, _iso_unique).fillna("")


def validate_patients(raw: pd.DataFrame, file: str,
                      serial_dates: ExcelNumbers | None = None
                      ) -> tuple[pd.DataFrame, _Collector]:
    """Check every contract rule on the patients export and return the normalised table.

    ``serial_dates``: the cells of date columns an ``.xlsx`` stored as numbers
    (:func:`_dates_or_serials`).
    """
    if problems := _missing_columns(raw, PATIENT_COLUMNS, file):
        raise DataError(problems)
    if raw.empty:
        raise DataError([Problem(file, None, None, None, None, "the file has no patient rows")])
    s = {c: _per_unique(raw[c], lambda u: u.str.strip()) for c in PATIENT_COLUMNS}
    c = _Collector(file, raw["patient_id"])
    out = pd.DataFrame(index=raw.index)

    pid = s["patient_id"]
    c.fail(pid.eq(""), "patient_id", raw["patient_id"], "patient_id must not be empty")
    dup = pid.duplicated(keep="first") & pid.ne("")
    c.fail(dup, "patient_id", raw["patient_id"], "duplicate patient_id (each patient once)")
    c.changed("patient_id", raw["patient_id"], pid, "surrounding spaces removed")
    out["patient_id"] = pid

    for col, allowed in ENUMS.items():
        folded = s[col].str.upper() if col == "sex" else s[col].str.lower()
        bad = ~folded.isin(allowed)
        c.fail(bad, col, raw[col], f"must be one of {', '.join(allowed)}")
        c.changed(col, raw[col], folded.where(~bad, raw[col]), "spaces and letter case normalised")
        out[col] = folded

    age = pd.to_numeric(s["age_at_hsct"].where(s["age_at_hsct"].str.match(PLAIN_NUMBER)),
                        errors="coerce")
    c.fail(age.isna(), "age_at_hsct", raw["age_at_hsct"], "must be a number of years >= 0")
    out["age_at_hsct"] = age

    doses = pd.to_numeric(s["cmvig_doses"].where(s["cmvig_doses"].str.match(r"^\d+$")),
                          errors="coerce")
    c.fail(doses.isna() | doses.lt(1), "cmvig_doses", raw["cmvig_doses"],
           "must be a whole number >= 1")
    out["cmvig_doses"] = doses

    for col in DATE_COLUMNS:
        out[col] = _dates_or_serials(s[col], raw[col], col, c, serial_dates)
    c.fail(out["cmvig_start_date"] < out["hsct_date"], "cmvig_start_date",
           raw["cmvig_start_date"], "CMVIG start is before hsct_date " + "(must be on or after)")
    c.fail(out["last_followup_date"] < out["cmvig_start_date"], "last_followup_date",
           raw["last_followup_date"], "last follow-up is before cmvig_start_date")

    for col in TEXT_COLUMNS:
        c.changed(col, raw[col], s[col], "surrounding spaces removed")
        out[col] = s[col]
    dead = out["status"].eq("dead")
    alive = out["status"].eq("alive")
    c.fail(dead & s["cause_of_death"].eq(""), "cause_of_death", raw["cause_of_death"],
           "required when status is dead")
    c.fail(alive & s["cause_of_death"].ne(""), "cause_of_death", raw["cause_of_death"],
           "must be empty when status is alive")
    rel = s["cmv_related_death"].str.lower()
    c.fail(dead & ~rel.isin(["yes", "no"]), "cmv_related_death", raw["cmv_related_death"],
           "must be yes or no when status is dead")
    c.fail(alive & rel.ne(""), "cmv_related_death", raw["cmv_related_death"],
           "must be empty when status is alive")
    c.changed("cmv_related_death", raw["cmv_related_death"], rel,
              "spaces and letter case normalised")
    out["cmv_related_death"] = rel

    drugs = _drug_list(s["prior_antivirals"])
    c.changed("prior_antivirals", raw["prior_antivirals"], drugs,
              "drug names trimmed and lower-cased")
    out["prior_antivirals"] = drugs
    _validate_clinical(raw, file, c, out)
    _validate_new_therapy(raw, file, c, out)
    return out, c


def _drug_list(text: pd.Series) -> pd.Series:
    """Drug names separated by ``;``: lower-cased, trimmed, empty names dropped."""
    return _per_unique(text, lambda u: (
        u.str.lower().str.replace(r"\s*;\s*", ";", regex=True).str.strip(";")
        .str.replace(r";{2,}", ";", regex=True)))


def _fold_label(text: pd.Series) -> pd.Series:
    # case, runs of spaces and spaces around "+" (UL97 + UL54) do not matter
    return (text.str.casefold().str.split().str.join(" ")
            .str.replace(r"\s*\+\s*", "+", regex=True))


def _validate_clinical(raw: pd.DataFrame, file: str, c: _Collector, out: pd.DataFrame) -> None:
    """Check the optional clinical columns the export has and add them to ``out``.

    An absent column is no error; an empty cell is "not recorded". The dose and its unit come
    as a pair: a dose needs its unit, so doses in U/kg are never added to doses in mg/kg.
    """
    given = [col for col in CLINICAL_COLUMNS if col in raw.columns]
    s = {col: _per_unique(raw[col], lambda u: u.str.strip()) for col in given}
    for one, other in (("cmvig_dose", "cmvig_dose_unit"), ("cmvig_dose_unit", "cmvig_dose")):
        if one in s and other not in s:
            c.problems.append(Problem(file, 1, None, other, None,
                                      f"column missing from the header: {one} needs it"))
    for col in given:
        text, empty = s[col], s[col].eq("")
        if col in CLINICAL_ENUMS:
            allowed = CLINICAL_ENUMS[col]
            lookup = {_fold_label(pd.Series([a]))[0]: a for a in allowed}
            # a few spellings over many rows: fold each distinct one once
            canonical = _per_unique(
                text, lambda u, known=lookup: _fold_label(u).map(known).astype(object))
            c.fail(~empty & canonical.isna(), col, raw[col],
                   f"must be one of {', '.join(allowed)}{ENUM_HINTS.get(col, '')}, or empty")
            value = canonical.where(canonical.notna(), text).fillna("")
            c.changed(col, raw[col], value, "spaces and letter case normalised")
        elif col == "antivirals_at_cmvig":
            value = _drug_list(text)
            c.changed(col, raw[col], value, "drug names trimmed and lower-cased")
        elif col == "cmvig_dose":
            value = pd.to_numeric(text.where(text.str.match(PLAIN_NUMBER)), errors="coerce")
            c.fail(~empty & (value.isna() | value.le(0)), col, raw[col],
                   "must be a number > 0 (the dose per kilogram, unit in cmvig_dose_unit), "
                   "or empty")
        elif col in CLINICAL_NUMBERS:
            value = _clinical_number(text, empty, col, raw[col], c)
        elif col == "cmvig_interval_days":
            value = pd.to_numeric(text.where(text.str.match(r"^\d+$")), errors="coerce")
            c.fail(~empty & (value.isna() | value.lt(1)), col, raw[col],
                   "must be a whole number of days >= 1, or empty")
            value = value.astype("Int64")
        else:  # cmvig_product: free text, printed in Table 1 as written
            value = text
            c.changed(col, raw[col], text, "surrounding spaces removed")
        out[col] = value
    if "infusion_reaction_grade" in s:
        # a grade outside 1-5 is reported once, as such
        graded = out["infusion_reaction_grade"].between(1, CTCAE_MAX_GRADE).fillna(False)
        c.fail(graded & out["infusion_reaction"].ne("yes"), "infusion_reaction_grade",
               raw["infusion_reaction_grade"], "a grade needs infusion_reaction yes: leave it "
               "empty when there was no reaction")
    if "cmvig_dose" in s and "cmvig_dose_unit" in s:
        dose, unit = s["cmvig_dose"].ne(""), s["cmvig_dose_unit"].ne("")
        units = " or ".join(CLINICAL_ENUMS["cmvig_dose_unit"])
        c.fail(dose & ~unit, "cmvig_dose_unit", raw["cmvig_dose_unit"],
               f"required when cmvig_dose is given ({units})")
        c.fail(unit & ~dose, "cmvig_dose_unit", raw["cmvig_dose_unit"],
               "must be empty when cmvig_dose is empty")


def _clinical_number(text: pd.Series, empty: pd.Series, col: str, raw: pd.Series,
                     c: _Collector) -> pd.Series:
    """An optional numeric column (``CLINICAL_NUMBERS``): parsed, checked, thousands
    separators removed and logged; empty cells stay missing."""
    rule, whole, lowest, exclusive = CLINICAL_NUMBERS[col]
    pattern = r"^\d+$" if whole else PLAIN_NUMBER
    thousands = text.str.match(THOUSANDS_NUMBER) & (col == "peak_viral_load_iu_ml")
    plain = text.where(~thousands, text.str.replace(",", "", regex=False))
    value = pd.to_numeric(plain.where(plain.str.match(pattern)), errors="coerce")
    too_low = value.le(lowest) if exclusive else value.lt(lowest)
    if col == "infusion_reaction_grade":
        too_low |= value.gt(CTCAE_MAX_GRADE)
    c.fail(~empty & (value.isna() | too_low), col, raw, f"must be {rule}, or empty")
    c.changed(col, raw, plain, "thousands separator removed", mask=thousands)
    return value.astype("Int64") if whole else value.astype(float)


def _fold_spelling(text: str) -> str:
    return " ".join(str(text).casefold().split())


def parse_viral_load_results(text: pd.Series,
                             below_spellings: Sequence[str] | None = None) -> pd.DataFrame:
    """Parse results as exported: numbers (with ``,`` thousands), ``<137``, ``ND``, ... .

    ``below_spellings`` are the texts read as below the limit of quantification (case and
    spaces folded; default :data:`BELOW_LLOQ_SPELLINGS`); ``<`` and a number always are. An
    upper-limit result (``>1,000,000``, ``> 1000000 IU/mL``) is read as the limit.
    Returns columns ``cmv_dna_iu_ml`` (float, NaN when below quantification or unparseable),
    ``below_quantification``, ``above_quantification``, ``is_empty``, ``is_valid`` and
    ``had_thousands_separator`` (all bool).
    """
    words = {_fold_spelling(w) for w in
             (BELOW_LLOQ_SPELLINGS if below_spellings is None else below_spellings)}
    # Exports repeat a few thousand distinct spellings over many rows: parse each once.
    codes, uniques = pd.factorize(text.fillna(""))
    parsed = _parse_distinct_results(pd.Series(uniques, dtype=object), words)
    return parsed.take(codes).set_axis(text.index)


def _parse_distinct_results(text: pd.Series, words: set[str]) -> pd.DataFrame:
    # Fast path in C for the plain numbers that make up most of an export; string methods and
    # regular expressions only see the remainder (thousands separators, "<137", "ND", typos).
    value = pd.to_numeric(text, errors="coerce")
    value = value.where(np.isfinite(value) & (value >= 0))
    rest = value.isna()
    r = text[rest].str.strip()
    folded = r.str.casefold().str.split().str.join(" ")
    below_rest = (folded.isin(words).to_numpy(dtype=bool)
                  | folded.str.match(BELOW_QUANT_LIMIT).to_numpy(dtype=bool))
    limit = folded.str.extract(ABOVE_QUANT_LIMIT, expand=False)
    above_rest = limit.notna().to_numpy(dtype=bool)
    above_arr = np.zeros(len(text), dtype=bool)
    above_arr[rest.to_numpy()] = above_rest
    below_arr = np.zeros(len(text), dtype=bool)
    below_arr[rest.to_numpy()] = below_rest
    below = pd.Series(below_arr, index=text.index)
    thousands = r.str.match(THOUSANDS_NUMBER).astype(bool)
    had_thousands = np.zeros(len(text), dtype=bool)
    had_thousands[rest.to_numpy()] = thousands.to_numpy(dtype=bool)
    value[rest] = pd.to_numeric(r.where(thousands).str.replace(",", "", regex=False),
                                errors="coerce")
    value[rest] = value[rest].where(~above_rest, pd.to_numeric(
        limit.str.replace(",", "", regex=False), errors="coerce"))
    empty_arr = np.zeros(len(text), dtype=bool)
    empty_arr[rest.to_numpy()] = r.eq("").to_numpy(dtype=bool)
    empty = pd.Series(empty_arr, index=text.index)
    return pd.DataFrame({
        "cmv_dna_iu_ml": value.where(~below),
        "below_quantification": below,
        "above_quantification": pd.Series(above_arr, index=text.index),
        "is_empty": empty,
        "is_valid": below | value.notna() | empty,
        "had_thousands_separator": had_thousands,
    })


def validate_viral_loads(raw: pd.DataFrame, file: str, known_ids: pd.Series,
                         lloq_iu_ml: float, below_spellings: Sequence[str] | None = None,
                         serial_dates: ExcelNumbers | None = None,
                         ) -> tuple[pd.DataFrame, _Collector]:
    """Check the viral-load export; return kept rows (empty results dropped) with parsed values.

    ``below_spellings``: see :func:`parse_viral_load_results`; ``serial_dates``: see
    :func:`_dates_or_serials`.
    """
    if problems := _missing_columns(raw, VIRAL_LOAD_COLUMNS, file):
        raise DataError(problems)
    c = _Collector(file, raw["patient_id"])
    pid = _strip_where_needed(raw["patient_id"], lambda s: s.isin(known_ids))
    c.fail(pid.eq(""), "patient_id", raw["patient_id"], "patient_id must not be empty")
    c.fail(pid.ne("") & ~pid.isin(known_ids), "patient_id", raw["patient_id"],
           "patient_id not found in the patients file")
    date = _dates_or_serials(
        _strip_where_needed(raw["sample_date"], lambda s: _parse_dates(s).notna()),
        raw["sample_date"], "sample_date", c, serial_dates)
    parsed = parse_viral_load_results(raw["cmv_dna_iu_ml"], below_spellings)
    c.fail(~parsed["is_valid"], "cmv_dna_iu_ml", raw["cmv_dna_iu_ml"],
           "must be a number of IU/mL, a below-quantification result such as <137 or ND "
           "(config below_lloq_spellings), or an upper limit such as >1,000,000")

    result = raw["cmv_dna_iu_ml"]
    bq = parsed["below_quantification"]
    empty = parsed["is_empty"]
    thousands = parsed["had_thousands_separator"]
    after = pd.Series("", index=raw.index, dtype=object)
    after[thousands] = result[thousands].str.strip().str.replace(",", "", regex=False)
    c.changed("cmv_dna_iu_ml", result, after, "thousands separator removed", mask=thousands)
    c.changed("cmv_dna_iu_ml", result, pd.Series("below quantification", index=raw.index),
              "reported below the limit of quantification: counted as below LLOQ", mask=bq)
    c.changed("cmv_dna_iu_ml", result, pd.Series("(row dropped)", index=raw.index),
              "empty result: row dropped", mask=empty)
    above = parsed["above_quantification"]
    limit = pd.Series("", index=raw.index, dtype=object)
    limit[above] = parsed.loc[above, "cmv_dna_iu_ml"].map(_plain)
    c.changed("cmv_dna_iu_ml", result, limit, "reported above the upper limit of "
              "quantification: counted as the limit (censored high)", mask=above)
    vl = pd.DataFrame({
        "patient_id": pid,
        "row": raw.index.to_numpy() + 2,
        "sample_date": date,
        "result_as_reported": raw["cmv_dna_iu_ml"],
        "cmv_dna_iu_ml": parsed["cmv_dna_iu_ml"],
        "below_quantification": bq,
        "lloq_iu_ml": _sample_lloq(raw, c, lloq_iu_ml),
    })
    vl["below_lloq"] = bq | (vl["cmv_dna_iu_ml"] < vl["lloq_iu_ml"])
    return vl[~empty.to_numpy()], c


def _validate_new_therapy(raw: pd.DataFrame, file: str, c: _Collector,
                          out: pd.DataFrame) -> None:
    """The optional pair ``new_anticmv_therapy`` (drugs, ``;``-separated) and
    ``new_anticmv_therapy_date`` (its first day): a new anti-CMV therapy started after CMVIG,
    which the response analysis can censor or count as a competing event (endpoints.py)."""
    drug_col, date_col = NEW_THERAPY_COLUMNS
    given = [col for col in NEW_THERAPY_COLUMNS if col in raw.columns]
    if not given:
        return
    if len(given) == 1:
        other = date_col if given[0] == drug_col else drug_col
        c.problems.append(Problem(file, 1, None, other, None,
                                  f"column missing from the header: {given[0]} needs it"))
        return
    drugs = _drug_list(_per_unique(raw[drug_col], lambda u: u.str.strip()))
    text = _per_unique(raw[date_col], lambda u: u.str.strip())
    date = _parse_dates(text)
    given_date = text.ne("")
    c.fail(given_date & date.isna(), date_col, raw[date_col],
           "must be a date written YYYY-MM-DD, or empty")
    c.fail(given_date & (date < out["cmvig_start_date"]), date_col, raw[date_col],
           "new therapy before cmvig_start_date (must be on or after)")
    c.fail(given_date & (date > out["last_followup_date"]), date_col, raw[date_col],
           "new therapy after last_followup_date")
    c.fail(drugs.ne("") & ~given_date, date_col, raw[date_col],
           f"required when {drug_col} is given (the therapy's first day)")
    c.fail(drugs.eq("") & given_date, drug_col, raw[drug_col],
           f"required when {date_col} is given (the drugs started)")
    c.changed(drug_col, raw[drug_col], drugs, "drug names trimmed and lower-cased")
    out[drug_col] = drugs
    out[date_col] = date


def _sample_lloq(raw: pd.DataFrame, c: _Collector, default: float) -> pd.Series:
    """Each sample's LLOQ: its own ``lloq_iu_ml`` cell when the column is there and the cell is
    filled, the config's value otherwise."""
    if SAMPLE_LLOQ_COLUMN not in raw.columns:
        return pd.Series(float(default), index=raw.index)
    text = _per_unique(raw[SAMPLE_LLOQ_COLUMN], lambda u: u.str.strip())
    value = pd.to_numeric(text.where(text.str.match(PLAIN_NUMBER)), errors="coerce")
    c.fail(text.ne("") & (value.isna() | value.le(0)), SAMPLE_LLOQ_COLUMN,
           raw[SAMPLE_LLOQ_COLUMN], "must be a number of IU/mL > 0, or empty for the config's "
           "lloq_iu_ml")
    return value.where(text.ne(""), float(default)).astype(float)


def _samples_after_death(patients: pd.DataFrame, vl: pd.DataFrame, file: str) -> list[Problem]:
    """A sample taken after its patient's death is impossible: one problem per such row."""
    p = patients.set_index("patient_id")
    death = p["last_followup_date"].where(p["status"].eq("dead"))
    died_on = vl["patient_id"].map(death)
    bad = vl[vl["sample_date"] > died_on]
    return [Problem(file, int(r.row), r.patient_id, "sample_date", r.sample_date.date().isoformat(),
                    "sample dated after the patient's death (last_followup_date "
                    f"{died_on[i].date().isoformat()}, status dead)")
            for i, r in zip(bad.index, bad.itertuples(), strict=True)][:200]


def derive_cohort(patients: pd.DataFrame, viral_loads: pd.DataFrame,
                  cause_categories: Mapping[str, Sequence[str]] | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the derived columns of docs/interfaces.md; return (cohort, viral loads with days)."""
    p = patients.copy()
    vl = viral_loads.copy()
    # Work on integer day numbers and each sample's patient row: lookups and group-bys keyed
    # on hundreds of thousands of patient-id strings cost several times more.
    owner = pd.Index(p["patient_id"]).get_indexer(vl["patient_id"])  # validated: all found
    start_day = p["cmvig_start_date"].to_numpy(dtype="datetime64[D]").astype("int64")
    sample_day = vl["sample_date"].to_numpy(dtype="datetime64[D]").astype("int64")
    vl["days_since_cmvig"] = sample_day - start_day[owner]
    # The contract's response: first sample strictly after the CMVIG start day below LLOQ.
    hit = vl["below_lloq"].to_numpy(dtype=bool) & (vl["days_since_cmvig"].to_numpy() >= 1)
    never = np.iinfo("int64").max
    first_day = np.full(len(p), never, dtype="int64")
    np.minimum.at(first_day, owner[hit], sample_day[hit])
    p["response_date"] = pd.to_datetime(
        np.where(first_day == never, np.datetime64("NaT"),
                 first_day.astype("datetime64[D]")).astype("datetime64[ns]"))
    p["responded"] = p["response_date"].notna()
    p["days_to_response"] = (p["response_date"] - p["cmvig_start_date"]).dt.days.astype("Int64")
    p["os_from_cmvig_days"] = (p["last_followup_date"] - p["cmvig_start_date"]).dt.days
    p["os_from_hsct_days"] = (p["last_followup_date"] - p["hsct_date"]).dt.days
    p["days_hsct_to_cmvig"] = (p["cmvig_start_date"] - p["hsct_date"]).dt.days
    p["days_to_response_or_censoring"] = (
        p["days_to_response"].fillna(p["os_from_cmvig_days"]).astype("int64")
    )
    p["died"] = p["status"].eq("dead")
    p["cmv_death"] = p["died"] & p["cmv_related_death"].eq("yes")
    # letermovir is prophylaxis, not one of the lines of treatment counted here
    p["n_prior_antivirals"] = treatment_drugs(p["prior_antivirals"]).map(
        lambda s: 0 if s == "" else s.count(";") + 1
    )
    p["n_viral_load_samples"] = np.bincount(owner, minlength=len(p)).astype("int64")
    p["cmvig_doses"] = p["cmvig_doses"].astype("int64")
    # Sort by patient, date and export row on integer keys: a multi-key sort of that many
    # strings takes 5x longer. Rows are unique, so the order is fully determined.
    patient_rank = pd.factorize(vl["patient_id"], sort=True)[0]
    order = np.lexsort((vl["row"].to_numpy(), vl["sample_date"].to_numpy(dtype="int64"),
                        patient_rank))
    _add_sensitivity_times(p, owner[order], vl["days_since_cmvig"].to_numpy()[order],
                           vl["below_lloq"].to_numpy(dtype=bool)[order])
    p["viral_load_at_cmvig"] = _load_at_start(
        len(p), owner[order], vl["days_since_cmvig"].to_numpy()[order],
        vl["cmv_dna_iu_ml"].to_numpy(dtype=float)[order])
    p["study_number"] = study_numbers(p)
    p["cause_of_death_category"], p["cause_of_death_mapped"] = categorise_causes(
        p["cause_of_death"], cause_categories)
    new_dates = [c for c in NEW_THERAPY_COLUMNS[1:] if c in p.columns]
    for col in (*DATE_COLUMNS, "response_date", *new_dates):
        p[col] = _iso(p[col])
    p = p[cohort_columns(p.columns)]  # results/cohort.csv, in order (cohort_schema.py)
    p = p.sort_values("patient_id", kind="stable").reset_index(drop=True)
    vl["sample_date"] = _iso(vl["sample_date"])
    # one gather per column into a fresh frame: DataFrame.take + reset_index copies twice
    vl = pd.DataFrame({col: vl[col].to_numpy()[order] for col in (
        "patient_id", "row", "sample_date", "result_as_reported", "cmv_dna_iu_ml",
        "below_quantification", "lloq_iu_ml", "below_lloq", "days_since_cmvig")})
    return p, vl


def _add_sensitivity_times(p: pd.DataFrame, owner: np.ndarray, day: np.ndarray,
                           below: np.ndarray) -> None:
    """Columns for the sensitivity analyses, from samples sorted by patient, date and row.

    ``last_pcr_day``: day of the last sample taken on or after the CMVIG start day (empty if
    none). ``days_to_confirmed_response``: the first of two consecutive samples after the
    start day (day >= 1) that are both below the LLOQ; ``confirmed_response`` whether there is
    one. Non-responders are censored as in the primary analysis.
    """
    never = np.iinfo("int64").max
    last = np.full(len(p), -1, dtype="int64")
    on_or_after = day >= 0
    np.maximum.at(last, owner[on_or_after], day[on_or_after])
    p["last_pcr_day"] = pd.array(np.where(last < 0, pd.NA, last), dtype="Int64")
    after = day >= 1
    o, d, b = owner[after], day[after], below[after]
    pair = b[:-1] & b[1:] & (o[:-1] == o[1:])  # this sample and the patient's next one
    first = np.full(len(p), never, dtype="int64")
    np.minimum.at(first, o[:-1][pair], d[:-1][pair])
    p["confirmed_response"] = first != never
    p["days_to_confirmed_response"] = pd.array(np.where(first == never, pd.NA, first),
                                               dtype="Int64")


def _fold(text: pd.Series) -> pd.Series:
    return text.str.casefold().str.split().str.join(" ")


def categorise_causes(causes: pd.Series, categories: Mapping[str, Sequence[str]] | None
                      ) -> tuple[pd.Series, pd.Series]:
    """Each cause of death as a category label from the config's vocabulary.

    ``categories`` maps a label to the raw texts it covers; texts are compared after folding
    case and runs of spaces. Returns (category, mapped): an empty cause (alive) stays empty, a
    cause not in the vocabulary becomes :data:`OTHER_CAUSE` with ``mapped`` False.
    """
    lookup: dict[str, str] = {}
    for label, texts in (categories or {}).items():
        for text in [label, *texts]:
            lookup[" ".join(str(text).casefold().split())] = str(label)
    folded = _fold(causes.fillna(""))
    category = folded.map(lookup).astype(object)  # all-unmapped gives float64 NaN otherwise
    empty = causes.fillna("").str.strip().eq("")
    mapped = category.notna() | empty
    return category.fillna(OTHER_CAUSE).where(~empty, ""), mapped


def _load_at_start(n: int, owner: np.ndarray, day: np.ndarray, value: np.ndarray) -> np.ndarray:
    """IU/mL of each patient's last sample in the 14 days up to the CMVIG start day (samples
    sorted by patient, date and row); NaN when there is none or it was not quantifiable."""
    window = (day >= -VIRAEMIA_WINDOW_DAYS) & (day <= 0)
    last = np.full(n, -1, dtype="int64")
    np.maximum.at(last, owner[window], np.flatnonzero(window))
    return np.where(last >= 0, value[np.maximum(last, 0)], np.nan)


def study_numbers(p: pd.DataFrame) -> np.ndarray:
    """Study numbers 1..n, the only way a patient appears in what is shared.

    Numbered by infection type (recurrent first), then CMVIG start, then patient_id (a tie
    breaker that is never shown): the order says no more than Figure 1 and Table 1 already do.
    """
    kind = group_order(p["infection_type"]).to_numpy()
    order = np.lexsort((p["patient_id"].to_numpy(dtype=str),
                        p["cmvig_start_date"].to_numpy(dtype="datetime64[D]"), kind))
    numbers = np.empty(len(p), dtype="int64")
    numbers[order] = np.arange(1, len(p) + 1)
    return numbers


ASSIGNED_BEFORE, ASSIGNED_NOW = "previous freeze", "this freeze"


def lasting_study_numbers(p: pd.DataFrame, previous: Mapping[str, int]
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Study numbers that last across data freezes, and which freeze assigned each.

    A patient of the previous freeze (``previous``: patient_id -> study number) keeps their
    number, so that "patient 7" in a co-author's comment still means the same child. New
    patients get numbers above every number used before (a removed patient's number is never
    given to someone else), in the order of :func:`study_numbers`.
    """
    fresh = study_numbers(p)
    ids = p["patient_id"].astype(str).to_numpy()
    kept = np.array([pid in previous for pid in ids], dtype=bool)
    numbers = np.array([previous.get(pid, 0) for pid in ids], dtype="int64")
    start = max(previous.values(), default=0)
    new_order = np.argsort(np.where(kept, -1, fresh), kind="stable")[int(kept.sum()):]
    numbers[new_order] = np.arange(start + 1, start + 1 + len(new_order))
    return numbers, np.where(kept, ASSIGNED_BEFORE, ASSIGNED_NOW)


def read_study_numbers(folder: str) -> dict[str, int]:
    """The study-number map of a previous freeze (a build's results/), or {} when it has none."""
    if not folder or not (Path(folder) / Path(STUDY_NUMBERS).name).is_file():
        return {}
    path = Path(folder) / Path(STUDY_NUMBERS).name
    table = pd.read_csv(path, dtype={"patient_id": str}, keep_default_na=False)
    return {str(k): int(v) for k, v in zip(table["patient_id"], table["study_number"],
                                            strict=True)}


def _serial_cells(path: str | Path, raw: pd.DataFrame, sheet: str | int,
                  columns: Sequence[str]) -> ExcelNumbers | None:
    """For an ``.xlsx`` whose date columns hold bare numbers: the cells stored as numbers.
    None for a CSV, or when no such value is there (the common case: the workbook is not
    read a second time)."""
    if Path(path).suffix.lower() not in EXCEL_SUFFIXES:
        return None
    suspect = [col for col in columns if col in raw.columns
               and raw[col].str.strip().str.match(SERIAL_NUMBER).any()]
    if not suspect:
        return None
    flags, epoch = excel_number_cells(path, sheet, suspect)
    return ExcelNumbers({col: pd.Series((cells + [False] * len(raw))[:len(raw)],
                                        index=raw.index, dtype=bool)
                         for col, cells in flags.items()}, epoch)


def clean_cohort(patients_path: str | Path, viral_loads_path: str | Path, lloq_iu_ml: float,
                 sheet: str | int = 0, *,
                 cause_categories: Mapping[str, Sequence[str]] | None = None,
                 study_period: tuple[str, str] | None = None,
                 below_lloq_spellings: Sequence[str] | None = None) -> CleanCohort:
    """Read, validate and clean both exports; raise DataError listing every problem found.

    ``cause_categories`` is the config's vocabulary of causes of death; ``study_period``
    (first and last month) is checked by the plausibility checks when given;
    ``below_lloq_spellings`` are the texts read as below quantification (default
    :data:`BELOW_LLOQ_SPELLINGS`).
    """
    p_file, v_file = str(patients_path), str(viral_loads_path)
    raw_p = read_export(patients_path, sheet)
    raw_v = read_export(viral_loads_path, sheet)
    problems: list[Problem] = []
    try:
        patients, pc = validate_patients(
            raw_p, p_file, _serial_cells(patients_path, raw_p, sheet, DATE_COLUMNS))
        problems += pc.problems
        logs = pc.log
    except DataError as exc:  # header problems: still report the other file's header too
        problems += exc.problems
        patients, logs = None, []
    if patients is not None:
        try:
            vl, vc = validate_viral_loads(
                raw_v, v_file, patients["patient_id"], lloq_iu_ml, below_lloq_spellings,
                _serial_cells(viral_loads_path, raw_v, sheet, ["sample_date"]))
            problems += vc.problems
            logs += vc.log
        except DataError as exc:
            problems += exc.problems
    else:
        problems += _missing_columns(raw_v, VIRAL_LOAD_COLUMNS, v_file)
    if not problems:
        problems += _samples_after_death(patients, vl, v_file)
    if problems:
        raise DataError(problems)
    cohort, vl = derive_cohort(patients, vl, cause_categories)
    log_columns = ["file", "row", "patient_id", "column", "before", "after", "reason"]
    log = (pd.concat(logs, ignore_index=True) if logs else pd.DataFrame(columns=log_columns))
    log = log.sort_values(["file", "row", "column", "reason"], kind="stable")[log_columns]
    findings = plausibility(cohort, vl, study_period)
    return CleanCohort(cohort, vl, log.reset_index(drop=True), findings)


def run_cohort(*, patients: str, viral_loads: str, sheet: str | int, lloq: float,
               cause_categories: Mapping[str, Sequence[str]], study_period: str, cohort: str,
               clean_viral_loads: str, cleaning_log: str, data_quality: str,
               study_number_map: str, compare_with: str = "",
               below_lloq_spellings: Sequence[str] | None = None) -> list[str]:
    """Step ``clean_cohort``: clean the exports and write the result files (all or none).

    ``study_period`` is ``YYYY-MM/YYYY-MM``, or empty when it is taken from the data. With
    ``compare_with`` (a previous freeze) returning patients keep their study numbers.
    """
    if float(lloq) <= 0:
        raise PipelineError(f"lloq_iu_ml must be > 0, got {lloq}")
    try:
        period = parse_study_period(study_period)
    except ValueError as exc:
        raise PipelineError(str(exc)) from None
    result = clean_cohort(patients, viral_loads, float(lloq), sheet,
                          cause_categories=cause_categories, study_period=period,
                          below_lloq_spellings=below_lloq_spellings)
    c = result.cohort
    previous = read_study_numbers(compare_with)
    c["study_number"], assigned = lasting_study_numbers(c, previous)
    numbers = c[["patient_id", "study_number"]].assign(assigned_in=assigned)
    write_csv(c, cohort)
    write_csv(result.viral_loads, clean_viral_loads)
    write_csv(result.cleaning_log, cleaning_log)
    write_csv(result.data_quality, data_quality)
    write_csv(numbers.sort_values("study_number"), study_number_map)
    notes = [
        f"{len(c)} patients, {len(result.viral_loads)} viral-load results kept, "
        f"{len(result.cleaning_log)} changes logged; {int(c['responded'].sum())} responders",
        summary_line(result.data_quality),
    ]
    if compare_with and not previous:
        notes.append(f"{compare_with} has no study-number map: numbers assigned afresh")
    unmapped = c.loc[~c["cause_of_death_mapped"], "cause_of_death"]
    if len(unmapped):
        notes.append(f"{len(unmapped)} cause(s) of death not in cause_of_death_categories "
                     f"print as '{OTHER_CAUSE}' (listed in {DISCLOSURE_LOG})")
    return notes
