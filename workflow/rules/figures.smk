# One rule per figure, made in a loop over paths.FIGURE_NAMES; each runs its own script
# (workflow/scripts/<name>.py) and writes the SVG (HTML/PDF), the 300 dpi PNG (DOCX) and the
# facts its caption needs (JSON). What each figure reads from the results and the config:
# Under small-cell control Figures 1 and 3 hide the counts the estimates step planned to hide
# (estimates.json#disclosure.cells); without it they need no estimates and run beside them.
SMALL_CELL_PLAN = ("estimates",) if int(config["min_cell_count"]) > 1 else ()
FIGURE_INPUTS = {
    "figure1": ("cohort", *SMALL_CELL_PLAN),
    "figure2": ("cohort", "estimates", "curves"),
    "figure3": ("cohort", "viral_loads", *SMALL_CELL_PLAN),
}
# (a figure without settings needs no entry)
FIGURE_PARAMS = {
    "figure1": dict(
        response_day=config["response_day"],
        max_rows=config["timeline_max_rows"],
        min_cell_count=config["min_cell_count"],
        os_hsct_day=config["os_hsct_day"],
    ),
    "figure3": dict(
        response_day=config["response_day"],
        lloq_iu_ml=export_value("lloq_iu_ml"),
        min_cell_count=config["min_cell_count"],
    ),
}
RESULT_FILES = {
    "cohort": rules.clean_cohort.output.cohort,
    "viral_loads": rules.clean_cohort.output.clean_viral_loads,
    "estimates": rules.estimates.output.estimates,
    "curves": rules.estimates.output.curves,
}

# A function, not the loop's body: Snakemake reads a rule's script path when the job runs, and
# the loop's variable would by then name the last figure for every rule.
def figure_rule(figure_name):

    rule:
        name:
            figure_name
        input:
            **{key: RESULT_FILES[key] for key in FIGURE_INPUTS[figure_name]},
            code=codebase.stage_code(figure_name),
        output:
            svg=report(
                paths.for_centre(paths.figure(figure_name, "svg")),
                caption=f"../report/{figure_name}.rst",
                category="Figures",
            ),
            png=paths.for_centre(paths.figure(figure_name, "png")),
            facts=paths.for_centre(paths.figure(figure_name, "json")),
        params:
            **FIGURE_PARAMS.get(figure_name, {}),
        log:
            paths.log(figure_name, CD),
        conda:
            "../envs/pipeline.yaml"
        script:
            f"../scripts/{figure_name}.py"


for figure_name in paths.FIGURE_NAMES:
    figure_rule(figure_name)
