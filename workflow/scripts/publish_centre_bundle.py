"""Rule publish_centre_bundle (workflow/rules/centres.smk)."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.federated import run_publish_bundle
from cmvig_report.step import run

run(snakemake, run_publish_bundle)
