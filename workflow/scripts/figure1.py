"""Rule figure1: Figure 1, the cohort flow and each child's course."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.figures.figure1 import run_figure1

run(snakemake, run_figure1)
