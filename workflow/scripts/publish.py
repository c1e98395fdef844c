"""Rule publish: the leak check, then the copy to report/, then the manifest."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.release.publish import run_publish_and_manifest

run(snakemake, run_publish_and_manifest)
