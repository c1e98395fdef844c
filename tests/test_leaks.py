"""The leak check: identifying input values are found in real output files of every format."""

from __future__ import annotations

import base64
import datetime as dt
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from weasyprint import HTML

from cmvig_report.errors import PipelineError
from cmvig_report.privacy.leak_terms import (
    Hit,
    Sensitive,
    Term,
    checkable_terms,
    manuscript_words,
    own_text,
)
from cmvig_report.privacy.leak_text import pdf_chunks
from cmvig_report.privacy.leaks import assert_no_leaks, scan_file, scan_outputs

JULY_23 = dt.date(2018, 7, 23)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _ids(*ids: str) -> Sensitive:
    return Sensitive(patient_ids=frozenset(ids))


def _pdf(path: Path, body: str) -> Path:
    HTML(string=f"<html><body>{body}</body></html>").write_pdf(path)
    return path


# --------------------------------------------------------------------------- which terms


def test_short_number_id_is_reported_once_as_not_checkable_and_never_matched(tmp_path):
    s = _ids("7", " 7 ", "P1001")
    terms, notes = checkable_terms(s)
    assert terms == [Term("patient_id", "P1001")]
    assert notes == ["patient_id '7' cannot be told apart from an ordinary number: not checked"]
    out = _write(tmp_path / "m.md", "7 patients; day 7; 7/12 responded\n")
    hits, scan_notes = scan_outputs([out], s)
    assert hits == []
    assert scan_notes == notes


def test_number_ids_need_five_digits_and_other_ids_three_characters():
    terms, notes = checkable_terms(_ids("1234", "12345", "P1", "P12", "1.5", "---"))
    assert sorted(t.text for t in terms) == ["12345", "P12"]
    assert notes == [
        "patient_id '---' has no letters or digits and cannot be told apart from punctuation: "
        "not checked",
        "patient_id '1.5' cannot be told apart from an ordinary number: not checked",
        "patient_id '1234' cannot be told apart from an ordinary number: not checked",
        "patient_id 'P1' is shorter than 3 characters and cannot be told apart from ordinary "
        "text: not checked",
    ]


WORDS = manuscript_words(["Children whose infection was refractory received their own "
                          "review of the data in Spain; CMV relapse"])


def test_path_gives_full_path_file_name_and_folder_names():
    terms, notes = checkable_terms(Sensitive(paths=("/home/dr_jane_doe/./data/patients.csv",),
                                             words=WORDS))
    assert Term("input path", "/home/dr_jane_doe/./data/patients.csv") in terms
    assert Term("input path", "/home/dr_jane_doe/data/patients.csv") in terms  # resolved
    assert Term("input path", "patients.csv") in terms
    assert Term("folder name", "dr_jane_doe") in terms
    assert Term("folder name", "home") in terms  # a word the manuscript never uses
    assert not any(t.text in ("data", ".", "/") for t in terms)
    assert notes == ["input path folder name 'data' is made of words the manuscript's own "
                     "text uses (templates, metadata, labels) and cannot be told apart from "
                     "them: not checked"]


def test_folders_named_with_the_manuscripts_words_are_reported_not_searched(tmp_path):
    path = "/srv/own/review/children/2021/Spain/CMV relapse/jsmith/Maria Lopez/patients.csv"
    terms, notes = checkable_terms(Sensitive(paths=(path,), words=WORDS))
    reported = {n.split("'")[1] for n in notes}
    assert reported == {"own", "review", "children", "2021", "Spain", "CMV relapse"}
    searched = {t.text for t in terms if t.kind == "folder name"}
    assert searched == {"srv", "jsmith", "Maria Lopez"}
    # the words print freely; the identifiers are still caught
    out = _write(tmp_path / "m.html", "<p>Children in Spain had their own review; CMV relapse "
                                      "in 2021.</p>\n<p>Exported by jsmith.</p>\n")
    hits, _ = scan_outputs([out], Sensitive(paths=(path,), words=WORDS))
    assert [(h.kind, h.found) for h in hits] == [("folder name", "jsmith")]
    # without the manuscript's words every folder name is searched
    hits, _ = scan_outputs([out], Sensitive(paths=(path,)))
    assert {h.found for h in hits} >= {"own", "review", "Spain", "jsmith"}


