"""The analysis cohort derived from the validated exports: days, responses, survival times,
cause-of-death categories (docs/interfaces.md), and study numbers that last between freezes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..paths import STUDY_NUMBERS
from .clinical import (
    treatment_drugs,
)
from .cohort_cells import DATE_COLUMNS, iso_dates
from .cohort_schema import columns as cohort_columns
from .endpoints import NEW_THERAPY_COLUMNS
from .groups import order as group_order
from .quality import VIRAEMIA_WINDOW_DAYS

# A cause of death outside the config's vocabulary prints as this, never verbatim.
OTHER_CAUSE = "other cause"

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
        p[col] = iso_dates(p[col])
    p = p[cohort_columns(p.columns)]  # results/cohort.csv, in order (cohort_schema.py)
    p = p.sort_values("patient_id", kind="stable").reset_index(drop=True)
    vl["sample_date"] = iso_dates(vl["sample_date"])
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
