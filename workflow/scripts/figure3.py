"""Rule figure3: Figure 3, each child's viral load after the first CMVIG dose."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.figure3 import run_figure3
from cmvig_report.step import run

run(snakemake, run_figure3)
