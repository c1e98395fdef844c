"""Rule submission_package: the journal's submission package, staged for the leak check."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.journals.submission import run_submission

run(snakemake, run_submission)
