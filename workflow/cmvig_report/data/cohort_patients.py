"""Validating the patients export: required and clinical columns, enumerations, dates in
order, and the optional new anti-CMV therapy.
"""

from __future__ import annotations

import pandas as pd

from ..errors import DataError, Problem
from .clinical import (
    CLINICAL_COLUMNS,
    CLINICAL_ENUMS,
    CLINICAL_NUMBERS,
    CTCAE_MAX_GRADE,
    ENUM_HINTS,
)
from .cohort_cells import (
    DATE_COLUMNS,
    ENUMS,
    PATIENT_COLUMNS,
    PLAIN_NUMBER,
    TEXT_COLUMNS,
    THOUSANDS_NUMBER,
    Collector,
    ExcelNumbers,
    dates_or_serials,
    missing_columns,
    parse_dates,
    per_unique,
)
from .endpoints import NEW_THERAPY_COLUMNS


def validate_patients(raw: pd.DataFrame, file: str,
                      serial_dates: ExcelNumbers | None = None
                      ) -> tuple[pd.DataFrame, Collector]:
    """Check every contract rule on the patients export and return the normalised table.

    ``serial_dates``: the cells of date columns an ``.xlsx`` stored as numbers
    (:func:`dates_or_serials`).
    """
    if problems := missing_columns(raw, PATIENT_COLUMNS, file):
        raise DataError(problems)
    if raw.empty:
        raise DataError([Problem(file, None, None, None, None, "the file has no patient rows")])
    s = {c: per_unique(raw[c], lambda u: u.str.strip()) for c in PATIENT_COLUMNS}
    c = Collector(file, raw["patient_id"])
    out = pd.DataFrame(index=raw.index)

    pid = s["patient_id"]
    c.fail(pid.eq(""), "patient_id", raw["patient_id"], "patient_id must not be empty")
    dup = pid.duplicated(keep="first") & pid.ne("")
    c.fail(dup, "patient_id", raw["patient_id"], "duplicate patient_id (each patient once)")
    c.changed("patient_id", raw["patient_id"], pid, "surrounding spaces removed")
    out["patient_id"] = pid

    for col, allowed in ENUMS.items():
        folded = s[col].str.upper() if col == "sex" else s[col].str.lower()
        bad = ~folded.isin(allowed)
        c.fail(bad, col, raw[col], f"must be one of {', '.join(allowed)}")
        c.changed(col, raw[col], folded.where(~bad, raw[col]), "spaces and letter case normalised")
        out[col] = folded

    age = pd.to_numeric(s["age_at_hsct"].where(s["age_at_hsct"].str.match(PLAIN_NUMBER)),
                        errors="coerce")
    c.fail(age.isna(), "age_at_hsct", raw["age_at_hsct"], "must be a number of years >= 0")
    out["age_at_hsct"] = age

    doses = pd.to_numeric(s["cmvig_doses"].where(s["cmvig_doses"].str.match(r"^\d+$")),
                          errors="coerce")
    c.fail(doses.isna() | doses.lt(1), "cmvig_doses", raw["cmvig_doses"],
           "must be a whole number >= 1")
    out["cmvig_doses"] = doses

    for col in DATE_COLUMNS:
        out[col] = dates_or_serials(s[col], raw[col], col, c, serial_dates)
    c.fail(out["cmvig_start_date"] < out["hsct_date"], "cmvig_start_date",
           raw["cmvig_start_date"], "CMVIG start is before hsct_date " + "(must be on or after)")
    c.fail(out["last_followup_date"] < out["cmvig_start_date"], "last_followup_date",
           raw["last_followup_date"], "last follow-up is before cmvig_start_date")

    for col in TEXT_COLUMNS:
        c.changed(col, raw[col], s[col], "surrounding spaces removed")
        out[col] = s[col]
    dead = out["status"].eq("dead")
    alive = out["status"].eq("alive")
    c.fail(dead & s["cause_of_death"].eq(""), "cause_of_death", raw["cause_of_death"],
           "required when status is dead")
    c.fail(alive & s["cause_of_death"].ne(""), "cause_of_death", raw["cause_of_death"],
           "must be empty when status is alive")
    rel = s["cmv_related_death"].str.lower()
    c.fail(dead & ~rel.isin(["yes", "no"]), "cmv_related_death", raw["cmv_related_death"],
           "must be yes or no when status is dead")
    c.fail(alive & rel.ne(""), "cmv_related_death", raw["cmv_related_death"],
           "must be empty when status is alive")
    c.changed("cmv_related_death", raw["cmv_related_death"], rel,
              "spaces and letter case normalised")
    out["cmv_related_death"] = rel

    drugs = _drug_list(s["prior_antivirals"])
    c.changed("prior_antivirals", raw["prior_antivirals"], drugs,
              "drug names trimmed and lower-cased")
    out["prior_antivirals"] = drugs
    _validate_clinical(raw, file, c, out)
    _validate_new_therapy(raw, file, c, out)
    return out, c


