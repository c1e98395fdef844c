"""The words the text uses about the data: each rule at and around its thresholds, the claims
register, strict result keys in the templates, and rendered manuscripts whose words agree with
their Table 1 and name every limit of quantification used."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import jinja2
import pandas as pd
import pytest
from report_fixtures import make_project, stage_args

from cmvig_report.core.formatting import format_measure, format_number
from cmvig_report.core.io import read_clean_cohort, write_csv
from cmvig_report.data.clinical import CLINICAL_FACTS
from cmvig_report.data.cohort import clean_cohort
from cmvig_report.devtools.synth import generate_cohort, write_cohort
from cmvig_report.errors import PipelineError
from cmvig_report.render.report import run_render
from cmvig_report.render.templating import make_environment, render_template
from cmvig_report.render.tracked import track
from cmvig_report.stats import claims
from cmvig_report.stats.analysis import run_analysis
from cmvig_report.stats.table1 import MISSING_LEVEL

LLOQ = 137


def _block(estimate, lower, upper, events=5, n=10):
    return {"estimate": estimate, "ci_lower": lower, "ci_upper": upper, "events": events, "n": n}


# ---------------------------------------------------------------- rules


@pytest.mark.parametrize(("lower", "upper", "word"), [
    (0.41, 0.67, "interval"),          # the 54% (95% CI 41-67) of the issue: not "most"
    (0.50, 0.80, "interval"),          # a lower limit of exactly one half is not above it
    (0.5001, 0.80, "most"),
    (0.20, 0.50, "interval"),          # an upper limit of exactly one half is not below it
    (0.20, 0.4999, "fewer than half"),
    (None, 0.70, "interval"),          # no lower limit: no word
])
def test_share_words_follow_the_interval_not_the_point_estimate(lower, upper, word):
    claim = claims.share_of_children(_block(0.54, lower, upper), "response")
    assert claim["word"] == word
    read = {r["input"]: (r["source"], r["value"]) for r in claim["reads"]}
    assert read["lower 95% limit"] == ("response.ci_lower", lower)
    assert read["upper 95% limit"] == ("response.ci_upper", upper)


def test_every_and_none_only_when_the_counts_say_so():
    assert claims.share_of_children(_block(1.0, 0.7, 1.0, 10, 10), "r")["word"] == "every"
    # an estimate of one with a child censored before responding is not "every child"
    assert claims.share_of_children(_block(1.0, 0.7, 1.0, 9, 10), "r")["word"] == "most"
    assert claims.share_of_children(_block(0.0, 0.0, 0.3, 0, 10), "r")["word"] == "none"
    assert claims.share_of_children(_block(None, None, None), "r")["word"] == "not estimable"
    # a hidden count earns no word that would give it back
    hidden = {"r.events": "<5"}
    assert claims.share_of_children(_block(0.0, 0.0, 0.3, 0, 10), "r", hidden)["word"] \
        == "fewer than half"  # what the interval says, not what the count would
    # a withheld estimate (small-cell control) earns no word at all, not even its interval's
    withheld = {"r.estimate": "[c]", "r.ci_lower": "[c]", "r.ci_upper": "[c]"}
    assert claims.share_of_children(_block(0.9, 0.7, 1.0, 9, 10), "r", withheld)["word"] \
        == "withheld"


@pytest.mark.parametrize(("count", "n", "missing", "word"), [
    (0, 40, 0, "none"), (40, 40, 0, "every"), (9, 40, 0, "count"), (39, 40, 0, "count"),
    (1, 40, 0, "count"), (0, 40, 2, "count"), (38, 40, 2, "count"), (0, 0, 0, "none"),
])
def test_counts_are_every_or_none_only_at_their_limits(count, n, missing, word):
    claim = claims.count_of_children(count, n, "k", "n", missing, "m")
    assert claim["word"] == word
    assert [(r["source"], r["value"]) for r in claim["reads"]] == [("k", count), ("n", n),
                                                                  ("m", missing)]


def test_a_hidden_count_is_never_every_or_none():
    assert claims.count_of_children(0, 40, "k", "n", hidden={"k": "[c]"})["word"] == "count"


def test_recorded_facts_and_missing_fields():
    assert claims.fact_recorded("resistance_testing", [], None, 40)["word"] == "not recorded"
    assert claims.fact_recorded("resistance_testing", ["resistance_testing"], 0, 40)["word"] \
        == "every"
    assert claims.fact_recorded("resistance_testing", ["resistance_testing"], 3, 40)["word"] \
        == "count"
    assert claims.fields_missing({}, 40)["word"] == "none"
    assert claims.fields_missing({"cmvig_product": 0}, 40)["word"] == "none"
    assert claims.fields_missing({"cmvig_product": 0, "steroids_at_cmvig": 9}, 40)["word"] \
        == "some"


def test_limits_study_and_the_register():
    one = [{"value": 137.0, "samples": 10}]
    two = [{"value": 35.0, "samples": 3}, *one]
    assert claims.limits_used(one)["word"] == "one limit"
    assert claims.limits_used(two)["word"] == "several limits"
    many = [{"value": float(v), "samples": 1} for v in (20, 35, 50, 137)]
    assert claims.limits_used(many)["word"] == "range of limits"
    assert claims.original_report("replication")["word"] == "compared with the original report"
    assert claims.original_report("own")["word"] == "own study"

    made = {"infusion_reactions": claims.count_of_children(3, 40, "infusion_reactions",
                                                           "n_patients")}
    rows = claims.register_rows(made, {"infusion_reactions": "<5"})
    assert [list(r) for r in rows][0] == claims.COLUMNS
    hidden, shown = rows
    assert (hidden["text"], hidden["value"], hidden["suppressed"]) == ("<5", "", "yes")
    assert hidden["source"] == "estimates.json#infusion_reactions"
    assert (shown["text"], shown["value"], shown["suppressed"]) == ("40", "40", "no")


# ---------------------------------------------------------------- strict keys


@pytest.mark.parametrize("read", [
    "{% if est.resistance_testing is defined %}tested{% endif %}",
    "{% if est.resistance_testing is not none %}tested{% endif %}",
    "{{ est.clinical.resistance_testing | default('no') }}",
    "{{ est['resistance_testing'] }}",
])
def test_reading_a_key_the_estimates_do_not_hold_stops_the_render(tmp_path, read):
    (tmp_path / "t.j2").write_text(read + "\n")
    env = make_environment(tmp_path, html=False)
    est = track({"clinical": {"recorded": ["resistance_testing"]}, "n_patients": 3},
                "estimates.json")
    with pytest.raises(PipelineError) as info:
        render_template(env, "t.j2", {"est": est})
    message = str(info.value)
    assert "t.j2, line 1" in message and "resistance_testing" in message
    assert "estimates.json" in message


def test_an_optional_key_is_asked_for_with_in(tmp_path):
    (tmp_path / "t.j2").write_text('{{ "yes" if "at_risk" in est.b else "no" }}'
                                   '{{ est.b.items() | list | length }}')
    env = make_environment(tmp_path, html=False)
    assert render_template(env, "t.j2", {"est": track({"b": {"n": 1}}, "estimates.json")}) \
        == "no1"


# ---------------------------------------------------------------- rendered manuscripts


def _text(kwargs: dict) -> str:
    html = kwargs["_project"] / "report" / "m.html"
    run_render(**stage_args(kwargs), html=str(html), pdf=None,
               claims_csv=str(html.with_name("claims.csv")))
    text = re.sub(r"</?span\b[^>]*>", "", html.read_text())
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", text, flags=re.S)
    return " ".join(text.split()).replace("&#39;", "'")


def _generated(tmp_path: Path, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    patients, loads = generate_cohort(n, seed, clinical=True)
    p, v = write_cohort(patients, loads, tmp_path / "export")
    result = clean_cohort(p, v, LLOQ)
    write_csv(result.cohort, tmp_path / "cohort.csv")
    return read_clean_cohort(tmp_path / "cohort.csv"), result.viral_loads


def _empty(values: pd.Series) -> pd.Series:
    return values.isna() | values.astype(str).str.strip().eq("")


def test_an_own_study_with_clinical_columns_agrees_with_its_table1(tmp_path):
    cohort, loads = _generated(tmp_path, 40, 11)
    cohort.loc[cohort.index[:9], "cmvig_product"] = ""  # nine children without the product
    kwargs = make_project(tmp_path / "p", cohort, study="own",
                          sample_lloqs=loads["lloq_iu_ml"])
    text = _text(kwargs)
    table = pd.read_csv(kwargs["table1"], dtype=str, keep_default_na=False)

    # resistance genotyping is in the export: named as recorded, never as not recorded
    assert "Resistance genotyping" in set(table["variable"])
    assert "resistance testing is not recorded" not in text.lower()
    assert "Genotypic antiviral resistance testing is reported where it was done" in text

    # Table 1 has "not recorded" rows, so no sentence says that nothing was missing
    not_recorded = table[table["level"] == MISSING_LEVEL]
    assert len(not_recorded) and "No patient field was missing" not in text
    assert "none was missing" not in text
    sentence = text.split("Every required patient field was complete;", 1)[1].split(
        "(Table 1)", 1)[0]
    n = len(cohort)
    without = int(_empty(cohort["cmvig_product"]).sum())  # the nine, and any the generator left
    assert without >= 9
    assert f"the CMVIG product was not recorded for {without} of the {n} children" in sentence
    # every Table 1 "not recorded" count is the one the sentence gives for that fact
    words = {"Systemic steroids at the first CMVIG dose": "systemic steroids",
             "Resistance genotyping": "antiviral resistance genotyping",
             "CMV disease at the first CMVIG dose": "CMV end-organ disease",
             "Acute GVHD grade at the first CMVIG dose": "the grade of acute graft",
             "CMVIG product": "the CMVIG product",
             "Conditioning intensity": "the conditioning intensity",
             "Serotherapy": "serotherapy",
             "T-cell depletion": "T-cell depletion",
             "CMV prevention strategy": "the CMV prevention strategy",
             "Chronic GVHD at the first CMVIG dose": "chronic GVHD"}
    for row in not_recorded.itertuples():
        k = row.overall.split()[0]
        assert re.search(re.escape(words[row.variable]) + r"[^,;]*? for " + k + r"\b", sentence), \
            (row.variable, k, sentence)
    # and each optional column with an empty cell is named, Table 1 row or not
    for column in CLINICAL_FACTS:
        if column in cohort and _empty(cohort[column]).any() and column != "cmvig_dose":
            assert str(int(_empty(cohort[column]).sum())) in sentence, column

    # no word about the antivirals that the counts do not bear out
    given = (cohort["n_prior_antivirals"].gt(0) | ~_empty(cohort["antivirals_at_cmvig"]))
    if given.all():
        assert "Every child also received antivirals" in text
    else:
        assert "Every child also received" not in text and "every child also received" not in text
        assert f"for {int(given.sum())} of {n} children, so a response cannot" in text
        assert f"after or with antivirals in {int(given.sum())} of {n} children" in text
    # an own study is compared with no original report
    assert "original report" not in text


def test_the_claims_register_lists_each_word_with_what_it_read(tmp_path):
    cohort, loads = _generated(tmp_path, 40, 11)
    kwargs = make_project(tmp_path / "p", cohort, study="own", sample_lloqs=loads["lloq_iu_ml"])
    _text(kwargs)
    with open(kwargs["_project"] / "report" / "claims.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == claims.COLUMNS
    est = kwargs["_estimates"]
    for row in rows:
        assert row["word"] == est["claims"][row["claim"]]["word"]
    by = {(r["claim"], r["input"]): r for r in rows}
    assert by[("infusion_reactions", "children with it")]["value"] == \
        str(int(cohort["infusion_reaction"].eq("yes").sum()))
    assert by[("response_share", "lower 95% limit")]["source"] == \
        "estimates.json#response.ci_lower"


def test_under_small_cell_control_the_register_prints_no_small_count(tmp_path):
    cohort, _ = _generated(tmp_path, 30, 5)
    write_csv(cohort, tmp_path / "cohort.csv")
    (tmp_path / "dq.csv").write_text("patient_id,check,detail\n")
    out = {k: str(tmp_path / f"{k}.out") for k in ("estimates", "table1", "curves",
                                                    "disclosure_log")}
    run_analysis(cohort=str(tmp_path / "cohort.csv"), data_quality=str(tmp_path / "dq.csv"),
                 response_day=50, os_cmvig_day=100, os_hsct_day=365, lloq=LLOQ,
                 sensitivity_days=[50], study_period=("", "data"), min_cell_count=5, **out)
    import json

    est = json.loads(Path(out["estimates"]).read_text())
    hidden = est["disclosure"]["hidden"]
    rows = claims.register_rows(est["claims"], hidden)
    counts = [r for r in rows if r["input"].startswith("children") or r["input"] == "events"]
    assert counts
    for row in counts:
        if row["suppressed"] == "yes":
            assert row["text"] in ("<5", "[c]") and row["value"] == ""
        else:  # a count shown is zero or at least the limit
            assert int(row["value"]) == 0 or int(row["value"]) >= 5, row
    # the counts the claims read about the clinical facts are in the small-cell plan
    assert any(r["suppressed"] == "yes" and r["source"].startswith("estimates.json#clinical.")
               for r in rows)


def _two_limit_export(tmp_path: Path) -> tuple[Path, Path, int, int]:
    patients, loads = generate_cohort(20, 8)
    own = loads.index % 3 == 0  # a third of the samples measured by an assay with LLOQ 35
    loads["lloq_iu_ml"] = ""
    loads.loc[own, "lloq_iu_ml"] = "35"
    p, v = write_cohort(patients, loads, tmp_path / "export")
    return p, v, int(own.sum()), int((~own).sum())


def test_each_limit_used_is_named_with_its_samples(tmp_path):
    p, v, at_35, at_137 = _two_limit_export(tmp_path)
    result = clean_cohort(p, v, LLOQ)
    write_csv(result.cohort, tmp_path / "cohort.csv")
    cohort = read_clean_cohort(tmp_path / "cohort.csv")
    kwargs = make_project(tmp_path / "p", cohort, study="own",
                          sample_lloqs=result.viral_loads["lloq_iu_ml"])
    assert kwargs["_estimates"]["lloq"]["limits"] == [{"value": 35.0, "samples": at_35},
                                                      {"value": 137.0, "samples": at_137}]
    text = _text(kwargs)
    named = (f"{format_measure(35)} IU/mL for {format_number(at_35)} samples and "
             f"{format_measure(137)} IU/mL for {format_number(at_137)} samples")
    abstract = text.split("Methods.", 1)[1].split("Results.", 1)[0]
    assert named in abstract
    definitions = text.split("A child responded on the date", 1)[1].split("Time to response", 1)[0]
    assert named in definitions and "unless the export gave" not in definitions
    caption = text.split("Figure 3.", 1)[1][:900]
    assert named in caption and "beneath the lowest" in caption


def test_a_result_above_its_own_lower_limit_is_no_response(tmp_path):
    # P09 of the shipped export: 100 IU/mL on day 28 is below the config's 137 (a response),
    # but not below the 35 IU/mL of an assay that reports its own limit (no response)
    raw = Path(__file__).resolve().parents[1] / "data" / "raw"
    patients = pd.read_csv(raw / "patients.csv", dtype=str, keep_default_na=False)
    loads = pd.read_csv(raw / "viral_loads.csv", dtype=str, keep_default_na=False)
    day28 = (loads["patient_id"] == "P09") & (loads["sample_date"] == "2020-08-25")
    assert day28.sum() == 1
    loads.loc[day28, "cmv_dna_iu_ml"] = "100"
    patients.to_csv(tmp_path / "p.csv", index=False)
    loads.to_csv(tmp_path / "v.csv", index=False)
    config_limit = clean_cohort(tmp_path / "p.csv", tmp_path / "v.csv", LLOQ).cohort
    assert config_limit.set_index("patient_id").loc["P09", "days_to_response"] == 28
    loads["lloq_iu_ml"] = ""
    loads.loc[day28, "lloq_iu_ml"] = "35"
    loads.to_csv(tmp_path / "v.csv", index=False)
    result = clean_cohort(tmp_path / "p.csv", tmp_path / "v.csv", LLOQ)
    assert not result.cohort.set_index("patient_id").loc["P09", "responded"]
    # and the estimates name both limits, with one sample at 35 IU/mL
    assert sorted(result.viral_loads["lloq_iu_ml"].value_counts().items()) == \
        [(35.0, 1), (137.0, len(result.viral_loads) - 1)]


def test_jinja_still_raises_on_an_undefined_variable(tmp_path):
    (tmp_path / "t.j2").write_text("{{ nothing }}")
    env = make_environment(tmp_path, html=False)
    assert isinstance(env, jinja2.Environment)
    with pytest.raises(PipelineError, match="undefined variable 'nothing'"):
        render_template(env, "t.j2", {})
