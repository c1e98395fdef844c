"""Stage 2: every number the manuscript prints, as ``results/estimates.json``; Table 1; the
Kaplan-Meier curves Figure 2 draws.

The keys are those of the public contract plus the extras listed in docs/interfaces.md. Values
that cannot be estimated are ``None`` with a ``reason``; the JSON never holds NaN.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from .. import paths
from ..core.io import read_clean_cohort, write_csv, write_json
from ..data.clinical import clinical_record, reaction_grades
from ..data.endpoints import EndpointSettings, read_clean_samples, responded_by
from ..data.groups import GROUPS, by_group, of_group
from ..data.quality import (
    REFRACTORY_LOOKBACK_DAYS,
    REFRACTORY_MIN_DAYS,
    SAME_LEVEL_LOG10,
    VIRAEMIA_WINDOW_DAYS,
)
from ..data.quality import counts as counts_per_check
from ..privacy.disclosure import COMPLEMENT_MARK, LOG_COLUMNS, SUPPRESSED_CELL, small_mark
from ..privacy.printed_counts import disclosure_plan, landmark_plan
from . import claims, estimands, survival
from .summaries import log10_quartiles, median_range
from .table1 import build_table1

CURVE_COLUMNS = ["curve", *survival.CURVE_COLUMNS]
CRUDE_METHOD = "Clopper-Pearson exact"
REACTION_METHOD = ("Clopper-Pearson exact 95% CI; with no event, the upper limit is the exact "
                   "one-sided 97.5% bound 1 - 0.025^(1/n)")
COMPETING_METHOD = ("Aalen-Johansen; death without response competing; "
                    + survival.risk_tables.AJ_INTERVAL)
PRIMARY_RESPONSE_METHOD = "1 - Kaplan-Meier, deaths censored; log-log 95% CI"
SURVIVAL_METHOD = "Kaplan-Meier; log-log 95% CI"
SENSITIVITY_METHODS = {
    "response_censor_last_pcr": "1 - Kaplan-Meier; non-responders censored at their last PCR "
                                "on or after CMVIG start; log-log 95% CI",
    "os_from_hsct_delayed_entry": "Kaplan-Meier from HSCT, each patient entering the risk set "
                                  "at CMVIG start (left truncation); log-log 95% CI",
    "response_confirmed": "1 - Kaplan-Meier; response confirmed by two consecutive samples "
                          "below the LLOQ, dated from the first; log-log 95% CI",
    "response_by_day": PRIMARY_RESPONSE_METHOD,
}


def _median_range(values: pd.Series) -> dict[str, Any]:
    """:func:`.summaries.median_range` as estimates.json holds it: rounded, whole-number
    variables' limits as integers, and the reason when there is no value."""
    block = median_range(values)
    if block is None:
        return {"median": None, "min": None, "max": None, "reason": survival.NO_PATIENTS}
    as_int = pd.api.types.is_integer_dtype(values)
    limit = int if as_int else survival.rounded
    return {"median": survival.rounded(block["median"]), "min": limit(block["min"]),
            "max": limit(block["max"]), "reason": None}


def crude_response(cohort: pd.DataFrame, day: int) -> dict[str, Any]:
    """Responders by ``day`` over all patients, with the Clopper-Pearson exact 95% interval."""
    n = len(cohort)
    k = int(responded_by(cohort, day).sum())
    out: dict[str, Any] = {"day": int(day), "responders": k, "n": n, "proportion": None,
                           "ci_lower": None, "ci_upper": None, "method": CRUDE_METHOD,
                           "reason": None}
    if n == 0:
        out["reason"] = survival.NO_PATIENTS
        return out
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    out.update(proportion=survival.rounded(k / n), ci_lower=survival.rounded(ci.low),
               ci_upper=survival.rounded(ci.high))
    return out


