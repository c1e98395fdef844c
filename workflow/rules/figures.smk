rule figure1:
    input:
        cohort="results/cohort.csv",
    output:
        svg=report(
            "results/figures/figure1.svg",
            caption="../report/figure1.rst",
            category="Figures",
        ),
        png="results/figures/figure1.png",
        meta="results/figures/figure1.json",
    params:
        response_day=config["response_day"],
        max_rows=config["timeline_max_rows"],
    log:
        "logs/figure1.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "python -m cmvig_report --log {log:q} figure1 --cohort {input.cohort:q}"
        " --response-day {params.response_day} --max-rows {params.max_rows}"
        " --svg-out {output.svg:q} --png-out {output.png:q} --meta-out {output.meta:q}"


rule figure2:
    input:
        cohort="results/cohort.csv",
        estimates="results/estimates.json",
        curves="results/km_curves.csv",
    output:
        svg=report(
            "results/figures/figure2.svg",
            caption="../report/figure2.rst",
            category="Figures",
        ),
        png="results/figures/figure2.png",
        meta="results/figures/figure2.json",
    log:
        "logs/figure2.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "python -m cmvig_report --log {log:q} figure2 --cohort {input.cohort:q}"
        " --estimates {input.estimates:q} --curves {input.curves:q}"
        " --svg-out {output.svg:q} --png-out {output.png:q} --meta-out {output.meta:q}"
