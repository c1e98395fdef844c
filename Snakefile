# CMVIG salvage-therapy manuscript: data/raw -> results/ -> report/.
# Run:  snakemake --cores 2        (inputs can be swapped: --config patients=PATH viral_loads=PATH)
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# The package next to this Snakefile, even where another copy is installed: a project runs
# its own code (each rule's script does the same, workflow/scripts/<rule>.py).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/cohort.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/submission.smk"
include: "workflow/rules/centres.smk"


rule all:
    input:
        rules.clean_cohort.output,
        rules.estimates.output,
        paths.figure_files("svg"),
        paths.figure_files("png"),
        rules.publish.output,
        [paths.CHANGES_PATIENTS] if COMPARE_WITH else [],
        # with config `centres` or `pooled_from`: each centre's bundle and the estimates pooled
        rules.pooled.output if POOLING else [],
    default_target: True


# The journal's submission package (config `journal`): `snakemake --cores 2 submission`.
rule submission:
    input:
        rules.publish_submission.output,