def infusion_reaction_rate(cohort: pd.DataFrame) -> dict[str, Any]:
    """Children with an infusion-related adverse event over all children, exact 95% interval.

    With no event the Clopper–Pearson upper limit is 1 − 0.025^(1/n), the exact one-sided
    97.5% bound (22% for 0 of 15): "no adverse event" in a small series still allows a rate
    that high.
    """
    n = len(cohort)
    k = int((cohort["infusion_reaction"] == "yes").sum())
    out: dict[str, Any] = {"reactions": k, "n": n, "proportion": None, "ci_lower": None,
                           "ci_upper": None, "method": REACTION_METHOD, "reason": None}
    if n == 0:
        out["reason"] = survival.NO_PATIENTS
        return out
    if k == 0:
        out.update(proportion=0.0, ci_lower=0.0,
                   ci_upper=survival.exact_zero_event_bound(n), **reaction_grades(cohort))
        return out
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    out.update(proportion=survival.rounded(k / n), ci_lower=survival.rounded(ci.low),
               ci_upper=survival.rounded(ci.high))
    out.update(reaction_grades(cohort))
    return out


def log10_load(values: pd.Series) -> dict[str, Any]:
    """Median and quartiles of log10 IU/mL over the positive values, with their number."""
    values = values.dropna().astype(float)
    values = values[values > 0]
    q = log10_quartiles(np.log10(values))
    block = {k: survival.rounded(v) for k, v in q.items()} if q else {
        "median": None, "q1": None, "q3": None}
    return {**block, "n": len(values), "method": "median and quartiles of log10 IU/mL",
            "reason": None if q else survival.NO_PATIENTS}


def delayed_entry_cannot_differ(cohort: pd.DataFrame) -> bool:
    """Whether survival from HSCT with delayed entry at CMVIG start must equal the primary one.

    Delayed entry only removes from the risk set of a death the children who had not yet
    started CMVIG; when every child started CMVIG before the first death (or nobody died),
    every risk set is the same and so is every estimate, whatever the data.
    """
    died = cohort["died"].astype(bool)
    if not died.any():
        return True
    first_death = float(cohort.loc[died, "os_from_hsct_days"].min())
    return bool(float(cohort["days_hsct_to_cmvig"].max()) < first_death)


def competing_risk_codes(cohort: pd.DataFrame) -> pd.Series:
    """1 = response, 2 = death without prior response, 0 = censored alive without response."""
    died_first = ~cohort["responded"] & cohort["died"]
    return cohort["responded"].astype(int) + 2 * died_first.astype(int)


def response_competing_risk(cohort: pd.DataFrame, day: int) -> dict[str, Any]:
    """Aalen-Johansen cumulative incidence of response at ``day``, death competing."""
    codes = competing_risk_codes(cohort)
    times = cohort["days_to_response_or_censoring"]
    out = survival.aalen_johansen(times, codes, day)
    out["method"] = COMPETING_METHOD
    # Without a death before response by the landmark the Aalen–Johansen estimate is one minus
    # the Kaplan–Meier one: only the way the interval is built differs.
    out["equals_one_minus_km"] = bool(not ((codes == 2) & (times <= day)).any())
    return out


def _sensitivity_block(block: dict[str, Any], name: str) -> dict[str, Any]:
    return {**block, "method": SENSITIVITY_METHODS[name]}


def sensitivity(cohort: pd.DataFrame, *, response_day: int, os_hsct_day: int,
                days: list[int]) -> dict[str, Any]:
    """The sensitivity analyses of the primary estimates (docs/contract.md).

    Each entry is a landmark block with ``method``; ``response_by_day`` is a list, one block
    per day of ``days``.
    """
    c = cohort
    responded = c["responded"].to_numpy(dtype=bool)
    follow = c["os_from_cmvig_days"].to_numpy(dtype=float)
    last_pcr = c["last_pcr_day"].fillna(0).to_numpy(dtype=float)
    censor_last_pcr = np.where(responded, c["days_to_response"].fillna(0).to_numpy(dtype=float),
                               np.minimum(last_pcr, follow))
    confirmed = c["confirmed_response"].to_numpy(dtype=bool)
    confirmed_time = np.where(confirmed,
                              c["days_to_confirmed_response"].fillna(0).to_numpy(dtype=float),
                              follow)
    primary = c["days_to_response_or_censoring"]
    return {
        "response_censor_last_pcr": _sensitivity_block(survival.km_landmark(
            censor_last_pcr, responded, response_day, one_minus=True),
            "response_censor_last_pcr"),
        "os_from_hsct_delayed_entry": {**_sensitivity_block(survival.km_landmark(
            c["os_from_hsct_days"], c["died"], os_hsct_day, entry=c["days_hsct_to_cmvig"]),
            "os_from_hsct_delayed_entry"), "cannot_differ": delayed_entry_cannot_differ(c)},
        "response_confirmed": _sensitivity_block(survival.km_landmark(
            confirmed_time, confirmed, response_day, one_minus=True),
            "response_confirmed"),
        "response_by_day": [_sensitivity_block(survival.km_landmark(
            primary, c["responded"], int(day), one_minus=True), "response_by_day")
            for day in sorted({int(d) for d in days})],
    }


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(values.value_counts().items())}


