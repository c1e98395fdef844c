"""Rule manifest: the checksums of everything that went in and came out."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.provenance import run_manifest
from cmvig_report.step import run

run(snakemake, run_manifest)
