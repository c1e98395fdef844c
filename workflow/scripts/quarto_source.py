"""Rule quarto_source: the manuscript's Quarto source."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.render.render_settings import with_settings
from cmvig_report.render.report import run_qmd

run(snakemake, with_settings(run_qmd))  # the rule's flat params -> RenderSettings
