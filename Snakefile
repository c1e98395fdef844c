# CMVIG salvage-therapy manuscript: data/raw -> results/ -> report/.
# Run:  snakemake --cores 2        (inputs can be swapped: --config patients=PATH viral_loads=PATH)
import json
from pathlib import Path

from snakemake.utils import min_version, validate

from cmvig_report import preload, settings

# Snakemake 9 imports pandas (~0.35 s) on every run, no-op included, in case a rule's params
# hold a DataFrame; ours hold only text and numbers, which it serialises the same way without.
from snakemake.persistence import Persistence

Persistence._serialize_param_pandas = Persistence._serialize_param_builtin

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")

REPLICATION = settings.replication_check(config)
LINE_NUMBERS = settings.line_numbers(config)
OUTPUT_FORMATS = settings.output_formats(config)
# The config as recorded in provenance.json and the appendix: everything that can change a
# number or a page. `preload` only changes how fast the same bytes are made.
RECORDED_CONFIG = {key: value for key, value in config.items() if key != "preload"}
# Every template file is an input of the rendering rules only, so editing one re-runs just them.
TEMPLATE_FILES = sorted(str(p) for p in Path("templates").rglob("*") if p.is_file())
FIGURES = expand("results/figures/{name}.{ext}", name=["figure1", "figure2"], ext=["svg", "png"])
REPORT_FILES = sorted(
    {"report/manuscript.html", "report/manuscript.pdf"}
    | {f"report/manuscript.{fmt}" for fmt in OUTPUT_FORMATS}
)


# A warm process imports the libraries the scheduled steps need while the first one runs, then
# forks one child per step (workflow/cmvig_report/preload.py); `preload: false` turns it off.
onstart:
    if config["preload"] in settings.TRUE_WORDS:
        preload.start(preload.scheduled_rules(workflow))


onsuccess:
    preload.stop()


onerror:
    preload.stop()


include: "workflow/rules/cohort.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "results/cohort.csv",
        "results/cleaning_log.csv",
        "results/estimates.json",
        "results/table1.csv",
        FIGURES,
        REPORT_FILES,
        "report/manifest.json",
    default_target: True
