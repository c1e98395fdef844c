"""Rebuild the shipped synthetic cohort in data/raw/ (run from the repository root).

The 15 patients are invented. Each one was chosen by hand so that, together, they reproduce every
aggregate of the published abstract (see data/README.md); the viral loads follow from the chosen
response days with log-linear kinetics. A few cells are written the way a hospital export writes
them (stray spaces, mixed case, thousands separators, every spelling of "below quantification",
one empty result) so that the cleaning stage has real work to do.

    python data/reconstruction/build_shipped_cohort.py
"""

from __future__ import annotations

import csv
import hashlib
import math
from datetime import date, timedelta
from pathlib import Path

OUT = Path("data/raw")

# id, sex, age, diagnosis, donor, graft, serostatus, hsct, infection type as exported,
# prior antivirals as exported, days HSCT->CMVIG, doses, response day (None = no response),
# days CMVIG->last follow-up, cause of death ("" = alive), CMV-related, viral load at CMVIG
PATIENTS = [
    ("P01", "F", 4.2, "Acute lymphoblastic leukaemia", "Matched unrelated", "Bone marrow", "D-/R+",
     "2018-05-14", "recurrent", "Ganciclovir; Foscarnet", 70, 4, 21, 1577, "", "", 8400),
    ("P02", "M", 11.6, "Acute myeloid leukaemia", "Haploidentical", "Peripheral blood", "D+/R+",
     "2018-09-03", "Refractory", "ganciclovir;foscarnet;cidofovir", 60, 6, None, 70,
     "CMV pneumonia", "yes", 61200),
    ("P03", "M", 2.1, "Severe combined immunodeficiency", "Haploidentical", "Bone marrow", "D-/R+",
     "2019-01-20", " Recurrent", "ganciclovir", 90, 3, 21, 85, "Bacterial sepsis", "no", 3900),
    ("P04", "F", 8.9, "Severe aplastic anaemia", "Matched unrelated", "Bone marrow", "D+/R+",
     "2019-03-11", "refractory", "valganciclovir;ganciclovir;foscarnet", 110, 5, 35, 160,
     "Acute graft-versus-host disease", "no", 27500),
    ("P05", "M", 15.3, "Acute myeloid leukaemia", "Mismatched unrelated", "Peripheral blood",
     "D-/R+", "2019-06-17", "recurrent", "ganciclovir;foscarnet", 75, 4, None, 330,
     "Relapse of leukaemia", "no", 12300),
    ("P06", "F", 6.5, "Acute lymphoblastic leukaemia", "Mismatched unrelated", "Cord blood",
     "D-/R+", "2019-09-30", "RECURRENT", "ganciclovir", 45, 3, 14, 1180, "", "", 2100),
    ("P07", "M", 1.4, "Haemophagocytic lymphohistiocytosis", "Haploidentical", "Bone marrow",
     "D+/R+", "2019-12-02", "refractory ", "ganciclovir;foscarnet", 52, 5, 28, 1090, "", "", 15800),
    ("P08", "F", 13.0, "Myelodysplastic syndrome", "Matched unrelated", "Peripheral blood", "D-/R+",
     "2020-02-17", "recurrent", "valganciclovir;ganciclovir", 88, 6, 42, 980, "", "", 33400),
    ("P09", "M", 9.7, "Fanconi anaemia", "Matched unrelated", "Bone marrow", "D+/R+",
     "2020-05-25", "refractory", "ganciclovir;foscarnet;letermovir", 64, 8, None, 870, "", "",
     45100),
    ("P10", "F", 3.3, "Juvenile myelomonocytic leukaemia", "Mismatched unrelated", "Cord blood",
     "D-/R+", "2020-08-10", "Recurrent", "ganciclovir", 38, 3, 28, 760, "", "", 5200),
    ("P11", "M", 16.8, "Acute lymphoblastic leukaemia", "Haploidentical", "Peripheral blood",
     "D+/R+", "2020-11-09", "refractory", "ganciclovir;foscarnet", 95, 4, 21, 690, "", "", 9700),
    ("P12", "F", 0.8, "Severe combined immunodeficiency", "Haploidentical", "Bone marrow", "D-/R+",
     "2021-02-01", "recurrent", "ganciclovir;maribavir", 57, 7, None, 600, "", "", 21900),
    ("P13", "M", 12.4, "Beta-thalassaemia major", "Matched sibling", "Bone marrow", "D-/R+",
     "2021-04-19", "REFRACTORY", "valganciclovir;foscarnet", 71, 5, 45, 520, "", "", 18600),
    ("P14", "F", 7.1, "Acute myeloid leukaemia", "Haploidentical", "Peripheral blood", "D+/R+",
     "2021-07-05", "refractory", "ganciclovir;foscarnet;cidofovir", 84, 9, None, 450, "", "",
     72300),
    ("P15", "M", 10.2, "Chronic granulomatous disease", "Matched unrelated", "Bone marrow ",
     "D-/R+", "2021-09-13", "recurrent", "", 66, 3, 49, 420, "", "", 6800),
]
# Every spelling of "below quantification" the contract allows, used in turn.
BELOW_QUANT = ["<137", "< 137", "undetectable", "Not detected", "ND", "negative", "<137"]
NON_RESPONDER_PATTERN = [1.0, 0.7, 0.45, 0.5, 0.35, 0.4, 0.3, 0.45, 0.35, 0.3, 0.4, 0.35]


