"""Every rule's script: runs the rule's stage function (cmvig_report.step.STEPS) with the
rule's named inputs, outputs and params as keyword arguments, and writes its log."""

import sys
from pathlib import Path

# snakemake.scriptdir is this file's folder (workflow/scripts): import the package beside it,
# so a project runs its own code even where another copy of the package is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from cmvig_report.step import run  # noqa: E402

run(snakemake)  # noqa: F821 -- `snakemake` is provided by Snakemake's script: directive
