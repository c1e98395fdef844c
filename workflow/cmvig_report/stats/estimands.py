"""What the response and survival estimates mean, by study.

``study: replication`` keeps the published report's estimands: response is one minus the
Kaplan–Meier estimate of time to response with every other end of follow-up censored (deaths
included), and survival is counted from CMVIG and from HSCT. ``study: own`` reports, as its
primary response estimate, the cumulative incidence of response with death before response (and,
with ``new_therapy_after_cmvig: compete``, a new anti-CMV therapy) as a competing event
(Aalen–Johansen, :mod:`.competing`); one minus Kaplan–Meier becomes a sensitivity estimate, and
survival from HSCT is the delayed-entry estimate (conditional on surviving to the first CMVIG
dose), with the one counted from transplantation in Supplementary Table S1.

Both studies take the response times from :mod:`.endpoints` (evaluable children only, the
clinician's confirmation spacing, sustained-response window and handling of a new therapy):
with the config's defaults those times equal the cohort stage's, so the replication's numbers
do not move.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..data import endpoints
from ..data.endpoints import (
    CUMULATIVE_INCIDENCE,
    DEATH,
    NEW_THERAPY,
    ONE_MINUS_KM,
    RESPONSE,
    EndpointSettings,
)
from ..data.groups import GROUPS, in_group
from . import competing, survival

KM_METHOD = "1 - Kaplan-Meier; every end other than response censored; log-log 95% CI"
CIF_METHOD = ("Aalen-Johansen cumulative incidence; death before response (and a new anti-CMV "
              "therapy, when set to compete) competing; " + competing.CIF_INTERVAL)
CONDITIONAL_OS_METHOD = ("Kaplan-Meier from HSCT, each child entering the risk set at the first "
                         "CMVIG dose (left truncation): survival conditional on surviving to "
                         "CMVIG; log-log 95% CI")
UNCONDITIONAL_OS_METHOD = ("Kaplan-Meier from HSCT, every child counted from transplantation "
                           "(time before CMVIG is survived by selection); log-log 95% CI")
SUSTAINED_METHOD = ("1 - Kaplan-Meier; response sustained: no result at or above the LLOQ "
                    "in the set number of days after it; log-log 95% CI")


def estimator_name(study: str) -> str:
    """The response estimand of a study: cumulative incidence (own) or 1 − KM (replication)."""
    return CUMULATIVE_INCIDENCE if study == "own" else ONE_MINUS_KM


def landmark(frame: pd.DataFrame, day: int, study: str,
             km_method: str = KM_METHOD) -> dict[str, Any]:
    """The study's response estimate at ``day`` from an endpoints frame (``time, code``);
    ``km_method`` names the replication's estimate (each analysis says what it censors)."""
    if study == "own":
        return {**competing.cif_landmark(frame["time"], frame["code"], day), "method": CIF_METHOD}
    return {**survival.km_landmark(frame["time"], frame["code"].eq(RESPONSE), day,
                                   one_minus=True), "method": km_method}


def _one_minus_km(frame: pd.DataFrame, day: int) -> dict[str, Any]:
    return {**survival.km_landmark(frame["time"], frame["code"].eq(RESPONSE), day,
                                   one_minus=True), "method": KM_METHOD}


def _competing_block(frame: pd.DataFrame, day: int) -> dict[str, Any]:
    # The replication's secondary Aalen–Johansen estimate, on the endpoint times.
    from .analysis import COMPETING_METHOD

    codes = frame["code"].where(frame["code"].ne(NEW_THERAPY), DEATH)
    out = survival.aalen_johansen(frame["time"], codes, day)
    out["method"] = COMPETING_METHOD
    out["equals_one_minus_km"] = bool(not (codes.eq(DEATH) & frame["time"].le(day)).any())
    return out


def _crude(frame: pd.DataFrame, day: int) -> dict[str, Any]:
    from .analysis import crude_response

    responded = frame["code"].eq(RESPONSE)
    return crude_response(pd.DataFrame({"responded": responded,
                                        "days_to_response": frame["time"].where(responded)}),
                          day)


