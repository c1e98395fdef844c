"""Rule centre_cohort (workflow/rules/centres.smk)."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.cohort import run_cohort
from cmvig_report.step import run

run(snakemake, run_cohort)
