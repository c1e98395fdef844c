"""Clinical plausibility checks on the cleaned cohort: ``results/data_quality.csv``.

Each finding is a warning, not an error: the record is kept and analysed as the contract says,
and the finding is listed (internal file, with patient IDs) so that a data manager can look.
The manuscript reports only the number of patients per check. Errors that make a record
impossible (a sample after the patient's death) stop the cohort stage instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..paths import DATA_QUALITY
from .clinical import treatment_drugs
from .groups import in_group

# The checks, in the order the manuscript lists them.
CHECKS = (
    "pcr_after_last_followup",
    "no_pcr_after_cmvig",
    "not_viraemic_at_cmvig",
    "recurrent_without_prior_antivirals",
    "cmvig_outside_study_period",
    "refractory_not_supported_by_viral_loads",
    "refractory_without_prior_antivirals",
    "severe_agvhd_without_steroids",
    "seronegative_pair_with_cmv_infection",
)
COLUMNS = ["patient_id", "check", "detail"]
# Viraemia at CMVIG start: a quantifiable result in the two weeks up to the first dose.
VIRAEMIA_WINDOW_DAYS = 14
# Refractory infection (consensus definitions, Ljungman 2017/2019 and the 2024 update): CMV
# DNAemia that rises by more than 1 log10, or persists at the same level or higher, after at
# least 2 weeks of appropriately dosed antiviral therapy. Without the therapy's dates the
# check compares the last result before CMVIG with the latest one at least
# REFRACTORY_MIN_DAYS earlier, within REFRACTORY_LOOKBACK_DAYS of the first dose.
REFRACTORY_MIN_DAYS = 14
REFRACTORY_LOOKBACK_DAYS = 56
# "The same level": a fall smaller than this (log10) is within the variation of repeated PCR
# on one sample, so it still counts as persistence.
SAME_LEVEL_LOG10 = 0.5


def parse_study_period(text: str) -> tuple[str, str] | None:
    """``"2018-07/2021-12"`` -> ``("2018-07", "2021-12")``; empty text -> None.

    The config schema has checked the shape; this checks the order.
    """
    if not text:
        return None
    start, end = text.split("/")
    if start > end:
        raise ValueError(f"study_period {text}: the first month is after the last")
    return start, end


def plausibility(cohort: pd.DataFrame, viral_loads: pd.DataFrame,
                 study_period: tuple[str, str] | None = None) -> pd.DataFrame:
    """One row per finding: ``patient_id, check, detail``, sorted by check then patient.

    ``cohort`` is results/cohort.csv as derived (ISO dates as text); ``viral_loads`` the kept
    samples with ``days_since_cmvig`` and ``below_lloq``; ``study_period`` (first and last
    month, ``YYYY-MM``) is checked when given.
    """
    c = cohort.set_index("patient_id")
    vl = viral_loads
    rows: list[dict[str, Any]] = []

    def add(ids: pd.Index, check: str, detail: pd.Series | str) -> None:
        for pid in ids:
            rows.append({"patient_id": pid, "check": check,
                         "detail": detail if isinstance(detail, str) else detail[pid]})

    followup = vl["patient_id"].map(c["last_followup_date"])
    alive = vl["patient_id"].map(c["status"]).eq("alive")
    late = vl[alive & (vl["sample_date"] > followup)]
    if len(late):
        per = late.groupby("patient_id")["sample_date"].agg(["count", "max"])
        detail = pd.Series({pid: f"{r['count']} sample(s) after the last follow-up "
                            f"{c.at[pid, 'last_followup_date']} (latest {r['max']}); kept"
                            for pid, r in per.iterrows()})
        add(per.index, "pcr_after_last_followup", detail)

    after = vl.loc[vl["days_since_cmvig"] >= 1, "patient_id"].unique()
    none_after = c.index[~c.index.isin(after)]
    add(none_after, "no_pcr_after_cmvig",
        "no sample after the CMVIG start day: analysed as a non-responder")

    window = vl["days_since_cmvig"].between(-VIRAEMIA_WINDOW_DAYS, 0)
    viraemic = vl.loc[window & ~vl["below_lloq"].astype(bool), "patient_id"].unique()
    add(c.index[~c.index.isin(viraemic)], "not_viraemic_at_cmvig",
        f"no result at or above the LLOQ in the {VIRAEMIA_WINDOW_DAYS} days up to CMVIG start")

    recurrent = (in_group(c, "recurrent")
                 & treatment_drugs(c["prior_antivirals"]).eq(""))
    add(c.index[recurrent], "recurrent_without_prior_antivirals",
        "recurrent infection but no antiviral recorded before CMVIG")

    _treatment_checks(c, add)
    _refractory_against_loads(c, vl, add)

    if study_period is not None:
        month = c["cmvig_start_date"].str[:7]
        outside = (month < study_period[0]) | (month > study_period[1])
        detail = "CMVIG started " + c["cmvig_start_date"] + ", outside the study period " \
            f"{study_period[0]} to {study_period[1]}"
        add(c.index[outside.to_numpy()], "cmvig_outside_study_period", detail)

    out = pd.DataFrame(rows, columns=COLUMNS)
    order = out["check"].map({name: i for i, name in enumerate(CHECKS)})
    return (out.assign(_o=order).sort_values(["_o", "patient_id"], kind="stable")
            .drop(columns="_o").reset_index(drop=True))


def _treatment_checks(c: pd.DataFrame, add: Any) -> None:
    """A refractory infection needs antiviral therapy before it; grade III-IV acute GVHD is
    treated with systemic steroids; a D-/R- pair rarely meets CMV (only through blood products
    or primary infection). Each is checked only when its columns were recorded."""
    treated = treatment_drugs(c["prior_antivirals"]).ne("")
    refractory = in_group(c, "refractory")
    add(c.index[refractory & ~treated], "refractory_without_prior_antivirals",
        "refractory infection but no treatment antiviral recorded before CMVIG (letermovir "
        "prophylaxis does not count)")
    if {"agvhd_grade_at_cmvig", "steroids_at_cmvig"} <= set(c.columns):
        grade = c["agvhd_grade_at_cmvig"].fillna("").astype(str)
        severe = grade.isin(["III", "IV"]) & c["steroids_at_cmvig"].eq("no")
        add(c.index[severe], "severe_agvhd_without_steroids",
            "acute GVHD grade " + grade + " at the first CMVIG dose but no systemic steroids")
    pair = (c["cmv_serostatus"].fillna("").astype(str).str.replace("\u2212", "-")
            .str.casefold().str.replace(r"\s+", "", regex=True))
    add(c.index[pair.eq("d-/r-")], "seronegative_pair_with_cmv_infection",
        "donor and recipient CMV-seronegative (" + c["cmv_serostatus"].astype(str)
        + ") yet treated for CMV infection")


def _refractory_against_loads(c: pd.DataFrame, vl: pd.DataFrame, add: Any) -> None:
    """Flag a refractory label the viral loads before CMVIG contradict, where they allow.

    The last result in the ``REFRACTORY_LOOKBACK_DAYS`` up to the first dose is compared with
    the latest one at least ``REFRACTORY_MIN_DAYS`` before it. The label fits when both are
    quantifiable, none in between is below the LLOQ, and the later one is not lower by
    ``SAME_LEVEL_LOG10`` or more. With no result two weeks before the last, nothing is said.
    """
    refractory = c.index[in_group(c, "refractory")]
    day = vl["days_since_cmvig"]
    pre = vl[vl["patient_id"].isin(refractory) & day.between(-REFRACTORY_LOOKBACK_DAYS, 0)]
    if pre.empty:
        return
    pre = pre.sort_values(["patient_id", "days_since_cmvig", "row"], kind="stable")
    last = pre.groupby("patient_id").tail(1).set_index("patient_id")
    last_day = pre["patient_id"].map(last["days_since_cmvig"])
    earlier = pre[pre["days_since_cmvig"] <= last_day - REFRACTORY_MIN_DAYS]
    base = earlier.groupby("patient_id").tail(1).set_index("patient_id")
    if base.empty:
        return
    last = last.loc[base.index]
    b_day = base["days_since_cmvig"].astype(int)
    l_day = last["days_since_cmvig"].astype(int)
    # a result below the LLOQ strictly between the two: the DNAemia cleared in between
    between = (pre["days_since_cmvig"].gt(pre["patient_id"].map(b_day))
               & pre["days_since_cmvig"].lt(pre["patient_id"].map(l_day))
               & pre["below_lloq"].astype(bool))
    cleared = base.index.isin(pre.loc[between, "patient_id"].unique())
    last_below = last["below_lloq"].astype(bool).to_numpy()
    base_below = base["below_lloq"].astype(bool).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        change = (np.log10(last["cmv_dna_iu_ml"].astype(float).to_numpy())
                  - np.log10(base["cmv_dna_iu_ml"].astype(float).to_numpy()))
    fell = ~last_below & ~base_below & ~cleared & (change <= -SAME_LEVEL_LOG10)
    details: dict[str, str] = {}
    for i in np.flatnonzero(last_below | base_below | cleared | fell):
        pid, b, lt = base.index[i], int(b_day.iloc[i]), int(l_day.iloc[i])
        if last_below[i]:
            details[pid] = (f"the last result before CMVIG (day {lt}) is below the LLOQ: "
                            "no persistent DNAemia")
        elif base_below[i]:
            details[pid] = (f"below the LLOQ on day {b}, quantifiable on day {lt}: a new rise, "
                            f"not DNAemia persisting over {REFRACTORY_MIN_DAYS} days")
        elif cleared[i]:
            details[pid] = (f"a result below the LLOQ between day {b} and day {lt}: the "
                            "DNAemia cleared in between")
        else:
            details[pid] = (f"the viral load fell by {-change[i]:.1f} log10 from day {b} to "
                            f"day {lt}: neither a rise nor persistence after "
                            f"{REFRACTORY_MIN_DAYS} days")
    add(pd.Index(sorted(details)), "refractory_not_supported_by_viral_loads",
        pd.Series({pid: "refractory per the export, but " + d for pid, d in details.items()},
                  dtype=object))


def counts(findings: pd.DataFrame) -> dict[str, int]:
    """Patients per check (every check listed, zeros included), for estimates.json."""
    per = findings.groupby("check")["patient_id"].nunique()
    return {name: int(per.get(name, 0)) for name in CHECKS}


def summary_line(findings: pd.DataFrame) -> str:
    """One line for the build output."""
    n = counts(findings)
    found = [f"{k} {name}" for name, k in n.items() if k]
    if not found:
        return "data quality: no findings"
    return f"data quality: {', '.join(found)} ({DATA_QUALITY})"

