"""The contract's optional clinical columns: their names, allowed values, and what was recorded.

Shared by the cohort step (validation) and the analysis step (Table 1, the facts the text
states), which must not import each other.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import cohort_schema

# Optional clinical columns of the patients export (docs/contract.md), named with their order
# and dtypes in the cohort.csv schema.
CLINICAL_COLUMNS = cohort_schema.CLINICAL_COLUMNS
# The facts the manuscript names as recorded or not: the dose and its unit are one fact, and
# the grade of an infusion reaction is a detail of the reactions (no reaction, no grade).
CLINICAL_FACTS = tuple(c for c in CLINICAL_COLUMNS
                       if c not in ("cmvig_dose_unit", "infusion_reaction_grade"))
# Numeric optional columns: (rule, whole number, smallest allowed, smallest excluded).
CLINICAL_NUMBERS = {
    "lymphocytes_at_cmvig": ("a number of lymphocytes x10^9/L >= 0", False, 0, False),
    "prior_cmv_episodes": ("a whole number of earlier CMV episodes >= 0", True, 0, False),
    "peak_viral_load_iu_ml": ("a number of IU/mL > 0 (a thousands separator , is allowed)",
                              False, 0, True),
    "infusion_reaction_grade": ("a CTCAE grade: a whole number from 1 to 5", True, 1, False),
}
# CTCAE grades stop at 5 (death related to the adverse event).
CTCAE_MAX_GRADE = 5
# Drugs given to prevent CMV infection, not to treat it: shown apart from the treatment
# antivirals, and never taken as the antiviral therapy a refractory infection needs.
PROPHYLAXIS_DRUGS = ("letermovir",)
# Optional enumerations, spelled as printed; matched after folding case and spaces.
CLINICAL_ENUMS = {
    "cmvig_dose_unit": ("U/kg", "mg/kg"),
    "cmv_disease_at_cmvig": ("none", "probable", "proven"),
    # Roman numerals only: an Arabic "2" could be a grade on another scale (chronic GVHD, NIH)
    "agvhd_grade_at_cmvig": ("0", "I", "II", "III", "IV"),
    "steroids_at_cmvig": ("yes", "no"),
    "resistance_testing": ("not tested", "no mutation", "UL97", "UL54", "UL97+UL54"),
    "conditioning_intensity": ("MAC", "RIC", "NMA"),
    "serotherapy": ("ATG", "alemtuzumab", "none"),
    "t_cell_depletion": ("none", "ex vivo", "PTCy"),
    "cmv_prevention": ("letermovir prophylaxis", "pre-emptive"),
    "chronic_gvhd_at_cmvig": ("yes", "no"),
}
ENUM_HINTS = {"agvhd_grade_at_cmvig": " (Roman numerals: write grade 2 as II)"}


def _drugs_where(lists: pd.Series, keep: bool) -> pd.Series:
    """The drugs of each ``;``-list (as the cohort step writes it) that are, or are not,
    prophylaxis drugs, in the order listed."""
    def one(text: str) -> str:
        return ";".join(d for d in text.split(";")
                        if d and (d in PROPHYLAXIS_DRUGS) == keep)
    values = lists.fillna("").astype(str)
    uniques = {text: one(text) for text in values.unique()}
    return values.map(uniques).astype(object)  # text even when empty


def treatment_drugs(lists: pd.Series) -> pd.Series:
    """Each drug list without its prophylaxis drugs (letermovir): the treatment antivirals."""
    return _drugs_where(lists, keep=False)


def prophylaxis_drugs(lists: pd.Series) -> pd.Series:
    """Each drug list's prophylaxis drugs only (letermovir), or empty text."""
    return _drugs_where(lists, keep=True)


def _has_value(cohort: pd.DataFrame, col: str) -> pd.Series:
    """Which children have a value in ``col`` (all false when the export has no such column)."""
    if col not in cohort.columns:
        return pd.Series(False, index=cohort.index)
    values = cohort[col]
    return values.notna() & values.astype(str).str.strip().ne("")


def antivirals_given(cohort: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(children with a treatment antiviral recorded before or at the first CMVIG dose,
    children with none recorded whose ``antivirals_at_cmvig`` cell is empty: not recorded
    rather than none).
    An empty ``prior_antivirals`` means none (the contract); without the optional column no
    child counts as not recorded."""
    treated = cohort["n_prior_antivirals"].astype(int).gt(0)
    recorded = _has_value(cohort, "antivirals_at_cmvig")
    # letermovir is prophylaxis, not treatment (:func:`treatment_drugs`)
    at_start = recorded & treatment_drugs(cohort["antivirals_at_cmvig"]).ne("") \
        if "antivirals_at_cmvig" in cohort.columns else recorded
    unknown = ~treated & ~recorded & ("antivirals_at_cmvig" in cohort.columns)
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


def reaction_grades(cohort: pd.DataFrame) -> dict[str, Any]:
    """CTCAE grades of the infusion reactions, when ``infusion_reaction_grade`` was recorded:
    ``grades`` (grade -> children, ``not graded`` for a reaction without one) and
    ``worst_grade`` (null when none was graded). Empty without the column."""
    if "infusion_reaction_grade" not in cohort.columns:
        return {}
    reacted = cohort["infusion_reaction"].eq("yes")
    grade = pd.to_numeric(cohort.loc[reacted, "infusion_reaction_grade"], errors="coerce")
    grades = {str(int(g)): int(k) for g, k in sorted(grade.dropna().value_counts().items())}
    if grade.isna().any():
        grades["not graded"] = int(grade.isna().sum())
    worst = None if grade.dropna().empty else int(grade.max())
    return {"grades": grades, "worst_grade": worst}
