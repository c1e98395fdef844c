rule estimates:
    input:
        cohort=rules.clean_cohort.output.cohort,
    output:
        estimates=report(
            paths.ESTIMATES, caption="../report/estimates.rst", category="Estimates"
        ),
        table1=report(paths.TABLE1, caption="../report/table1.rst", category="Estimates"),
        curves=paths.KM_CURVES,
    params:
        response_day=config["response_day"],
        os_cmvig_day=config["os_cmvig_day"],
        os_hsct_day=config["os_hsct_day"],
        lloq=config["lloq_iu_ml"],
    log:
        paths.log("estimates"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/step.py"
