"""Rule centre_bundle (workflow/rules/centres.smk): the bundle, its leak check, report/."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.centres.federated import run_bundle
from cmvig_report.core.step import run

run(snakemake, run_bundle)