def _drug_list(text: pd.Series) -> pd.Series:
    """Drug names separated by ``;``: lower-cased, trimmed, empty names dropped."""
    return per_unique(text, lambda u: (
        u.str.lower().str.replace(r"\s*;\s*", ";", regex=True).str.strip(";")
        .str.replace(r";{2,}", ";", regex=True)))


def _fold_label(text: pd.Series) -> pd.Series:
    # case, runs of spaces and spaces around "+" (UL97 + UL54) do not matter
    return (text.str.casefold().str.split().str.join(" ")
            .str.replace(r"\s*\+\s*", "+", regex=True))


def _validate_clinical(raw: pd.DataFrame, file: str, c: Collector, out: pd.DataFrame) -> None:
    """Check the optional clinical columns the export has and add them to ``out``.

    An absent column is no error; an empty cell is "not recorded". The dose and its unit come
    as a pair: a dose needs its unit, so doses in U/kg are never added to doses in mg/kg.
    """
    given = [col for col in CLINICAL_COLUMNS if col in raw.columns]
    s = {col: per_unique(raw[col], lambda u: u.str.strip()) for col in given}
    for one, other in (("cmvig_dose", "cmvig_dose_unit"), ("cmvig_dose_unit", "cmvig_dose")):
        if one in s and other not in s:
            c.problems.append(Problem(file, 1, None, other, None,
                                      f"column missing from the header: {one} needs it"))
    for col in given:
        text, empty = s[col], s[col].eq("")
        if col in CLINICAL_ENUMS:
            allowed = CLINICAL_ENUMS[col]
            lookup = {_fold_label(pd.Series([a]))[0]: a for a in allowed}
            # a few spellings over many rows: fold each distinct one once
            canonical = per_unique(
                text, lambda u, known=lookup: _fold_label(u).map(known).astype(object))
            c.fail(~empty & canonical.isna(), col, raw[col],
                   f"must be one of {', '.join(allowed)}{ENUM_HINTS.get(col, '')}, or empty")
            value = canonical.where(canonical.notna(), text).fillna("")
            c.changed(col, raw[col], value, "spaces and letter case normalised")
        elif col == "antivirals_at_cmvig":
            value = _drug_list(text)
            c.changed(col, raw[col], value, "drug names trimmed and lower-cased")
        elif col == "cmvig_dose":
            value = pd.to_numeric(text.where(text.str.match(PLAIN_NUMBER)), errors="coerce")
            c.fail(~empty & (value.isna() | value.le(0)), col, raw[col],
                   "must be a number > 0 (the dose per kilogram, unit in cmvig_dose_unit), "
                   "or empty")
        elif col in CLINICAL_NUMBERS:
            value = _clinical_number(text, empty, col, raw[col], c)
        elif col == "cmvig_interval_days":
            value = pd.to_numeric(text.where(text.str.match(r"^\d+$")), errors="coerce")
            c.fail(~empty & (value.isna() | value.lt(1)), col, raw[col],
                   "must be a whole number of days >= 1, or empty")
            value = value.astype("Int64")
        else:  # cmvig_product: free text, printed in Table 1 as written
            value = text
            c.changed(col, raw[col], text, "surrounding spaces removed")
        out[col] = value
    if "infusion_reaction_grade" in s:
        # a grade outside 1-5 is reported once, as such
        graded = out["infusion_reaction_grade"].between(1, CTCAE_MAX_GRADE).fillna(False)
        c.fail(graded & out["infusion_reaction"].ne("yes"), "infusion_reaction_grade",
               raw["infusion_reaction_grade"], "a grade needs infusion_reaction yes: leave it "
               "empty when there was no reaction")
    if "cmvig_dose" in s and "cmvig_dose_unit" in s:
        dose, unit = s["cmvig_dose"].ne(""), s["cmvig_dose_unit"].ne("")
        units = " or ".join(CLINICAL_ENUMS["cmvig_dose_unit"])
        c.fail(dose & ~unit, "cmvig_dose_unit", raw["cmvig_dose_unit"],
               f"required when cmvig_dose is given ({units})")
        c.fail(unit & ~dose, "cmvig_dose_unit", raw["cmvig_dose_unit"],
               "must be empty when cmvig_dose is empty")


