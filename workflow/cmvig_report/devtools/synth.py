"""Seedable synthetic cohorts that follow the input contract, at any size.

    python -m cmvig_report.devtools.synth --n 50000 --seed 1 --out DIR [--messy] [--clinical]
        [--format csv|xlsx]

writes ``DIR/patients.csv`` and ``DIR/viral_loads.csv`` (or ``.xlsx``). Everything is vectorised
with NumPy, so 50,000 patients (some 870,000 PCR results) are quick to make; the same seed gives
the same bytes, and ``messy`` only adds mess on top of the same cohort (same truth).

Patients are invented: distributions are plausible for paediatric allogeneic HSCT, not fitted to
any registry. PCR is weekly from 2-3 weeks before CMVIG; loads are reported to 3 significant
figures. Responders' viral load falls log-linearly to below the LLOQ on their response day (a
weekly sample day, reported as ``<137`` or as a number under the LLOQ), then 1-2 confirmatory
samples end the series; non-responders keep a fluctuating DNAemia above the LLOQ after CMVIG
(weekly for 16 weeks, then monthly to the last follow-up), so the contract's response definition
recovers the generator's truth exactly. ``--clinical`` adds the contract's optional clinical
columns (CMVIG product, dose and interval, antivirals at the first dose, CMV disease, acute GVHD,
steroids, resistance genotyping; conditioning, serotherapy, T-cell depletion, CMV prevention,
chronic GVHD, lymphocytes, earlier CMV episodes, peak viral load, infusion-reaction grade) from a
stream of their own, so the other columns are the same, and a new anti-CMV therapy after CMVIG
with its first day (from a fifth stream).
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

# (diagnosis, weight, age min / mode / max in years, fraction male): age and sex depend on the
# disease (SCID in infants, JMML under 6, X-linked CGD and Wiskott-Aldrich mostly in boys).
DIAGNOSES = (
    ("Acute lymphoblastic leukaemia", 0.25, 0.5, 6.0, 18.0, 0.57),
    ("Acute myeloid leukaemia", 0.18, 0.3, 8.0, 18.0, 0.52),
    ("Myelodysplastic syndrome", 0.06, 1.0, 10.0, 18.0, 0.55),
    ("Juvenile myelomonocytic leukaemia", 0.04, 0.2, 1.5, 6.0, 0.65),
    ("Severe aplastic anaemia", 0.09, 2.0, 10.0, 18.0, 0.55),
    ("Severe combined immunodeficiency", 0.07, 0.1, 0.4, 2.0, 0.75),
    ("Fanconi anaemia", 0.05, 3.0, 8.0, 16.0, 0.5),
    ("Beta-thalassaemia major", 0.08, 1.0, 5.0, 16.0, 0.5),
    ("Haemophagocytic lymphohistiocytosis", 0.06, 0.1, 0.8, 10.0, 0.5),
    ("Chronic granulomatous disease", 0.04, 1.0, 6.0, 18.0, 0.85),
    ("Wiskott-Aldrich syndrome", 0.02, 0.3, 1.5, 8.0, 1.0),
    ("Other primary immunodeficiency", 0.06, 0.2, 3.0, 18.0, 0.6),
)
DONORS = ("Matched sibling", "Matched unrelated", "Mismatched unrelated", "Haploidentical")
DONOR_WEIGHTS = (0.2, 0.3, 0.15, 0.35)
GRAFTS = ("Bone marrow", "Peripheral blood", "Cord blood")
# Graft given the donor (rows follow DONORS): no cord blood from a haploidentical parent;
# cord blood is mainly a mismatched-unrelated option.
GRAFT_GIVEN_DONOR = ((0.75, 0.2, 0.05), (0.55, 0.3, 0.15), (0.35, 0.25, 0.4), (0.45, 0.55, 0.0))
# Seropositive recipients carry most of the risk of CMV reactivation, so R+ dominates.
SEROSTATUS = (("D+/R+", 0.4), ("D-/R+", 0.4), ("D+/R-", 0.15), ("D-/R-", 0.05))
# (drug, weight): weighted sampling without replacement puts first-line drugs first.
DRUGS = (("ganciclovir", 10.0), ("valganciclovir", 3.0), ("foscarnet", 5.0),
         ("cidofovir", 1.5), ("letermovir", 1.5), ("maribavir", 1.0))
# P(0..4 prior drugs): refractory infections have been through more lines of therapy.
N_DRUGS = {"recurrent": (0.02, 0.4, 0.35, 0.18, 0.05),
           "refractory": (0.02, 0.2, 0.35, 0.28, 0.15)}
OTHER_CAUSES = (("Relapse of underlying disease", 0.35), ("Graft-versus-host disease", 0.25),
                ("Bacterial sepsis", 0.15), ("Invasive fungal infection", 0.12),
                ("Multi-organ failure", 0.13))
CMV_CAUSES = (("CMV pneumonia", 0.75), ("Disseminated CMV disease", 0.25))
# Below-quantification spellings the contract accepts; "{}" is the LLOQ. Case varies in messy mode.
BELOW_QUANT = ("<{}", "< {}", "undetectable", "not detected", "ND", "negative")
# Optional clinical columns (--clinical). Product with its unit and usual doses per kg:
# Cytotect CP is dosed in units, Cytogam in milligrams; the two are never pooled.
PRODUCTS = (("Cytotect CP", "U/kg", (50, 100), 0.7), ("Cytogam", "mg/kg", (100, 150, 400), 0.3))
INTERVAL_DAYS = (("2", 0.3), ("7", 0.5), ("14", 0.2))
# P(0..2 antivirals given with the first CMVIG dose): CMVIG is an adjunct, rarely given alone.
N_DRUGS_AT_CMVIG = {"recurrent": (0.15, 0.7, 0.15, 0.0, 0.0),
                    "refractory": (0.1, 0.6, 0.3, 0.0, 0.0)}
CMV_DISEASE = (("none", 0.7), ("probable", 0.1), ("proven", 0.2))
AGVHD_GRADES = (("0", 0.5), ("I", 0.2), ("II", 0.18), ("III", 0.08), ("IV", 0.04))
RESISTANCE = {"recurrent": (("not tested", 0.7), ("no mutation", 0.25), ("UL97", 0.05)),
              "refractory": (("not tested", 0.35), ("no mutation", 0.3), ("UL97", 0.25),
                             ("UL54", 0.05), ("UL97+UL54", 0.05))}
CONDITIONING = (("MAC", 0.6), ("RIC", 0.3), ("NMA", 0.1))
SEROTHERAPY = (("ATG", 0.5), ("alemtuzumab", 0.15), ("none", 0.35))
# T-cell depletion depends on the donor: PTCy is mostly a haploidentical platform.
TCD_HAPLO = (("none", 0.15), ("ex vivo", 0.15), ("PTCy", 0.7))
TCD_OTHER = (("none", 0.9), ("ex vivo", 0.05), ("PTCy", 0.05))
PREVENTION = (("letermovir prophylaxis", 0.4), ("pre-emptive", 0.6))
CHRONIC_GVHD = (("yes", 0.1), ("no", 0.9))
# Earlier CMV episodes: a recurrent infection has had at least one.
EPISODES = {"recurrent": (("1", 0.6), ("2", 0.3), ("3", 0.1)),
            "refractory": (("0", 0.6), ("1", 0.3), ("2", 0.1))}
REACTION_GRADES = (("1", 0.6), ("2", 0.3), ("3", 0.1))  # CTCAE, of the children with one
NOT_RECORDED = 0.03  # share of empty (not recorded) cells in each optional column
HSCT_FROM, HSCT_TO = np.datetime64("2015-01-01"), np.datetime64("2025-01-01")
DATA_CUTOFF = np.datetime64("2026-06-30")  # administrative censoring: no dates in the future
RESPONSE_MIN, RESPONSE_MAX = 7, 80  # days from CMVIG to the first PCR below LLOQ
WEEKLY_UNTIL_DAY = 112  # weekly PCR for 16 weeks after CMVIG while DNAemia persists, then monthly
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit minus the header


def _idx(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (n x k), by inverse CDF: vectorised."""
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((rng.random(len(cum))[:, None] > cum).sum(axis=1), probs.shape[1] - 1)