def response_estimates(cohort: pd.DataFrame, viral_loads: pd.DataFrame | None,
                       settings: EndpointSettings, *, study: str, response_day: int,
                       days: list[int]) -> dict[str, Any]:
    """The estimates.json keys that depend on the response estimand (docs/interfaces.md).

    Returns ``response``, ``response_by_type``, ``logrank`` (cause-specific: the responses of
    each group, every other end censored), ``gray_test``, ``crude_response``,
    ``response_competing_risk``, ``median_time_to_response``, ``response_evaluable``,
    ``new_therapy``, ``estimand`` and the response entries of ``sensitivity``.
    """
    from .analysis import PRIMARY_RESPONSE_METHOD, SENSITIVITY_METHODS

    ends = endpoints.response_endpoints(cohort, viral_loads, settings)
    primary = ends["primary"]
    kept = cohort.loc[primary.index]
    by_group = {g: primary[in_group(kept, g)] for g in GROUPS}
    by_type = {}
    for g, frame in by_group.items():
        by_type[g] = {**landmark(frame, response_day, study, PRIMARY_RESPONSE_METHOD),
                      "responders": int(frame["code"].eq(RESPONSE).sum())}
    a, b = (by_group[g] for g in GROUPS)
    lr = survival.logrank(a["time"], a["code"].eq(RESPONSE), b["time"], b["code"].eq(RESPONSE))
    gray = competing.gray_test(primary["time"], primary["code"], kept["infection_type"])
    sens: dict[str, Any] = {
        name: landmark(ends[key], response_day, study, SENSITIVITY_METHODS[name])
        for name, key in (("response_censor_last_pcr", "censor_last_pcr"),
                          ("response_confirmed", "confirmed"))}
    sens["response_by_day"] = [landmark(primary, int(d), study, PRIMARY_RESPONSE_METHOD)
                               for d in sorted({int(d) for d in days})]
    if "sustained" in ends:
        sens["response_sustained"] = landmark(ends["sustained"], response_day, study,
                                              SUSTAINED_METHOD)
    if study == "own":
        sens["response_one_minus_km"] = _one_minus_km(primary, response_day)
    new_day = endpoints.new_therapy_day(kept)
    before = new_day.notna() & (kept["days_to_response"].isna()
                                | (new_day < kept["days_to_response"])).fillna(False)
    return {
        "response": landmark(primary, response_day, study, PRIMARY_RESPONSE_METHOD),
        "response_by_type": by_type,
        "logrank_p": lr["p"],
        "logrank": {**lr, "method": "log-rank test" if study != "own" else
                    "log-rank test (cause-specific: responses; every other end censored)"},
        "gray_test": gray,
        "crude_response": _crude(primary, response_day),
        "response_competing_risk": _competing_block(primary, response_day),
        "median_time_to_response": {
            **survival.km_median(primary["time"], primary["code"].eq(RESPONSE)),
            "method": "Kaplan-Meier median, deaths censored; log-log 95% CI"},
        "response_evaluable": endpoints.baseline_counts(cohort, settings),
        "new_therapy": {"option": settings.new_therapy,
                        "recorded": int(new_day.notna().sum()),
                        "before_response": int(before.sum())},
        "estimand": {"study": study, "response": estimator_name(study),
                     "confirmation_min_days": int(settings.confirmation_min_days),
                     "sustained_days": int(settings.sustained_days),
                     "min_baseline_iu_ml": float(settings.min_baseline_iu_ml),
                     "new_therapy": settings.new_therapy},
        "sensitivity": sens,
    }


def survival_estimates(cohort: pd.DataFrame, *, study: str, os_hsct_day: int,
                       primary_hsct: dict[str, Any], delayed: dict[str, Any]
                       ) -> dict[str, Any]:
    """For an own study: survival from HSCT becomes the delayed-entry (conditional) estimate;
    the one counted from transplantation moves to ``sensitivity.os_from_hsct_unconditional``.
    The replication keeps both as they are (an empty dict)."""
    if study != "own":
        return {}
    return {"os_from_hsct": {**delayed, "method": CONDITIONAL_OS_METHOD,
                             "estimand": "conditional on surviving to the first CMVIG dose"},
            "os_from_hsct_unconditional": {**primary_hsct, "method": UNCONDITIONAL_OS_METHOD}}


def apply(est: dict[str, Any], cohort: pd.DataFrame, viral_loads: pd.DataFrame | None,
          settings: EndpointSettings | None, *, study: str, response_day: int,
          os_hsct_day: int, days: list[int]) -> dict[str, Any]:
    """``est`` with its response and survival keys set for ``study`` (a new dict)."""
    settings = settings or EndpointSettings()
    resp = response_estimates(cohort, viral_loads, settings, study=study,
                              response_day=response_day, days=days)
    sens = {**est["sensitivity"], **resp.pop("sensitivity")}
    out = {**est, **resp}
    surv = survival_estimates(cohort, study=study, os_hsct_day=os_hsct_day,
                              primary_hsct=est["os_from_hsct"],
                              delayed=est["sensitivity"]["os_from_hsct_delayed_entry"])
    if surv:
        out["os_from_hsct"] = surv["os_from_hsct"]
        sens["os_from_hsct_unconditional"] = surv["os_from_hsct_unconditional"]
    out["sensitivity"] = sens
    return out


def incidence_curves(cohort: pd.DataFrame, settings: EndpointSettings | None,
                     samples: pd.DataFrame | None = None) -> list[pd.DataFrame]:
    """The response curves of an own study for ``results/km_curves.csv``: per group, the
    cumulative incidence F with its band, written as the file's ``survival`` column 1 − F
    (limits 1 − upper, 1 − lower), so Figure 2 reads every response curve one way."""
    primary = endpoints.response_endpoints(cohort, samples, settings or EndpointSettings())
    kept = cohort.loc[primary["primary"].index]
    parts = []
    for g in GROUPS:
        frame = primary["primary"][in_group(kept, g)]
        if len(frame):
            cif = competing.cif_curve(frame["time"], frame["code"])
            parts.append(pd.DataFrame({"time": cif["time"], "survival": 1 - cif["estimate"],
                                       "ci_lower": 1 - cif["ci_upper"],
                                       "ci_upper": 1 - cif["ci_lower"]}
                                      ).assign(curve=f"response_{g}"))
    return parts

