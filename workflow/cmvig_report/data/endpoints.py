"""The response endpoints a clinician sets: who is evaluable, what counts as a response in each
analysis, and how a new anti-CMV therapy and a death before response end a child's time.

Each analysis gives every child a time (days from the first CMVIG dose) and a code:

* 1 response (as the analysis defines it), on the day of the sample that shows it;
* 2 death before response, on the day of death;
* 3 a new anti-CMV therapy started before response, on its first day (``compete`` only);
* 0 censored: alive without response at the last follow-up, or the new therapy's day
  (``censor``), or the analysis' own censoring (the last PCR).

Which codes compete is the estimator's business (analysis.py): the replication censors every
code but 1 (1 − Kaplan–Meier, as the published report), an own study treats 2 and 3 as
competing events (Aalen–Johansen). With the defaults (no baseline threshold, no spacing,
``ignore``) every time equals the cohort stage's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import cohort_schema
from .quality import VIRAEMIA_WINDOW_DAYS

# Optional patient columns (docs/contract.md); they follow the clinical ones in cohort.csv.
NEW_THERAPY_COLUMNS = cohort_schema.NEW_THERAPY_COLUMNS
# The response estimands by study (estimands.py), as estimates.json#estimand.response names them
CUMULATIVE_INCIDENCE = "cumulative incidence"
ONE_MINUS_KM = "one minus Kaplan-Meier"
NEW_THERAPY_OPTIONS = ("ignore", "censor", "compete")
RESPONSE, DEATH, NEW_THERAPY, CENSORED = 1, 2, 3, 0
ANALYSES = ("primary", "censor_last_pcr", "confirmed", "sustained")
# Why a child is left out of the response analysis (counted and printed by reason).
BELOW_BASELINE = "below_threshold"
NO_BASELINE = "no_quantifiable_result"


@dataclass(frozen=True)
class EndpointSettings:
    """The clinician's choices (config keys of the same names, docs/contract.md)."""

    min_baseline_iu_ml: float = 0.0
    confirmation_min_days: int = 0
    sustained_days: int = 0          # 0: no sustained-response analysis
    new_therapy: str = "ignore"

    def __post_init__(self) -> None:
        if self.new_therapy not in NEW_THERAPY_OPTIONS:
            raise ValueError(f"new_therapy_after_cmvig must be one of "
                             f"{', '.join(NEW_THERAPY_OPTIONS)}, got {self.new_therapy!r}")

    @classmethod
    def of_estimates(cls, estimates: dict[str, Any]) -> EndpointSettings | None:
        """The settings an own study's estimates were made with (None: the replication's 1 − KM),
        read from ``estimates.json#estimand`` by the figure step, which has no config."""
        block = estimates.get("estimand") or {}
        if block.get("response") != CUMULATIVE_INCIDENCE:
            return None
        return cls(float(block["min_baseline_iu_ml"]), int(block["confirmation_min_days"]),
                   int(block["sustained_days"]), str(block["new_therapy"]))

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EndpointSettings:
        """The settings from a config mapping (absent keys take the defaults)."""
        return cls(float(config.get("response_min_baseline_iu_ml", 0) or 0),
                   int(config.get("response_confirmation_min_days", 0) or 0),
                   int(config.get("response_sustained_days", 0) or 0),
                   str(config.get("new_therapy_after_cmvig", "ignore")))


def evaluability(cohort: pd.DataFrame, min_baseline: float) -> pd.Series:
    """Per child: "" if evaluable for response, else why not (:data:`BELOW_BASELINE`,
    :data:`NO_BASELINE`). With ``min_baseline`` 0 every child is evaluable.

    The viral load at CMVIG start is the cohort's (the last result in the 14 days up to and
    including the start day; none when not quantifiable). A child without a quantifiable load
    there cannot be shown to start above the threshold, and one below it cannot fall far.
    """
    reason = pd.Series("", index=cohort.index, dtype=object)
    if min_baseline <= 0:
        return reason
    load = pd.to_numeric(cohort["viral_load_at_cmvig"], errors="coerce")
    reason[load.isna()] = NO_BASELINE
    reason[load.notna() & (load < min_baseline)] = BELOW_BASELINE
    return reason


