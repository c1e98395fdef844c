RESULT_FILES = [
    "results/cohort.csv",
    "results/viral_loads.csv",
    "results/cleaning_log.csv",
    "results/estimates.json",
    "results/table1.csv",
    "results/table1.html",
    "results/km_curves.csv",
    *FIGURES,
    "results/figures/figure1.json",
    "results/figures/figure2.json",
]
RENDER_INPUTS = dict(
    templates=TEMPLATE_FILES,
    estimates="results/estimates.json",
    table1_html="results/table1.html",
    figures=FIGURES,
    figure_meta=["results/figures/figure1.json", "results/figures/figure2.json"],
    provenance="results/provenance.json",
    published=config["published"],
)
RENDER_PARAMS = dict(
    replication="yes" if REPLICATION else "no",
    line_numbers="yes" if LINE_NUMBERS else "no",
)


rule provenance:
    input:
        patients=config["patients"],
        viral_loads=config["viral_loads"],
        published=config["published"],
    output:
        "results/provenance.json",
    params:
        config_json=json.dumps(RECORDED_CONFIG, sort_keys=True),
    log:
        "logs/provenance.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "python -m cmvig_report --log {log:q} provenance"
        " --input patients={input.patients:q} --input viral_loads={input.viral_loads:q}"
        " --input published={input.published:q}"
        " --config-json {params.config_json:q} --out {output:q}"


rule manuscript:
    input:
        **RENDER_INPUTS,
    output:
        html="report/manuscript.html",
        pdf="report/manuscript.pdf",
    params:
        **RENDER_PARAMS,
    log:
        "logs/manuscript.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "python -m cmvig_report --log {log:q} render"
        " --templates templates --estimates {input.estimates:q}"
        " --table1-html {input.table1_html:q} --figures-dir results/figures"
        " --provenance {input.provenance:q} --published {input.published:q}"
        " --replication {params.replication} --line-numbers {params.line_numbers}"
        " --html-out {output.html:q} --pdf-out {output.pdf:q}"


rule quarto_source:
    input:
        **RENDER_INPUTS,
        table1_csv="results/table1.csv",
    output:
        "report/manuscript.qmd",
    params:
        **RENDER_PARAMS,
    log:
        "logs/quarto_source.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "python -m cmvig_report --log {log:q} qmd"
        " --templates templates --estimates {input.estimates:q}"
        " --table1-html {input.table1_html:q} --figures-dir results/figures"
        " --provenance {input.provenance:q} --published {input.published:q}"
        " --replication {params.replication} --line-numbers {params.line_numbers}"
        " --table1-csv {input.table1_csv:q} --qmd-out {output:q}"


rule docx:
    input:
        qmd="report/manuscript.qmd",
        figures=FIGURES,
    output:
        "report/manuscript.docx",
    log:
        "logs/docx.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "python -m cmvig_report --log {log:q} docx --qmd {input.qmd:q} --docx-out {output:q}"


rule manifest:
    input:
        provenance="results/provenance.json",
        results=RESULT_FILES,
        outputs=REPORT_FILES,
        templates=TEMPLATE_FILES,
    output:
        "report/manifest.json",
    params:
        args=lambda wildcards, input: " ".join(
            [f"--result {p}" for p in input.results]
            + [f"--output {p}" for p in input.outputs]
            + [f"--template {p}" for p in input.templates]
        ),
    log:
        "logs/manifest.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "python -m cmvig_report --log {log:q} manifest --provenance {input.provenance:q}"
        " {params.args} --out {output:q}"
