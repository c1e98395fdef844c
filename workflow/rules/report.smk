# The manuscript in each format. Every shareable file is written to results/unchecked/ first;
# the publish step scans it for anything identifying and only then copies it to report/.
# Each renderer declares the templates it reads (paths.TEMPLATE_GLOBS), so an edit to
# style.css re-runs only the HTML/PDF and the publish step (which writes the manifest).

# Results every format prints (estimates, Table 1, provenance, the figures' caption facts), the
# study's metadata, and the settings: the same functions give the live preview its arguments.
RESULTS_PRINTED = settings.render_inputs(config, CD)
# each export's previous freeze (settings.exports) in place of the config's own
PER_EXPORT_SETTINGS = {"compare_with": export_value("compare_with")}
RENDER_SETTINGS = {**settings.render_params(config), **PER_EXPORT_SETTINGS}
FIGURE_FILES = {kind: [paths.for_centre(f) for f in paths.figure_files(kind)]
                for kind in ("svg", "png", "json")}


rule manuscript:
    input:
        **RESULTS_PRINTED,
        template_files=paths.manuscript_templates(),
        figures=FIGURE_FILES["svg"],
        code=codebase.stage_code("manuscript"),
    output:
        html=paths.staged(paths.manuscript("html"), CD),
        pdf=paths.staged(paths.manuscript("pdf"), CD),
        numbers=paths.staged(paths.NUMBERS, CD),
        claims_csv=paths.staged(paths.CLAIMS, CD),
        checklist_csv=paths.staged(paths.CHECKLIST_CSV, CD),
        checklist_pdf=paths.staged(paths.CHECKLIST_PDF, CD),
        **({"changes_csv": paths.staged(paths.CHANGES, CD)} if COMPARE_WITH else {}),
        placeholders=paths.placeholders("manuscript", CD),
    params:
        **{**settings.manuscript_params(config), **PER_EXPORT_SETTINGS},
    log:
        paths.log("manuscript", CD),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/manuscript.py"


rule quarto_source:
    input:
        **RESULTS_PRINTED,
        template_files=paths.template_files("qmd"),
        figures=FIGURE_FILES["png"],
        # the changes appendix lists what the manuscript's register says moved
        **({"changes_csv": paths.staged(paths.CHANGES, CD)} if COMPARE_WITH else {}),
        # the Word styles of the DOCX, which this step makes from the Quarto source
        **({"reference_doc": paths.template_files("docx")} if "docx" in FORMATS else {}),
        code=codebase.stage_code("quarto_source"),
    output:
        qmd=paths.staged(paths.manuscript("qmd"), CD),
        figure_copies=[
            paths.staged(f"{paths.QMD_FIGURES}/{name}.png", CD) for name in paths.FIGURE_NAMES
        ],
        **({"docx": paths.staged(paths.manuscript("docx"), CD)} if "docx" in FORMATS else {}),
        placeholders=paths.placeholders("quarto_source", CD),
    params:
        **RENDER_SETTINGS,
    log:
        paths.log("quarto_source", CD),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/quarto_source.py"


# The check that refuses to leak: no patient ID, date, input path or raw free text may reach
# report/. A hit stops the build and deletes the staged files. Then, in the same step (it ran
# right after it as a step of its own, which cost an interpreter's start), the audit trail:
# checksums of every input, result, template, code and published file; and the export's
# report folder is left holding this build's files only, each listed in its manifest
# (report_folder.py). The one publish rule of every export: report/ for the config's own,
# report/centres/<centre>/ for a centre of the sheet.
rule publish:
    input:
        staged=[paths.staged(name, CD) for name in SHARED_FILES],
        figures=FIGURE_FILES["svg"],
        cohort=rules.clean_cohort.output.cohort,
        clean_viral_loads=rules.clean_cohort.output.clean_viral_loads,
        # the manuscript's own words: a folder named "own" is prose, not an identifier
        template_files=settings.own_text_files(config),
        # what the manifest checksums besides the published files
        provenance=rules.provenance.output.provenance,
        results=[
            *rules.clean_cohort.output,
            *rules.estimates.output,
            *FIGURE_FILES["svg"],
            *FIGURE_FILES["png"],
            *FIGURE_FILES["json"],
        ],
        all_template_files=paths.all_template_files(),
        code_files=BUILD_CODE,
        # what other steps publish into this export's folder, kept and listed in its manifest:
        # the centres' bundles and the pooled manuscript in report/, a centre's own bundle
        others=lambda wildcards: OTHER_PUBLISHED.get(wildcards.centre_dir, []),
        code=codebase.stage_code("publish"),
    output:
        published=[paths.published(name, CD) for name in SHARED_FILES],
        manifest=paths.for_centre(paths.MANIFEST),
    params:
        input_paths=lambda wildcards: settings.input_paths(EXPORTS[wildcards.centre_dir]),
        cause_categories=config["cause_of_death_categories"],
        # the package this config's journal would have: kept only while it is this build's
        submission=lambda wildcards: [] if wildcards.centre_dir else SUBMISSION_PUBLISHED,
        # the centres' own report folders, which their own publish steps keep
        owned=lambda wildcards: [] if wildcards.centre_dir else CENTRE_REPORTS,
    log:
        paths.log("publish", CD),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/publish.py"


# Metadata placeholders still printed in a shareable output, listed where the user looks last.
onsuccess:
    from cmvig_report.journals.metadata import placeholder_summary

    # the renderers of this build's formats (the Quarto source also makes the DOCX)
    renderers = ["manuscript"] + (["quarto_source"] if {"qmd", "docx"} & set(FORMATS) else [])
    for line in placeholder_summary([paths.placeholders(rule) for rule in renderers]):
        print(line, file=sys.stderr)
