"""Rule freeze_changes: patients changed since a previous freeze."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.data.freeze import run_freeze_changes

run(snakemake, run_freeze_changes)
