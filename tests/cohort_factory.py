"""Build small cleaned cohorts (the columns of results/cohort.csv) for unit tests."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd


def make_cohort(rows: list[dict]) -> pd.DataFrame:
    """One dict per patient with keys: type, response (day or None), fu (days from CMVIG),
    died (bool), and optionally hsct_to_cmvig (default 60), cmv_death, cause, sex, age,
    doses, drugs, diagnosis, load (viral load at CMVIG, default 10,000; None = missing),
    last_pcr (day of the last PCR, default: the response day or fu), confirmed (day of a
    confirmed response, default the response day). Returns a DataFrame with the dtypes of
    read_clean_cohort; study numbers follow the order of ``rows``."""
    out = []
    for i, r in enumerate(rows):
        hsct = date(2019, 1, 1) + timedelta(days=7 * i)
        gap = r.get("hsct_to_cmvig", 60)
        start = hsct + timedelta(days=gap)
        resp = r.get("response")
        died = r.get("died", False)
        cmv = r.get("cmv_death", False)
        drugs = r.get("drugs", "ganciclovir")
        cause = r.get("cause", "CMV pneumonia" if cmv else "Relapse") if died else ""
        confirmed = r.get("confirmed", resp)
        out.append({
            "patient_id": f"T{i + 1:03d}", "study_number": i + 1,
            "sex": r.get("sex", "F" if i % 2 else "M"),
            "age_at_hsct": float(r.get("age", 5.0 + i % 10)),
            "diagnosis": r.get("diagnosis", "Acute lymphoblastic leukaemia"),
            "donor_type": "Haploidentical", "graft_source": "Bone marrow",
            "cmv_serostatus": "D-/R+", "hsct_date": hsct.isoformat(),
            "infection_type": r["type"], "prior_antivirals": drugs,
            "n_prior_antivirals": 0 if drugs == "" else drugs.count(";") + 1,
            "cmvig_start_date": start.isoformat(), "cmvig_doses": r.get("doses", 4),
            "infusion_reaction": r.get("reaction", "no"),
            "last_followup_date": (start + timedelta(days=r["fu"])).isoformat(),
            "status": "dead" if died else "alive",
            "cause_of_death": cause, "cause_of_death_category": cause,
            "cause_of_death_mapped": True,
            "cmv_related_death": ("yes" if cmv else "no") if died else "",
            "days_hsct_to_cmvig": gap, "responded": resp is not None,
            "response_date": "" if resp is None else (start + timedelta(days=resp)).isoformat(),
            "days_to_response": resp,
            "days_to_response_or_censoring": r["fu"] if resp is None else resp,
            "os_from_cmvig_days": r["fu"], "os_from_hsct_days": r["fu"] + gap,
            "died": died, "cmv_death": died and cmv, "n_viral_load_samples": 8,
            "viral_load_at_cmvig": r.get("load", 10_000.0),
            "last_pcr_day": r.get("last_pcr", r["fu"] if resp is None else resp),
            "confirmed_response": confirmed is not None,
            "days_to_confirmed_response": confirmed,
        })
    df = pd.DataFrame(out)
    for col in ("days_to_response", "last_pcr_day", "days_to_confirmed_response"):
        df[col] = df[col].astype("Int64")
    df["viral_load_at_cmvig"] = df["viral_load_at_cmvig"].astype(float)
    return df


def abstract_like_cohort() -> pd.DataFrame:
    """15 patients shaped like the paper's abstract: 8 recurrent / 7 refractory; 10 responses
    by day 50 (none censored before); 2 deaths by day 100 after CMVIG; 3 deaths within 365 days
    of HSCT; every survivor followed >= 365 days after HSCT."""
    rows = []
    for i, day in enumerate([14, 21, 21, 28, 35, 42]):
        rows.append({"type": "recurrent", "response": day, "fu": 400 + 10 * i})
    rows += [{"type": "recurrent", "response": None, "fu": 330, "died": True,
              "hsct_to_cmvig": 75},
             {"type": "recurrent", "response": None, "fu": 600}]
    for i, day in enumerate([21, 28, 45, 49]):
        rows.append({"type": "refractory", "response": day, "fu": 500 + 10 * i})
    rows[8]["fu"], rows[8]["died"], rows[8]["hsct_to_cmvig"] = 160, True, 110
    rows += [{"type": "refractory", "response": None, "fu": 70, "died": True,
              "cmv_death": True},
             {"type": "refractory", "response": None, "fu": 800},
             {"type": "refractory", "response": None, "fu": 700}]
    rows[0]["fu"], rows[0]["died"] = 90, True
    return make_cohort(rows)


def random_cohort(n: int, seed: int = 7) -> pd.DataFrame:
    """``n`` patients with random types, responses, follow-up and deaths (reproducible)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        fu = int(rng.integers(20, 900))
        resp = int(rng.integers(7, 80)) if rng.random() < 0.6 else None
        if resp is not None and resp > fu:
            resp = None
        rows.append({"type": "recurrent" if rng.random() < 0.5 else "refractory",
                     "response": resp, "fu": fu, "died": bool(rng.random() < 0.25),
                     "hsct_to_cmvig": int(rng.integers(20, 150))})
    return make_cohort(rows)