def _samples(cohort: pd.DataFrame, viral_loads: pd.DataFrame
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # (patient row, day, below LLOQ) of the samples after the start day, in patient/date/row
    # order as the cohort stage wrote them.
    vl = viral_loads
    owner = pd.Index(cohort["patient_id"].astype(str)).get_indexer(vl["patient_id"].astype(str))
    day = pd.to_numeric(vl["days_since_cmvig"]).to_numpy(dtype="int64")
    below = vl["below_lloq"].astype(str).str.lower().eq("true").to_numpy()
    keep = (owner >= 0) & (day >= 1)
    order = np.lexsort((np.flatnonzero(keep), owner[keep]))
    return owner[keep][order], day[keep][order], below[keep][order]


def confirmed_response_day(cohort: pd.DataFrame, viral_loads: pd.DataFrame,
                           min_days: int) -> pd.Series:
    """Day of the first confirmed response (or NA): the first sample after the start day below
    the LLOQ that begins a run of samples all below the LLOQ whose last one is at least
    ``min_days`` later than the first (and is a second sample). With 0 this is two
    consecutive samples below the LLOQ, the cohort stage's ``days_to_confirmed_response``."""
    owner, day, below = _samples(cohort, viral_loads)
    out = np.full(len(cohort), np.iinfo("int64").max, dtype="int64")
    # runs of consecutive below-LLOQ samples of one patient
    new_run = np.ones(len(day), dtype=bool)
    new_run[1:] = (owner[1:] != owner[:-1]) | ~below[:-1]
    run = np.cumsum(new_run) - 1
    runs = pd.DataFrame({"run": run[below], "owner": owner[below], "day": day[below]})
    per_run = runs.groupby("run", sort=False).agg(owner=("owner", "first"),
                                                  first=("day", "first"),
                                                  last=("day", "last"), size=("day", "size"))
    ok = per_run[(per_run["size"] >= 2) & (per_run["last"] - per_run["first"] >= min_days)]
    np.minimum.at(out, ok["owner"].to_numpy(dtype="int64"), ok["first"].to_numpy(dtype="int64"))
    return pd.Series(pd.array(np.where(out == np.iinfo("int64").max, pd.NA, out),
                              dtype="Int64"), index=cohort.index)


def sustained_response_day(cohort: pd.DataFrame, viral_loads: pd.DataFrame,
                           days: int) -> pd.Series:
    """Day of the first sustained response (or NA): a sample after the start day below the
    LLOQ with no result at or above the LLOQ in the ``days`` days after it, the child being
    followed (``os_from_cmvig_days``) for all of them. A window cut short by the end of
    follow-up is not a sustained response: that child's time ends as a non-responder's."""
    owner, day, below = _samples(cohort, viral_loads)
    follow = cohort["os_from_cmvig_days"].to_numpy(dtype="int64")
    big = np.iinfo("int64").max
    # first quantifiable day after each sample, within its patient (samples are sorted): a
    # running minimum from the patient's last sample backwards, shifted past the sample itself
    up = pd.Series(np.where(below, big, day)[::-1])
    backwards = pd.Series(owner[::-1])
    running = up.groupby(backwards.to_numpy()).cummin()
    next_up = (running.groupby(backwards.to_numpy()).shift(1, fill_value=big)
               .to_numpy(dtype="int64")[::-1])
    ok = below & (next_up > day + days) & (follow[owner] >= day + days)
    out = np.full(len(cohort), big, dtype="int64")
    np.minimum.at(out, owner[ok], day[ok])
    return pd.Series(pd.array(np.where(out == big, pd.NA, out), dtype="Int64"),
                     index=cohort.index)


def new_therapy_day(cohort: pd.DataFrame) -> pd.Series:
    """Days from the first CMVIG dose to a new anti-CMV therapy (NA when none recorded)."""
    if "new_anticmv_therapy_date" not in cohort.columns:
        return pd.Series(pd.array([pd.NA] * len(cohort), dtype="Int64"), index=cohort.index)
    start = pd.to_datetime(cohort["cmvig_start_date"])
    date = pd.to_datetime(cohort["new_anticmv_therapy_date"].replace("", None))
    return (date - start).dt.days.astype("Int64")


def end_times(response_day: pd.Series, cohort: pd.DataFrame, option: str,
              end_day: pd.Series | None = None) -> pd.DataFrame:
    """``time, code`` per child for one analysis, from its response day (NA: none).

    ``end_day``: when a child without response stops being followed in this analysis
    (default the last follow-up; the last-PCR analysis passes its own). A death counts as one
    only when it is that end; a new therapy counts when it comes before the response (a
    response on the therapy's first day is kept: that sample predates its effect) and no later
    than the end.
    """
    follow = cohort["os_from_cmvig_days"].astype("int64")
    end = follow if end_day is None else end_day.astype("int64")
    resp = response_day.astype("Float64")
    responded = resp.notna().to_numpy(dtype=bool)
    died = cohort["died"].astype(bool).to_numpy() & (end == follow).to_numpy()
    time = np.where(responded, resp.fillna(0).to_numpy(dtype=float),
                    end.to_numpy(dtype=float))
    code = np.where(responded, RESPONSE, np.where(died, DEATH, CENSORED))
    if option != "ignore":
        new = new_therapy_day(cohort).astype("Float64")
        has = new.notna().to_numpy(dtype=bool)
        nd = new.fillna(0).to_numpy(dtype=float)
        first = has & np.where(responded, nd < time, nd <= time)
        time = np.where(first, nd, time)
        code = np.where(first, NEW_THERAPY if option == "compete" else CENSORED, code)
    return pd.DataFrame({"time": time.astype("int64"), "code": code.astype("int64")},
                        index=cohort.index)


def response_endpoints(cohort: pd.DataFrame, viral_loads: pd.DataFrame | None,
                       settings: EndpointSettings) -> dict[str, pd.DataFrame]:
    """``time, code`` frames of each analysis in :data:`ANALYSES` (sustained only when set),
    over the evaluable children only. Without viral loads (an old caller) the confirmed
    response is the cohort's and there is no sustained analysis."""
    keep = evaluability(cohort, settings.min_baseline_iu_ml).eq("")
    c = cohort.loc[keep]
    option = settings.new_therapy
    last_pcr = c["last_pcr_day"].astype("Float64").fillna(0).astype("int64")
    censor_at = np.minimum(last_pcr, c["os_from_cmvig_days"].astype("int64"))
    out = {
        "primary": end_times(c["days_to_response"], c, option),
        "censor_last_pcr": end_times(c["days_to_response"], c, option,
                                     pd.Series(censor_at, index=c.index)),
    }
    if viral_loads is None:
        confirmed = c["days_to_confirmed_response"]
    else:
        confirmed = confirmed_response_day(c, viral_loads, settings.confirmation_min_days)
    out["confirmed"] = end_times(confirmed, c, option)
    if viral_loads is not None and settings.sustained_days > 0:
        out["sustained"] = end_times(sustained_response_day(c, viral_loads,
                                                            settings.sustained_days), c, option)
    return out


def baseline_counts(cohort: pd.DataFrame, settings: EndpointSettings) -> dict[str, Any]:
    """How many children are evaluable for response, and why the others are not."""
    reason = evaluability(cohort, settings.min_baseline_iu_ml)
    return {"threshold_iu_ml": float(settings.min_baseline_iu_ml),
            "evaluable": int(reason.eq("").sum()),
            "not_evaluable": int(reason.ne("").sum()),
            BELOW_BASELINE: int(reason.eq(BELOW_BASELINE).sum()),
            NO_BASELINE: int(reason.eq(NO_BASELINE).sum()),
            "window_days": VIRAEMIA_WINDOW_DAYS}


def read_clean_samples(path: str, also: tuple[str, ...] = ()) -> pd.DataFrame:
    """The columns of ``results/viral_loads.csv`` the endpoints need (and ``also`` these), in
    the file's order."""
    return pd.read_csv(path, usecols=["patient_id", "days_since_cmvig", "below_lloq", *also],
                       dtype={"patient_id": str, "below_lloq": str}, keep_default_na=False)


def response_frame(cohort: pd.DataFrame, estimates: dict[str, Any]) -> pd.DataFrame | None:
    """The children evaluable for response with ``days_to_response_or_censoring`` and
    ``responded`` set from the study's primary endpoint, and its ``code``; None for the
    replication (1 − KM on the cohort's own columns). Figure 2A draws it, and the small-cell
    audit plans the numbers at risk printed under it from the same frame."""
    settings = EndpointSettings.of_estimates(estimates)
    if settings is None:
        return None
    ends = response_endpoints(cohort, None, settings)["primary"]
    out = cohort.loc[ends.index].copy()
    out["days_to_response_or_censoring"] = ends["time"]
    out["responded"] = ends["code"].eq(RESPONSE)
    out["code"] = ends["code"]
    return out


def responded_by(cohort: pd.DataFrame, day: int) -> pd.Series:
    """Whether each child responded by ``day`` after CMVIG start (``responded`` and
    ``days_to_response <= day``): the one definition the estimates, the printed counts and
    the flow diagram use. ``days_to_response`` is empty for a non-responder, which is "not by
    ``day``"."""
    return (cohort["responded"].astype(bool)
            & cohort["days_to_response"].le(day).fillna(False).astype(bool))