def _pick(rng: np.random.Generator, table: tuple, n: int) -> np.ndarray:
    """``n`` labels drawn from a ``((label, weight), ...)`` table."""
    labels, weights = zip(*table, strict=True)
    return np.asarray(labels, dtype=object)[_idx(rng, np.tile(weights, (n, 1)))]


def _as_text(values: np.ndarray, fmt=str) -> np.ndarray:
    """Format an array through its distinct values: 900,000 cells but only a few thousand dates
    or 3-significant-figure loads, so this beats ``astype(str)`` several times over."""
    uniq, inverse = np.unique(values, return_inverse=True)
    return np.array([fmt(u) for u in uniq.tolist()], dtype=object)[inverse]


def _dates(base: np.ndarray, days: np.ndarray) -> np.ndarray:
    return _as_text(base + days.astype("timedelta64[D]"), lambda d: d.isoformat())


def _drug_lists(rng: np.random.Generator, refractory: np.ndarray,
                n_drugs: dict[str, tuple[float, ...]] = N_DRUGS) -> np.ndarray:
    n = len(refractory)
    names = np.array([d for d, _ in DRUGS], dtype=object)
    keys = rng.random((n, len(names))) ** (1 / np.array([w for _, w in DRUGS]))  # E-S keys
    order = np.argsort(-keys, axis=1)
    k = _idx(rng, np.where(refractory[:, None], n_drugs["refractory"], n_drugs["recurrent"]))
    out = np.where(k > 0, names[order[:, 0]], "").astype(object)
    for j in range(1, 4):  # four columns, not n patients: still vectorised
        out = np.where(k > j, out + ";" + names[order[:, j]], out)
    return out


