"""Rule publish_submission: the leak check, the copy to report/submission/, the manifest."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.release.publish import run_publish_submission

run(snakemake, run_publish_submission)
