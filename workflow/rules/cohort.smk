rule clean_cohort:
    input:
        patients=config["patients"],
        viral_loads=config["viral_loads"],
    output:
        cohort=report(
            "results/cohort.csv",
            caption="../report/cohort.rst",
            category="Cohort",
        ),
        viral_loads="results/viral_loads.csv",
        cleaning_log=report(
            "results/cleaning_log.csv",
            caption="../report/cleaning_log.rst",
            category="Cohort",
        ),
    params:
        lloq=config["lloq_iu_ml"],
        sheet=config["excel_sheet"],
    log:
        "logs/clean_cohort.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "python -m cmvig_report --log {log:q} cohort"
        " --patients {input.patients:q} --viral-loads {input.viral_loads:q}"
        " --sheet {params.sheet:q} --lloq {params.lloq}"
        " --cohort-out {output.cohort:q} --viral-loads-out {output.viral_loads:q}"
        " --cleaning-log-out {output.cleaning_log:q}"
