# One rule per figure, named as in paths.FIGURE_NAMES; each writes the SVG (HTML/PDF), the
# 300 dpi PNG (DOCX) and the facts its caption needs (JSON).


rule figure1:
    input:
        cohort=rules.clean_cohort.output.cohort,
        data_quality=rules.clean_cohort.output.data_quality,
        code=codebase.stage_code("figure1"),
    output:
        svg=report(
            paths.figure("figure1", "svg"),
            caption="../report/figure1.rst",
            category="Figures",
        ),
        png=paths.figure("figure1", "png"),
        facts=paths.figure("figure1", "json"),
    params:
        response_day=config["response_day"],
        max_rows=config["timeline_max_rows"],
        min_cell_count=config["min_cell_count"],
        os_hsct_day=config["os_hsct_day"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        paths.log("figure1"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/figure1.py"


rule figure2:
    input:
        cohort=rules.clean_cohort.output.cohort,
        estimates=rules.estimates.output.estimates,
        curves=rules.estimates.output.curves,
        code=codebase.stage_code("figure2"),
    output:
        svg=report(
            paths.figure("figure2", "svg"),
            caption="../report/figure2.rst",
            category="Figures",
        ),
        png=paths.figure("figure2", "png"),
        facts=paths.figure("figure2", "json"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        paths.log("figure2"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/figure2.py"


rule figure3:
    input:
        cohort=rules.clean_cohort.output.cohort,
        viral_loads=rules.clean_cohort.output.clean_viral_loads,
        data_quality=rules.clean_cohort.output.data_quality,
        code=codebase.stage_code("figure3"),
    output:
        svg=report(
            paths.figure("figure3", "svg"),
            caption="../report/figure3.rst",
            category="Figures",
        ),
        png=paths.figure("figure3", "png"),
        facts=paths.figure("figure3", "json"),
    params:
        response_day=config["response_day"],
        lloq_iu_ml=config["lloq_iu_ml"],
        min_cell_count=config["min_cell_count"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        paths.log("figure3"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/figure3.py"
