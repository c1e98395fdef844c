# Many centres (config `centres`, docs/centres.md). Each centre's export is cleaned under
# results/centres/{centre}/; its aggregate bundle is the one file that leaves the centre, and is
# leak-checked like every shareable file before it reaches report/centres/{centre}/. Pooling
# reads bundles only: `snakemake pooled --config pooled_from=<folder of bundles>` at the
# coordinating centre, or this build's own centres' bundles.


wildcard_constraints:
    centre="[A-Za-z0-9][A-Za-z0-9_-]*",


rule centre_cohort:
    input:
        patients=lambda wc: CENTRE_SHEET.loc[wc.centre, "patients"],
        viral_loads=lambda wc: CENTRE_SHEET.loc[wc.centre, "viral_loads"],
        code=codebase.stage_code("centre_cohort"),
    output:
        cohort=paths.centre_result("cohort.csv"),
        clean_viral_loads=paths.centre_result("viral_loads.csv"),
        cleaning_log=paths.centre_result("cleaning_log.csv"),
        data_quality=paths.centre_result("data_quality.csv"),
        study_number_map=paths.centre_result("study_numbers.csv"),
    params:
        lloq=lambda wc: settings.centre_value(CENTRE_SHEET, wc.centre, "lloq_iu_ml",
                                              config["lloq_iu_ml"]),
        below_lloq_spellings=config.get("below_lloq_spellings"),
        sheet=config["excel_sheet"],
        cause_categories=config["cause_of_death_categories"],
        # each centre's own enrolment window, from its data
        study_period="",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        paths.log("centre_cohort_{centre}"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/centre_cohort.py"


rule centre_bundle:
    input:
        cohort=rules.centre_cohort.output.cohort,
        patients=lambda wc: CENTRE_SHEET.loc[wc.centre, "patients"],
        viral_loads=lambda wc: CENTRE_SHEET.loc[wc.centre, "viral_loads"],
        code=codebase.stage_code("centre_bundle"),
    output:
        bundle=paths.staged(paths.CENTRE_BUNDLE),
    params:
        unit=config["aggregate_time_unit"],
        response_day=config["response_day"],
        min_cell_count=config["min_cell_count"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        paths.log("centre_bundle_{centre}"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/centre_bundle.py"


# The leak check of the bundle, against the centre's own patient IDs, dates and free text.
rule publish_centre_bundle:
    input:
        staged=rules.centre_bundle.output.bundle,
        cohort=rules.centre_cohort.output.cohort,
        clean_viral_loads=rules.centre_cohort.output.clean_viral_loads,
        code=codebase.stage_code("publish_centre_bundle"),
    output:
        published=paths.published(paths.CENTRE_BUNDLE),
    params:
        input_paths=lambda wildcards: [CENTRE_SHEET.loc[wildcards.centre, "patients"],
                                       CENTRE_SHEET.loc[wildcards.centre, "viral_loads"]],
        cause_categories=config["cause_of_death_categories"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        paths.log("publish_centre_bundle_{centre}"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/publish_centre_bundle.py"


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
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        paths.log("pooled_estimates"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/pooled_estimates.py"


# The pooled manuscript (HTML, PDF and DOCX), from the pooled estimates only, leak-checked against
# every centre's patients when this build has them.
rule pooled_manuscript:
    input:
        estimates=rules.pooled_estimates.output.estimates,
        forest=rules.pooled_estimates.output.forest,
        forest_png=rules.pooled_estimates.output.forest_png,
        template_files=paths.template_files("pooled"),
        reference_doc=paths.template_files("docx"),
        code=codebase.stage_code("pooled_manuscript"),
    output:
        html=paths.staged(paths.POOLED_MANUSCRIPT),
        pdf=paths.staged(paths.POOLED_MANUSCRIPT_PDF),
        docx=paths.staged(paths.POOLED_MANUSCRIPT_DOCX),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        paths.log("pooled_manuscript"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/pooled_manuscript.py"


# `snakemake pooled`: every step above it (the pooled estimates, the pooled manuscript).
rule pooled:
    input:
        staged=rules.pooled_manuscript.output,
        cohorts=expand(rules.centre_cohort.output.cohort, centre=CENTRES),
        clean_viral_loads=expand(rules.centre_cohort.output.clean_viral_loads, centre=CENTRES),
        template_files=paths.template_files("pooled"),
        code=codebase.stage_code("pooled"),
    output:
        published=[paths.published(paths.POOLED_MANUSCRIPT),
                   paths.published(paths.POOLED_MANUSCRIPT_PDF),
                   paths.published(paths.POOLED_MANUSCRIPT_DOCX)],
    params:
        input_paths=settings.input_paths(config)
        + ([] if CENTRE_SHEET is None else [*CENTRE_SHEET["patients"], *CENTRE_SHEET["viral_loads"]]),
        cause_categories=config["cause_of_death_categories"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        paths.log("pooled"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/pooled.py"