def _deaths(cohort: pd.DataFrame) -> dict[str, Any]:
    # Causes are counted by category (the config's vocabulary), never by the text typed in.
    dead = cohort.loc[cohort["died"].astype(bool)]
    cmv = dead["cmv_death"].astype(bool)
    return {
        "total": len(dead),
        "cmv_related": int(cmv.sum()),
        "other": int((~cmv).sum()),
        "causes": _counts(dead["cause_of_death_category"]),
        "cmv_related_causes": _counts(dead.loc[cmv, "cause_of_death_category"]),
    }


def median_time_to_response(cohort: pd.DataFrame) -> dict[str, Any]:
    """Median days to response (1 - KM reaching 50%) with its 95% interval, deaths censored."""
    return {**survival.km_median(cohort["days_to_response_or_censoring"], cohort["responded"]),
            "method": "Kaplan-Meier median, deaths censored; log-log 95% CI"}


def viral_load_at_start(cohort: pd.DataFrame) -> dict[str, Any]:
    """Median (range) of the quantifiable viral loads at CMVIG start, and how many there are."""
    load = cohort["viral_load_at_cmvig"].dropna().astype(float)
    return {**_median_range(load), "n": len(load), "log10": log10_load(load)}


def study_period_block(cohort: pd.DataFrame, window: str, source: str) -> dict[str, Any]:
    """The enrolment window printed: the configured or published one, else the data's."""
    if window:
        first, last = window.split("/")
    elif len(cohort):
        first, last = (str(cohort["cmvig_start_date"].min())[:7],
                       str(cohort["cmvig_start_date"].max())[:7])
    else:
        first = last = None
    return {"first": first, "last": last, "source": source}


def lloq_limits(sample_lloqs: pd.Series, config_lloq: float) -> dict[str, Any]:
    """The limits of quantification the response rule used: each distinct sample limit with
    its number of samples (lowest first), and the config's (``lloq_iu_ml``)."""
    counts = sample_lloqs.astype(float).value_counts().sort_index()
    limits = [{"value": survival.rounded(float(v)), "samples": int(k)} for v, k in counts.items()]
    return {"limits": limits or [{"value": float(config_lloq), "samples": 0}],
            "config_iu_ml": float(config_lloq), "samples": int(counts.sum())}