def test_manuscript_words_come_from_templates_and_metadata(tmp_path):
    (tmp_path / "text.j2").write_text("{% macro x() %}their own data{% endmacro %}")
    (tmp_path / "metadata.yaml").write_text("setting: a hospital in Spain\n")
    (tmp_path / "style.css").write_text("body { font-family: serif; }")
    words = manuscript_words(own_text(sorted(str(p) for p in tmp_path.iterdir())))
    assert {"own", "their", "spain", "hospital"} <= words
    assert "serif" not in words  # styles are not text


def test_free_text_inside_a_vocabulary_label_is_not_searched(tmp_path):
    s = Sensitive(free_texts=frozenset({"relapse ", "GVHD", "relapse of ALL in CR2"}),
                  vocabulary=frozenset({"Relapse", "Acute GVHD"}))
    terms, notes = checkable_terms(s)
    assert terms == [Term("free text", "relapse of ALL in CR2")]
    assert notes == [
        "free text 'GVHD' occurs in the category label 'Acute GVHD', which the outputs may "
        "print: not checked",
        "free text 'relapse' occurs in the category label 'Relapse', which the outputs may "
        "print: not checked",
    ]
    out = _write(tmp_path / "m.qmd", "Deaths: Relapse 3, Acute GVHD 1\nRelapse of all in CR2\n")
    hits, _ = scan_outputs([out], s)
    assert [(h.kind, h.found, h.where) for h in hits] == [
        ("free text", "relapse of ALL in CR2", "line 2")]


# --------------------------------------------------------------------------- whole tokens


def test_id_matches_whole_tokens_only(tmp_path):
    out = _write(tmp_path / "t.txt", "P12 AP1 P1a P1_ 1P1\n(P1), P1.\nP1-P2\n")
    hits = scan_file(out, [Term("patient_id", "P1")], [])
    assert [h.where for h in hits] == ["line 1", "line 2", "line 3"]  # P1_ on line 1
    out.write_text("P12 AP1 P1a 1P1 P1b\n", encoding="utf-8")
    assert scan_file(out, [Term("patient_id", "P1")], []) == []


def test_id_match_is_case_sensitive(tmp_path):
    out = _write(tmp_path / "t.txt", "p1001 and P1001\n")
    hits, _ = scan_outputs([out], _ids("P1001"))
    assert [h.found for h in hits] == ["P1001"]
    out.write_text("p1001\n", encoding="utf-8")
    assert scan_outputs([out], _ids("P1001"))[0] == []


def test_ids_with_hyphen_slash_and_space(tmp_path):
    s = _ids("MRN-00123", "12/3456", "AB 77", "P1001")
    lines = [
        "MRN-001234 XMRN-00123 MRN-00123a 112/3456 12/34567 AB 778",  # 1: none
        "(MRN-00123).",  # 2
        "id 12/3456;",  # 3
        "AB\u00a077",  # 4: a non-breaking space is a space
        "P1001-P1002",  # 5: a range still names P1001
    ]
    out = _write(tmp_path / "t.csv", "\n".join(lines) + "\n")
    hits, _ = scan_outputs([out], s)
    assert [(h.where, h.found) for h in hits] == [
        ("line 2", "MRN-00123"), ("line 3", "12/3456"), ("line 4", "AB 77"),
        ("line 5", "P1001")]


def test_numeric_id_is_not_found_inside_a_decimal_number(tmp_path):
    out = _write(tmp_path / "t.txt", "p = 0.00123\n12345.6 and 12345,5\nID 00123.\n")
    hits, _ = scan_outputs([out], _ids("00123", "12345"))
    assert [(h.where, h.found) for h in hits] == [("line 3", "00123")]


# --------------------------------------------------------------------------- dates


def test_date_spellings_match_but_month_year_and_year_alone_do_not(tmp_path):
    lines = [
        "Study period July 2018 to August 2019; in 2018; Jul 2018; 2018-07",  # 1: none
        "2018-07-23",
        "23/07/2018",
        "07/23/2018",
        "23.07.2018",
        "23 July 2018",
        "July 23, 2018",
        "23 Jul 2018",
        "Jul 23, 2018",
        "3/7/2018 and 3 July 2018",  # 10: unpadded, 2018-07-03
        "24 July 2018, 2018-07-24, 07/24/2018",  # 11: not input dates
        "sampled 2018-07-23T08:15:00",
        "23rd of July,\n2018",  # 13 and 14: the line break splits it in a per-line format
    ]
    out = _write(tmp_path / "m.md", "\n".join(lines) + "\n")
    hits = scan_file(out, [], {JULY_23, dt.date(2018, 7, 3)})
    assert [(h.where, h.found) for h in hits] == [
        ("line 2", "2018-07-23"), ("line 3", "23/07/2018"), ("line 4", "07/23/2018"),
        ("line 5", "23.07.2018"), ("line 6", "23 July 2018"), ("line 7", "July 23, 2018"),
        ("line 8", "23 Jul 2018"), ("line 9", "Jul 23, 2018"), ("line 10", "3/7/2018"),
        ("line 10", "3 July 2018"), ("line 12", "2018-07-23")]
    assert str(hits[4]) == f"{out}, line 6: date 2018-07-23 (written '23 July 2018')"
    assert str(hits[0]) == f"{out}, line 2: date 2018-07-23"