def _clinical_number(text: pd.Series, empty: pd.Series, col: str, raw: pd.Series,
                     c: Collector) -> pd.Series:
    """An optional numeric column (``CLINICAL_NUMBERS``): parsed, checked, thousands
    separators removed and logged; empty cells stay missing."""
    rule, whole, lowest, exclusive = CLINICAL_NUMBERS[col]
    pattern = r"^\d+$" if whole else PLAIN_NUMBER
    thousands = text.str.match(THOUSANDS_NUMBER) & (col == "peak_viral_load_iu_ml")
    plain = text.where(~thousands, text.str.replace(",", "", regex=False))
    value = pd.to_numeric(plain.where(plain.str.match(pattern)), errors="coerce")
    too_low = value.le(lowest) if exclusive else value.lt(lowest)
    if col == "infusion_reaction_grade":
        too_low |= value.gt(CTCAE_MAX_GRADE)
    c.fail(~empty & (value.isna() | too_low), col, raw, f"must be {rule}, or empty")
    c.changed(col, raw, plain, "thousands separator removed", mask=thousands)
    return value.astype("Int64") if whole else value.astype(float)



def _validate_new_therapy(raw: pd.DataFrame, file: str, c: Collector,
                          out: pd.DataFrame) -> None:
    """The optional pair ``new_anticmv_therapy`` (drugs, ``;``-separated) and
    ``new_anticmv_therapy_date`` (its first day): a new anti-CMV therapy started after CMVIG,
    which the response analysis can censor or count as a competing event (endpoints.py)."""
    drug_col, date_col = NEW_THERAPY_COLUMNS
    given = [col for col in NEW_THERAPY_COLUMNS if col in raw.columns]
    if not given:
        return
    if len(given) == 1:
        other = date_col if given[0] == drug_col else drug_col
        c.problems.append(Problem(file, 1, None, other, None,
                                  f"column missing from the header: {given[0]} needs it"))
        return
    drugs = _drug_list(per_unique(raw[drug_col], lambda u: u.str.strip()))
    text = per_unique(raw[date_col], lambda u: u.str.strip())
    date = parse_dates(text)
    given_date = text.ne("")
    c.fail(given_date & date.isna(), date_col, raw[date_col],
           "must be a date written YYYY-MM-DD, or empty")
    c.fail(given_date & (date < out["cmvig_start_date"]), date_col, raw[date_col],
           "new therapy before cmvig_start_date (must be on or after)")
    c.fail(given_date & (date > out["last_followup_date"]), date_col, raw[date_col],
           "new therapy after last_followup_date")
    c.fail(drugs.ne("") & ~given_date, date_col, raw[date_col],
           f"required when {drug_col} is given (the therapy's first day)")
    c.fail(drugs.eq("") & given_date, drug_col, raw[drug_col],
           f"required when {date_col} is given (the drugs started)")
    c.changed(drug_col, raw[drug_col], drugs, "drug names trimmed and lower-cased")
    out[drug_col] = drugs
    out[date_col] = date
