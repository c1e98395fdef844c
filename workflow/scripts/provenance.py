"""Rule provenance: records the inputs, settings, software and code."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.release.provenance import run_provenance

run(snakemake, run_provenance)