def test_ambiguous_numeric_date_counts_if_either_reading_is_an_input_date(tmp_path):
    out = _write(tmp_path / "t.txt", "07/03/2018\n")
    assert [h.date for h in scan_file(out, [], {dt.date(2018, 3, 7)})] == [dt.date(2018, 3, 7)]
    assert [h.date for h in scan_file(out, [], {dt.date(2018, 7, 3)})] == [dt.date(2018, 7, 3)]
    assert scan_file(out, [], {dt.date(2018, 7, 4)}) == []


def test_datetime_input_dates_match_their_calendar_date(tmp_path):
    out = _write(tmp_path / "t.txt", "23 July 2018\n")
    hits = scan_file(out, [], {dt.datetime(2018, 7, 23, 0, 0)})
    assert [h.date for h in hits] == [JULY_23]


# --------------------------------------------------------------------------- formats


def test_html_id_in_title_attribute_and_date_split_by_inline_tag(tmp_path):
    out = _write(tmp_path / "m.html", (
        "<html><body>\n"
        "<p>Table 1</p>\n"
        '<abbr title="MRN-00123">patient</abbr>\n'
        "<p>seen 23 <b>July</b> 2018</p>\n"
        "<table><tr><td>P1001</td><td>23</td></tr></table>\n"
        "</body></html>\n"))
    s = Sensitive(patient_ids=frozenset({"MRN-00123", "P100123"}), dates=frozenset({JULY_23}))
    hits, _ = scan_outputs([out], s)
    assert [str(h) for h in hits] == [
        f"{out}, line 3: patient_id 'MRN-00123'",
        f"{out}, line 4: date 2018-07-23 (written '23 July 2018')",
    ]  # and the table cells P1001 | 23 are not joined into P100123


def test_html_entities_are_decoded(tmp_path):
    out = _write(tmp_path / "m.html", "<p>x</p>\nDr O&#39;Brien&#x27;s patient\n")
    s = Sensitive(free_texts=frozenset({"Dr O'Brien"}))
    assert [(h.where, h.found) for h in scan_outputs([out], s)[0]] == [("line 2", "Dr O'Brien")]


def test_html_embedded_base64_svg_is_decoded_and_located(tmp_path):
    svg = ('<svg xmlns="http://www.w3.org/2000/svg">\n<g>\n'
           '<text x="0" y="10">MRN-00123</text>\n</g>\n</svg>\n')
    b64 = base64.b64encode(svg.encode()).decode()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4).decode()
    out = _write(tmp_path / "m.html", (
        "<html><body>\n"
        f'<img alt="first" src="data:image/png;base64,{png}">\n'
        f'<img alt="second" src="data:image/svg+xml;base64,{b64}">\n'
        "</body></html>\n"))
    hits, _ = scan_outputs([out], _ids("MRN-00123"))
    assert [str(h) for h in hits] == [f"{out}, embedded image 2, line 3: patient_id 'MRN-00123'"]


def test_html_embedded_utf8_svg_is_decoded(tmp_path):
    svg = "<svg xmlns='http://www.w3.org/2000/svg'><text>23 July 2018</text></svg>"
    out = _write(tmp_path / "m.html",
                 f'<p>x</p>\n<img src="data:image/svg+xml;utf8,{quote(svg)}">\n')
    hits = scan_file(out, [], {JULY_23})
    assert [(h.where, h.found) for h in hits] == [("embedded image 1, line 1", "23 July 2018")]


def test_svg_file_is_scanned_per_line(tmp_path):
    out = _write(tmp_path / "fig.svg",
                 '<svg xmlns="http://www.w3.org/2000/svg">\n<title>fig</title>\n'
                 "<text>P1001</text>\n</svg>\n")
    hits, _ = scan_outputs([out], _ids("P1001"))
    assert [str(h) for h in hits] == [f"{out}, line 3: patient_id 'P1001'"]


