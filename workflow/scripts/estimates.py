"""Rule estimates: the response and survival analyses, Table 1."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.analysis import run_analysis
from cmvig_report.step import run

run(snakemake, run_analysis)
