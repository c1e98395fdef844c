"""Table 1: baseline characteristics, overall and by infection type.

Continuous variables are median (range) and categorical ones n (%) of the column's patients, as a
clinical journal expects for a series this small; viral loads, which span orders of magnitude,
are log10 IU/mL as median (interquartile range). Antivirals before CMVIG are a multi-select
variable: a patient counts once under each drug received, so those percentages add to more than
100. Letermovir is prophylaxis, not treatment: it is counted on a row of its own, never among the
antivirals. Levels are ordered by descending overall count, then by name.

The ``tableone`` package was considered and not used: it is slow to import (with statsmodels;
figures in docs/performance.md), prints ranges as ``[min,max]``, has no multi-select variable for
the antivirals a patient received before CMVIG (several per patient), and Table 1's cells must go
through small-cell control. The table here is a few group-bys.

``results/table1.csv`` is tidy: ``variable, level, overall, recurrent, refractory``; its first row
(variable ``Patients``) holds each column's n, and continuous rows have level ``median (range)``
(``median (IQR)`` for the log10 viral loads).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.formatting import EN_DASH, format_median_iqr, format_median_range, format_percent
from ..data.clinical import CLINICAL_ENUMS, clinical_record, prophylaxis_drugs, treatment_drugs
from ..data.groups import by_column
from ..privacy.disclosure import below_limit, cell_name, group_size_name, small_mark
from .summaries import log10_quartiles, median_range

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
    ("viral_load_at_cmvig", "CMV DNA at CMVIG start, log10 IU/mL", "log10", 1),
)
# Letermovir (before or with the first dose), shown when a child had it.
PROPHYLAXIS = ("prophylaxis_drugs", "Prophylaxis before or with CMVIG", "multi", 0)
# Kinds summarised as a median: of the values (range), or of their log10 (IQR).
CONTINUOUS = ("continuous", "log10")
RANGE_LEVEL, IQR_LEVEL = "median (range)", "median (IQR)"
# The optional clinical columns (docs/contract.md), printed only when the export recorded them.
# The dose gets one row per unit (DOSE_PREFIX + unit): U/kg and mg/kg are never pooled.
CLINICAL_VARIABLES = (
    ("cmvig_product", "CMVIG product", "categorical", 0),
    ("cmvig_dose", "CMVIG dose", "continuous", 0),
    ("cmvig_interval_days", "Days between CMVIG doses", "continuous", 0),
    ("antivirals_at_cmvig", "Antivirals at the first CMVIG dose", "multi", 0),
    ("cmv_disease_at_cmvig", "CMV disease at the first CMVIG dose", "categorical", 0),
    ("agvhd_grade_at_cmvig", "Acute GVHD grade at the first CMVIG dose", "categorical", 0),
    ("steroids_at_cmvig", "Systemic steroids at the first CMVIG dose", "categorical", 0),
    ("resistance_testing", "Resistance genotyping", "categorical", 0),
    ("conditioning_intensity", "Conditioning intensity", "categorical", 0),
    ("serotherapy", "Serotherapy", "categorical", 0),
    ("t_cell_depletion", "T-cell depletion", "categorical", 0),
    ("cmv_prevention", "CMV prevention strategy", "categorical", 0),
    ("chronic_gvhd_at_cmvig", "Chronic GVHD at the first CMVIG dose", "categorical", 0),
    ("lymphocytes_at_cmvig", "Lymphocytes at the first CMVIG dose, \u00d710\u2079/L",
     "continuous", 2),
    ("prior_cmv_episodes", "Earlier CMV episodes", "continuous", 0),
    ("peak_viral_load_iu_ml", "Peak CMV DNA before CMVIG, log10 IU/mL", "log10", 1),
)
DOSE_PREFIX = "cmvig_dose in "
DOSE_UNIT_LABEL = "CMVIG dose unit"
# Ordinal or fixed levels print in this order rather than by count.
LEVEL_ORDER = CLINICAL_ENUMS
SEX_LABELS = {"F": "Female", "M": "Male"}
LEVEL_LABELS = {
    "sex": SEX_LABELS,
    "cmv_disease_at_cmvig": {"none": "None", "probable": "Probable", "proven": "Proven"},
    "agvhd_grade_at_cmvig": {"0": "Grade 0", "I": "Grade I", "II": "Grade II",
                             "III": "Grade III", "IV": "Grade IV"},
    "steroids_at_cmvig": {"yes": "Yes", "no": "No"},
    "resistance_testing": {"not tested": "Not tested", "no mutation": "No mutation"},
    "conditioning_intensity": {"MAC": "Myeloablative (MAC)", "RIC": "Reduced intensity (RIC)",
                               "NMA": "Non-myeloablative (NMA)"},
    "serotherapy": {"alemtuzumab": "Alemtuzumab", "none": "None"},
    "t_cell_depletion": {"none": "None", "ex vivo": "Ex vivo",
                         "PTCy": "Post-transplant cyclophosphamide (PTCy)"},
    "cmv_prevention": {"letermovir prophylaxis": "Letermovir prophylaxis",
                       "pre-emptive": "Pre-emptive therapy"},
    "chronic_gvhd_at_cmvig": {"yes": "Yes", "no": "No"},
}
MISSING_LEVEL = "not recorded"


def fmt_median_range(values: pd.Series, decimals: int = 0) -> str:
    """``median (min–max)``; a dash for an empty group.

    For whole-number variables (``decimals == 0``) a median halfway between two values keeps
    one decimal (1.5 doses) rather than being rounded to a value one of the two patients had.
    """
    if values.empty:
        return EN_DASH
    return format_median_range(median_range(values), decimals)


def fmt_count(k: int, n: int) -> str:
    """``k (p%)`` with a whole percent of the column's n; a dash for an empty column."""
    if n == 0:
        return EN_DASH
    return f"{k} ({format_percent(k / n)})"


