# Shared by every rule file: the validated config, the settings derived from it, the paths
# module (workflow/cmvig_report/paths.py), which names every file once, and the code each rule
# runs (codebase.stage_code(rule): its script and the package modules it imports, its `code`
# input, so an edit re-runs the steps it touches).
import sys

from cmvig_report import paths
from cmvig_report.core import config_check, settings
from cmvig_report.release import codebase
from cmvig_report.journals.journal import unchecked_warning as journal_profile_warning


# Every key a setting of the right type, every file, folder and name the config gives there
# (exports, centres sheet, freeze, bundles, journal, style, metadata, bibliography): else one
# line per problem and exit 1, before any job. Snakemake itself keeps a job whose outputs
# exist even when an input named by the config is gone, and dumps the schema on a typo.
config_check.stop_on_problems(config)

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

# The files of the submission package this config's journal asks for (names in
# report/submission/): published by publish_submission, kept by publish while they are this
# build's.
SUBMISSION_FILES = settings.submission_files(config)
SUBMISSION_PUBLISHED = [paths.published(f"{paths.SUBMISSION}/{name}") for name in SUBMISSION_FILES]

# Many centres (config `centres`, docs/centres.md): the sheet, its rows checked above against
# workflow/schemas/centres.schema.yaml as a Snakemake sample sheet is.
CENTRE_SHEET = settings.centre_sheet(config["centres"])
CENTRES = [] if CENTRE_SHEET is None else list(CENTRE_SHEET["centre"])

# Every export this build cleans, as a sample sheet: the config's own export (centre_dir "")
# and each centre of the sheet (centre_dir "centres/<centre>/"), each with the config a build
# of its files alone would have. One chain of rules serves them all: each names its files with
# the wildcard {centre_dir} (paths.for_centre) and reads its export's settings from here.
EXPORTS = settings.exports(config, CENTRE_SHEET)
CD = paths.CENTRE_DIR
# export_value(key): a rule's input or param, the setting of the export its job is for
export_value = settings.per_export(EXPORTS)


# What the other steps publish into an export's report folder before its publish step writes
# the manifest, by centre_dir: in report/, each centre's bundle and manifest (which lists the
# centre's report) and, when bundles are pooled, the pooled manuscript; in
# report/centres/<centre>/, the centre's bundle (report_folder.py says who owns what).
POOLING = bool(CENTRES or config["pooled_from"])
OTHER_PUBLISHED = {
    "": [paths.published(paths.AGGREGATE, paths.centre_dir(c)) for c in CENTRES]
    + [paths.for_centre(paths.MANIFEST, paths.centre_dir(c)) for c in CENTRES]
    + (
        [
            paths.published(p)
            for p in (
                paths.POOLED_MANUSCRIPT,
                paths.POOLED_MANUSCRIPT_PDF,
                paths.POOLED_MANUSCRIPT_DOCX,
                paths.POOLED_NUMBERS,
            )
        ]
        if POOLING
        else []
    ),
    **{
        paths.centre_dir(c): [paths.published(paths.AGGREGATE, paths.centre_dir(c))]
        for c in CENTRES
    },
}
# Each centre's report folder, which that centre's own publish step tidies and lists.
CENTRE_REPORTS = [paths.published(paths.centre_dir(c)).rstrip("/") for c in CENTRES]
