"""Rule pooled (workflow/rules/centres.smk)."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.centres.pooled_report import run_publish_pooled
from cmvig_report.core.step import run

run(snakemake, run_publish_pooled)
