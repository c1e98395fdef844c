"""The schema of ``results/cohort.csv``: its columns, in order, and how each is read back.

The one definition the cohort step writes by (:mod:`.cohort` orders its columns with
:func:`columns`), :func:`.io.read_clean_cohort` reads by, and :mod:`.clinical` and
:mod:`.endpoints` take their optional column names from (docs/interfaces.md describes each
column). Imports nothing: every step reads it.
"""

from __future__ import annotations

from collections.abc import Iterable

# How a column is read back: text as written (dates are ISO text), bool from "True"/"False",
# int64, nullable Int64 (an empty cell is <NA>), or float (an empty cell is NaN).
TEXT, DATE, BOOL, INT, NULLABLE_INT, FLOAT = "text", "date", "bool", "int", "Int64", "float"

# Every cleaned cohort's columns, in this order: the contract's, then the derived ones.
REQUIRED = {
    "patient_id": TEXT, "study_number": INT, "sex": TEXT, "age_at_hsct": FLOAT,
    "diagnosis": TEXT, "donor_type": TEXT, "graft_source": TEXT, "cmv_serostatus": TEXT,
    "hsct_date": DATE, "infection_type": TEXT, "prior_antivirals": TEXT,
    "n_prior_antivirals": INT, "cmvig_start_date": DATE, "cmvig_doses": INT,
    "infusion_reaction": TEXT, "last_followup_date": DATE, "status": TEXT,
    "cause_of_death": TEXT, "cause_of_death_category": TEXT, "cause_of_death_mapped": BOOL,
    "cmv_related_death": TEXT, "days_hsct_to_cmvig": INT, "responded": BOOL,
    "response_date": DATE, "days_to_response": NULLABLE_INT,
    "days_to_response_or_censoring": INT, "os_from_cmvig_days": INT, "os_from_hsct_days": INT,
    "died": BOOL, "cmv_death": BOOL, "n_viral_load_samples": INT,
    "viral_load_at_cmvig": FLOAT, "last_pcr_day": NULLABLE_INT, "confirmed_response": BOOL,
    "days_to_confirmed_response": NULLABLE_INT,
}
# Optional clinical columns of the patients export (docs/contract.md): each may be left out of
# the export, and an empty cell means not recorded for that child. When given they follow the
# required columns, in this order; their allowed values are :mod:`.clinical`'s.
CLINICAL = {
    "cmvig_product": TEXT, "cmvig_dose": FLOAT, "cmvig_dose_unit": TEXT,
    "cmvig_interval_days": NULLABLE_INT, "antivirals_at_cmvig": TEXT,
    "cmv_disease_at_cmvig": TEXT, "agvhd_grade_at_cmvig": TEXT, "steroids_at_cmvig": TEXT,
    "resistance_testing": TEXT,
    # the transplant and the CMV history a reader needs to compare series
    "conditioning_intensity": TEXT, "serotherapy": TEXT, "t_cell_depletion": TEXT,
    "cmv_prevention": TEXT, "chronic_gvhd_at_cmvig": TEXT, "lymphocytes_at_cmvig": FLOAT,
    "prior_cmv_episodes": NULLABLE_INT, "peak_viral_load_iu_ml": FLOAT,
    "infusion_reaction_grade": NULLABLE_INT,
}
# Optional patient columns (docs/contract.md): a new anti-CMV therapy after CMVIG, the end
# :mod:`.endpoints` reads; they follow the clinical ones.
NEW_THERAPY = {"new_anticmv_therapy": TEXT, "new_anticmv_therapy_date": DATE}

COHORT_COLUMNS = tuple(REQUIRED)
CLINICAL_COLUMNS = tuple(CLINICAL)
NEW_THERAPY_COLUMNS = tuple(NEW_THERAPY)
# Every column cohort.csv may have, with its kind.
KINDS = {**REQUIRED, **CLINICAL, **NEW_THERAPY}


def columns(present: Iterable[str]) -> list[str]:
    """The columns of cohort.csv for a cohort holding ``present``: every required one, then
    the optional ones it has, in the schema's order."""
    have = set(present)
    return [*COHORT_COLUMNS, *(c for c in (*CLINICAL_COLUMNS, *NEW_THERAPY_COLUMNS)
                               if c in have)]


def of_kind(*kinds: str) -> list[str]:
    """The columns of these kinds, in the schema's order."""
    return [c for c, k in KINDS.items() if k in kinds]
