rule estimates:
    input:
        cohort=rules.clean_cohort.output.cohort,
        data_quality=rules.clean_cohort.output.data_quality,
    output:
        estimates=report(
            paths.ESTIMATES, caption="../report/estimates.rst", category="Estimates"
        ),
        table1=report(paths.TABLE1, caption="../report/table1.rst", category="Estimates"),
        curves=paths.KM_CURVES,
        disclosure_log=report(
            paths.DISCLOSURE_LOG, caption="../report/disclosure_log.rst", category="Estimates"
        ),
    params:
        response_day=config["response_day"],
        os_cmvig_day=config["os_cmvig_day"],
        os_hsct_day=config["os_hsct_day"],
        lloq=config["lloq_iu_ml"],
        sensitivity_days=config["sensitivity_days"],
        study_period=STUDY_PERIOD,
        min_cell_count=config["min_cell_count"],
    log:
        paths.log("estimates"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/step.py"