def compute_estimates(cohort: pd.DataFrame, *, response_day: int, os_cmvig_day: int,
                      os_hsct_day: int, lloq_iu_ml: float,
                      sample_lloqs: pd.Series | None = None,
                      sensitivity_days: list[int] | None = None,
                      study_period: tuple[str, str] = ("", "data"),
                      data_quality: dict[str, int] | None = None,
                      hidden: dict[str, str] | None = None,
                      min_cell_count: int = 0, study: str = "replication",
                      endpoint_settings: EndpointSettings | None = None,
                      viral_loads: pd.DataFrame | None = None) -> dict[str, Any]:
    """All estimates for one cleaned cohort (columns of docs/interfaces.md), JSON-ready.

    ``study`` chooses the estimands (:mod:`.estimands`); ``endpoint_settings`` and the cleaned
    ``viral_loads`` define the response endpoints (:mod:`.endpoints`).

    ``hidden`` (estimates key -> mark) is the small-cell control's plan for the counts the text
    prints; the renderer prints the mark instead of the count. ``sample_lloqs`` is the LLOQ
    of every PCR result (``results/viral_loads.csv``); without it every sample counted in
    ``n_viral_load_samples`` had the config's. ``study`` is config ``study``. The words the
    text uses about these estimates are in ``claims`` (:mod:`.claims`).
    """
    c = cohort
    if sample_lloqs is None:
        sample_lloqs = pd.Series(float(lloq_iu_ml),
                                 index=range(int(c["n_viral_load_samples"].sum())))
    # Config values may arrive as numpy or text-parsed numbers; the JSON wants plain ints.
    response_day, os_cmvig_day, os_hsct_day = map(int, (response_day, os_cmvig_day, os_hsct_day))
    groups = by_group(c)
    by_type: dict[str, Any] = {}
    for g, sub in groups.items():
        block = survival.km_landmark(sub["days_to_response_or_censoring"], sub["responded"],
                                     response_day, one_minus=True)
        block["responders"] = int(sub["responded"].sum())
        block["method"] = PRIMARY_RESPONSE_METHOD
        by_type[g] = block
    a, b = (groups[g] for g in GROUPS)  # the log-rank test compares the two groups
    lr = survival.logrank(a["days_to_response_or_censoring"], a["responded"],
                          b["days_to_response_or_censoring"], b["responded"])
    est = {
        "n_patients": len(c),
        "n_responders": int(c["responded"].sum()),
        "infusion_reactions": int((c["infusion_reaction"] == "yes").sum()),
        "infusion_reaction_rate": infusion_reaction_rate(c),
        "infection_type": {g: len(sub) for g, sub in groups.items()},
        "response": {**survival.km_landmark(c["days_to_response_or_censoring"],
                                            c["responded"], response_day,
                                            one_minus=True),
                     "method": PRIMARY_RESPONSE_METHOD},
        "response_by_type": by_type,
        "logrank_p": lr["p"],
        "logrank": {**lr, "method": "log-rank test"},
        "os_from_cmvig": {**survival.km_landmark(c["os_from_cmvig_days"], c["died"],
                                                 os_cmvig_day), "method": SURVIVAL_METHOD},
        "os_from_hsct": {**survival.km_landmark(c["os_from_hsct_days"], c["died"], os_hsct_day),
                         "method": SURVIVAL_METHOD},
        "deaths": _deaths(c),
        "median_followup_from_cmvig": {**survival.reverse_km_median(
            c["os_from_cmvig_days"], c["died"]), "method": "reverse Kaplan-Meier median"},
        "median_followup_from_hsct": {**survival.reverse_km_median(
            c["os_from_hsct_days"], c["died"]), "method": "reverse Kaplan-Meier median"},
        "days_hsct_to_cmvig": _median_range(c["days_hsct_to_cmvig"]),
        "cmvig_doses": _median_range(c["cmvig_doses"]),
        "age_at_hsct": _median_range(c["age_at_hsct"].astype(float)),
        "sex": {s: int((c["sex"] == s).sum()) for s in ("F", "M")},
        "cmvig_period": {"first": str(c["cmvig_start_date"].min()) if len(c) else None,
                         "last": str(c["cmvig_start_date"].max()) if len(c) else None},
        "crude_response": crude_response(c, response_day),
        "response_competing_risk": response_competing_risk(c, response_day),
        "median_time_to_response": median_time_to_response(c),
        "viral_load_at_cmvig": viral_load_at_start(c),
        **({"peak_viral_load": log10_load(c["peak_viral_load_iu_ml"])}
           if "peak_viral_load_iu_ml" in c.columns else {}),
        "study_period": study_period_block(c, *study_period),
        "data_quality": dict(data_quality or {}),
        "clinical": clinical_record(c),
        "sensitivity": sensitivity(c, response_day=response_day, os_hsct_day=os_hsct_day,
                                   days=list(sensitivity_days or [response_day])),
        "disclosure": {"min_cell_count": int(min_cell_count), "hidden": dict(hidden or {})},
        "settings": {"lloq_iu_ml": float(lloq_iu_ml), "response_day": response_day,
                     "os_cmvig_day": os_cmvig_day, "os_hsct_day": os_hsct_day,
                     "viraemia_window_days": VIRAEMIA_WINDOW_DAYS, "study": str(study),
                     "refractory_min_days": REFRACTORY_MIN_DAYS,
                     "refractory_lookback_days": REFRACTORY_LOOKBACK_DAYS,
                     "same_level_log10": SAME_LEVEL_LOG10},
        "lloq": lloq_limits(sample_lloqs, lloq_iu_ml),
    }
    est = estimands.apply(est, c, viral_loads, endpoint_settings, study=study,
                          response_day=response_day, os_hsct_day=os_hsct_day,
                          days=list(sensitivity_days or [response_day]))
    # the words about the estimates read the study's own estimands, so they come last
    est["claims"] = claims.build(est, hidden)
    return est


