"""References as data: the bibliography formatted by a CSL style, chosen by the journal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from report_fixtures import make_project, stage_args
from test_report import abstract_like_cohort

from cmvig_report import paths
from cmvig_report.core.config_check import style_path
from cmvig_report.devtools.bibtex import yaml_to_bibtex
from cmvig_report.errors import PipelineError
from cmvig_report.render.references import Citations, load_source
from cmvig_report.render.register_html import untracked_numbers
from cmvig_report.render.report import run_render

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "templates" / "references.bib"


def _cite_in_order(style: str) -> tuple[Citations, list[str]]:
    refs = Citations(BIB, style_path(style), "html")
    cited = [refs.cite("boeckh2009"), refs.cite("kaplanmeier1958", "boeckh2009",
                                                "kalbfleisch2002", "clopper1934")]
    return refs, cited


def test_two_styles_give_two_correct_reference_lists_for_the_same_bibliography():
    # Frontiers' medical journals: numbers in parentheses, ranges collapsed, "Journal (Year)
    # Volume:Pages. doi:" (entries checked by hand against the BibTeX record).
    refs, cited = _cite_in_order("frontiers-medical-journals")
    assert cited == ["(1)", "(1–4)"]
    assert not refs.superscript
    entries = refs.entries()
    assert entries[0] == ("1. Boeckh M, Ljungman P. How we treat cytomegalovirus in "
                          "hematopoietic cell transplant recipients. Blood (2009) 113:5711–5719. "
                          "doi: 10.1182/blood-2008-10-143560")
    assert entries[1] == ("2. Kaplan EL, Meier P. Nonparametric estimation from incomplete "
                          "observations. J Am Stat Assoc (1958) 53:457–481. "
                          "doi: 10.1080/01621459.1958.10501452")
    # Bone Marrow Transplantation (Springer Nature's Vancouver): superscripts, "Year; Vol: pp."
    refs, cited = _cite_in_order("bone-marrow-transplantation")
    assert cited == ["1", "1–4"] and refs.superscript
    entries = refs.entries()
    assert entries[0] == ("1 Boeckh M, Ljungman P. How we treat cytomegalovirus in "
                          "hematopoietic cell transplant recipients. Blood 2009; 113: "
                          "5711–5719.")
    assert entries[3] == ("4 Clopper CJ, Pearson ES. The use of confidence or fiducial limits "
                          "illustrated in the case of the binomial. Biometrika 1934; 26: "
                          "404–413.")
    # each entry is tracked to its key: the register knows where the list comes from
    assert [e._source for e in entries] == ["references#boeckh2009", "references#kaplanmeier1958",
                                            "references#kalbfleisch2002",
                                            "references#clopper1934"]


def test_an_author_year_style_sorts_by_author_and_cites_names():
    refs, cited = _cite_in_order("harvard-cite-them-right")
    assert cited[0] == "(Boeckh and Ljungman, 2009)"
    entries = refs.entries()
    assert [e.split(",")[0] for e in entries] == ["Boeckh", "Clopper", "Kalbfleisch", "Kaplan"]


def test_authors_left_out_print_as_et_al():
    refs = Citations(BIB, style_path("frontiers-medical-journals"), "html")
    refs.cite("marty2017")
    (entry,) = refs.entries()
    assert entry.startswith("1. Marty FM, Ljungman P, Chemaly RF, Maertens J, Dadwal SS, "
                            "Duarte RF, et al. Letermovir")
    assert "others" not in entry


def test_every_key_cited_by_the_templates_is_in_the_bibliography_with_volume_and_pages():
    keys = set(re.findall(r'cite\(([^)]*)\)', (ROOT / "templates/text.j2").read_text()))
    cited = {k for group in keys for k in re.findall(r'"(\w+)"', group)}
    source = load_source(BIB)
    assert cited and cited <= set(source)
    for key in cited:  # the reviewer's complaint: every article has its volume and pages
        entry = source[key]
        if "container_title" in entry:
            assert "volume" in entry and "page" in entry, key


def test_a_missing_key_and_a_missing_style_stop_with_one_line(tmp_path):
    refs = Citations(BIB, style_path("frontiers-medical-journals"), "html")
    with pytest.raises(PipelineError, match=r"^the templates cite 'nosuch2020', which is not "
                                            r"in the bibliography references\.bib$"):
        refs.cite("boeckh2009", "nosuch2020")
    with pytest.raises(PipelineError, match=r"^citation_style 'no-such-journal-style': not a "
                                            r"style of the CSL collection"):
        style_path("no-such-journal-style")
    with pytest.raises(PipelineError, match=r"^citation_style 'styles/mine\.csl': no such "
                                            r"\.csl file( \(no folder .styles.\))?$"):
        style_path("styles/mine.csl", tmp_path)
    with pytest.raises(PipelineError, match="no such file"):
        load_source(tmp_path / "missing.bib")


def test_a_render_citing_a_missing_key_writes_nothing(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    text_j2 = kwargs["_templates"] / "text.j2"
    text_j2.write_text(text_j2.read_text().replace('cite("crough2009")', 'cite("crough2099")',
                                                   1))
    html = kwargs["_project"] / "report" / "m.html"
    with pytest.raises(PipelineError, match="'crough2099', which is not in the bibliography"):
        run_render(**stage_args(kwargs), html=str(html))
    assert not html.exists()


def test_a_style_file_and_csl_json_are_accepted(tmp_path):
    style = tmp_path / "mine.csl"
    style.write_bytes(style_path("frontiers-medical-journals").read_bytes())
    data = [{"id": "smith2020", "type": "article-journal", "title": "A study",
             "author": [{"family": "Smith", "given": "Jane"}], "container-title": "J Test",
             "issued": {"date-parts": [[2020]]}, "volume": "3", "page": "10-12"}]
    bib = tmp_path / "refs.json"
    bib.write_text(json.dumps(data))
    refs = Citations(bib, style_path("mine.csl", tmp_path), "html")
    assert refs.cite("smith2020") == "(1)"
    assert refs.entries() == ["1. Smith J. A study. J Test (2020) 3:10–12."]


def test_switching_journal_changes_the_citations_the_list_and_the_abstract(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    out = kwargs["_project"] / "report"
    run_render(**stage_args(kwargs), html=str(out / "frontiers.html"))
    run_render(**stage_args({**kwargs, "journal": str(kwargs["_project"] / paths.JOURNALS /
                                                      "bone-marrow-transplantation.yaml")}),
               html=str(out / "bmt.html"))
    frontiers, bmt = (out / "frontiers.html").read_text(), (out / "bmt.html").read_text()
    # the article type above the title is the profile's, not a line of the metadata
    assert re.search(r'class="article-type">Brief Research Report(<| \()', frontiers)
    assert re.search(r'class="article-type">Article(<| \()', bmt)
    assert "<strong>Background.</strong>" in frontiers
    assert "<strong>Background.</strong>" not in bmt and "<strong>" not in bmt.split(
        'id="abstract"')[1].split("</section>")[0]
    # Frontiers: "(1)" in the text; BMT: a superscript set against the word before it
    assert re.search(r'mortality\s<span class="num" data-source="references#gimenez2019"[^>]*>'
                     r"\(1\)</span>", frontiers)
    assert re.search(r'mortality<sup class="citation"><span class="num" data-source='
                     r'"references#gimenez2019"[^>]*>1</span></sup>', bmt)
    assert "Am J Transplant (2019) 19:2479–2494" in frontiers
    assert "Am J Transplant 2019; 19: 2479–2494." in bmt
    # every citation number and reference is tracked in the register, in both
    assert untracked_numbers(frontiers) == [] and untracked_numbers(bmt) == []


def test_a_yaml_reference_list_converts_to_bibtex_entries_that_parse(tmp_path):
    refs = [{"id": "ljungman2017", "text": "Ljungman P, Boeckh M, Hirsch HH, et al. Definitions "
             "of cytomegalovirus infection and disease in transplant patients for use in "
             "clinical trials. Clin Infect Dis. 2017;64(1):87–91. doi:10.1093/cid/ciw668"},
            {"id": "raanani2009", "text": "Raanani P. A book. 2009.",
             "fields": {"type": "book", "publisher": "P"}}]
    text = yaml_to_bibtex(refs)
    # the Vancouver text read into fields (the last page written in full)
    assert text.split("\n\n")[0] == (
        "@article{ljungman2017,\n"
        "  author = {Ljungman, P. and Boeckh, M. and Hirsch, H. H. and others},\n"
        "  title = {Definitions of cytomegalovirus infection and disease in transplant patients "
        "for use in clinical trials},\n"
        "  journal = {Clin Infect Dis},\n  year = {2017},\n  volume = {64},\n"
        "  number = {1},\n  pages = {87--91},\n  doi = {10.1093/cid/ciw668},\n}")
    # anything else keeps its text in a note, with the year, to complete by hand
    assert "@book{raanani2009," in text and "year = {2009}" in text
    assert "note = {TO COMPLETE from: Raanani P. A book. 2009.}" in text
    path = tmp_path / "new.bib"
    path.write_text(text, encoding="utf-8")
    assert set(load_source(path)) == {"ljungman2017", "raanani2009"}
    refs_ = Citations(path, style_path("frontiers-medical-journals"), "html")
    refs_.cite("ljungman2017")
    assert refs_.entries() == [
        "1. Ljungman P, Boeckh M, Hirsch HH, et al. Definitions of cytomegalovirus infection "
        "and disease in transplant patients for use in clinical trials. Clin Infect Dis (2017) "
        "64:87–91. doi: 10.1093/cid/ciw668"]


def test_superscript_citations_are_set_against_the_word_before_them():
    from cmvig_report.render.references import close_up

    sup = Citations(BIB, style_path("bone-marrow-transplantation"), "qmd")
    assert close_up("in check ^7^. A\nline\n^8^ and\n\n^9^ here", sup, "qmd") == (
        "in check^7^. A\nline^8^ and\n\n^9^ here")  # never across a paragraph break
    html = 'check\n  <sup class="citation">7</sup>.'
    assert close_up(html, sup, "html") == 'check<sup class="citation">7</sup>.'
    plain = Citations(BIB, style_path("frontiers-medical-journals"), "qmd")
    assert close_up("in check (7).", plain, "qmd") == "in check (7)."
