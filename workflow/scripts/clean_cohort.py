"""Rule clean_cohort: validates and cleans the export."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.data.cohort import run_cohort

run(snakemake, run_cohort)