def _docx(path: Path, parts: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return path


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def test_docx_joins_runs_and_reads_properties_and_alt_text(tmp_path):
    document = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:document {W}><w:body>'
        '<w:p w:rsidR="00123456"><w:r><w:t>Results</w:t></w:r></w:p>'
        '<w:p><w:r><w:t xml:space="preserve">Seen on 23 Ju</w:t></w:r>'
        '<w:proofErr w:type="spellStart"/><w:r><w:rPr><w:b/></w:rPr><w:t>ly 2018</w:t></w:r></w:p>'
        '<w:p><w:r><w:drawing><wp:docPr id="1" name="Figure 1" descr="Patient P1001"/>'
        "</w:drawing></w:r></w:p>"
        '<w:p><w:r><w:t>MRN</w:t></w:r><w:r><w:tab/></w:r><w:r><w:t>00123</w:t></w:r></w:p>'
        "</w:body></w:document>")
    core = ('<?xml version="1.0"?><cp:coreProperties><dc:title>Manuscript</dc:title>'
            "<dc:creator>dr_jane_doe</dc:creator></cp:coreProperties>")
    out = _docx(tmp_path / "m.docx", {
        "[Content_Types].xml": "<Types/>",
        "word/document.xml": document,
        "docProps/core.xml": core,
        "word/media/image1.png": "\x89PNG\x00 P1001",
    })
    s = Sensitive(patient_ids=frozenset({"P1001", "MRN-00123", "00123456"}),
                  dates=frozenset({JULY_23}), paths=("/srv/dr_jane_doe/patients.csv",))
    hits, _ = scan_outputs([out], s)
    assert [str(h) for h in hits] == [
        f"{out}, word/document.xml, paragraph 2: date 2018-07-23 (written '23 July 2018')",
        f"{out}, word/document.xml, paragraph 3: patient_id 'P1001'",
        f"{out}, docProps/core.xml: input path folder name 'dr_jane_doe'",
    ]  # the rsid 00123456 is not read; MRN<tab>00123 is not MRN-00123


@pytest.fixture(params=["poppler", "pypdf"])
def pdf_reader(request, monkeypatch):
    """Each PDF test runs with poppler's pdftotext and with the pypdf fallback."""
    import shutil

    if request.param == "poppler" and shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    if request.param == "pypdf":
        monkeypatch.setattr("cmvig_report.privacy.leak_text.shutil.which", lambda name: None)
    return request.param


def test_pdf_hit_names_its_page(tmp_path, pdf_reader):
    out = _pdf(tmp_path / "m.pdf", "<p>Introduction</p>"
               '<p style="break-before: page">Patient MRN-00123 responded.</p>')
    hits, _ = scan_outputs([out], _ids("MRN-00123"))
    assert [str(h) for h in hits] == [f"{out}, page 2: patient_id 'MRN-00123'"]


def test_pdf_free_text_found_case_insensitively_across_a_line_break(tmp_path, pdf_reader):
    out = _pdf(tmp_path / "m.pdf", '<p style="width: 4cm">Cause of death: SEPSIS after line '
               "infection, seen by DR WHO on the ward</p>")
    page = pdf_chunks(out)[0][1]
    assert "\n" in page[page.index("SEPSIS"):page.index("WHO")]  # the phrase is broken
    s = Sensitive(free_texts=frozenset({"Sepsis after line infection,\nseen by Dr Who"}))
    hits, _ = scan_outputs([out], s)
    assert [str(h) for h in hits] == [
        f"{out}, page 1: free text 'Sepsis after line infection, seen by Dr Who'"]


def test_pdf_word_hyphenated_at_a_line_end_is_found(tmp_path, pdf_reader):
    out = _pdf(tmp_path / "m.pdf",
               '<p style="width: 2.5cm">Cause: overwhelming pseudo&shy;monas sepsis</p>')
    assert "pseudomonas" not in pdf_chunks(out)[0][1]  # printed as "pseudo-" + "monas"
    hits, _ = scan_outputs([out], Sensitive(free_texts=frozenset({"Pseudomonas sepsis"})))
    assert [(h.where, h.found) for h in hits] == [("page 1", "Pseudomonas sepsis")]