def _levels(counts: pd.Series, col: str) -> list[str]:
    if col in LEVEL_ORDER:
        order = {lvl: i for i, lvl in enumerate((*LEVEL_ORDER[col], MISSING_LEVEL))}
        return sorted(counts.index, key=lambda lvl: (order.get(lvl, len(order)), str(lvl)))
    return sorted(counts.index, key=lambda lvl: (-counts[lvl], str(lvl)))


def dose_units(cohort: pd.DataFrame) -> list[str]:
    """The units of the recorded CMVIG doses, in the contract's order."""
    if "cmvig_dose_unit" not in cohort.columns:
        return []
    used = set(cohort["cmvig_dose_unit"].fillna("").astype(str)) - {""}
    return [u for u in CLINICAL_ENUMS["cmvig_dose_unit"] if u in used]


def table_variables(cohort: pd.DataFrame) -> list[tuple[str, str, str, int]]:
    """Table 1's variables for this cohort: the fixed ones, then the clinical columns recorded.

    With doses in more than one unit the unit is a categorical row (its counts go through
    small-cell control like any other) followed by the dose of each unit on its own row.
    """
    recorded = set(clinical_record(cohort)["recorded"])
    out = list(VARIABLES)
    if _prophylaxis(cohort).ne("").any():  # beside the treatment antivirals, never among them
        after = [v[0] for v in out].index("n_prior_antivirals") + 1
        out.insert(after, PROPHYLAXIS)
    for col, label, kind, decimals in CLINICAL_VARIABLES:
        if col not in recorded:
            continue
        if col != "cmvig_dose":
            out.append((col, label, kind, decimals))
            continue
        units = dose_units(cohort)
        dose = cohort["cmvig_dose"].dropna().astype(float)
        whole = 0 if (dose == dose.round()).all() else 1
        if len(units) > 1:
            out.append(("cmvig_dose_unit", DOSE_UNIT_LABEL, "categorical", 0))
        out += [(DOSE_PREFIX + u, f"{label}, {u}", "continuous", whole) for u in units]
    return out


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
    if col in LEVEL_LABELS:
        return LEVEL_LABELS[col].get(level, level)
    # Drug names arrive lower-cased from the cohort step; a table row starts with a capital.
    return level[:1].upper() + level[1:] if kind == "multi" else level


@dataclass
class Categorical:
    """The counts of one categorical variable of Table 1, per column."""

    label: str
    multi: bool  # several levels per patient (antivirals received)
    levels: list[str]  # as printed, in table order
    counts: dict[str, dict[str, int]]  # column -> level -> patients


def categorical_counts(cohort: pd.DataFrame) -> list[Categorical]:
    """Patients per level of every categorical variable, per column (overall and by type).

    Shared by Table 1 and the small-cell control, which must see the very counts printed.
    """
    cohort = with_log_load(cohort)
    groups = by_column(cohort)
    out = []
    for col, label, kind, _ in table_variables(cohort):
        if kind in CONTINUOUS:
            continue
        per_group = {g: _level_counts(d[col], kind) for g, d in groups.items()}
        levels = _levels(per_group["overall"], col)
        out.append(Categorical(
            label, kind == "multi", [_level_label(lvl, col, kind) for lvl in levels],
            {g: {_level_label(lvl, col, kind): int(per_group[g].get(lvl, 0)) for lvl in levels}
             for g in groups}))
    return out


