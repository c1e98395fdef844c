"""Seedable synthetic cohorts that follow the input contract, at any size.

    python -m cmvig_report.synth --n 50000 --seed 1 --out DIR [--messy] [--format csv|xlsx]

writes ``DIR/patients.csv`` and ``DIR/viral_loads.csv``. Everything is vectorised with NumPy so
50,000 patients (~900,000 PCR results) take a few seconds. The same seed gives the same bytes.

Patients are invented: distributions are plausible for paediatric allogeneic HSCT, not fitted to
any registry. Responders fall log-linearly to below the LLOQ on their response day (a weekly
sample day); non-responders stay above it after CMVIG, so the contract's response definition
recovers the generator's truth exactly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

DIAGNOSES = (
    ("Acute lymphoblastic leukaemia", 0.26), ("Acute myeloid leukaemia", 0.2),
    ("Myelodysplastic syndrome", 0.07), ("Juvenile myelomonocytic leukaemia", 0.04),
    ("Severe aplastic anaemia", 0.09), ("Severe combined immunodeficiency", 0.08),
    ("Fanconi anaemia", 0.05), ("Beta-thalassaemia major", 0.08),
    ("Haemophagocytic lymphohistiocytosis", 0.06), ("Chronic granulomatous disease", 0.04),
    ("Other primary immunodeficiency", 0.03),
)
DONORS = (("Matched sibling", 0.2), ("Matched unrelated", 0.3), ("Mismatched unrelated", 0.15),
          ("Haploidentical", 0.35))
GRAFTS = (("Bone marrow", 0.55), ("Peripheral blood", 0.3), ("Cord blood", 0.15))
SEROSTATUS = (("D+/R+", 0.4), ("D-/R+", 0.4), ("D+/R-", 0.15), ("D-/R-", 0.05))
# (drug, weight): weighted sampling without replacement puts first-line drugs first.
DRUGS = (("ganciclovir", 10.0), ("valganciclovir", 3.0), ("foscarnet", 5.0),
         ("cidofovir", 1.5), ("letermovir", 1.5), ("maribavir", 1.0))
CAUSES = (("Relapse of underlying disease", 0.3), ("Graft-versus-host disease", 0.2),
          ("Bacterial sepsis", 0.15), ("Invasive fungal infection", 0.1),
          ("Multi-organ failure", 0.1), ("CMV pneumonia", 0.15))
BELOW_QUANT_WORDS = ("undetectable", "not detected", "ND", "negative")
WEEKLY_UNTIL_DAY = 112  # weekly PCR for 16 weeks, then monthly
MAX_MONTHLY = 24


def _pick(rng: np.random.Generator, table: tuple, n: int) -> np.ndarray:
    labels, p = zip(*table, strict=True)
    p = np.asarray(p, dtype=float)
    return np.asarray(labels, dtype=object)[rng.choice(len(labels), size=n, p=p / p.sum())]


def _dates(base: np.ndarray, days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(base + days.astype("timedelta64[D]"), unit="D")


def _drug_lists(rng: np.random.Generator, n: int) -> pd.Series:
    names = np.array([d for d, _ in DRUGS], dtype=object)
    weights = np.array([w for _, w in DRUGS])
    keys = rng.random((n, len(names))) ** (1 / weights)  # Efraimidis-Spirakis
    order = np.argsort(-keys, axis=1)
    k = rng.choice([0, 1, 2, 3, 4], size=n, p=[0.02, 0.3, 0.35, 0.23, 0.1])
    cols = [pd.Series(np.where(k > j, names[order[:, j]], ""), dtype=object) for j in range(4)]
    joined = cols[0].str.cat(cols[1:], sep=";")
    return joined.str.replace(r";+", ";", regex=True).str.strip(";")


def _messy_labels(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    out = labels.astype(object).copy()
    pick = rng.random(len(out))
    out[pick < 0.1] = np.char.upper(out[pick < 0.1].astype(str))
    cap = (pick >= 0.1) & (pick < 0.2)
    out[cap] = np.char.capitalize(out[cap].astype(str))
    pad = rng.random(len(out)) < 0.1
    out[pad] = np.char.add(" ", out[pad].astype(str))
    pad = rng.random(len(out)) < 0.1
    out[pad] = np.char.add(out[pad].astype(str), " ")
    return out


def generate_cohort(n: int, seed: int, messy: bool = False, lloq_iu_ml: float = 137,
                    return_truth: bool = False):
    """Patients and viral loads as the contract's text columns (and the truth if asked).

    The truth is a DataFrame with ``patient_id``, ``responded`` and ``days_to_response``.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    rng = np.random.default_rng(seed)
    ids = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), len(str(n))))
    hsct = np.datetime64("2015-01-01") + rng.integers(0, 3650, n).astype("timedelta64[D]")
    gap = np.clip(14 + rng.gamma(2.0, 30.0, n), 14, 200).astype(int)
    start = hsct + gap.astype("timedelta64[D]")
    infection = np.where(rng.random(n) < 0.5, "recurrent", "refractory")

    # Follow-up from CMVIG: some are censored early; deaths end follow-up.
    fu = np.where(rng.random(n) < 0.15, rng.integers(10, 120, n), rng.integers(150, 1500, n))
    died = rng.random(n) < 0.25
    fu = np.where(died, np.minimum(fu, rng.integers(10, 700, n)), fu)
    cause = np.where(died, _pick(rng, CAUSES, n), "")
    cmv = np.where(died, np.where(cause == "CMV pneumonia", "yes", "no"), "")

    # Response on a weekly sample day between day 7 and day 84, and within follow-up.
    raw_day = 7 + rng.gamma(2.0, 12.0, n)
    resp_day = np.clip(np.ceil(raw_day / 7) * 7, 7, 84).astype(int)
    responded = (rng.random(n) < 0.65) & (resp_day <= fu)
    resp_day = np.where(responded, resp_day, -1)

    patients = pd.DataFrame({
        "patient_id": ids,
        "sex": np.where(rng.random(n) < 0.55, "M", "F"),
        "age_at_hsct": np.round(rng.uniform(0.2, 18.0, n), 1).astype(str),
        "diagnosis": _pick(rng, DIAGNOSES, n),
        "donor_type": _pick(rng, DONORS, n),
        "graft_source": _pick(rng, GRAFTS, n),
        "cmv_serostatus": _pick(rng, SEROSTATUS, n),
        "hsct_date": np.datetime_as_string(hsct, unit="D"),
        "infection_type": _messy_labels(rng, infection) if messy else infection,
        "prior_antivirals": _drug_lists(rng, n),
        "cmvig_start_date": np.datetime_as_string(start, unit="D"),
        "cmvig_doses": np.clip(1 + rng.poisson(3.0, n), 1, 12).astype(str),
        "infusion_reaction": np.where(rng.random(n) < 0.02, "yes", "no"),
        "last_followup_date": _dates(start, fu),
        "status": np.where(died, "dead", "alive"),
        "cause_of_death": cause,
        "cmv_related_death": cmv,
    })
    viral_loads = _viral_loads(rng, ids, start, fu, resp_day, messy, lloq_iu_ml)
    if not return_truth:
        return patients, viral_loads
    truth = pd.DataFrame({"patient_id": ids, "responded": responded,
                          "days_to_response": pd.array(np.where(responded, resp_day, 0),
                                                       dtype="Int64")})
    truth.loc[~responded, "days_to_response"] = pd.NA
    return patients, viral_loads, truth


