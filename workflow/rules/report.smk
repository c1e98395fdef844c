# The manuscript in each format. Every shareable file is written to results/unchecked/ first;
# the publish step scans it for anything identifying and only then copies it to report/.
# Each renderer declares the templates it reads (paths.TEMPLATE_GLOBS), so an edit to
# style.css re-runs only the HTML/PDF, the publish step and the manifest.

# Results every format prints: estimates, Table 1, provenance and the figures' caption facts.
RESULTS_PRINTED = dict(
    estimates=rules.estimates.output.estimates,
    table1=rules.estimates.output.table1,
    provenance=rules.provenance.output.provenance,
    published=config["published"],
    figure_facts=paths.figure_files("json"),
    **({"changes_summary": paths.CHANGES_SUMMARY} if COMPARE_WITH else {}),
)
RENDER_SETTINGS = dict(
    replication=REPLICATION,
    shipped=SHIPPED,
    line_numbers=LINE_NUMBERS,
    strict_numbers=settings.flag(config, "strict_numbers"),
    compare_with=COMPARE_WITH,
)


rule manuscript:
    input:
        **RESULTS_PRINTED,
        template_files=paths.template_files("html") + paths.template_files("checklist"),
        figures=paths.figure_files("svg"),
        code=codebase.stage_code("manuscript"),
    output:
        html=paths.staged(paths.manuscript("html")),
        pdf=paths.staged(paths.manuscript("pdf")),
        numbers=paths.staged(paths.NUMBERS),
        checklist_csv=paths.staged(paths.CHECKLIST_CSV),
        checklist_pdf=paths.staged(paths.CHECKLIST_PDF),
        **({"changes_csv": paths.staged(paths.CHANGES)} if COMPARE_WITH else {}),
    params:
        **RENDER_SETTINGS,
        number_appendix=settings.flag(config, "number_appendix"),
    log:
        paths.log("manuscript"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/manuscript.py"


rule quarto_source:
    input:
        **RESULTS_PRINTED,
        template_files=paths.template_files("qmd"),
        figures=paths.figure_files("png"),
        # the changes appendix lists what the manuscript's register says moved
        **({"changes_csv": paths.staged(paths.CHANGES)} if COMPARE_WITH else {}),
        code=codebase.stage_code("quarto_source"),
    output:
        qmd=paths.staged(paths.manuscript("qmd")),
        figure_copies=[
            paths.staged(f"{paths.QMD_FIGURES}/{name}.png") for name in paths.FIGURE_NAMES
        ],
    params:
        **RENDER_SETTINGS,
    log:
        paths.log("quarto_source"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/quarto_source.py"


rule docx:
    input:
        qmd=rules.quarto_source.output.qmd,
        figures=rules.quarto_source.output.figure_copies,
        reference_doc=paths.template_files("docx"),
        code=codebase.stage_code("docx"),
    output:
        docx=paths.staged(paths.manuscript("docx")),
    log:
        paths.log("docx"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/docx.py"


# The check that refuses to leak: no patient ID, date, input path or raw free text may reach
# report/. A hit stops the build and deletes the staged files.
rule publish:
    input:
        staged=[paths.staged(name) for name in SHARED_FILES],
        figures=paths.figure_files("svg"),
        cohort=rules.clean_cohort.output.cohort,
        clean_viral_loads=rules.clean_cohort.output.clean_viral_loads,
        # the manuscript's own words: a folder named "own" is prose, not an identifier
        template_files=paths.all_template_files(),
        code=codebase.stage_code("publish"),
    output:
        published=[paths.published(name) for name in SHARED_FILES],
    params:
        input_paths=settings.input_paths(config),
        cause_categories=config["cause_of_death_categories"],
    log:
        paths.log("publish"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/publish.py"


# The audit trail, last: checksums of every input, result, template, code and published file.
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
        outputs=rules.publish.output.published,
        template_files=paths.all_template_files(),
        code_files=BUILD_CODE,
        code=codebase.stage_code("manifest"),
    output:
        manifest=paths.MANIFEST,
    log:
        paths.log("manifest"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/manifest.py"
