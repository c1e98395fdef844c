"""Manuscript rendering: numbers from the data, strict templates, escaping, no network."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cohort_factory import abstract_like_cohort, make_cohort
from pypdf import PdfReader
from report_fixtures import make_project
from test_figures import random_cohort

from cmvig_report.errors import PipelineError
from cmvig_report.formatting import format_p, format_percent_ci
from cmvig_report.report import replication_rows, run_qmd, run_render


def _render(kwargs: dict, name: str = "m") -> tuple[Path, Path, list[str]]:
    project = kwargs["_project"]
    args = {k: v for k, v in kwargs.items() if not k.startswith("_")}
    html, pdf = project / "report" / f"{name}.html", project / "report" / f"{name}.pdf"
    notes = run_render(**args, html_out=str(html), pdf_out=str(pdf))
    return html, pdf, notes


def _text(pdf: Path, first_page_only: bool = False) -> str:
    pages = PdfReader(pdf).pages
    pages = pages[:1] if first_page_only else pages
    return " ".join(" ".join(p.extract_text().split()) for p in pages)


def _abstract_numbers(est: dict) -> list[str]:
    return [format_percent_ci(est["response"]), format_percent_ci(est["os_from_cmvig"]),
            format_percent_ci(est["os_from_hsct"]),
            f"series of {est['n_patients']} children",
            f"{est['infection_type']['recurrent']} had a recurrent"]


def test_pdf_abstract_holds_the_numbers_of_whichever_cohort_is_rendered(tmp_path):
    a = make_project(tmp_path / "a", abstract_like_cohort())
    _, pdf_a, _ = _render(a)
    text_a = _text(pdf_a, first_page_only=True)
    for number in _abstract_numbers(a["_estimates"]):
        assert number in text_a
    b = make_project(tmp_path / "b", random_cohort(120, seed=3))
    _, pdf_b, _ = _render(b)
    text_b = _text(pdf_b, first_page_only=True)
    for number in _abstract_numbers(b["_estimates"]):
        assert number in text_b
    assert format_percent_ci(a["_estimates"]["response"]) not in text_b
    assert format_p(b["_estimates"]["logrank_p"]) in _text(pdf_b)


def test_misspelled_variable_names_template_line_and_variable(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    partial = Path(kwargs["templates"]) / "partials" / "results.html.j2"
    lines = partial.read_text().splitlines()
    lines.insert(3, "  <p>{{ est.n_patiens }}</p>")
    partial.write_text("\n".join(lines) + "\n")
    with pytest.raises(PipelineError) as info:
        _render(kwargs)
    message = str(info.value)
    assert "partials/results.html.j2" in message
    assert "line 4" in message
    assert "n_patiens" in message


def test_values_from_the_data_are_html_escaped(tmp_path):
    cohort = make_cohort([{"type": "recurrent", "response": 10, "fu": 200, "died": True,
                           "cause": "<b>x</b>"},
                          {"type": "refractory", "response": None, "fu": 300}])
    html, _, _ = _render(make_project(tmp_path, cohort))
    text = html.read_text()
    assert "&lt;b&gt;x&lt;/b&gt;" in text
    assert "<b>x</b>" not in text


def test_remote_resources_are_refused_without_any_network_request(tmp_path, monkeypatch):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    partial = Path(kwargs["templates"]) / "partials" / "figures.html.j2"
    partial.write_text(partial.read_text() + '\n<img src="http://example.org/logo.png">\n')

    def no_network(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    _, pdf, notes = _render(kwargs)
    assert pdf.exists()
    assert notes == ["refused to fetch http://example.org/logo.png: no network access"]


def test_two_renders_give_identical_pdf_bytes(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    _, pdf1, _ = _render(kwargs, "one")
    _, pdf2, _ = _render(kwargs, "two")
    assert pdf1.read_bytes() == pdf2.read_bytes()


def test_line_numbers_switch_and_replication_appendix(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    kwargs.update(line_numbers=True, replication=False)
    html, _, _ = _render(kwargs)
    text = html.read_text()
    assert '<body class="line-numbers">' in text
    assert "Replication check" not in text
    kwargs.update(line_numbers=False, replication=True)
    html, _, _ = _render(kwargs)
    assert "Replication check" in html.read_text()


def test_replication_rows_compare_at_printed_precision():
    est = {"response": {"estimate": 0.666667}, "n_patients": 15, "deaths": {"total": None}}
    published = {"values": [
        {"label": "response", "key": "response.estimate", "scale": 100, "published": 67},
        {"label": "n", "key": "n_patients", "published": 14},
        {"label": "deaths", "key": "deaths.total", "published": 4},
    ]}
    rows = replication_rows(est, published)
    assert [(r["reproduced"], r["matches"]) for r in rows] == [
        ("67", True), ("15", False), ("not estimable", False)]


def test_quarto_source_carries_the_same_numbers(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    args = {k: v for k, v in kwargs.items() if not k.startswith("_")}
    out = kwargs["_project"] / "report" / "manuscript.qmd"
    run_qmd(**args, qmd_out=str(out), table1_csv=str(Path(kwargs["estimates"]).parent /
                                                       "table1.csv"))
    qmd = out.read_text()
    assert qmd.startswith("---\ntitle:")
    for number in _abstract_numbers(kwargs["_estimates"]):
        assert number in qmd
    assert "](../results/figures/figure1.png)" in qmd
    assert "| Characteristic |" in qmd
