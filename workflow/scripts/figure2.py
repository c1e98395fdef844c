"""Rule figure2: Figure 2, response and survival curves."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.figures.figure2 import run_figure2

run(snakemake, run_figure2)
