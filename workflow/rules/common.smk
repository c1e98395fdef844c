# Shared by every rule file: the validated config, the settings derived from it, and the paths
# module (workflow/cmvig_report/paths.py), which names every file once.
from snakemake.utils import validate

from cmvig_report import paths, settings


validate(config, "../schemas/config.schema.yaml")

REPLICATION = settings.replication_check(config)
LINE_NUMBERS = settings.line_numbers(config)
STUDY_PERIOD = settings.study_period(config)  # (window or "" when taken from the data, source)
SHIPPED = settings.is_shipped_cohort(config)
COMPARE_WITH = str(config["compare_with"] or "")
FORMATS = settings.report_formats(config)
# Every shareable file, by its name under report/ (and under results/unchecked/ before the check).
SHARED_FILES = paths.shared_files(FORMATS, bool(COMPARE_WITH))