def _fmt_load(value: float, thousands: bool) -> str:
    n = int(round(value, -1)) if value >= 1000 else int(round(value))
    return f"{n:,}" if thousands and n >= 1000 else str(n)


def viral_load_rows(pid: str, cmvig: date, load0: float, response_day: int | None,
                    followup: int, k: int) -> list[list[str]]:
    """Weekly PCR from two weeks before CMVIG; responders fall log-linearly to below LLOQ."""
    rows: list[list[str]] = []
    days = [-14, -7, 0]
    if response_day is not None:
        days += list(range(7, response_day, 7)) + [response_day, response_day + 14]
    else:
        days += list(range(7, min(followup, 84) + 1, 7))
        days += list(range(112, followup + 1, 28))[:4]
    days = [d for d in days if d <= followup]
    for i, day in enumerate(days):
        if day < 0:
            value = load0 * (0.35 if day == -14 else 0.7)
            text = _fmt_load(value, thousands=(i + k) % 3 == 0)
        elif response_day is None:
            value = load0 * NON_RESPONDER_PATTERN[min(i - 2, len(NON_RESPONDER_PATTERN) - 1)]
            value *= 1 + 0.25 * math.sin(1.7 * i + k)  # assay and biological variation
            text = _fmt_load(max(value, 420.0), thousands=(i + k) % 2 == 0)
        elif day >= response_day:
            text = BELOW_QUANT[(k + i) % len(BELOW_QUANT)]
        else:
            # log-linear decline from load0 at day 0 to ~200 IU/mL one week before response
            last = max(d for d in days if d < response_day)
            frac = day / last if last else 1.0
            value = math.exp(math.log(load0) + frac * (math.log(210.0) - math.log(load0)))
            text = _fmt_load(value, thousands=(i + k) % 2 == 0)
        rows.append([pid, (cmvig + timedelta(days=day)).isoformat(), text])
    return rows


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    header = ["patient_id", "sex", "age_at_hsct", "diagnosis", "donor_type", "graft_source",
              "cmv_serostatus", "hsct_date", "infection_type", "prior_antivirals",
              "cmvig_start_date", "cmvig_doses", "infusion_reaction", "last_followup_date",
              "status", "cause_of_death", "cmv_related_death"]
    patient_rows, vl_rows = [], []
    for k, p in enumerate(PATIENTS):
        (pid, sex, age, dx, donor, graft, sero, hsct, itype, drugs, d_cmvig, doses, resp,
         followup, cause, cmv_rel, load0) = p
        hsct_d = date.fromisoformat(hsct)
        cmvig = hsct_d + timedelta(days=d_cmvig)
        last = cmvig + timedelta(days=followup)
        patient_rows.append([pid, sex, f"{age:.1f}", dx, donor, graft, sero, hsct, itype, drugs,
                             cmvig.isoformat(), str(doses), "no", last.isoformat(),
                             "dead" if cause else "alive", cause, cmv_rel])
        vl_rows += viral_load_rows(pid, cmvig, float(load0), resp, followup, k)
    # A result cell left empty in the export (a pre-CMVIG sample, so no outcome depends on it):
    # the cleaning stage drops it and logs the drop.
    empty = next(r for r in vl_rows if r[0] == "P09")
    empty[2] = ""
    with open(OUT / "patients.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(patient_rows)
    with open(OUT / "viral_loads.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["patient_id", "sample_date", "cmv_dna_iu_ml"])
        w.writerows(vl_rows)
    # The pipeline compares its inputs with these to warn when the study (config `study`) and
    # the cohort disagree: the paper's numbers belong to this cohort only.
    sums = [f"{hashlib.sha256((OUT / name).read_bytes()).hexdigest()}  data/raw/{name}\n"
            for name in ("patients.csv", "viral_loads.csv")]
    (Path(__file__).parent / "SHA256SUMS").write_text("".join(sums), encoding="utf-8")


if __name__ == "__main__":
    main()
