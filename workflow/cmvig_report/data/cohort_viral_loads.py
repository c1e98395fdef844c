"""Validating the viral-load export: results as typed (numbers, below or above the limits of
quantification), sample dates, each sample's own limit, and samples no patient could have.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError, Problem
from .cohort_cells import (
    ABOVE_QUANT_LIMIT,
    BELOW_LLOQ_SPELLINGS,
    BELOW_QUANT_LIMIT,
    PLAIN_NUMBER,
    SAMPLE_LLOQ_COLUMN,
    THOUSANDS_NUMBER,
    VIRAL_LOAD_COLUMNS,
    Collector,
    ExcelNumbers,
    dates_or_serials,
    missing_columns,
    parse_dates,
    per_unique,
    plain_number,
    strip_where_needed,
)


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
                         ) -> tuple[pd.DataFrame, Collector]:
    """Check the viral-load export; return kept rows (empty results dropped) with parsed values.

    ``below_spellings``: see :func:`parse_viral_load_results`; ``serial_dates``: see
    :func:`dates_or_serials`.
    """
    if problems := missing_columns(raw, VIRAL_LOAD_COLUMNS, file):
        raise DataError(problems)
    c = Collector(file, raw["patient_id"])
    pid = strip_where_needed(raw["patient_id"], lambda s: s.isin(known_ids))
    c.fail(pid.eq(""), "patient_id", raw["patient_id"], "patient_id must not be empty")
    c.fail(pid.ne("") & ~pid.isin(known_ids), "patient_id", raw["patient_id"],
           "patient_id not found in the patients file")
    date = dates_or_serials(
        strip_where_needed(raw["sample_date"], lambda s: parse_dates(s).notna()),
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
    limit[above] = parsed.loc[above, "cmv_dna_iu_ml"].map(plain_number)
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


def _sample_lloq(raw: pd.DataFrame, c: Collector, default: float) -> pd.Series:
    """Each sample's LLOQ: its own ``lloq_iu_ml`` cell when the column is there and the cell is
    filled, the config's value otherwise."""
    if SAMPLE_LLOQ_COLUMN not in raw.columns:
        return pd.Series(float(default), index=raw.index)
    text = per_unique(raw[SAMPLE_LLOQ_COLUMN], lambda u: u.str.strip())
    value = pd.to_numeric(text.where(text.str.match(PLAIN_NUMBER)), errors="coerce")
    c.fail(text.ne("") & (value.isna() | value.le(0)), SAMPLE_LLOQ_COLUMN,
           raw[SAMPLE_LLOQ_COLUMN], "must be a number of IU/mL > 0, or empty for the config's "
           "lloq_iu_ml")
    return value.where(text.ne(""), float(default)).astype(float)


def samples_after_death(patients: pd.DataFrame, vl: pd.DataFrame, file: str) -> list[Problem]:
    """A sample taken after its patient's death is impossible: one problem per such row."""
    p = patients.set_index("patient_id")
    death = p["last_followup_date"].where(p["status"].eq("dead"))
    died_on = vl["patient_id"].map(death)
    bad = vl[vl["sample_date"] > died_on]
    return [Problem(file, int(r.row), r.patient_id, "sample_date", r.sample_date.date().isoformat(),
                    "sample dated after the patient's death (last_followup_date "
                    f"{died_on[i].date().isoformat()}, status dead)")
            for i, r in zip(bad.index, bad.itertuples(), strict=True)][:200]