def test_pdf_date_and_document_properties(tmp_path, pdf_reader):
    out = tmp_path / "m.pdf"
    HTML(string="<html><head><title>Cohort of dr_jane_doe</title></head><body>"
                '<p style="width: 2cm">On 23 July 2018</p></body></html>').write_pdf(out)
    s = Sensitive(dates=frozenset({JULY_23}), paths=("/srv/dr_jane_doe/patients.csv",))
    hits, _ = scan_outputs([out], s)
    assert [(h.where, h.kind, h.found) for h in hits] == [
        ("page 1", "date", "23 July 2018"),
        ("document properties (Title)", "folder name", "dr_jane_doe")]


def test_printed_path_is_one_finding_and_folder_alone_another(tmp_path):
    out = _write(tmp_path / "m.qmd", "read /home/dr_jane_doe/data/patients.csv\n"
                                     "by dr_jane_doe from the data folder\n")
    hits, notes = scan_outputs([out], Sensitive(paths=("/home/dr_jane_doe/data/patients.csv",),
                                                words=WORDS))
    assert [str(h) for h in hits] == [
        f"{out}, line 1: input path '/home/dr_jane_doe/data/patients.csv'",
        f"{out}, line 2: input path folder name 'dr_jane_doe'",
    ]
    assert any("'data' is made of words the manuscript's own text uses" in n for n in notes)


# --------------------------------------------------------------------------- scan_outputs


def test_binary_output_is_skipped_with_a_note_and_missing_output_is_an_error(tmp_path):
    png = tmp_path / "fig.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00MRN-00123")
    hits, notes = scan_outputs([png], _ids("MRN-00123"))
    assert hits == []
    assert notes == [f"{png}: binary file not scanned (scan the file it was made from, such as "
                     "its SVG, instead)"]
    with pytest.raises(PipelineError, match="missing"):
        scan_outputs([tmp_path / "nope.pdf"], _ids("MRN-00123"))


def test_unreadable_pdf_is_an_error(tmp_path):
    bad = _write(tmp_path / "m.pdf", "not a pdf")
    with pytest.raises(PipelineError, match="cannot read the PDF"):
        scan_outputs([bad], _ids("MRN-00123"))


def test_assert_no_leaks_lists_hits_capped_at_fifty(tmp_path):
    ids = [f"P{n:04d}" for n in range(60)]
    out = _write(tmp_path / "t.txt", "\n".join(ids) + "\n")
    with pytest.raises(PipelineError) as err:
        assert_no_leaks([out], _ids(*ids))
    lines = str(err.value).splitlines()
    assert lines[0].startswith("identifying data found in 1 shareable output (60 findings)")
    assert lines[1] == f"  {out}, line 1: patient_id 'P0000'"
    assert len(lines) == 1 + 50 + 1
    assert lines[-1] == "  ... and 10 more"


def test_assert_no_leaks_returns_notes_when_clean(tmp_path):
    out = _write(tmp_path / "t.txt", "12 patients in July 2018\n")
    s = Sensitive(patient_ids=frozenset({"12", "P1001"}), dates=frozenset({JULY_23}))
    assert assert_no_leaks([out], s) == [
        "patient_id '12' cannot be told apart from an ordinary number: not checked"]


def test_hit_str_without_location():
    assert str(Hit("a.txt", "free text", "x y z", "")) == "a.txt: free text 'x y z'"


def test_many_ids_and_dates_complete_and_find_only_the_planted_ones(tmp_path):
    # Not timed: shows the tokenised lookup handles a realistic cohort on a large output.
    ids = frozenset(f"MRN-{n:06d}" for n in range(20_000))
    dates = frozenset(dt.date(2010, 1, 1) + dt.timedelta(days=n) for n in range(4_000))
    rows = [f"<tr><td>MRX-{n:06d}</td><td>{n}</td><td>{n % 28 + 1} March 2030</td></tr>"
            for n in range(20_000)]
    rows[12_345] = "<tr><td>MRN-012345</td><td>1</td><td>2</td></tr>"
    rows[17_000] = "<tr><td>x</td><td>seen 2012-05-06</td></tr>"
    out = _write(tmp_path / "big.html", "\n".join(rows) + "\n")
    assert out.stat().st_size > 900_000
    hits, _ = scan_outputs([out], Sensitive(patient_ids=ids, dates=dates))
    assert [str(h) for h in hits] == [f"{out}, line 12346: patient_id 'MRN-012345'",
                                      f"{out}, line 17001: date 2012-05-06"]
