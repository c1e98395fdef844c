# Shared by every rule file: the validated config, the settings derived from it, the paths
# module (workflow/cmvig_report/paths.py), which names every file once, and the code each rule
# runs (codebase.stage_code(rule): its script and the package modules it imports, its `code`
# input, so an edit re-runs the steps it touches).
import sys

from snakemake.utils import validate

from cmvig_report import codebase, paths, settings
from cmvig_report.journal import unchecked_warning as journal_profile_warning


validate(config, "../schemas/config.schema.yaml")

# The study reported (config `study`); the shipped cohort's checksum only warns on a mismatch.
REPLICATION = settings.replication(config)
if STUDY_WARNING := settings.study_warning(config):
    print(STUDY_WARNING, file=sys.stderr)
# A journal profile with values not checked against the journal's instructions: one line.
if PROFILE_WARNING := journal_profile_warning(settings.journal_profile(config)):
    print(PROFILE_WARNING, file=sys.stderr)
# (window, or "" when taken from the data; its source)
STUDY_PERIOD = settings.study_period(config)
COMPARE_WITH = str(config["compare_with"] or "")
FORMATS = settings.report_formats(config)
# Every shareable file, by its name under report/ (and under results/unchecked/ before the check).
SHARED_FILES = paths.shared_files(FORMATS, bool(COMPARE_WITH))
# The code of the whole build, checksummed by the provenance record and the manifest.
BUILD_CODE = codebase.build_code()

# Many centres (config `centres`, docs/centres.md): the sheet, validated like a sample sheet.
CENTRE_SHEET = settings.centre_sheet(config["centres"])
if CENTRE_SHEET is not None:
    validate(CENTRE_SHEET, "../schemas/centres.schema.yaml")
CENTRES = [] if CENTRE_SHEET is None else list(CENTRE_SHEET["centre"])

