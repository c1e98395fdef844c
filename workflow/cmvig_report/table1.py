"""Table 1: baseline characteristics, overall and by infection type.

Continuous variables are median (range) and categorical ones n (%) of the column's patients, as a
clinical journal expects for a series this small. Antivirals before CMVIG are a multi-select
variable: a patient counts once under each drug received, so those percentages add to more than
100. Levels are ordered by descending overall count, then by name.

The ``tableone`` package was considered and not used: it takes ~1.6 s to import (with
statsmodels) against a 4 s budget for a full build, prints ranges as ``[min,max]``, and has no
multi-select variable for the antivirals a patient received before CMVIG (several per patient).
The table here is a few group-bys.

``results/table1.csv`` is tidy: ``variable, level, overall, recurrent, refractory``; its first row
(variable ``Patients``) holds each column's n, and continuous rows have level ``median (range)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .formatting import EN_DASH, format_fixed, format_median_range, format_percent

COLUMNS = (("overall", None), ("recurrent", "recurrent"), ("refractory", "refractory"))
# (column in cohort.csv, row label, kind, decimals for continuous values)
VARIABLES = (
    ("age_at_hsct", "Age at HSCT, years", "continuous", 1),
    ("sex", "Sex", "categorical", 0),
    ("diagnosis", "Underlying disease", "categorical", 0),
    ("donor_type", "Donor type", "categorical", 0),
    ("graft_source", "Graft source", "categorical", 0),
    ("cmv_serostatus", "CMV serostatus (donor/recipient)", "categorical", 0),
    ("prior_antivirals", "Antivirals before CMVIG", "multi", 0),
    ("n_prior_antivirals", "Number of antivirals before CMVIG", "continuous", 0),
    ("cmvig_doses", "CMVIG doses", "continuous", 0),
    ("days_hsct_to_cmvig", "Days from HSCT to CMVIG", "continuous", 0),
)
SEX_LABELS = {"F": "Female", "M": "Male"}
MISSING_LEVEL = "not recorded"


def fmt_median_range(values: pd.Series, decimals: int = 0) -> str:
    """``median (min–max)``; a dash for an empty group.

    For whole-number variables (``decimals == 0``) a median halfway between two values keeps
    one decimal (1.5 doses) rather than being rounded to a value one of the two patients had.
    """
    if values.empty:
        return EN_DASH
    block = {"median": float(values.median()), "min": values.min(), "max": values.max()}
    return format_median_range(block, decimals, number=format_fixed)


def fmt_count(k: int, n: int) -> str:
    """``k (p%)`` with a whole percent of the column's n; a dash for an empty column."""
    if n == 0:
        return EN_DASH
    return f"{k} ({format_percent(k / n)})"


def _groups(cohort: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {name: cohort if value is None else cohort[cohort["infection_type"] == value]
            for name, value in COLUMNS}


def _levels(counts: pd.Series) -> list[str]:
    return sorted(counts.index, key=lambda lvl: (-counts[lvl], str(lvl)))


def _level_counts(values: pd.Series, kind: str) -> pd.Series:
    """Patients per level: a single level each, or each drug a patient received."""
    if kind == "multi":
        # Drug lists repeat a few dozen combinations over thousands of patients: split each
        # distinct list once and weight it by how many patients share it.
        codes, lists = pd.factorize(values.fillna("").astype(str))
        sharing = np.bincount(codes, minlength=len(lists))
        pairs = [(drug, n) for text, n in zip(lists, sharing, strict=True)
                 # a drug listed twice for one patient still counts that patient once
                 for drug in {d.strip() for d in text.split(";")} - {""}]
        return (pd.DataFrame(pairs, columns=["level", "n"], dtype=object)
                .groupby("level")["n"].sum().astype(int))
    return values.fillna("").astype(str).replace("", MISSING_LEVEL).value_counts()


def _level_label(level: str, col: str, kind: str) -> str:
    if col == "sex":
        return SEX_LABELS.get(level, level)
    # Drug names arrive lower-cased from the cohort step; a table row starts with a capital.
    return level[:1].upper() + level[1:] if kind == "multi" else level


def build_table1(cohort: pd.DataFrame) -> pd.DataFrame:
    """Tidy Table 1: one row per variable level, formatted strings in each group's column.

    Columns ``variable, level, overall, recurrent, refractory``; the first row (``Patients``)
    gives each column's n.
    """
    groups = _groups(cohort)
    rows = [{"variable": "Patients", "level": "", **{g: str(len(d)) for g, d in groups.items()}}]
    for col, label, kind, decimals in VARIABLES:
        if kind == "continuous":
            rows.append({"variable": label, "level": "median (range)",
                         **{g: fmt_median_range(d[col], decimals) for g, d in groups.items()}})
            continue
        per_group = {g: _level_counts(d[col], kind) for g, d in groups.items()}
        for level in _levels(per_group["overall"]):
            rows.append({"variable": label, "level": _level_label(level, col, kind),
                         **{g: fmt_count(int(per_group[g].get(level, 0)), len(groups[g]))
                            for g in groups}})
    return pd.DataFrame(rows, columns=["variable", "level", *groups])
