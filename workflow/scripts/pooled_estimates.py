"""Rule pooled_estimates (workflow/rules/centres.smk)."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.centres.federated import run_pooled
from cmvig_report.core.step import run

run(snakemake, run_pooled)
