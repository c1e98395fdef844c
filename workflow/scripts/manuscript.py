"""Rule manuscript: the manuscript as HTML and PDF, the number register, the checklist."""

import sys
from pathlib import Path

# This project's package first, even where another copy is installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from cmvig_report.core.step import run
from cmvig_report.render.render_settings import with_settings
from cmvig_report.render.report import run_render

run(snakemake, with_settings(run_render))  # the rule's flat params -> RenderSettings
