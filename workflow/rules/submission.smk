# The submission package: `snakemake --cores 2 submission` writes report/submission/ for the
# journal of config `journal` (templates/journals/<name>.yaml): the review copy of the
# manuscript (PDF, DOCX; line and page numbers), the figure files in the journal's format and
# resolution, Table 1 as DOCX, the supplementary material (PDF, DOCX), the checklist, the title
# page, the cover letter and MANIFEST.txt. Staged first,
# then published through the same leak check as report/.



rule submission_package:
    input:
        # the config's own export's results (not a centre's)
        **settings.render_inputs(config),
        template_files=paths.manuscript_templates()
        + paths.template_files("qmd")
        + paths.template_files("submission"),
        figures=paths.figure_files("svg"),
        figures_png=paths.figure_files("png"),
        reference_doc=paths.template_files("docx"),
        code=codebase.stage_code("submission_package"),
    output:
        manuscript_pdf=paths.staged(f"{paths.SUBMISSION}/manuscript.pdf"),
        manuscript_docx=paths.staged(f"{paths.SUBMISSION}/manuscript.docx"),
        figure_files=[
            paths.staged(f"{paths.SUBMISSION}/{name}")
            for name in settings.submission_figures(config)
        ],
        table1_docx=paths.staged(f"{paths.SUBMISSION}/table1.docx"),
        supplementary_pdf=paths.staged(f"{paths.SUBMISSION}/supplementary.pdf"),
        supplementary_docx=paths.staged(f"{paths.SUBMISSION}/supplementary.docx"),
        checklist_pdf=paths.staged(f"{paths.SUBMISSION}/checklist.pdf"),
        title_page=paths.staged(f"{paths.SUBMISSION}/title_page.docx"),
        cover_letter=paths.staged(f"{paths.SUBMISSION}/cover_letter.docx"),
        manifest=paths.staged(f"{paths.SUBMISSION}/{paths.SUBMISSION_MANIFEST}"),
    params:
        replication=REPLICATION,
        strict_numbers=settings.flag(config, "strict_numbers"),
        strict_metadata=settings.flag(config, "strict_metadata"),
        citation_style=str(config["citation_style"] or ""),
    log:
        paths.log("submission_package"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/submission_package.py"


rule publish_submission:
    input:
        staged=[paths.staged(f"{paths.SUBMISSION}/{name}") for name in SUBMISSION_FILES],
        figures=paths.figure_files("svg"),
        cohort=paths.COHORT,
        clean_viral_loads=paths.VIRAL_LOADS,
        # the words the package prints by itself (as the manuscript's publish step reads them)
        template_files=settings.own_text_files(config, "submission"),
        # after the manuscript's publish step: the package is added to its manifest
        manifest=paths.MANIFEST,
        code=codebase.stage_code("publish_submission"),
    output:
        published=[paths.published(f"{paths.SUBMISSION}/{name}") for name in SUBMISSION_FILES],
        # the package's files and the build it was made from (cmvig_report/release/report_folder.py)
        record=paths.SUBMISSION_RECORD,
    params:
        input_paths=settings.input_paths(config),
        cause_categories=config["cause_of_death_categories"],
    log:
        paths.log("publish_submission"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/publish_submission.py"
