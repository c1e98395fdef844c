"""Table 1 counts, formatting and escaping."""

from __future__ import annotations

from cohort_factory import make_cohort

from cmvig_report.table1 import build_table1, fmt_count, fmt_median_range, table1_html


def _cohort():
    return make_cohort([
        {"type": "recurrent", "response": 10, "fu": 100, "drugs": "ganciclovir;foscarnet",
         "age": 2.0, "doses": 3, "diagnosis": "<b>x</b>"},
        {"type": "recurrent", "response": None, "fu": 100, "drugs": "ganciclovir",
         "age": 4.5, "doses": 5},
        {"type": "refractory", "response": 20, "fu": 100, "drugs": "", "age": 11.0, "doses": 8},
    ])


def test_counts_and_percentages():
    t = build_table1(_cohort()).set_index(["variable", "level"])
    assert t.loc[("Patients", ""), ["overall", "recurrent", "refractory"]].tolist() == [
        "3", "2", "1"]
    gan = t.loc[("Antivirals before CMVIG", "Ganciclovir")]
    assert gan.tolist() == ["2 (67%)", "2 (100%)", "0 (0%)"]
    assert t.loc[("Antivirals before CMVIG", "Foscarnet"), "overall"] == "1 (33%)"
    assert t.loc[("CMVIG doses", "median (range)"), "overall"] == "5 (3–8)"
    assert t.loc[("Age at HSCT, years", "median (range)"), "recurrent"] == "3.2 (2.0–4.5)"


def test_formatters():
    assert fmt_count(1, 8) == "1 (13%)"  # 12.5 rounds half up
    assert fmt_count(5, 8) == "5 (63%)"
    assert fmt_count(0, 0) == "–"
    import pandas as pd
    assert fmt_median_range(pd.Series([], dtype=float)) == "–"


def test_html_is_escaped():
    html = table1_html(build_table1(_cohort()))
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html
    assert html.startswith('<table class="table1">')
