"""Rule docx: the manuscript as DOCX."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.render.quarto import run_docx

run(snakemake, run_docx)