def km_curves(cohort: pd.DataFrame, study: str = "replication",
              settings: EndpointSettings | None = None,
              samples: pd.DataFrame | None = None) -> pd.DataFrame:
    """The Kaplan-Meier curves Figure 2 draws, as one tidy table (``results/km_curves.csv``).

    Written by the analysis stage, which has lifelines loaded already, so the figure step
    does not pay for importing it again. An empty group has no rows. For an own study the
    response curves are cumulative incidences (estimands.incidence_curves).
    """
    parts = (estimands.incidence_curves(cohort, settings, samples) if study == "own" else [])
    for g in GROUPS:
        d = of_group(cohort, g)
        if len(d) and study != "own":
            curve = survival.km_curve(d["days_to_response_or_censoring"], d["responded"])
            parts.append(curve.assign(curve=f"response_{g}"))
    if len(cohort):
        curve = survival.km_curve(cohort["os_from_cmvig_days"], cohort["died"])
        parts.append(curve.assign(curve="os_from_cmvig"))
    if not parts:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return pd.concat(parts, ignore_index=True)[CURVE_COLUMNS]


def assert_finite(obj: Any, path: str = "") -> None:
    """Raise ValueError naming the key of the first NaN or infinity found."""
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"non-finite number at {path or '<root>'}")
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_finite(v, f"{path}[{i}]")


def _null_notes(est: dict[str, Any]) -> list[str]:
    # Surfaced on the terminal so a user swapping in their own data sees why a number is missing.
    blocks = {"response": est["response"], "os_from_cmvig": est["os_from_cmvig"],
              "os_from_hsct": est["os_from_hsct"],
              **{f"response_by_type.{g}": est["response_by_type"][g] for g in GROUPS}}
    notes = [f"{key} at day {b['day']}: {b['reason']}" for key, b in blocks.items()
             if b["reason"] and b["estimate"] is None]
    if est["logrank"]["reason"]:
        notes.append(f"log-rank test: {est['logrank']['reason']}")
    return notes