def _viral_loads(rng: np.random.Generator, ids: np.ndarray, start: np.ndarray, fu: np.ndarray,
                 resp_day: np.ndarray, messy: bool, lloq: float) -> pd.DataFrame:
    responded = resp_day > 0
    # Weekly samples from day -14; responders stop three weeks after responding.
    weekly_end = np.where(responded, resp_day + 21, WEEKLY_UNTIL_DAY)
    n_weekly = np.minimum(weekly_end, fu) // 7 + 3
    n_monthly = np.where(responded | (fu <= WEEKLY_UNTIL_DAY), 0,
                         np.minimum((fu - WEEKLY_UNTIL_DAY) // 28, MAX_MONTHLY))
    counts = n_weekly + n_monthly
    pat = np.repeat(np.arange(len(ids)), counts)
    j = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    nw = n_weekly[pat]
    day = np.where(j < nw, -14 + 7 * j, WEEKLY_UNTIL_DAY + 28 * (j - nw + 1))

    log0 = rng.uniform(3.0, 6.0, len(ids))[pat]
    noise = rng.normal(0.0, 0.15, len(day))
    rday = resp_day[pat]
    floor = np.log10(lloq * 1.6)
    span = np.maximum(rday - 7, 1)
    falling = log0 - (log0 - floor) * np.clip(day, 0, None) / span
    plateau = log0 - 0.4 * np.minimum(np.clip(day, 0, None), 60) / 60 + 2 * noise
    pre = log0 - 0.25 * (-np.minimum(day, 0) / 7) + noise
    log_value = np.where(day <= 0, pre, np.where(rday > 0, falling + noise, plateau))
    value = np.maximum(np.round(10 ** log_value), np.ceil(lloq * 1.2)).astype(np.int64)
    below = (rday > 0) & (day >= rday)

    text = value.astype(str).astype(object)
    if messy:
        big = (value >= 1000) & (rng.random(len(value)) < 0.3)
        text[big] = [f"{v:,}" for v in value[big]]  # only the ~10% of rows that get a comma
        spellings = np.array([f"<{lloq:g}", f"< {lloq:g}", *BELOW_QUANT_WORDS,
                              "Not Detected", "NEGATIVE", "nd"], dtype=object)
        text[below] = spellings[rng.integers(0, len(spellings), below.sum())]
        # a few empty cells, never on a response-day sample (the outcome must not change)
        empty = (rng.random(len(text)) < 0.005) & ~(below & (day == rday))
        text[empty] = ""
    else:
        text[below] = f"<{lloq:g}"
    return pd.DataFrame({
        "patient_id": ids[pat],
        "sample_date": _dates(start[pat], day),
        "cmv_dna_iu_ml": text,
    })


def write_cohort(patients: pd.DataFrame, viral_loads: pd.DataFrame, out_dir: str | Path,
                 fmt: str = "csv") -> tuple[Path, Path]:
    """Write both files (CSV or .xlsx) and return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = out / f"patients.{fmt}", out / f"viral_loads.{fmt}"
    for df, path in zip((patients, viral_loads), paths, strict=True):
        if fmt == "xlsx":
            df.to_excel(path, index=False)
        else:
            df.to_csv(path, index=False, lineterminator="\n")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmvig_report.synth",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, required=True, help="number of patients")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--messy", action="store_true", help="add export-style mess")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--lloq", type=float, default=137.0)
    args = parser.parse_args(argv)
    patients, viral_loads = generate_cohort(args.n, args.seed, args.messy, args.lloq)
    p, v = write_cohort(patients, viral_loads, args.out, args.format)
    print(f"{len(patients):,} patients -> {p}; {len(viral_loads):,} PCR results -> {v}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
