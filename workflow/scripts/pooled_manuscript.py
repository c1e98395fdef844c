"""Rule pooled_manuscript (workflow/rules/centres.smk)."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.centres.pooled_report import run_pooled_manuscript
from cmvig_report.core.step import run

run(snakemake, run_pooled_manuscript)
