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


# {centre_dir}: "" (the config's own export) or "centres/<centre>/" (common.smk, paths.py).
wildcard_constraints:
    centre_dir=paths.CENTRE_DIR_PATTERN,
    centre=paths.CENTRE_NAME_PATTERN,


include: "workflow/rules/cohort.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/submission.smk"
include: "workflow/rules/centres.smk"


rule all:
    input:
        # the config's own export: its chain ends in its publish step (report/manifest.json),
        # which needs every figure, result and checked file before it
        paths.MANIFEST,
        [paths.CHANGES_PATIENTS] if COMPARE_WITH else [],
        # with config `centres` or `pooled_from`: each centre's bundle and the estimates pooled
        rules.pooled.output if POOLING else [],
        # and each centre's own report (report/centres/<centre>/, rule centre_reports below)
        [paths.for_centre(paths.MANIFEST, paths.centre_dir(c)) for c in CENTRES],
    default_target: True


# The journal's submission package (config `journal`): `snakemake --cores 2 submission`.
rule submission:
    input:
        rules.publish_submission.output,


# Each centre of the sheet (config `centres`) reported as a build of its files alone would be:
# `snakemake --cores 2 centre_reports` writes report/centres/<centre>/ (manuscript, figures,
# numbers, manifest) beside its bundle.
rule centre_reports:
    input:
        [paths.for_centre(paths.MANIFEST, paths.centre_dir(c)) for c in CENTRES],
