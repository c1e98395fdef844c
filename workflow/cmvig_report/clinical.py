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


def clinical_record(cohort: pd.DataFrame) -> dict[str, Any]:
    """What the manuscript may say about the optional clinical facts and the antivirals.

    ``recorded`` and ``not_recorded`` list :data:`CLINICAL_FACTS` (a column counts as recorded
    when at least one child has a value); ``antivirals`` is ``all``, ``most``, ``some`` or
    ``none``: the share of children with an antiviral recorded before or at the first CMVIG
    dose, in words, so that the text never claims every child had one when the data say not.
    """
    def has_values(col: str) -> bool:
        if col not in cohort.columns:
            return False
        values = cohort[col]
        return bool((values.notna() & values.astype(str).str.strip().ne("")).any())

    recorded = [col for col in CLINICAL_FACTS if has_values(col)]
    treated = cohort["n_prior_antivirals"].astype(int).gt(0)
    if "antivirals_at_cmvig" in cohort.columns:
        treated |= cohort["antivirals_at_cmvig"].fillna("").astype(str).ne("")
    share = float(treated.mean()) if len(cohort) else 0.0
    words = ("all" if share == 1 else "most" if share > 0.5 else "some" if share > 0
             else "none")
    return {"recorded": recorded,
            "not_recorded": [col for col in CLINICAL_FACTS if col not in recorded],
            "antivirals": words}
