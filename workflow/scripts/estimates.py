"""Rule estimates: the response and survival analyses, Table 1."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.stats.analysis import run_analysis

run(snakemake, run_analysis)
