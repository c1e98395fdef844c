rule estimates:
    input:
        cohort="results/cohort.csv",
    output:
        estimates=report(
            "results/estimates.json",
            caption="../report/estimates.rst",
            category="Estimates",
        ),
        table1_csv=report(
            "results/table1.csv",
            caption="../report/table1.rst",
            category="Estimates",
        ),
        table1_html="results/table1.html",
        curves="results/km_curves.csv",
    params:
        response_day=config["response_day"],
        os_cmvig_day=config["os_cmvig_day"],
        os_hsct_day=config["os_hsct_day"],
        lloq=config["lloq_iu_ml"],
    log:
        "logs/estimates.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "python -m cmvig_report --log {log:q} analysis --cohort {input.cohort:q}"
        " --response-day {params.response_day} --os-cmvig-day {params.os_cmvig_day}"
        " --os-hsct-day {params.os_hsct_day} --lloq {params.lloq}"
        " --estimates-out {output.estimates:q} --table1-csv-out {output.table1_csv:q}"
        " --table1-html-out {output.table1_html:q} --curves-out {output.curves:q}"