def run_analysis(*, cohort: str, data_quality: str, response_day: int, os_cmvig_day: int,
                 os_hsct_day: int, lloq: float, sensitivity_days: list[int],
                 study_period: tuple[str, str], min_cell_count: int, estimates: str,
                 table1: str, curves: str, disclosure_log: str, viral_loads: str = "",
                 study: str = "replication", response_min_baseline_iu_ml: float = 0,
                 response_confirmation_min_days: int = 0, response_sustained_days: int = 0,
                 new_therapy_after_cmvig: str = "ignore") -> list[str]:
    """Step ``estimates``: estimates.json, table1.csv, km_curves.csv and the disclosure log.

    The response endpoints' settings are the config keys of the same names (endpoints.py);
    the cleaned viral loads are read only when a setting needs the samples.

    Returns notes for the terminal: one per headline estimate or test that could not be made,
    and how many printed counts small-cell control hides.
    """
    df = read_clean_cohort(cohort)
    settings = EndpointSettings(float(response_min_baseline_iu_ml),
                                int(response_confirmation_min_days),
                                int(response_sustained_days), str(new_therapy_after_cmvig))
    quality = counts_per_check(pd.read_csv(data_quality, dtype=str, keep_default_na=False))
    plan = disclosure_plan(df, int(response_day), int(min_cell_count), quality)
    # the limit each PCR result was judged against, and the samples when an endpoint needs them
    samples, sample_lloqs = None, None
    if viral_loads and (settings.confirmation_min_days or settings.sustained_days):
        samples = read_clean_samples(viral_loads, also=("lloq_iu_ml",))  # one read for both
        sample_lloqs = pd.to_numeric(samples["lloq_iu_ml"], errors="coerce")
    elif viral_loads:
        sample_lloqs = pd.read_csv(viral_loads, usecols=["lloq_iu_ml"])["lloq_iu_ml"]
    est = compute_estimates(df, response_day=response_day, os_cmvig_day=os_cmvig_day,
                            os_hsct_day=os_hsct_day, lloq_iu_ml=lloq,
                            sample_lloqs=sample_lloqs,
                            sensitivity_days=sensitivity_days,
                            study_period=(str(study_period[0]), str(study_period[1])),
                            data_quality=quality, hidden=plan.estimate_keys,
                            min_cell_count=int(min_cell_count), study=str(study),
                            endpoint_settings=settings, viral_loads=samples)
    landmark_marks, landmark_log = landmark_plan(est, plan)
    # the landmark counts and Figure 2's numbers at risk, audited with the text's counts
    from ..data.endpoints import response_frame
    from ..figures.figure_axes import figure2_ticks, risk_table_curves
    from ..privacy.landmark_audit import audit_landmarks

    panel_a = response_frame(df, est)  # an own study's Figure 2A (None: the cohort's own)
    landmark_marks, risk_tables, audit_log = audit_landmarks(
        df, est, plan, landmark_marks, risk_table_curves(figure2_ticks(df, est, panel_a)),
        panel_a)
    landmark_log += audit_log
    est["disclosure"]["hidden"] = dict(sorted({**est["disclosure"]["hidden"],
                                               **landmark_marks}.items()))
    est["disclosure"]["risk_tables"] = risk_tables
    if plan.hidden:  # by cell name, for the figure steps (printed_counts.written_cells)
        est["disclosure"]["cells"] = plan.hidden
    hidden_apart = endpoint_counts_plan(est, int(min_cell_count))
    est["disclosure"]["hidden"] = dict(sorted({**est["disclosure"]["hidden"],
                                               **hidden_apart}.items()))
    landmark_log += [{"kind": SUPPRESSED_CELL, "output": "text", "item": key,
                      "value": est["crude_response"]["responders"],
                      "reason": f"printed as {mark}: the crude response's counts may differ "
                                "from the plan's cells (an own study's endpoint)",
                      "source": f"estimates.json#{key}", "patient_id": ""}
                     for key, mark in hidden_apart.items()]
    # an estimate times its n is a count: withheld wherever a count it gives back is hidden
    from ..privacy.printed_estimates import estimate_marks

    withheld, withheld_log = estimate_marks(est, est["disclosure"]["hidden"], int(min_cell_count))
    est["disclosure"]["hidden"] = dict(sorted({**est["disclosure"]["hidden"], **withheld}.items()))
    est["claims"] = claims.build(est, est["disclosure"]["hidden"])  # with the landmarks' marks
    assert_finite(est)
    json.dumps(est, allow_nan=False)
    log = pd.DataFrame(plan.log + landmark_log + withheld_log + unmapped_causes(df),
                       columns=LOG_COLUMNS)
    write_csv(build_table1(df, plan.hidden, plan.min_cell), table1)
    write_csv(km_curves(df, str(study), settings, samples).round(survival.DECIMALS), curves)
    write_csv(log, disclosure_log)
    write_json(est, estimates)
    notes = _null_notes(est)
    if plan.hidden:
        notes.append(f"min_cell_count {int(min_cell_count)}: "
                     f"{len(plan.log) + len(landmark_log)} counts hidden"
                     + (f", {len({r['item'].split(':')[0] for r in withheld_log})} estimates "
                        "withheld with them" if withheld_log else "")
                     + f" ({paths.DISCLOSURE_LOG})")
    return notes


def endpoint_counts_plan(est: dict[str, Any], min_cell: int) -> dict[str, str]:
    """Marks for the crude response's counts when an own study's endpoint counts them apart
    from the small-cell plan's cells (children not evaluable left out, a new therapy
    censoring): the plan secured the whole cohort's responders, not these. A count from 1 to
    ``min_cell`` − 1 is hidden, and so is the responders' count when the children without a
    response are that few (the total is printed)."""
    crude, hidden = est.get("crude_response") or {}, est["disclosure"]["hidden"]
    responders, n = crude.get("responders"), crude.get("n")
    if min_cell <= 1 or responders is None or n is None:
        return {}
    key = "crude_response.responders"
    if key in hidden:
        return {}
    if 0 < responders < min_cell:
        return {key: small_mark(min_cell)}
    if 0 < n - responders < min_cell:
        return {key: COMPLEMENT_MARK}
    return {}


def unmapped_causes(cohort: pd.DataFrame) -> list[dict[str, Any]]:
    """Disclosure-log rows for causes of death outside the config's vocabulary (printed as a
    category, never verbatim); the raw text stays in this internal file only."""
    rows = cohort[~cohort["cause_of_death_mapped"]]
    return [{"kind": "unmapped free text", "output": "text",
             "item": "cause_of_death", "value": r.cause_of_death,
             "reason": "not in cause_of_death_categories: printed as "
                       f"'{r.cause_of_death_category}'",
             "patient_id": r.patient_id} for r in rows.itertuples()]
