"""Rule provenance: records the inputs, settings, software and code."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.provenance import run_provenance
from cmvig_report.step import run

run(snakemake, run_provenance)