def _prophylaxis(cohort: pd.DataFrame) -> pd.Series:
    """Each child's prophylaxis drugs listed before or with the first CMVIG dose."""
    if "prophylaxis_drugs" in cohort.columns:  # already split (with_log_load)
        return cohort["prophylaxis_drugs"]
    lists = prophylaxis_drugs(cohort["prior_antivirals"])
    if "antivirals_at_cmvig" in cohort.columns:
        given = prophylaxis_drugs(cohort["antivirals_at_cmvig"])
        lists = (lists + ";" + given).str.strip(";")
    return lists


def with_log_load(cohort: pd.DataFrame) -> pd.DataFrame:
    """The cohort as Table 1 counts it: the antivirals without letermovir, which has its own
    column (``prophylaxis_drugs``), and the CMVIG dose split by unit (``DOSE_PREFIX + unit``)
    when doses were recorded. Applying it twice changes nothing."""
    if "prophylaxis_drugs" in cohort.columns:
        return cohort
    extra = {"prior_antivirals": treatment_drugs(cohort["prior_antivirals"]),
             "prophylaxis_drugs": _prophylaxis(cohort)}
    if "antivirals_at_cmvig" in cohort.columns:
        extra["antivirals_at_cmvig"] = treatment_drugs(cohort["antivirals_at_cmvig"])
    for unit in dose_units(cohort):
        extra[DOSE_PREFIX + unit] = cohort["cmvig_dose"].astype(float).where(
            cohort["cmvig_dose_unit"].eq(unit))
    return cohort.assign(**extra)


def build_table1(cohort: pd.DataFrame, hidden: Mapping[str, str] | None = None,
                 min_cell: int = 0) -> pd.DataFrame:
    """Tidy Table 1: one row per variable level, formatted strings in each group's column.

    Columns ``variable, level, overall, recurrent, refractory``; the first row (``Patients``)
    gives each column's n. ``hidden`` (cell name -> what to print instead, from the small-cell
    control) replaces counts; a hidden count loses its percentage, and so do the counts of a
    column whose n is hidden; the medians and ranges of a column whose n is below the limit
    (a few patients' own values) are hidden too. Missing values are left out of medians; for
    the optional clinical columns, which may be recorded for a few children only, a median of
    fewer than ``min_cell`` values is hidden as well, and so is the dose of a unit whose count
    is below the limit.
    """
    hidden = hidden or {}
    variables = table_variables(cohort)
    cohort = with_log_load(cohort)
    groups = by_column(cohort)
    sizes = {g: group_size_name(g) for g in groups}
    rows = [{"variable": "Patients", "level": "",
             **{g: hidden.get(sizes[g], str(len(d))) for g, d in groups.items()}}]
    categorical = {c.label: c for c in categorical_counts(cohort)}
    optional = {col for col, *_ in CLINICAL_VARIABLES}
    for col, label, kind, decimals in variables:
        if kind in CONTINUOUS:
            rows.append({"variable": label,
                         "level": IQR_LEVEL if kind == "log10" else RANGE_LEVEL, **{
                g: _continuous(_summarised(d[col], kind), decimals, g, hidden, sizes[g],
                               min_cell if col in optional or col.startswith(DOSE_PREFIX)
                               else 0, col.removeprefix(DOSE_PREFIX)
                               if col.startswith(DOSE_PREFIX) else None, kind)
                for g, d in groups.items()}})
            continue
        c = categorical[label]
        for level in c.levels:
            rows.append({"variable": label, "level": level, **{
                g: _cell(c.counts[g][level], len(groups[g]), cell_name(label, level, g),
                         sizes[g], hidden) for g in groups}})
    return pd.DataFrame(rows, columns=["variable", "level", *groups])


def _cell(k: int, n: int, name: str, size: str, hidden: Mapping[str, str]) -> str:
    if name in hidden:
        return hidden[name]
    if size in hidden:  # a percentage would give the hidden n back
        return str(k)
    return fmt_count(k, n)


def _summarised(values: pd.Series, kind: str) -> pd.Series:
    """The values a median is taken of: as recorded, or log10 of the positive ones."""
    values = values.dropna()
    if kind != "log10":
        return values
    values = values.astype(float)
    return np.log10(values[values > 0])


def _continuous(values: pd.Series, decimals: int, group: str, hidden: Mapping[str, str],
                size: str, min_cell: int, unit: str | None, kind: str = "continuous") -> str:
    if below_limit(size, hidden):
        return hidden[size]
    unit_cell = cell_name(DOSE_UNIT_LABEL, unit, group) if unit else ""
    if below_limit(unit_cell, hidden):  # the doses of a few children (a [c] count is not few)
        return hidden[unit_cell]
    if min_cell > 1 and 0 < len(values) < min_cell:  # a few children's own values
        return small_mark(min_cell)
    if kind == "log10":
        return format_median_iqr(log10_quartiles(values), decimals) if len(values) else EN_DASH
    return fmt_median_range(values, decimals)
