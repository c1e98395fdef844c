# Many centres (config `centres`, docs/centres.md). Each centre's export is cleaned under
# results/centres/{centre}/; its aggregate bundle is the one file that leaves the centre, and is
# leak-checked like every shareable file before it reaches report/centres/{centre}/. Pooling
# reads bundles only: `snakemake pooled --config pooled_from=<folder of bundles>` at the
# coordinating centre, or this build's own centres' bundles.


# A centre's export is cleaned, analysed and reported by the chain of every export (cohort.smk
# to report.smk, centre_dir "centres/<centre>/"): `snakemake report/centres/<centre>/manuscript.pdf`
# is the manuscript a build of its files alone gives. Its bundle is built from its cleaned
# cohort, then leak-checked against the centre's patients and published, in one step.
# the folder of the centre named by the wildcard {centre}: "centres/{centre}/"
ONE_CENTRE_DIR = paths.centre_dir("{centre}")


rule centre_bundle:
    input:
        cohort=paths.for_centre(paths.COHORT, ONE_CENTRE_DIR),
        clean_viral_loads=paths.for_centre(paths.VIRAL_LOADS, ONE_CENTRE_DIR),
        patients=lambda wildcards: EXPORTS[paths.centre_dir(wildcards.centre)]["patients"],
        viral_loads=lambda wildcards: EXPORTS[paths.centre_dir(wildcards.centre)]["viral_loads"],
        code=codebase.stage_code("centre_bundle"),
    output:
        staged=paths.staged(paths.AGGREGATE, ONE_CENTRE_DIR),
        published=paths.published(paths.AGGREGATE, ONE_CENTRE_DIR),
    params:
        unit=config["aggregate_time_unit"],
        response_day=config["response_day"],
        min_cell_count=config["min_cell_count"],
        input_paths=lambda wildcards: settings.input_paths(
            EXPORTS[paths.centre_dir(wildcards.centre)]
        ),
        cause_categories=config["cause_of_death_categories"],
    log:
        paths.log("centre_bundle", ONE_CENTRE_DIR),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/centre_bundle.py"


# The coordinating centre's analysis: bundles in, pooled estimates out (no patient data).
rule pooled_estimates:
    input:
        bundles=settings.bundles_to_pool(
            config, paths.published(paths.CENTRE_BUNDLE), CENTRES),
        code=codebase.stage_code("pooled_estimates"),
    output:
        estimates=paths.POOLED_ESTIMATES,
        forest=paths.POOLED_FOREST,
        forest_png=paths.POOLED_FOREST_PNG,
    params:
        response_day=config["response_day"],
        os_cmvig_day=config["os_cmvig_day"],
        os_hsct_day=config["os_hsct_day"],
    log:
        paths.log("pooled_estimates"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/pooled_estimates.py"


# The pooled manuscript (HTML, PDF and DOCX) and its register of printed numbers, from the pooled
# estimates only: a variant of the single manuscript (pooled_report.py), with its stylesheet,
# number filters, citations (the study's bibliography and citation style) and PDF/DOCX routes,
# so that an edit to templates/style.css or the bibliography re-renders both.
rule pooled_manuscript:
    input:
        estimates=rules.pooled_estimates.output.estimates,
        forest=rules.pooled_estimates.output.forest,
        forest_png=rules.pooled_estimates.output.forest_png,
        template_files=paths.template_files("pooled"),
        reference_doc=paths.template_files("docx"),
        **settings.citation_files(config),
        code=codebase.stage_code("pooled_manuscript"),
    output:
        html=paths.staged(paths.POOLED_MANUSCRIPT),
        pdf=paths.staged(paths.POOLED_MANUSCRIPT_PDF),
        docx=paths.staged(paths.POOLED_MANUSCRIPT_DOCX),
        numbers=paths.staged(paths.POOLED_NUMBERS),
    params:
        citation_style=str(config["citation_style"] or ""),
    log:
        paths.log("pooled_manuscript"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/pooled_manuscript.py"


# `snakemake pooled`: every step above it (the pooled estimates, the pooled manuscript), then the
# single manuscript's leak check and publish (publish.check_and_publish) of its files and forest
# plot, against every centre's patients when this build has them.
rule pooled:
    input:
        staged=rules.pooled_manuscript.output,
        figures=[rules.pooled_estimates.output.forest],
        cohorts=[paths.for_centre(paths.COHORT, paths.centre_dir(c)) for c in CENTRES],
        clean_viral_loads=[
            paths.for_centre(paths.VIRAL_LOADS, paths.centre_dir(c)) for c in CENTRES
        ],
        # its own words: the pooled templates, and the single manuscript's, whose register it
        # shares (a tooltip names config/config.yaml: a folder named "config" is prose)
        template_files=sorted({*paths.template_files("pooled"), *settings.own_text_files(config)}),
        code=codebase.stage_code("pooled"),
    output:
        published=[paths.published(paths.POOLED_MANUSCRIPT),
                   paths.published(paths.POOLED_MANUSCRIPT_PDF),
                   paths.published(paths.POOLED_MANUSCRIPT_DOCX),
                   paths.published(paths.POOLED_NUMBERS)],
    params:
        input_paths=settings.input_paths(config)
        + ([] if CENTRE_SHEET is None else [*CENTRE_SHEET["patients"], *CENTRE_SHEET["viral_loads"]]),
        cause_categories=config["cause_of_death_categories"],
    log:
        paths.log("pooled"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/pooled.py"
