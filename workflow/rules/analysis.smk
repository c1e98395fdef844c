rule estimates:
    input:
        cohort=rules.clean_cohort.output.cohort,
        data_quality=rules.clean_cohort.output.data_quality,
        # each sample's limit of quantification (the limits the text names) and the samples
        # the response endpoints read
        viral_loads=rules.clean_cohort.output.clean_viral_loads,
        code=codebase.stage_code("estimates"),
    output:
        estimates=report(
            paths.for_centre(paths.ESTIMATES),
            caption="../report/estimates.rst",
            category="Estimates",
        ),
        table1=report(
            paths.for_centre(paths.TABLE1), caption="../report/table1.rst", category="Estimates"
        ),
        curves=paths.for_centre(paths.KM_CURVES),
        disclosure_log=report(
            paths.for_centre(paths.DISCLOSURE_LOG),
            caption="../report/disclosure_log.rst",
            category="Estimates",
        ),
    params:
        response_day=config["response_day"],
        os_cmvig_day=config["os_cmvig_day"],
        os_hsct_day=config["os_hsct_day"],
        lloq=export_value("lloq_iu_ml"),
        sensitivity_days=config["sensitivity_days"],
        study=config["study"],
        response_min_baseline_iu_ml=config["response_min_baseline_iu_ml"],
        response_confirmation_min_days=config["response_confirmation_min_days"],
        response_sustained_days=config["response_sustained_days"],
        new_therapy_after_cmvig=config["new_therapy_after_cmvig"],
        study_period=STUDY_PERIOD,
        min_cell_count=config["min_cell_count"],
    log:
        paths.log("estimates", CD),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/estimates.py"


# With compare_with (a previous build's results/ folder): which patients were added, removed or
# changed since that freeze. Internal: the list holds patient IDs; the manuscript prints counts.
rule freeze_changes:
    input:
        cohort=rules.clean_cohort.output.cohort,
        code=codebase.stage_code("freeze_changes"),
    output:
        changes_patients=paths.for_centre(paths.CHANGES_PATIENTS),
        changes_summary=paths.for_centre(paths.CHANGES_SUMMARY),
    params:
        compare_with=export_value("compare_with"),
    log:
        paths.log("freeze_changes", CD),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/freeze_changes.py"
