"""Each fact of the report is defined in one place and every module uses that definition.

The groups (who is recurrent or refractory, their names and order), "responded by day d", the
median/range summary, the cohort.csv schema, the resolvers of the journal profile, citation
style and bibliography, and the render settings: a second definition that drifted would make
two parts of the manuscript disagree, so each test compares every user with the one definition
(over a few cohorts) or checks that the old duplicates are gone.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pandas as pd
import pytest
from cohort_factory import abstract_like_cohort, make_cohort, random_cohort

from cmvig_report import (
    analysis,
    clinical,
    cohort,
    cohort_schema,
    endpoints,
    estimands,
    federated,
    figure3,
    figure_axes,
    figure_flow,
    groups,
    io,
    landmark_audit,
    printed_counts,
    render_settings,
    summaries,
    table1,
)
from cmvig_report.devtools.synth import generate_cohort, write_cohort
from cmvig_report.endpoints import responded_by
from cmvig_report.formatting import format_median_range

PACKAGE = Path(__file__).resolve().parents[1] / "workflow" / "cmvig_report"
COHORTS = [abstract_like_cohort(), random_cohort(23, seed=3), random_cohort(40, seed=11),
           random_cohort(9, seed=5)]


def _sources(*exclude: str) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py"))
            if p.name not in exclude}


# --- the groups --------------------------------------------------------------------------------

def test_group_names_and_order_have_one_definition():
    assert groups.GROUPS == ("recurrent", "refractory")
    for module in (analysis, estimands, federated, figure3, figure_axes, figure_flow,
                   landmark_audit, printed_counts):
        assert module.GROUPS is groups.GROUPS, module.__name__
    assert printed_counts.COLUMNS is groups.COLUMNS
    assert figure_flow.LABELS is groups.LABELS and figure3.LABELS is groups.LABELS
    literal = re.compile(r"""\(\s*["']recurrent["'],\s*["']refractory["']\s*\)""")
    assert [name for name, text in _sources("groups.py").items() if literal.search(text)] == []
    assert not hasattr(table1, "_groups") and not hasattr(landmark_audit, "_group")


def test_no_module_splits_the_cohort_by_its_own_comparison():
    # figures.py is being split into smaller modules; its one split goes with that work
    split = re.compile(r"""\["infection_type"\]\s*==|\["infection_type"\]\.eq\(""")
    found = [name for name, text in _sources("groups.py", "figures.py", "quality.py").items()
             if split.search(text)]
    assert found == []


@pytest.mark.parametrize("cohort", COHORTS)
def test_every_module_puts_the_same_children_in_each_group(cohort):
    expected = {g: int((cohort["infection_type"] == g).sum()) for g in groups.GROUPS}
    assert groups.sizes(cohort) == expected
    header = table1.build_table1(cohort).iloc[0]
    assert {g: int(str(header[g])) for g in groups.GROUPS} == expected
    cells = printed_counts.catalogue(cohort, 30)[0]
    assert {g: cells[printed_counts.size(g)] for g in groups.GROUPS} == expected
    assert {g: c["n"] for g, c in figure_flow.flow_counts(cohort, 30).items()} == expected
    assert list(figure_flow.flow_counts(cohort, 30)) == list(groups.GROUPS)
    bundle = federated.build_bundle(cohort, unit="day", response_day=30, min_cell_count=0,
                                    freeze_sha256={})
    entered = {g: int(federated._tables([bundle], "response", [g])["entered"].sum())
               for g in groups.GROUPS}
    assert entered == expected


# --- responded by day d ------------------------------------------------------------------------

def test_responded_by_is_the_response_on_or_before_the_day():
    c = make_cohort([{"type": "recurrent", "response": 3, "fu": 100},
                     {"type": "recurrent", "response": 5, "fu": 100},
                     {"type": "refractory", "response": None, "fu": 2}])
    assert responded_by(c, 3).tolist() == [True, False, False]
    assert responded_by(c, 5).tolist() == [True, True, False]
    assert responded_by(c, 2).tolist() == [False, False, False]


def test_responded_by_has_one_definition():
    assert not hasattr(analysis, "_responded_by")
    spelled = re.compile(r"days_to_response\"\]\s*(?:\.le\(|<=|\.fillna\([^)]*\)\s*<=)")
    assert [name for name, text in _sources("endpoints.py").items()
            if spelled.search(text)] == []


@pytest.mark.parametrize("cohort", COHORTS)
@pytest.mark.parametrize("day", [14, 28, 50])
def test_every_count_of_responders_by_day_agrees(cohort, day):
    expected = {g: int(responded_by(groups.of_group(cohort, g), day).sum())
                for g in groups.COLUMNS}
    assert analysis.crude_response(cohort, day)["responders"] == expected["overall"]
    cells = printed_counts.catalogue(cohort, day)[0]
    yes, _ = printed_counts.by_day(day)
    assert {g: cells[printed_counts.cell(yes, g)] for g in groups.GROUPS} == {
        g: expected[g] for g in groups.GROUPS}
    flow = figure_flow.flow_counts(cohort, day)
    assert {g: flow[g]["responded"] for g in groups.GROUPS} == {
        g: expected[g] for g in groups.GROUPS}
    assert {g: flow[g]["not_responded"] for g in groups.GROUPS} == {
        g: groups.sizes(cohort)[g] - expected[g] for g in groups.GROUPS}


# --- the median and range ----------------------------------------------------------------------

def test_median_range_by_hand():
    assert summaries.median_range(pd.Series([3, 9, 4])) == {"median": 4.0, "min": 3.0,
                                                            "max": 9.0}
    assert summaries.median_range(pd.Series([1, 2])) == {"median": 1.5, "min": 1.0, "max": 2.0}
    assert summaries.median_range(pd.Series([], dtype=float)) is None


def test_median_range_has_one_definition():
    assert not hasattr(figure_flow, "_median_range")
    assert not hasattr(table1, "log10_quartiles") or (
        table1.log10_quartiles is summaries.log10_quartiles)
    taken = re.compile(r"\.median\(\)")
    # figure3 takes weekly medians of the loads for its band (a plotted curve, not a summary)
    assert [name for name, text in _sources("summaries.py", "figure3.py").items()
            if taken.search(text)] == []


@pytest.mark.parametrize("cohort", COHORTS)
def test_every_median_range_agrees(cohort):
    for g in groups.GROUPS:
        d = groups.of_group(cohort, g)
        flow = figure_flow.flow_counts(cohort, 30)[g]
        assert flow["doses"] == summaries.median_range(d["cmvig_doses"])
        assert flow["antivirals"] == summaries.median_range(d["n_prior_antivirals"])
    block = summaries.median_range(cohort["age_at_hsct"])
    assert table1.fmt_median_range(cohort["age_at_hsct"], 1) == format_median_range(block, 1)
    est = analysis._median_range(cohort["cmvig_doses"])
    whole = summaries.median_range(cohort["cmvig_doses"])
    assert (est["median"], est["min"], est["max"]) == (
        round(whole["median"], 6), int(whole["min"]), int(whole["max"]))
    row = table1.build_table1(cohort)
    age = row[row["variable"].str.startswith("Age")].iloc[0]
    assert age["overall"] == format_median_range(block, 1)


# --- the cohort.csv schema ---------------------------------------------------------------------

def test_the_cohort_schema_has_one_definition():
    assert not hasattr(cohort, "COHORT_COLUMNS")
    for name in ("COHORT_BOOL_COLUMNS", "COHORT_INT_COLUMNS", "COHORT_NULLABLE_INT_COLUMNS",
                 "CLINICAL_TEXT_COLUMNS", "CLINICAL_FLOAT_COLUMNS", "CLINICAL_INT_COLUMNS"):
        assert not hasattr(io, name), name
    assert clinical.CLINICAL_COLUMNS is cohort_schema.CLINICAL_COLUMNS
    assert endpoints.NEW_THERAPY_COLUMNS is cohort_schema.NEW_THERAPY_COLUMNS
    # every clinical number is typed as the cohort step checks it (whole or measured)
    for col, (_, whole, _, _) in clinical.CLINICAL_NUMBERS.items():
        assert cohort_schema.CLINICAL[col] == (cohort_schema.NULLABLE_INT if whole
                                               else cohort_schema.FLOAT), col


DTYPES = {cohort_schema.TEXT: "object", cohort_schema.DATE: "object",
          cohort_schema.BOOL: "bool", cohort_schema.INT: "int64",
          cohort_schema.NULLABLE_INT: "Int64", cohort_schema.FLOAT: "float64"}


@pytest.mark.parametrize(("seed", "with_clinical"), [(1, False), (2, True), (3, True)])
def test_the_cohort_step_writes_and_io_reads_the_schema(tmp_path, seed, with_clinical):
    patients, loads = generate_cohort(12, seed, clinical=with_clinical)
    p, v = write_cohort(patients, loads, tmp_path)
    cleaned = cohort.clean_cohort(p, v, 137).cohort
    assert list(cleaned.columns) == cohort_schema.columns(cleaned.columns)
    assert (set(cohort_schema.CLINICAL_COLUMNS) <= set(cleaned.columns)) == with_clinical
    io.write_csv(cleaned, tmp_path / "cohort.csv")
    back = io.read_clean_cohort(tmp_path / "cohort.csv")
    assert list(back.columns) == list(cleaned.columns)
    assert {c: str(back[c].dtype) for c in back.columns} == {
        c: DTYPES[cohort_schema.KINDS[c]] for c in back.columns}


def test_a_missing_load_at_cmvig_reads_back_as_missing(tmp_path):
    c = make_cohort([{"type": "recurrent", "response": 10, "fu": 50, "load": None},
                     {"type": "refractory", "response": None, "fu": 80, "load": 2500.0}])
    io.write_csv(c, tmp_path / "cohort.csv")
    back = io.read_clean_cohort(tmp_path / "cohort.csv")
    assert back["viral_load_at_cmvig"].dtype == float
    assert back["viral_load_at_cmvig"].isna().tolist() == [True, False]


# --- the render settings -----------------------------------------------------------------------

def _config() -> dict:
    import yaml

    return yaml.safe_load((PACKAGE.parents[1] / "config" / "config.yaml").read_text())


def test_the_renderers_take_the_settings_as_one_object():
    from inspect import signature

    from cmvig_report import report

    for stage in (report.run_render, report.run_qmd):
        names = set(signature(stage).parameters)
        assert "settings" in names and not names & render_settings.NAMES, stage.__name__
    assert not set(signature(report.build_context).parameters) & render_settings.NAMES


@pytest.mark.parametrize("overrides", [{}, {"study": "own", "line_numbers": True,
                                            "number_appendix": "true", "compare_with": "old",
                                            "citation_style": "vancouver"}])
def test_one_function_turns_the_rules_params_into_the_settings(overrides):
    from cmvig_report import settings

    config = {**_config(), **overrides}
    params = settings.manuscript_params(config)
    made, rest = render_settings.from_params(params)
    assert rest == {}  # every param the rule passes is a setting
    assert {name: getattr(made, name) for name in params} == params
    assert made.replication == (config["study"] == "replication")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.strict_metadata = True  # type: ignore[misc]


def test_a_rules_script_hands_its_stage_one_settings_object():
    seen = {}

    def stage(*, settings, html):
        seen.update(settings=settings, html=html)
        return []

    render_settings.with_settings(stage)(html="m.html", replication=True, strict_numbers=True,
                                         compare_with="")
    assert seen == {"settings": render_settings.RenderSettings(replication=True,
                                                               strict_numbers=True),
                    "html": "m.html"}
    scripts = PACKAGE.parent / "scripts"
    for script, stage_name in (("manuscript.py", "run_render"), ("quarto_source.py", "run_qmd")):
        assert f"with_settings({stage_name})" in (scripts / script).read_text(), script