def _messy_labels(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Case and surrounding spaces, the only variation the contract allows in a label."""
    out = labels.astype(str).astype(object)
    pick = rng.random(len(out))
    out[pick < 0.1] = np.char.upper(out[pick < 0.1].astype(str))
    cap = (pick >= 0.1) & (pick < 0.2)
    out[cap] = np.char.capitalize(out[cap].astype(str))
    pad = rng.random((2, len(out))) < 0.1
    out[pad[0]] = " " + out[pad[0]]
    out[pad[1]] = out[pad[1]] + " "
    return out


def _three_figures(log_value: np.ndarray) -> np.ndarray:
    """10**x as an integer rounded to 3 significant figures, as PCR platforms report it."""
    value = 10.0 ** log_value
    step = 10.0 ** np.maximum(np.floor(np.log10(value)) - 2, 0)
    return (np.round(value / step) * step).astype(np.int64)


def _clinical_columns(rng: np.random.Generator, refractory: np.ndarray) -> dict[str, np.ndarray]:
    """The contract's optional clinical columns, a few cells of each left empty."""
    n = len(refractory)
    product = _idx(rng, np.tile([p[3] for p in PRODUCTS], (n, 1)))
    dose = np.empty(n, dtype=object)
    for i, (_, _, doses, _) in enumerate(PRODUCTS):
        mine = product == i
        dose[mine] = np.asarray(doses, dtype=object)[rng.integers(0, len(doses), mine.sum())]
    grade = _pick(rng, AGVHD_GRADES, n)
    # steroids treat GVHD of grade II and above; a few children get them for other reasons
    steroids = np.isin(grade, ("II", "III", "IV")) | (rng.random(n) < 0.1)
    resistance = np.where(refractory, _pick(rng, RESISTANCE["refractory"], n),
                          _pick(rng, RESISTANCE["recurrent"], n))
    out = {
        "cmvig_product": np.array([p[0] for p in PRODUCTS], dtype=object)[product],
        "cmvig_dose": dose.astype(str).astype(object),
        "cmvig_dose_unit": np.array([p[1] for p in PRODUCTS], dtype=object)[product],
        "cmvig_interval_days": _pick(rng, INTERVAL_DAYS, n),
        "antivirals_at_cmvig": _drug_lists(rng, refractory, N_DRUGS_AT_CMVIG),
        "cmv_disease_at_cmvig": _pick(rng, CMV_DISEASE, n),
        "agvhd_grade_at_cmvig": grade,
        "steroids_at_cmvig": np.where(steroids, "yes", "no").astype(object),
        "resistance_testing": resistance,
    }
    for col in out:
        if col == "cmvig_dose_unit":
            continue
        empty = rng.random(n) < NOT_RECORDED
        out[col] = np.where(empty, "", out[col]).astype(object)
        if col == "cmvig_dose":  # no dose, no unit
            out["cmvig_dose_unit"] = np.where(empty, "", out["cmvig_dose_unit"]).astype(object)
    return out


# A new anti-CMV therapy after CMVIG (contract: new_anticmv_therapy and its date), drawn for
# about one child in eight, from day 7 on; some start before a later response.
NEW_THERAPIES = (("maribavir", 4), ("foscarnet", 3), ("cmv-specific t cells", 2),
                 ("maribavir;foscarnet", 1))
NEW_THERAPY_SHARE = 0.12


def _new_therapy_columns(rng: np.random.Generator, start: np.ndarray,
                         fu: np.ndarray) -> dict[str, np.ndarray]:
    """``new_anticmv_therapy`` and its date, between day 7 and the last follow-up."""
    n = len(fu)
    given = (rng.random(n) < NEW_THERAPY_SHARE) & (fu >= 7)
    day = 7 + (rng.random(n) * np.maximum(fu - 7, 0)).astype(int)
    return {"new_anticmv_therapy": np.where(given, _pick(rng, NEW_THERAPIES, n), ""
                                            ).astype(object),
            "new_anticmv_therapy_date": np.where(given, _dates(start, day), "").astype(object)}


def _transplant_columns(rng: np.random.Generator, patients: pd.DataFrame,
                        loads: pd.DataFrame) -> dict[str, np.ndarray]:
    """The transplant and CMV-history columns (drawn after :func:`_clinical_columns`, from the
    same stream, so that its columns do not change), a few cells of each left empty. The peak
    viral load is the highest result before the first dose in ``loads``; the reaction grade is
    given for the children with a reaction only."""
    n = len(patients)
    refractory = patients["infection_type"].astype(str).str.strip().str.lower().eq("refractory")
    haplo = patients["donor_type"].eq("Haploidentical").to_numpy()
    value = pd.to_numeric(loads["cmv_dna_iu_ml"].astype(str).str.replace(",", "", regex=False),
                          errors="coerce")
    start = loads["patient_id"].map(patients.set_index("patient_id")["cmvig_start_date"])
    before = value.where(loads["sample_date"] <= start).groupby(loads["patient_id"]).max()
    peak = patients["patient_id"].map(before).to_numpy()
    reacted = patients["infusion_reaction"].eq("yes").to_numpy()
    out = {
        "conditioning_intensity": _pick(rng, CONDITIONING, n),
        "serotherapy": _pick(rng, SEROTHERAPY, n),
        "t_cell_depletion": np.where(haplo, _pick(rng, TCD_HAPLO, n), _pick(rng, TCD_OTHER, n)),
        "cmv_prevention": _pick(rng, PREVENTION, n),
        "chronic_gvhd_at_cmvig": _pick(rng, CHRONIC_GVHD, n),
        # x10^9/L, low after HSCT: log-normal around 0.5
        "lymphocytes_at_cmvig": _as_text(np.round(np.exp(rng.normal(np.log(0.5), 0.7, n)), 2)),
        "prior_cmv_episodes": np.where(refractory, _pick(rng, EPISODES["refractory"], n),
                                       _pick(rng, EPISODES["recurrent"], n)),
        "peak_viral_load_iu_ml": np.array([f"{int(v)}" if v == v else "" for v in peak],
                                          dtype=object),
    }
    for col in out:
        out[col] = np.where(rng.random(n) < NOT_RECORDED, "", out[col]).astype(object)
    out["infusion_reaction_grade"] = np.where(reacted, _pick(rng, REACTION_GRADES, n),
                                              "").astype(object)
    return out


def generate_cohort(
    n: int, seed: int, messy: bool = False, lloq_iu_ml: float = 137, return_truth: bool = False,
    clinical: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame] | tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Patients and viral loads as the contract's text columns (all cells are ``str``).

    ``messy`` adds export mess the contract tolerates (infection_type case and spaces, thousands
    separators, every spelling of below-quantification in any case, a few empty results) on top
    of the very same cohort. With ``return_truth`` a third frame gives ``patient_id``,
    ``responded`` (bool) and ``days_to_response`` (``Int64``, missing for non-responders): what
    the contract's response definition must recover from the files. ``clinical`` adds the
    optional clinical columns (their own random stream: the other columns do not change).
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    if lloq_iu_ml <= 1:
        raise ValueError("lloq_iu_ml must be > 1 IU/mL")
    # Independent streams: the mess draws must not shift the cohort's draws, so a messy cohort
    # has exactly the truth of the clean one with the same seed.
    rng, rng_vl, rng_mess = (np.random.default_rng(s)
                             for s in np.random.SeedSequence(seed).spawn(3))
    ids = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), len(str(n))))
    dx = _idx(rng, np.tile([d[1] for d in DIAGNOSES], (n, 1)))
    lo, mode, hi, p_male = (np.array([d[i] for d in DIAGNOSES])[dx] for i in range(2, 6))
    donor = _idx(rng, np.tile(DONOR_WEIGHTS, (n, 1)))
    graft = _idx(rng, np.asarray(GRAFT_GIVEN_DONOR)[donor])

    hsct = HSCT_FROM + rng.integers(0, int((HSCT_TO - HSCT_FROM).astype(int)), n).astype(
        "timedelta64[D]")
    # CMV reactivation peaks in the first 100 days; salvage therapy comes weeks after that.
    gap = np.clip(14 + rng.gamma(2.0, 30.0, n), 14, 200).astype(int)
    start = hsct + gap.astype("timedelta64[D]")
    refractory = rng.random(n) < 0.5

    # PCR is drawn on a weekly clinic day that need not be the infusion day: the first sample
    # after CMVIG comes on day ``offset`` (1-7), then every 7 days, so response days are not all
    # multiples of 7 (no artificial ties in the Kaplan-Meier curve).
    offset = rng.integers(1, 8, n)
    latent = np.minimum(RESPONSE_MIN + rng.gamma(2.0, 12.0, n), RESPONSE_MAX)
    resp_day = offset + 7 * np.ceil((latent - offset) / 7).astype(int)  # first sample >= latent
    resp_day = np.where(resp_day > RESPONSE_MAX, resp_day - 7, resp_day)
    intends = rng.random(n) < np.where(refractory, 0.6, 0.74)  # refractory responds less

    # Censoring: 10% lost early (10-120 days), the rest followed 300-1500 days; all stopped at
    # the data cutoff.
    cens = np.where(rng.random(n) < 0.1, rng.integers(10, 121, n), rng.integers(300, 1501, n))
    cens = np.minimum(cens, (DATA_CUTOFF - start).astype(int))
    # Deaths cluster early; non-responders die more often. A death after censoring is unseen.
    death_day = (10 + rng.gamma(1.0, 350.0, n)).astype(int)
    died = (rng.random(n) < np.where(intends, 0.24, 0.42)) & (death_day <= cens)
    fu = np.where(died, death_day, cens)
    responded = intends & (resp_day <= fu)  # dying or leaving first means no response seen

    # CMV deaths only among non-responders: the PCR series stays positive until death.
    cmv_death = died & ~responded & (rng.random(n) < 0.35)
    cause = np.where(cmv_death, _pick(rng, CMV_CAUSES, n), _pick(rng, OTHER_CAUSES, n))
    # CMVIG is given every few days, so a short follow-up caps the number of doses.
    doses = np.clip(np.minimum(1 + rng.poisson(3.0, n), 1 + fu // 3), 1, 12)
    infection = np.where(refractory, "refractory", "recurrent").astype(object)

    patients = pd.DataFrame({
        "patient_id": ids,
        "sex": np.where(rng.random(n) < p_male, "M", "F"),
        "age_at_hsct": np.round(rng.triangular(lo, mode, hi), 1).astype(str),
        "diagnosis": np.array([d[0] for d in DIAGNOSES], dtype=object)[dx],
        "donor_type": np.asarray(DONORS, dtype=object)[donor],
        "graft_source": np.asarray(GRAFTS, dtype=object)[graft],
        "cmv_serostatus": _pick(rng, SEROSTATUS, n),
        "hsct_date": np.datetime_as_string(hsct, unit="D"),
        "infection_type": _messy_labels(rng_mess, infection) if messy else infection,
        "prior_antivirals": _drug_lists(rng, refractory),
        "cmvig_start_date": np.datetime_as_string(start, unit="D"),
        "cmvig_doses": doses.astype(str),
        "infusion_reaction": np.where(rng.random(n) < 0.02, "yes", "no"),
        "last_followup_date": _dates(start, fu),
        "status": np.where(died, "dead", "alive"),
        "cause_of_death": np.where(died, cause, ""),
        "cmv_related_death": np.where(died, np.where(cmv_death, "yes", "no"), ""),
    }).astype(object)
    if clinical:
        # a fourth stream: the first three are those of SeedSequence(seed).spawn(3)
        rng_clinical = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
        patients = patients.assign(**_clinical_columns(rng_clinical, refractory))
    viral_loads = _viral_loads(rng_vl, rng_mess if messy else None, ids, start, gap, fu,
                               offset, np.where(intends, resp_day, -1), refractory, lloq_iu_ml)
    if clinical:
        patients = patients.assign(**_transplant_columns(rng_clinical, patients, viral_loads))
        # a fifth stream, so that the clinical columns above do not change
        rng_new = np.random.default_rng(np.random.SeedSequence(seed).spawn(5)[4])
        patients = patients.assign(**_new_therapy_columns(rng_new, start, fu))
    if not return_truth:
        return patients, viral_loads
    days = pd.Series(resp_day, dtype="Int64").where(responded, pd.NA)
    truth = pd.DataFrame({"patient_id": ids, "responded": responded, "days_to_response": days})
    return patients, viral_loads, truth


def _viral_loads(rng: np.random.Generator, mess: np.random.Generator | None, ids: np.ndarray,
                 start: np.ndarray, gap: np.ndarray, fu: np.ndarray, offset: np.ndarray,
                 resp_day: np.ndarray, refractory: np.ndarray, lloq: float) -> pd.DataFrame:
    """The PCR series. ``resp_day`` is the intended response day (-1: never); a response after
    ``fu`` is simply never sampled. ``mess`` (a generator) turns export mess on."""
    n = len(ids)
    intends = resp_day > 0
    # Two or three weekly samples before CMVIG (the rise that prompted it), never in the first
    # week after HSCT. Half the recurrent infections also show the sample that had cleared the
    # previous episode (below LLOQ, day <= -14): a result the response rule must ignore.
    cleared = ~refractory & (rng.random(n) < 0.5)
    want = 2 + (rng.random(n) < 0.5) + cleared
    n_pre = np.minimum(want, (offset + gap - 7) // 7)
    cleared &= n_pre == want
    # Weekly until the response plus 1-2 confirmatory samples, or for 16 weeks while DNAemia
    # persists; then monthly until the last follow-up.
    weekly_end = np.where(intends, resp_day + 7 * rng.integers(1, 3, n), WEEKLY_UNTIL_DAY)
    n_post = (np.minimum(weekly_end, fu) - offset) // 7 + 1  # fu >= 10 > offset: at least one
    last_weekly = offset + 7 * (n_post - 1)
    n_weekly = n_pre + n_post
    n_monthly = np.where(intends, 0, (fu - last_weekly) // 28)
    counts = n_weekly + n_monthly
    pat = np.repeat(np.arange(n), counts)
    j = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    nw = n_weekly[pat]
    day = np.where(j < nw, offset[pat] + 7 * (j - n_pre[pat]), last_weekly[pat] + 28 * (j - nw + 1))

    # Starting load (log10 IU/mL) at CMVIG, 10^3-10^6. Responders cannot fall much faster than
    # ~0.2 log/day (CMV DNA half-life ~1.5 days), so early responders start lower.
    log_lloq = np.log10(lloq)
    lo = max(3.0, log_lloq + 0.5)
    hi = np.maximum(np.minimum(6.0, log_lloq + 0.2 * np.maximum(resp_day, 7)), lo + 0.2)
    log0 = np.where(intends, rng.uniform(lo, hi), rng.uniform(max(3.5, lo), max(6.0, lo + 0.5), n))
    # Non-responders drift towards a persistent low-level DNAemia that never clears.
    level = rng.uniform(log_lloq + 0.4, log_lloq + 1.5, n)
    tau = rng.uniform(30.0, 200.0, n)
    floor = np.log10(lloq * 1.6)

    t = np.maximum(day, 0).astype(float)
    rday, l0 = resp_day[pat], log0[pat]
    # Log-linear: recurrent infections rose steeply into CMVIG, refractory ones crept up despite
    # antivirals; responders fall from l0 to just above the LLOQ at the sample before response.
    rising = l0 + np.where(refractory[pat], 0.2, 0.6) * np.minimum(day, 0) / 7
    falling = l0 - (l0 - floor) * np.minimum(t / np.maximum(rday - 7, 1), 1)
    plateau = level[pat] + (l0 - level[pat]) * np.exp(-t / tau[pat])
    # Persistent DNAemia fluctuates more than a clearing one.
    sd = np.where(intends[pat] | (day <= 0), 0.12, 0.25)
    log_value = (np.where(day <= 0, rising, np.where(rday > 0, falling, plateau))
                 + rng.normal(0.0, 1.0, len(day)) * sd)
    # Every result not meant as a response stays >= 1.2 x LLOQ, so the truth is exact. Reflect
    # at that bound rather than clip, so no pile of identical values sits on it.
    bound = np.log10(1.2 * lloq)
    log_value = np.where(log_value < bound, 2 * bound - log_value, log_value)
    value = np.maximum(_three_figures(log_value), int(np.ceil(lloq * 1.2)))
    below = (intends[pat] & (day >= rday)) | (cleared[pat] & (j == 0))
    # A quarter of below-LLOQ results come as the number the assay measured (detected, not
    # quantifiable): the contract's "numerically < lloq" branch of the response rule.
    as_number = below & (rng.random(len(day)) < 0.25)
    value[as_number] = rng.integers(max(1, int(lloq) // 4), int(np.ceil(lloq)), as_number.sum())

    if mess is None:
        text = _as_text(value)
        text[below & ~as_number] = f"<{lloq:g}"
    else:
        big = (value >= 1000) & (mess.random(len(value)) < 0.1)
        text = np.where(big, _as_text(value, "{:,}".format), _as_text(value))
        cased = [s.format(f"{lloq:g}") for s in BELOW_QUANT]
        spellings = np.array([f(s) for s in cased for f in (str, str.lower, str.upper, str.title)],
                             dtype=object)
        words = below & ~as_number
        text[words] = spellings[mess.integers(0, len(spellings), words.sum())]
        # A few empty cells, never on the response-day sample (the outcome must not change).
        empty = (mess.random(len(text)) < 0.005) & ~(below & (day == rday))
        text[empty] = ""
    return pd.DataFrame({
        "patient_id": ids[pat],
        "sample_date": _dates(start[pat], day),
        "cmv_dna_iu_ml": text,
    }).astype(object)


def _fix_xlsx_timestamps(path: Path) -> None:
    # openpyxl stamps the zip entries and docProps/core.xml with the current time: pin both so
    # an .xlsx is as byte-reproducible as a CSV.
    with zipfile.ZipFile(path) as zin:
        entries = [(i.filename, zin.read(i)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2000-01-01T00:00:00Z", data)
            zout.writestr(zipfile.ZipInfo(name, (2000, 1, 1, 0, 0, 0)), data,
                          compress_type=zipfile.ZIP_DEFLATED)


def write_cohort(patients: pd.DataFrame, viral_loads: pd.DataFrame, out_dir: str | Path,
                 fmt: str = "csv") -> tuple[Path, Path]:
    """Write ``patients.<fmt>`` and ``viral_loads.<fmt>`` (``csv`` or ``xlsx``) into ``out_dir``.

    Returns the two paths. Cells are written as text, so the files read back unchanged.
    """
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"format must be csv or xlsx, not {fmt!r}")
    if fmt == "xlsx" and len(viral_loads) > XLSX_MAX_ROWS:
        raise ValueError(f"{len(viral_loads):,} rows do not fit one Excel sheet; use csv")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = out / f"patients.{fmt}", out / f"viral_loads.{fmt}"
    for df, path in zip((patients, viral_loads), paths, strict=True):
        if fmt == "xlsx":
            df.to_excel(path, index=False)
            _fix_xlsx_timestamps(path)
        else:
            df.to_csv(path, index=False, lineterminator="\n")
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m cmvig_report.devtools.synth",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, required=True, help="number of patients")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--messy", action="store_true", help="add export-style mess")
    parser.add_argument("--clinical", action="store_true",
                        help="add the optional clinical columns of the contract")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--lloq", type=float, default=137.0, help="LLOQ in IU/mL (default 137)")
    args = parser.parse_args(argv)
    try:
        patients, viral_loads = generate_cohort(args.n, args.seed, args.messy, args.lloq,
                                                clinical=args.clinical)
        p, v = write_cohort(patients, viral_loads, args.out, args.format)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(patients):,} patients -> {p}; {len(viral_loads):,} PCR results -> {v}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
