rule clean_cohort:
    input:
        patients=config["patients"],
        viral_loads=config["viral_loads"],
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
        sheet=config["excel_sheet"],
        cause_categories=config["cause_of_death_categories"],
        study_period=STUDY_PERIOD[0],
    log:
        paths.log("clean_cohort"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/step.py"


# What went in (checksums of the inputs, the config, software versions). It depends on nothing
# computed, so it runs beside the cleaning.
rule provenance:
    input:
        patients=config["patients"],
        viral_loads=config["viral_loads"],
        **({"published": config["published"]} if REPLICATION else {}),
    output:
        provenance=paths.PROVENANCE,
    params:
        config=config,
    log:
        paths.log("provenance"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/step.py"
