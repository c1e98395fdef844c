# Every rule of the chain below names its files with the wildcard {centre_dir} (common.smk): ""
# for the config's own export, "centres/<centre>/" for a centre of the sheet.


rule clean_cohort:
    input:
        patients=export_value("patients"),
        viral_loads=export_value("viral_loads"),
        code=codebase.stage_code("clean_cohort"),
    output:
        cohort=report(
            paths.for_centre(paths.COHORT), caption="../report/cohort.rst", category="Cohort"
        ),
        clean_viral_loads=paths.for_centre(paths.VIRAL_LOADS),
        cleaning_log=report(
            paths.for_centre(paths.CLEANING_LOG),
            caption="../report/cleaning_log.rst",
            category="Cohort",
        ),
        data_quality=report(
            paths.for_centre(paths.DATA_QUALITY),
            caption="../report/data_quality.rst",
            category="Cohort",
        ),
        study_number_map=paths.for_centre(paths.STUDY_NUMBERS),
    params:
        lloq=export_value("lloq_iu_ml"),
        below_lloq_spellings=config.get("below_lloq_spellings"),
        sheet=config["excel_sheet"],
        cause_categories=config["cause_of_death_categories"],
        study_period=STUDY_PERIOD[0],
        # a previous freeze's patients keep their study numbers
        compare_with=export_value("compare_with"),
    log:
        paths.log("clean_cohort", CD),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/clean_cohort.py"


# What went in (checksums of the inputs and of the code, the config, software versions). It
# depends on nothing computed, so it runs beside the cleaning.
rule provenance:
    input:
        patients=export_value("patients"),
        viral_loads=export_value("viral_loads"),
        **({"published": config["published"]} if REPLICATION else {}),
        code=codebase.stage_code("provenance"),
    output:
        provenance=paths.for_centre(paths.PROVENANCE),
    params:
        config=lambda wildcards: EXPORTS[wildcards.centre_dir],
    log:
        paths.log("provenance", CD),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/provenance.py"
