rule clean_cohort:
    input:
        patients=config["patients"],
        viral_loads=config["viral_loads"],
        code=codebase.stage_code("clean_cohort"),
    output:
        cohort=report(paths.COHORT, caption="../report/cohort.rst", category="Cohort"),
        clean_viral_loads=paths.VIRAL_LOADS,
        cleaning_log=report(
            paths.CLEANING_LOG, caption="../report/cleaning_log.rst", category="Cohort"
        ),
        data_quality=report(
            paths.DATA_QUALITY, caption="../report/data_quality.rst", category="Cohort"
        ),
        study_number_map=paths.STUDY_NUMBERS,
    params:
        lloq=config["lloq_iu_ml"],
        below_lloq_spellings=config.get("below_lloq_spellings"),
        sheet=config["excel_sheet"],
        cause_categories=config["cause_of_death_categories"],
        study_period=STUDY_PERIOD[0],
        # a previous freeze's patients keep their study numbers
        compare_with=COMPARE_WITH,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        paths.log("clean_cohort"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/clean_cohort.py"


# What went in (checksums of the inputs and of the code, the config, software versions). It
# depends on nothing computed, so it runs beside the cleaning.
rule provenance:
    input:
        patients=config["patients"],
        viral_loads=config["viral_loads"],
        **({"published": config["published"]} if REPLICATION else {}),
        code=codebase.stage_code("provenance"),
    output:
        provenance=paths.PROVENANCE,
    params:
        config=config,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        paths.log("provenance"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/provenance.py"
