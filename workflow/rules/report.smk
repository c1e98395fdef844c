# The manuscript in each format. Each renderer declares the templates it reads
# (paths.TEMPLATE_GLOBS), so an edit to style.css re-runs only the HTML/PDF and the manifest.

# Results every format prints: estimates, Table 1, provenance and the figures' caption facts.
RESULTS_PRINTED = dict(
    estimates=rules.estimates.output.estimates,
    table1=rules.estimates.output.table1,
    provenance=rules.provenance.output.provenance,
    published=config["published"],
    figure_facts=paths.figure_files("json"),
)
RENDER_SETTINGS = dict(replication=REPLICATION, line_numbers=LINE_NUMBERS)


rule manuscript:
    input:
        **RESULTS_PRINTED,
        template_files=paths.template_files("html"),
        figures=paths.figure_files("svg"),
    output:
        html=paths.manuscript("html"),
        pdf=paths.manuscript("pdf"),
    params:
        **RENDER_SETTINGS,
    log:
        paths.log("manuscript"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/step.py"


rule quarto_source:
    input:
        **RESULTS_PRINTED,
        template_files=paths.template_files("qmd"),
        figures=paths.figure_files("png"),
    output:
        qmd=paths.manuscript("qmd"),
    params:
        **RENDER_SETTINGS,
    log:
        paths.log("quarto_source"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/step.py"


rule docx:
    input:
        qmd=rules.quarto_source.output.qmd,
        figures=paths.figure_files("png"),
    output:
        docx=paths.manuscript("docx"),
    log:
        paths.log("docx"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/step.py"


# The audit trail, last: checksums of every input, result, template and manuscript file.
rule manifest:
    input:
        provenance=rules.provenance.output.provenance,
        results=[
            *rules.clean_cohort.output,
            *rules.estimates.output,
            *paths.figure_files("svg"),
            *paths.figure_files("png"),
            *paths.figure_files("json"),
        ],
        outputs=REPORT_FILES,
        template_files=paths.all_template_files(),
    output:
        manifest=paths.MANIFEST,
    log:
        paths.log("manifest"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/step.py"
