"""The contract's optional clinical columns: their names, allowed values, and what was recorded.

Shared by the cohort step (validation) and the analysis step (Table 1, the facts the text
states), which must not import each other.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

# Optional clinical columns of the patients export (docs/contract.md): each may be left out of
# the export, and an empty cell means not recorded for that child. When given they follow the
# required columns in results/cohort.csv, in this order.
CLINICAL_COLUMNS = (
    "cmvig_product", "cmvig_dose", "cmvig_dose_unit", "cmvig_interval_days",
    "antivirals_at_cmvig", "cmv_disease_at_cmvig", "agvhd_grade_at_cmvig", "steroids_at_cmvig",
    "resistance_testing",
)
# The facts the manuscript names as recorded or not: the dose and its unit are one fact.
CLINICAL_FACTS = tuple(c for c in CLINICAL_COLUMNS if c != "cmvig_dose_unit")
# Optional enumerations, spelled as printed; matched after folding case and spaces.
CLINICAL_ENUMS = {
    "cmvig_dose_unit": ("U/kg", "mg/kg"),
    "cmv_disease_at_cmvig": ("none", "probable", "proven"),
    # Roman numerals only: an Arabic "2" could be a grade on another scale (chronic GVHD, NIH)
    "agvhd_grade_at_cmvig": ("0", "I", "II", "III", "IV"),
    "steroids_at_cmvig": ("yes", "no"),
    "resistance_testing": ("not tested", "no mutation", "UL97", "UL54", "UL97+UL54"),
}
ENUM_HINTS = {"agvhd_grade_at_cmvig": " (Roman numerals: write grade 2 as II)"}


def _has_value(cohort: pd.DataFrame, col: str) -> pd.Series:
    """Which children have a value in ``col`` (all false when the export has no such column)."""
    if col not in cohort.columns:
        return pd.Series(False, index=cohort.index)
    values = cohort[col]
    return values.notna() & values.astype(str).str.strip().ne("")


def antivirals_given(cohort: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(children with an antiviral recorded before or at the first CMVIG dose, children with
    none recorded whose ``antivirals_at_cmvig`` cell is empty: not recorded rather than none).
    An empty ``prior_antivirals`` means none (the contract); without the optional column no
    child counts as not recorded."""
    treated = cohort["n_prior_antivirals"].astype(int).gt(0)
    at_start = _has_value(cohort, "antivirals_at_cmvig")
    unknown = ~treated & ~at_start & ("antivirals_at_cmvig" in cohort.columns)
    return treated | at_start, unknown


def clinical_record(cohort: pd.DataFrame) -> dict[str, Any]:
    """What the manuscript may say about the optional clinical facts and the antivirals.

    ``recorded`` and ``not_recorded`` list :data:`CLINICAL_FACTS` (a column counts as recorded
    when at least one child has a value); ``missing``: for each recorded fact, the children
    without a value; ``antivirals_given``: ``children`` with an antiviral recorded before or at
    the first CMVIG dose, of ``n``, and ``not_recorded`` (see :func:`antivirals_given`). The
    words the text uses about them are chosen in :mod:`.claims`.
    """
    has = {col: _has_value(cohort, col) for col in CLINICAL_FACTS}
    recorded = [col for col in CLINICAL_FACTS if bool(has[col].any())]
    treated, unknown = antivirals_given(cohort)
    return {"recorded": recorded,
            "not_recorded": [col for col in CLINICAL_FACTS if col not in recorded],
            "missing": {col: int((~has[col]).sum()) for col in recorded},
            "antivirals_given": {"children": int(treated.sum()), "n": len(cohort),
                                 "not_recorded": int(unknown.sum())}}
