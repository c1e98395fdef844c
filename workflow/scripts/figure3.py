"""Rule figure3: Figure 3, each child's viral load after the first CMVIG dose."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.figures.figure3 import run_figure3

run(snakemake, run_figure3)
