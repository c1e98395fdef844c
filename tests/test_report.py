"""Manuscript rendering: numbers from the data, strict templates, escaping, no network,
identical bytes for identical inputs. Inputs are fabricated in tmp_path (report_fixtures)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import yaml
from cohort_factory import abstract_like_cohort, make_cohort, random_cohort
from pypdf import PdfReader
from report_fixtures import (
    FIGURE1_SMALL_CELLS,
    FIGURE2_AXES,
    make_project,
    qmd_args,
    stage_args,
)

from cmvig_report.core.formatting import format_p, format_percent_ci, plural
from cmvig_report.errors import PipelineError
from cmvig_report.render.report import replication_rows, run_qmd, run_render, table1_rows
from cmvig_report.render.templating import markdown_escape


def _render(kwargs: dict, name: str = "m", pdf: bool = True) -> tuple[Path, Path, list[str]]:
    report = kwargs["_project"] / "report"
    html_out, pdf_out = report / f"{name}.html", report / f"{name}.pdf"
    notes = run_render(**stage_args(kwargs), html=str(html_out),
                       pdf=str(pdf_out) if pdf else None)
    return html_out, pdf_out, notes


def _squash(text: str) -> str:
    # Line breaks and hyphenation put spaces and hyphens anywhere in extracted PDF text.
    return re.sub(r"[\s\-\u00ad]", "", text)


def _pdf_text(pdf: Path, first_page_only: bool = False) -> str:
    pages = PdfReader(pdf).pages
    return _squash(" ".join(p.extract_text() for p in (pages[:1] if first_page_only else pages)))


def _html_text(html: Path) -> str:
    # number spans are inline: drop them without a space, other tags end a word
    text = re.sub(r"</?span\b[^>]*>", "", html.read_text())
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", text, flags=re.S)
    return " ".join(text.split())


def _abstract_numbers(est: dict) -> list[str]:
    return [format_percent_ci(est["response"]), format_percent_ci(est["os_from_cmvig"]),
            format_percent_ci(est["os_from_hsct"]),
            f"Of {plural(est['n_patients'], 'child', 'children')},",
            f"{est['infection_type']['recurrent']} had a recurrent and "
            f"{est['infection_type']['refractory']} a refractory infection",
            f"{plural(est['deaths']['total'], 'child', 'children')} died"]


def test_pdf_abstract_holds_the_numbers_of_whichever_cohort_is_rendered(tmp_path):
    a = make_project(tmp_path / "a", abstract_like_cohort())
    _, pdf_a, _ = _render(a)
    text_a = _pdf_text(pdf_a, first_page_only=True)
    for number in _abstract_numbers(a["_estimates"]):
        assert _squash(number) in text_a, number
    assert _squash("No infusion-related adverse event") in text_a

    b = make_project(tmp_path / "b", random_cohort(120, seed=3))
    _, pdf_b, _ = _render(b)
    text_b = _pdf_text(pdf_b, first_page_only=True)
    for number in _abstract_numbers(b["_estimates"]):
        assert _squash(number) in text_b, number
    for block in ("response", "os_from_cmvig", "os_from_hsct"):
        assert _squash(format_percent_ci(a["_estimates"][block])) not in text_b, block
    assert "Of 15 children," not in text_b
    assert _squash(format_p(b["_estimates"]["logrank_p"])) in _pdf_text(pdf_b)


def test_misspelled_variable_names_template_line_and_variable(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    partial = kwargs["_templates"] / "partials" / "results.html.j2"
    lines = partial.read_text().splitlines()
    lines.insert(3, "  <p>{{ est.n_patiens }}</p>")
    partial.write_text("\n".join(lines) + "\n")
    with pytest.raises(PipelineError) as info:
        _render(kwargs, pdf=False)
    message = str(info.value)
    assert "templates/partials/results.html.j2" in message
    assert "line 4" in message
    assert "'n_patiens'" in message
    assert not (kwargs["_project"] / "report" / "m.html").exists()


def test_misspelled_variable_inside_a_shared_macro_points_at_the_macro(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    text_j2 = kwargs["_templates"] / "text.j2"
    source = text_j2.read_text().replace("{{ est.study_period | period }}",
                                         "{{ est.study_perod | period }}", 1)
    text_j2.write_text(source)
    expected_line = next(i for i, line in enumerate(source.splitlines(), 1)
                         if "study_perod" in line)
    with pytest.raises(PipelineError) as info:
        _render(kwargs, pdf=False)
    assert f"templates/text.j2, line {expected_line}" in str(info.value)
    assert "study_perod" in str(info.value)


def test_template_syntax_error_names_file_and_line(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    partial = kwargs["_templates"] / "partials" / "methods.html.j2"
    partial.write_text(partial.read_text() + "{% if %}\n")
    n_lines = len(partial.read_text().splitlines())
    with pytest.raises(PipelineError, match=rf"partials/methods.html.j2, line {n_lines}"):
        _render(kwargs, pdf=False)


def test_values_from_the_data_and_metadata_are_html_escaped(tmp_path):
    cohort = make_cohort([{"type": "recurrent", "response": 10, "fu": 200, "died": True,
                           "cause": "<b>x</b>"},
                          {"type": "refractory", "response": None, "fu": 300}])
    kwargs = make_project(tmp_path, cohort)
    metadata = kwargs["_metadata"]
    meta = yaml.safe_load(metadata.read_text())
    meta["funding"] = "Paid by <i>y</i> & co."
    metadata.write_text(yaml.safe_dump(meta, allow_unicode=True))
    html, _, _ = _render(kwargs, pdf=False)
    text = html.read_text()
    assert "&lt;b&gt;x&lt;/b&gt;" in text
    assert "<b>x</b>" not in text
    assert "Paid by &lt;i&gt;y&lt;/i&gt; &amp; co." in text


def test_remote_and_outside_resources_are_refused_without_any_network_request(
        tmp_path, monkeypatch):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    partial = kwargs["_templates"] / "partials" / "figures.html.j2"
    pixel = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4"
             "nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")
    partial.write_text(partial.read_text()
                       + '\n<img src="http://example.org/logo.png">'
                       + '\n<img src="file:///etc/hostname">'
                       + f'\n<img src="{pixel}">\n')

    def no_network(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    _, pdf, notes = _render(kwargs)
    assert pdf.exists()
    assert [n for n in notes if not n.startswith("words:")] == [
        "refused to fetch http://example.org/logo.png: no network access",
        "refused to fetch file:///etc/hostname: outside the project"]


def test_two_renders_give_identical_pdf_bytes_without_a_date(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    kwargs = make_project(tmp_path, abstract_like_cohort())
    _, pdf1, notes = _render(kwargs, "one")
    _, pdf2, _ = _render(kwargs, "two")
    assert [n for n in notes if not n.startswith("words:")] == []
    assert pdf1.read_bytes() == pdf2.read_bytes()
    reader = PdfReader(pdf1)
    assert "/CreationDate" not in reader.metadata and "/ModDate" not in reader.metadata
    assert reader.metadata["/Title"].startswith("CMV hyperimmune globulin")


def test_source_date_epoch_sets_the_document_date(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    html, _, _ = _render(make_project(tmp_path, abstract_like_cohort()), pdf=False)
    assert '<meta name="dcterms.created" content="2023-11-14">' in html.read_text()


def test_line_numbers_switch_and_replication_appendix(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    kwargs.update(line_numbers=True, replication=False)
    html, _, _ = _render(kwargs, pdf=False)
    text = html.read_text()
    assert '<body class="line-numbers">' in text
    assert "Replication check" not in text and "Appendix A. Reproducibility" in text
    kwargs.update(line_numbers=False, replication=True)
    html, _, _ = _render(kwargs, pdf=False)
    text = html.read_text()
    assert "<body>" in text
    assert "Replication check" in text and "Appendix B. Reproducibility" in text
    n = len(yaml.safe_load(Path(kwargs["published"]).read_text())["values"])
    assert f"{n} of {n} values match" in _html_text(html)


def test_prose_adapts_to_the_data(tmp_path):
    # No deaths, two infusion reactions, everyone responding.
    cohort = make_cohort([
        {"type": "recurrent", "response": 10, "fu": 400, "reaction": "yes"},
        {"type": "recurrent", "response": 20, "fu": 500, "reaction": "yes"},
        {"type": "refractory", "response": 30, "fu": 450}])
    text = _html_text(_render(make_project(tmp_path / "a", cohort, study="own"), pdf=False)[0])
    assert "No child died during follow-up." in text
    # 2 of 3: Clopper-Pearson limits 0.094 (beta 2, 2) and 0.975^(1/3) = 0.992
    assert ("An infusion-related adverse event occurred in 2 children (2 of 3, 67%; exact 95% "
            "CI 9–99%).") in text
    assert "no infusion caused" not in text
    assert "nan" not in text.lower().split()
    # all three responded by the landmark: "every", a word the estimate bears out exactly
    assert ("Conclusions. Every child reached a viral load below the limit of "
            "quantification") in text
    # an own study: the cumulative incidence is primary, one minus Kaplan-Meier a sensitivity
    assert re.search(r"with death before response as a competing event, was \d+%", text)
    assert "One minus the Kaplan–Meier estimate, deaths censored, gave" in text

    # Nobody responds.
    rows = [{"type": "recurrent" if i % 2 else "refractory", "response": None, "fu": 200}
            for i in range(150)]
    project = make_project(tmp_path / "big", make_cohort(rows), study="own")
    text = _html_text(_render(project, pdf=False)[0])
    assert "Conclusions. No child reached a viral load below the limit" in text
    assert "Most children" not in text

    # One death, not from CMV, and a landmark that cannot be estimated.
    cohort = make_cohort([
        {"type": "recurrent", "response": None, "fu": 40, "died": True, "cause": "Relapse"},
        {"type": "refractory", "response": 12, "fu": 300}])
    patch = {"os_from_hsct": {"day": 365, "estimate": None, "ci_lower": None,
                              "ci_upper": None, "reason": "landmark beyond the last follow-up "
                              "(day 360)", "n": 2, "at_risk": 0, "events": 1, "censored": 1}}
    text = _html_text(_render(make_project(tmp_path / "b", cohort, estimates_patch=patch,
                                           study="own"),
                              pdf=False)[0])
    assert "During follow-up 1 child died, of a cause unrelated to CMV." in text
    assert "Recorded cause of death: Relapse." in text  # one death: no count printed
    assert "not estimable (landmark beyond the last follow-up (day 360))" in text
    # none of 2: the exact one-sided 97.5% bound is 1 - 0.025^(1/2) = 0.842 (84%)
    assert "No infusion-related adverse event occurred (0 of 2; exact one-sided 97.5% upper " \
        "limit 84%)." in text
    assert "Of 2 children," in text


def test_figure1_caption_says_when_the_timeline_is_a_subset(tmp_path):
    meta = {"timeline_rows_shown": 40, "timeline_rows_total": 120,
            "timeline_subset_rule": "the 40 with the longest follow-up",
            "timeline_groups_not_drawn": [], "timeline_axis_end": 400,
            "timeline_bars_cut": False, "timeline_cut_days_printed": False,
            **FIGURE1_SMALL_CELLS}
    kwargs = make_project(tmp_path, random_cohort(120, seed=3), figure1_meta=meta)
    text = _html_text(_render(kwargs, pdf=False)[0])
    assert "panel B shows 40 of 120 children (the 40 with the longest follow-up)" in text
    kwargs = make_project(tmp_path / "full", abstract_like_cohort())
    assert "panel B shows" not in _html_text(_render(kwargs, pdf=False)[0])


def test_figure2_caption_matches_the_censoring_ticks_drawn(tmp_path):
    cohort = random_cohort(30, seed=3)

    def caption(shown: dict, omitted: list, name: str) -> str:
        meta = {"at_risk_ticks": [0, 50], "at_risk_ticks_response": [0, 25],
                "censor_marks_shown": shown, "censor_marks_omitted": omitted,
                "risk_table_rows": ["at_risk", "events", "censored"], **FIGURE2_AXES}
        kwargs = make_project(tmp_path / name, cohort, figure2_meta=meta)
        text = _html_text(_render(kwargs, pdf=False)[0])
        return text[text.index("Figure 2."):]

    both = caption({"response": True, "overall_survival": True}, [], "both")
    assert "Vertical ticks mark censored observations." in both
    assert "not marked" not in both
    one = caption({"response": True, "overall_survival": False}, ["overall_survival"], "one")
    assert "Vertical ticks mark censored observations in panel A." in one
    assert "Censored observations are not marked in panel B" in one
    none = caption({"response": False, "overall_survival": False},
                   ["overall_survival", "response"], "none")
    assert "Vertical ticks" not in none
    assert "not marked in either panel" in none


def test_replication_rows_compare_at_printed_precision():
    est = {"response": {"estimate": 0.666667}, "n_patients": 15, "deaths": {"total": None},
           "x": 0.1234}
    published = {"values": [
        {"label": "response", "key": "response.estimate", "scale": 100, "published": 67},
        {"label": "n", "key": "n_patients", "published": 14},
        {"label": "deaths", "key": "deaths.total", "published": 4},
        {"label": "x", "key": "x", "scale": 100, "published": 12.3},
    ]}
    rows = replication_rows(est, published)
    assert [(r["reproduced"], r["matches"]) for r in rows] == [
        ("67", True), ("15", False), ("not estimable", False), ("12.3", True)]
    with pytest.raises(PipelineError, match="'response.nope' is not in estimates.json"):
        replication_rows(est, {"values": [{"label": "?", "key": "response.nope",
                                           "published": 1}]})


def test_missing_input_is_a_plain_error(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    kwargs["estimates"] = str(tmp_path / "nope.json")
    with pytest.raises(PipelineError, match="nope.json: estimates not found"):
        _render(kwargs, pdf=False)


def test_quarto_source_carries_the_same_numbers(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    out = kwargs["_project"] / "report" / "manuscript.qmd"
    run_qmd(**qmd_args(kwargs), qmd=str(out))
    qmd = out.read_text()
    assert qmd.startswith("---\ntitle:")
    front = yaml.safe_load(qmd.split("\n---\n")[0][4:])
    assert front["author"][0]["name"] == "A. Author"
    assert "salvage therapy" in front["keywords"]
    for number in _abstract_numbers(kwargs["_estimates"]):
        assert number in front["abstract"], number
        assert number.split(" (")[0] in qmd
    assert "](figures/figure1.png)" in qmd
    assert "![**Figure 2.**" in qmd
    assert "| Characteristic |" in qmd and ": **Table 1.**" in qmd
    for heading in ("# Methods", "# Results", "# Discussion", "# Conclusion", "# Declarations",
                    "# References"):
        assert f"\n\n{heading}\n" in qmd, heading
    assert "{{" not in qmd and "{%" not in qmd


def test_table1_rows_come_from_the_csv_and_markdown_is_escaped(tmp_path):
    csv = tmp_path / "table1.csv"
    csv.write_text("variable,level,overall,recurrent\nPatients,,3,2\n"
                   "Age,median (range),4 (2–9),3 (2–4)\n"
                   "Load,median (IQR),4.2 (3.9–4.5),3.9 (3.7–4.2)\nSex,A & B,1 (33%),1 (50%)\n"
                   "Sex,Male,2 (67%),1 (50%)\n")
    table = table1_rows(csv)
    assert table["groups"] == [{"key": "overall", "label": "Overall", "n": "3"},
                               {"key": "recurrent", "label": "Recurrent", "n": "2"}]
    assert table["rows"] == [
        {"kind": "continuous", "label": "Age", "summary": "median (range)",
         "cells": ["4 (2–9)", "3 (2–4)"]},
        {"kind": "continuous", "label": "Load", "summary": "median (IQR)",
         "cells": ["4.2 (3.9–4.5)", "3.9 (3.7–4.2)"]},
        {"kind": "variable", "label": "Sex", "cells": []},
        {"kind": "level", "label": "A & B", "cells": ["1 (33%)", "1 (50%)"]},
        {"kind": "level", "label": "Male", "cells": ["2 (67%)", "1 (50%)"]}]
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(PipelineError, match="not a Table 1 file"):
        table1_rows(csv)
    assert markdown_escape("<b>x</b> | *y*") == r"\<b\>x\</b\> \| \*y\*"


def test_table1_in_html_and_quarto_source_is_one_table(tmp_path):
    cohort = make_cohort([
        {"type": "recurrent", "response": 10, "fu": 100, "drugs": "ganciclovir;foscarnet",
         "diagnosis": "<b>x</b>"},
        {"type": "refractory", "response": None, "fu": 100, "drugs": ""}])
    kwargs = make_project(tmp_path, cohort)
    html, _, _ = _render(kwargs, pdf=False)
    page = html.read_text()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert '<th scope="row" colspan="4">Antivirals before CMVIG, n (%)</th>' in page
    assert '<tr class="level"><th scope="row">Ganciclovir</th>' in page
    out = kwargs["_project"] / "report" / "manuscript.qmd"
    run_qmd(**qmd_args(kwargs), qmd=str(out))
    qmd = out.read_text()
    assert "| &emsp;Ganciclovir | 1 (50%) | 1 (100%) | 0 (0%) |" in qmd
    assert r"| &emsp;\<b\>x\</b\> |" in qmd
    assert "| Characteristic | Overall n = 2 | Recurrent n = 1 | Refractory n = 1 |" in qmd


def test_a_typed_number_warns_and_fails_when_strict(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    partial = kwargs["_templates"] / "partials" / "results.html.j2"
    lines = partial.read_text().splitlines()
    lines.insert(2, "  <p>We treated 15 children.</p>")
    partial.write_text("\n".join(lines) + "\n")
    _, _, notes = _render(kwargs, pdf=False)
    warning = [n for n in notes if n.startswith("warning: template")]
    assert len(warning) == 1
    assert "partials/results.html.j2, line 3: number '15'" in warning[0]
    with pytest.raises(PipelineError, match=r"partials/results.html.j2, line 3: number '15'"):
        _render({**kwargs, "strict_numbers": True}, "strict", pdf=False)
    # the shipped templates type no number at all
    clean = make_project(tmp_path / "clean", abstract_like_cohort())
    _, _, notes = _render({**clean, "strict_numbers": True}, pdf=False)
    assert not [n for n in notes if n.startswith("warning")]


def test_every_number_in_the_html_body_has_a_source(tmp_path):
    from cmvig_report.render.register_html import untracked_numbers

    for name, cohort in (("a", abstract_like_cohort()), ("b", random_cohort(60, seed=2))):
        kwargs = make_project(tmp_path / name, cohort)
        html, _, _ = _render(kwargs, pdf=False)
        assert untracked_numbers(html.read_text()) == [], name
    # and the check itself sees a bare number
    assert untracked_numbers("<body><p>We saw 15 children in Table 1 (95% CI).</p></body>") \
        == ["15"]


def test_register_records_source_method_and_numbers_at_risk(tmp_path):
    import csv

    kwargs = make_project(tmp_path, abstract_like_cohort())
    report = kwargs["_project"] / "report"
    run_render(**stage_args(kwargs), html=str(report / "m.html"),
               numbers=str(report / "numbers.csv"))
    with open(report / "numbers.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    est = kwargs["_estimates"]
    response = next(r for r in rows if r["section"] == "Abstract"
                    and r["source"] == "estimates.json#response")
    assert response["text"] == format_percent_ci(est["response"])
    assert response["n"] == str(est["response"]["at_risk"])
    assert "Kaplan-Meier" in response["method"]
    sections = {r["section"] for r in rows}
    assert {"Abstract", "Results: Response", "Table 1", "Appendix B. Reproducibility"} <= sections
    html = (report / "m.html").read_text()
    assert 'data-source="estimates.json#response" title="' in html
    assert (f"At day 50: {est['response']['n']} patients, {est['response']['at_risk']} still "
            "at risk") in html


def test_metadata_declarations_are_required_and_orcids_checked(tmp_path):
    from cmvig_report.journals.metadata import orcid_is_valid

    assert orcid_is_valid("0000-0002-1825-0097")  # ORCID's documented example
    assert not orcid_is_valid("0000-0000-0000-0000")
    kwargs = make_project(tmp_path, abstract_like_cohort())
    metadata = kwargs["_metadata"]
    meta = yaml.safe_load(metadata.read_text())
    meta["ethics"]["committee"] = ""
    meta["authors"][0]["orcid"] = "0000-0002-1825-0098"
    metadata.write_text(yaml.safe_dump(meta, allow_unicode=True))
    with pytest.raises(PipelineError) as info:
        _render(kwargs, pdf=False)
    assert "required field 'ethics.committee' is empty" in str(info.value)
    assert "'0000-0002-1825-0098' is not a valid ORCID" in str(info.value)


def test_replication_says_synthetic_and_an_own_study_never_does(tmp_path):
    replication = make_project(tmp_path / "a", abstract_like_cohort())
    text = _html_text(_render(replication, pdf=False)[0])
    abstract = text.split("Abstract", 1)[1].split("Keywords", 1)[0]
    assert "synthetic reconstruction" in abstract
    assert "Replication check" in text and "Replication team" in text
    period = {"study_period": {"first": "2019-01", "last": "2020-06", "source": "data"}}
    own = make_project(tmp_path / "b", random_cohort(40), estimates_patch=period, study="own")
    html, _, notes = _render(own, pdf=False)
    other = _html_text(html).lower()
    for word in ("synthetic", "reconstruct", "replicat", "biotest"):
        assert word not in other, word
    assert "this report applies the same analysis to a new cohort." in other
    # a key named like the tracking attributes still reads as data (study_period.source)
    assert "(the months of the first and last cmvig dose in the data)" in other
    # the user's metadata marks what to fill in, and the render names each one
    assert "[title: your study&#39;s title]" in other  # (_html_text keeps entities)
    assert ("warning: placeholder in " + own["metadata"] + ", field 'ethics.approval': "
            "[APPROVAL: reference number and date] (in m.html)") in notes


def test_placeholders_are_found_where_they_are_printed():
    from cmvig_report.journals.metadata import placeholders, printed_placeholders

    meta = {"title": "[TITLE: your study's title]", "funding": "None.",
            "ethics": {"approval": "Ref. [APPROVAL: number and date], 2024"},
            "authors": [{"name": "[AUTHOR: name]"}],
            "references": [{"text": "Smith J. A web page [Internet]. 2020."}]}
    # a bracketed word without a LABEL: is not a placeholder ("[Internet]" in a reference)
    assert placeholders(meta) == [("title", "[TITLE: your study's title]"),
                                  ("ethics.approval", "[APPROVAL: number and date]"),
                                  ("authors[0].name", "[AUTHOR: name]")]
    html_text = ("<h1>[TITLE: your study&#39;s\n title]</h1><p>Ref. <span>[APPROVAL: number"
                 "</span> and date], 2024</p>")
    qmd_text = 'title: "[TITLE: your study\\u0027s title]"\n\\[AUTHOR: name\\]'
    rows = printed_placeholders(meta, "m.yaml", [(["a.html", "a.pdf"], html_text),
                                                 (["a.qmd"], qmd_text)])
    assert [(r["field"], r["output"]) for r in rows] == [
        ("title", "a.html"), ("title", "a.pdf"), ("ethics.approval", "a.html"),
        ("ethics.approval", "a.pdf"), ("title", "a.qmd"), ("authors[0].name", "a.qmd")]


def test_strict_metadata_stops_the_render_naming_the_fields_and_writes_nothing(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort(), study="own")
    with pytest.raises(PipelineError) as info:
        _render({**kwargs, "strict_metadata": True}, pdf=False)
    message = str(info.value)
    assert "strict_metadata: true" in message
    for field in ("title", "short_title", "ethics.approval", "data_availability",
                  "setting.description"):
        assert f"field {field!r}" in message, field
    assert not list((kwargs["_project"] / "report").glob("*"))
    with pytest.raises(PipelineError, match="field 'title'"):
        run_qmd(**qmd_args({**kwargs, "strict_metadata": True}),
                qmd=str(kwargs["_project"] / "report" / "m.qmd"))
    # the replication's metadata has no placeholder: strict passes
    replication = make_project(tmp_path / "r", abstract_like_cohort())
    assert not [n for n in _render({**replication, "strict_metadata": True}, pdf=False)[2]
                if "placeholder" in n]


def test_shipped_conclusions_are_about_the_reproduction_not_children(tmp_path):
    kwargs = make_project(tmp_path / "a", abstract_like_cohort())  # the replication profile
    text = _html_text(_render(kwargs, pdf=False)[0])
    conclusions = text.split("Conclusions.", 1)[1].split("Keywords", 1)[0]
    assert "support no conclusion about the effect or safety of CMVIG in children" in conclusions
    assert "Most children" not in text and "cleared CMV" not in text
    assert "assumed split of responders" in text
    # every table and figure caption says the data are synthetic
    for label in ("Table 1.", "Figure 1.", "Figure 2.", "Figure 3.", "Supplementary Table S1."):
        caption = text.split(label, 1)[1][:1500]
        assert "Synthetic data: invented records" in caption, label
    own = make_project(tmp_path / "b", abstract_like_cohort(), study="own")
    other = _html_text(_render(own, "other", pdf=False)[0])
    assert "Synthetic data" not in other
    # 10 of 15 by day 50, interval 44-88%: not "most" (the lower limit is under one half), so
    # the conclusion gives the estimate with its interval
    assert "Most children" not in other
    assert (f"{format_percent_ci(own['_estimates']['response'])} of the children reached a "
            "viral load below the limit of quantification") in other


def test_statistics_say_what_cannot_differ_and_what_coincides(tmp_path):
    # The last child to start CMVIG does so on day 110 after HSCT, before the first death (day
    # 60 + 70 = 130), and no child dies before responding by day 50: delayed entry cannot
    # differ, and Aalen-Johansen equals 1 - KM.
    kwargs = make_project(tmp_path / "a", abstract_like_cohort())
    est = kwargs["_estimates"]
    assert est["sensitivity"]["os_from_hsct_delayed_entry"]["cannot_differ"]
    html, _, _ = _render(kwargs, pdf=False)
    text = _html_text(html)
    assert "Delayed entry cannot change survival from HSCT in these data" in text
    assert "With delayed entry at the first CMVIG dose, survival from HSCT was" not in text
    assert "no child died before responding by day 50, so the point estimate is" in text
    assert re.search(r"exploratory log-rank p = [\d.]+, \d+ recurrent against \d+ refractory",
                     text)
    assert "conditional on surviving to the first CMVIG dose" in text
    # Table S1 reads the primary curve at each other landmark once, never at the primary day
    table = html.read_text().split('class="sensitivity"', 1)[1].split("</table>", 1)[0]
    days = re.findall(r"other landmark</td><td class=\"num\">(?:<span[^>]*>)?(\d+)", table)
    assert str(est["response"]["day"]) not in days
    assert len(days) == len({b["day"] for b in est["sensitivity"]["response_by_day"]} -
                            {est["response"]["day"]})


def test_number_appendix_lists_the_register_by_section(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    html, _, _ = _render({**kwargs, "number_appendix": True}, pdf=False)
    text = _html_text(html)
    assert "Where each number comes from" in text
    appendix = text.split("Where each number comes from", 1)[1]
    response = format_percent_ci(kwargs["_estimates"]["response"])
    assert f"Abstract {response} estimates.json#response" in appendix
    plain, _, _ = _render(kwargs, "plain", pdf=False)
    assert "Where each number comes from" not in _html_text(plain)
