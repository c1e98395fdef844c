"""Rule figure2: Figure 2, response and survival curves."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.figure2 import run_figure2
from cmvig_report.step import run

run(snakemake, run_figure2)
