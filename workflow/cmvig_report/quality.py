"""Clinical plausibility checks on the cleaned cohort: ``results/data_quality.csv``.

Each finding is a warning, not an error: the record is kept and analysed as the contract says,
and the finding is listed (internal file, with patient IDs) so that a data manager can look.
The manuscript reports only the number of patients per check. Errors that make a record
impossible (a sample after the patient's death) stop the cohort stage instead.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .paths import DATA_QUALITY

# The checks, in the order the manuscript lists them.
CHECKS = (
    "pcr_after_last_followup",
    "no_pcr_after_cmvig",
    "not_viraemic_at_cmvig",
    "recurrent_without_prior_antivirals",
    "cmvig_outside_study_period",
)
COLUMNS = ["patient_id", "check", "detail"]
# Viraemia at CMVIG start: a quantifiable result in the two weeks up to the first dose.
VIRAEMIA_WINDOW_DAYS = 14


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

    recurrent = c["infection_type"].eq("recurrent") & c["prior_antivirals"].fillna("").eq("")
    add(c.index[recurrent], "recurrent_without_prior_antivirals",
        "recurrent infection but no antiviral recorded before CMVIG")

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

