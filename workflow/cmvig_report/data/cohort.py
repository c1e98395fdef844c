"""Stage 1: validate the raw exports against the contract, clean them, derive the analysis cohort.

Validation is a table of vectorised rules (one boolean mask per rule) rather than a schema
library: each rule must report the spreadsheet row, ``patient_id``, column and the value exactly
as typed, every problem is collected before anything is written, and the stage must clean
50,000 patients in seconds. ``pandera`` was tried for this and dropped: it is slow to import
(docs/performance.md) and its failure cases still needed re-mapping to rows, ids and raw values,
which is most of this module and the ``cohort_*`` modules it calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..core.io import EXCEL_SUFFIXES, excel_number_cells, read_export, write_csv
from ..errors import DataError, PipelineError, Problem
from ..paths import DISCLOSURE_LOG
from .cohort_cells import (
    DATE_COLUMNS,
    SERIAL_NUMBER,
    VIRAL_LOAD_COLUMNS,
    ExcelNumbers,
    missing_columns,
)
from .cohort_derive import OTHER_CAUSE, derive_cohort, lasting_study_numbers, read_study_numbers
from .cohort_patients import validate_patients
from .cohort_viral_loads import samples_after_death, validate_viral_loads
from .quality import parse_study_period, plausibility, summary_line


@dataclass
class CleanCohort:
    """The outputs of the cohort stage."""

    cohort: pd.DataFrame
    viral_loads: pd.DataFrame
    cleaning_log: pd.DataFrame
    data_quality: pd.DataFrame



def _serial_cells(path: str | Path, raw: pd.DataFrame, sheet: str | int,
                  columns: Sequence[str]) -> ExcelNumbers | None:
    """For an ``.xlsx`` whose date columns hold bare numbers: the cells stored as numbers.
    None for a CSV, or when no such value is there (the common case: the workbook is not
    read a second time)."""
    if Path(path).suffix.lower() not in EXCEL_SUFFIXES:
        return None
    suspect = [col for col in columns if col in raw.columns
               and raw[col].str.strip().str.match(SERIAL_NUMBER).any()]
    if not suspect:
        return None
    flags, epoch = excel_number_cells(path, sheet, suspect)
    return ExcelNumbers({col: pd.Series((cells + [False] * len(raw))[:len(raw)],
                                        index=raw.index, dtype=bool)
                         for col, cells in flags.items()}, epoch)


def clean_cohort(patients_path: str | Path, viral_loads_path: str | Path, lloq_iu_ml: float,
                 sheet: str | int = 0, *,
                 cause_categories: Mapping[str, Sequence[str]] | None = None,
                 study_period: tuple[str, str] | None = None,
                 below_lloq_spellings: Sequence[str] | None = None) -> CleanCohort:
    """Read, validate and clean both exports; raise DataError listing every problem found.

    ``cause_categories`` is the config's vocabulary of causes of death; ``study_period``
    (first and last month) is checked by the plausibility checks when given;
    ``below_lloq_spellings`` are the texts read as below quantification (default
    :data:`BELOW_LLOQ_SPELLINGS`).
    """
    p_file, v_file = str(patients_path), str(viral_loads_path)
    raw_p = read_export(patients_path, sheet)
    raw_v = read_export(viral_loads_path, sheet)
    problems: list[Problem] = []
    try:
        patients, pc = validate_patients(
            raw_p, p_file, _serial_cells(patients_path, raw_p, sheet, DATE_COLUMNS))
        problems += pc.problems
        logs = pc.log
    except DataError as exc:  # header problems: still report the other file's header too
        problems += exc.problems
        patients, logs = None, []
    if patients is not None:
        try:
            vl, vc = validate_viral_loads(
                raw_v, v_file, patients["patient_id"], lloq_iu_ml, below_lloq_spellings,
                _serial_cells(viral_loads_path, raw_v, sheet, ["sample_date"]))
            problems += vc.problems
            logs += vc.log
        except DataError as exc:
            problems += exc.problems
    else:
        problems += missing_columns(raw_v, VIRAL_LOAD_COLUMNS, v_file)
    if not problems:
        problems += samples_after_death(patients, vl, v_file)
    if problems:
        raise DataError(problems)
    cohort, vl = derive_cohort(patients, vl, cause_categories)
    log_columns = ["file", "row", "patient_id", "column", "before", "after", "reason"]
    log = (pd.concat(logs, ignore_index=True) if logs else pd.DataFrame(columns=log_columns))
    log = log.sort_values(["file", "row", "column", "reason"], kind="stable")[log_columns]
    findings = plausibility(cohort, vl, study_period)
    return CleanCohort(cohort, vl, log.reset_index(drop=True), findings)


def run_cohort(*, patients: str, viral_loads: str, sheet: str | int, lloq: float,
               cause_categories: Mapping[str, Sequence[str]], study_period: str, cohort: str,
               clean_viral_loads: str, cleaning_log: str, data_quality: str,
               study_number_map: str, compare_with: str = "",
               below_lloq_spellings: Sequence[str] | None = None) -> list[str]:
    """Step ``clean_cohort``: clean the exports and write the result files (all or none).

    ``study_period`` is ``YYYY-MM/YYYY-MM``, or empty when it is taken from the data. With
    ``compare_with`` (a previous freeze) returning patients keep their study numbers.
    """
    if float(lloq) <= 0:
        raise PipelineError(f"lloq_iu_ml must be > 0, got {lloq}")
    try:
        period = parse_study_period(study_period)
    except ValueError as exc:
        raise PipelineError(str(exc)) from None
    result = clean_cohort(patients, viral_loads, float(lloq), sheet,
                          cause_categories=cause_categories, study_period=period,
                          below_lloq_spellings=below_lloq_spellings)
    c = result.cohort
    previous = read_study_numbers(compare_with)
    c["study_number"], assigned = lasting_study_numbers(c, previous)
    numbers = c[["patient_id", "study_number"]].assign(assigned_in=assigned)
    write_csv(c, cohort)
    write_csv(result.viral_loads, clean_viral_loads)
    write_csv(result.cleaning_log, cleaning_log)
    write_csv(result.data_quality, data_quality)
    write_csv(numbers.sort_values("study_number"), study_number_map)
    notes = [
        f"{len(c)} patients, {len(result.viral_loads)} viral-load results kept, "
        f"{len(result.cleaning_log)} changes logged; {int(c['responded'].sum())} responders",
        summary_line(result.data_quality),
    ]
    if compare_with and not previous:
        notes.append(f"{compare_with} has no study-number map: numbers assigned afresh")
    unmapped = c.loc[~c["cause_of_death_mapped"], "cause_of_death"]
    if len(unmapped):
        notes.append(f"{len(unmapped)} cause(s) of death not in cause_of_death_categories "
                     f"print as '{OTHER_CAUSE}' (listed in {DISCLOSURE_LOG})")
    return notes
