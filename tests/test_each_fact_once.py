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
import yaml
from cohort_factory import abstract_like_cohort, make_cohort, random_cohort

from cmvig_report.centres import federated
from cmvig_report.core import io
from cmvig_report.core.formatting import format_median_range
from cmvig_report.data import clinical, cohort, cohort_schema, endpoints, groups
from cmvig_report.data.endpoints import responded_by
from cmvig_report.devtools.synth import generate_cohort, write_cohort
from cmvig_report.figures import figure3, figure_axes, figure_flow
from cmvig_report.privacy import landmark_audit, printed_counts
from cmvig_report.render import render_settings
from cmvig_report.stats import analysis, estimands, summaries, table1

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
    split = re.compile(r"""\["infection_type"\]\s*==|\["infection_type"\]\.eq\(""")
    found = [name for name, text in _sources("groups.py").items()
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
    return yaml_load(PACKAGE.parents[1] / "config" / "config.yaml")


def yaml_load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def yaml_dump(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def test_the_renderers_take_the_settings_as_one_object():
    from inspect import signature

    from cmvig_report.render import report

    for stage in (report.run_render, report.run_qmd):
        names = set(signature(stage).parameters)
        assert "settings" in names and not names & render_settings.NAMES, stage.__name__
    assert not set(signature(report.build_context).parameters) & render_settings.NAMES


@pytest.mark.parametrize("overrides", [{}, {"study": "own", "line_numbers": True,
                                            "number_appendix": "true", "compare_with": "old",
                                            "citation_style": "vancouver"}])
def test_one_function_turns_the_rules_params_into_the_settings(overrides):
    from cmvig_report.core import settings

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


# --- the journal profile, the citation style, the bibliography ---------------------------------

@pytest.fixture
def project(tmp_path) -> Path:
    """The files the config names, in a folder of their own."""
    import shutil

    for name in ("config", "templates", "data", "workflow/schemas"):
        shutil.copytree(PACKAGE.parents[1] / name, tmp_path / name)
    return tmp_path


def test_each_resolver_has_one_definition():
    from cmvig_report.core import config_check
    from cmvig_report.render import references, report

    assert not hasattr(references, "style_path") and not hasattr(references, "bibliography_path")
    assert not hasattr(config_check, "_profile_style")
    assert report.citation_style is config_check.citation_style
    # the profile's path is spelled once, by the resolver
    spelled = re.compile(r"""\{JOURNALS\}/|JOURNALS\s*\+|/ f"\{name\}\.yaml""")
    assert [name for name, text in _sources("config_check.py").items()
            if spelled.search(text)] == []


def test_a_missing_profile_is_the_same_line_for_the_check_and_the_build(project):
    from cmvig_report.core import config_check, settings

    config = {**_config(), "journal": "bmt"}
    (line,) = config_check.input_problems(config, project)
    with pytest.raises(config_check.ConfigError) as raised:
        settings.journal_profile(config, project)  # it used to name a file that is not there
    assert str(raised.value) == line
    assert settings.journal_profile(_config(), project) == (
        f"templates/journals/{_config()['journal']}.yaml")


def test_a_profile_the_build_cannot_read_is_a_line_of_the_check(project):
    from cmvig_report.core import config_check, settings
    from cmvig_report.journals.journal import load_profile

    config = _config()
    path = project / settings.journal_profile(config, project)
    content = yaml_load(path)
    del content["figures"]
    path.write_text(yaml_dump(content))
    with pytest.raises(Exception) as build:
        load_profile(path)
    # it used to be read leniently here, and the package step failed later
    assert config_check.input_problems(config, project) == [str(build.value)]
    with pytest.raises(Exception) as listed:
        settings.submission_files(config, project)  # used to list no figure files
    assert str(listed.value) == str(build.value)


def test_the_style_in_effect_is_the_configs_else_the_profiles():
    from cmvig_report.core.config_check import ConfigError, citation_style, style_path

    profile = {"citation_style": "vancouver-nlm"}
    assert citation_style("", profile, "p.yaml") == style_path("vancouver-nlm")
    assert citation_style("apa", profile, "p.yaml") == style_path("apa")
    with pytest.raises(ConfigError, match=r"^journal profile p\.yaml: no citation_style"):
        citation_style("", {}, "p.yaml")
    with pytest.raises(ConfigError, match=r"^config citation_style='vancover': not a style"):
        citation_style("vancover", profile, "p.yaml")
    with pytest.raises(ConfigError, match=r"^journal profile p\.yaml, citation_style 'vanc'"):
        citation_style("", {"citation_style": "vanc"}, "p.yaml")


def test_a_style_file_is_an_input_exactly_when_the_resolver_reads_a_file(project):
    from cmvig_report.core import config_check, settings

    for style, is_file in (("", False), ("vancouver-nlm", False), ("styles/mine.csl", True),
                           ("styles/house-style", True)):
        files = settings.citation_files({**_config(), "citation_style": style}, project)
        assert ("style_file" in files) == is_file == config_check.is_style_file(style), style


def test_the_bibliography_is_resolved_once(project):
    from cmvig_report.core import config_check, settings
    from cmvig_report.core.config_check import ConfigError
    from cmvig_report.render import references

    config = _config()
    metadata, meta = config_check.read_metadata(config, project)
    expected = Path(settings.bibliography_file(config, project))
    style = config_check.style_path("vancouver-nlm")
    refs = references.citations(project / metadata, meta, style, "html")
    assert Path(refs.name).resolve() == (project / expected).resolve()
    meta["bibliography"] = "nosuch.bib"
    with pytest.raises(ConfigError, match="bibliography 'nosuch.bib': no such file"):
        references.citations(project / metadata, meta, style, "html")
