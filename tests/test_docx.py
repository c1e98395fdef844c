"""What a reader of report/manuscript.docx sees: Table 1's columns and the Word styles.

The DOCX is made as the pipeline makes it when Quarto is absent (run_qmd, then run_docx with
templates/reference.docx and pandoc from pypandoc-binary). Nothing here needs LibreOffice or
the network: text widths are estimated from character counts and font sizes, not measured.

Twips: 1/20 pt. Pandoc writes Table 1 as a fixed-layout table 100% of the text width whose
w:gridCol widths (relative column widths, from the dashes of the pipe table's separator line)
add up to 7,920 twips; Word and LibreOffice scale them to the text width of the page.
"""

from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from cohort_factory import abstract_like_cohort
from report_fixtures import ROOT, make_project, qmd_args

from cmvig_report.render import quarto
from cmvig_report.render.report import run_qmd

REFERENCE = ROOT / "templates" / "reference.docx"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
NS = {"w": W[1:-1]}
CONSERVATIVE_HALF_POINTS = 20    # 10 pt, when the table style gives no size
DEFAULT_CELL_MARGIN = 108        # twips, Word's default left and right cell margin
CHAR_EM = 0.55                   # a generous average character width, in ems
# Times New Roman advance widths (in ems) of what Table 1's values are made of; any other
# character counts as CHAR_EM. Used only while the styles name Times New Roman (checked).
TIMES_EM = {**dict.fromkeys("0123456789", 0.5), " ": 0.25, ",": 0.25, ".": 0.25,
            "(": 0.333, ")": 0.333, "–": 0.5, "-": 0.333, "%": 0.833, "/": 0.278}


def _cohort():
    """The abstract-like cohort with Table 1's longest labels and widest values."""
    cohort = abstract_like_cohort()
    diagnoses = ["Haemophagocytic lymphohistiocytosis", "Severe combined immunodeficiency",
                 "Juvenile myelomonocytic leukaemia", "Chronic granulomatous disease"]
    for i, diagnosis in enumerate(diagnoses):
        cohort.loc[i, "diagnosis"] = diagnosis
    cohort.loc[[1, 9, 12], "cmv_serostatus"] = "D+/R+"
    loads = [2_100, 60_770, 33_400, 9_700, 15_800, 7_600, 27_500, 4_300,
             12_000, 48_900, 3_300, 21_000, 5_500, 60_000, 9_900]
    cohort["viral_load_at_cmvig"] = [float(v) for v in loads]
    return cohort


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Two DOCX files converted from the same .qmd, with templates/reference.docx."""
    assert REFERENCE.is_file(), "templates/reference.docx is missing: run " \
                                "python templates/make_reference_docx.py"
    tmp = tmp_path_factory.mktemp("docx")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", "/usr/bin:/bin")   # no quarto: the pandoc route
        mp.delenv("SOURCE_DATE_EPOCH", raising=False)
        assert quarto.find_quarto() is None
        kwargs = make_project(tmp, _cohort())
        qmd = kwargs["_project"] / "report" / "manuscript.qmd"
        run_qmd(**qmd_args(kwargs), qmd=str(qmd))
        docs = [qmd.parent / "one.docx", qmd.parent / "two.docx"]
        for docx in docs:
            quarto.run_docx(qmd=str(qmd), docx=str(docx), reference_doc=[str(REFERENCE)])
    return docs


def _xml(docx: Path, name: str) -> ET.Element:
    with zipfile.ZipFile(docx) as z:
        return ET.fromstring(z.read(name))


def _text(element: ET.Element) -> str:
    return "".join(t.text or "" for t in element.iter(f"{W}t"))


def _table1(docx: Path) -> ET.Element:
    tables = [t for t in _xml(docx, "word/document.xml").iter(f"{W}tbl")
              if _text(t.find("w:tr/w:tc", NS)).strip() == "Characteristic"]
    assert len(tables) == 1, "no table (or several) whose first cell is 'Characteristic'"
    return tables[0]


def _rows(table: ET.Element) -> list[list[str]]:
    return [[_text(tc) for tc in tr.findall("w:tc", NS)] for tr in table.findall("w:tr", NS)]


def _style(styles: ET.Element, style_id: str) -> ET.Element | None:
    for style in styles.findall("w:style", NS):
        if style.get(f"{W}styleId") == style_id:
            return style
    return None


def _style_size(styles: ET.Element, style_id: str) -> int | None:
    """The font size of a style in half-points, following w:basedOn, then the doc defaults."""
    style = _style(styles, style_id)
    while style is not None:
        size = style.find("w:rPr/w:sz", NS)
        if size is not None:
            return int(size.get(f"{W}val"))
        based_on = style.find("w:basedOn", NS)
        style = _style(styles, based_on.get(f"{W}val")) if based_on is not None else None
    size = styles.find("w:docDefaults/w:rPrDefault/w:rPr/w:sz", NS)
    return int(size.get(f"{W}val")) if size is not None else None


def _table_style(docx: Path) -> tuple[int, int]:
    """Font size (half-points) and left + right cell margins (twips) of table style "Table"."""
    style = _style(_xml(docx, "word/styles.xml"), "Table")
    size = style.find("w:rPr/w:sz", NS) if style is not None else None
    margins = [style.find(f"w:tblPr/w:tblCellMar/w:{side}", NS) if style is not None else None
               for side in ("left", "right")]
    half_points = int(size.get(f"{W}val")) if size is not None else CONSERVATIVE_HALF_POINTS
    return half_points, sum(int(m.get(f"{W}w")) if m is not None else DEFAULT_CELL_MARGIN
                            for m in margins)


def _column_widths(docx: Path, table: ET.Element) -> list[float]:
    """Each column's width on the page in twips: the w:gridCol widths scaled to the text
    width (page width minus margins), as Word lays out a fixed table 100% wide."""
    grid = [int(c.get(f"{W}w")) for c in table.findall("w:tblGrid/w:gridCol", NS)]
    sect = _xml(docx, "word/document.xml").find("w:body/w:sectPr", NS)
    size, margins = sect.find("w:pgSz", NS), sect.find("w:pgMar", NS)
    assert size is not None and margins is not None, "no page size in the DOCX"
    text_width = (int(size.get(f"{W}w")) - int(margins.get(f"{W}left"))
                  - int(margins.get(f"{W}right")))
    return [g / sum(grid) * text_width for g in grid]


def _word_width(word: str, half_points: int) -> float:
    """Estimated width of ``word`` in twips: CHAR_EM of the font size per character."""
    return len(word) * CHAR_EM * half_points * 10


def test_table1_label_column_fits_its_longest_word(rendered):
    table = _table1(rendered[0])
    half_points, cell_margins = _table_style(rendered[0])
    labels = [row[0] for row in _rows(table)]
    assert "\u2003Haemophagocytic lymphohistiocytosis" in labels   # the fixture's longest word
    # A word cannot break inside; an indented label's first word shares its line with the
    # em-space indent (one em wide).
    need = 0.0
    for label in labels:
        stripped = label.lstrip()
        words = stripped.split()
        if words:
            indent = (len(label) - len(stripped)) * half_points * 10
            need = max(need, indent + _word_width(words[0], half_points),
                       *(_word_width(w, half_points) for w in words))
    grid = [int(c.get(f"{W}w")) for c in table.findall("w:tblGrid/w:gridCol", NS)]
    assert len(grid) == 4
    assert grid[0] - cell_margins >= need, (
        f"Table 1's label column is {grid[0]} twips ({cell_margins} of cell margins) but its "
        f"longest word needs about {need:.0f}: widen the first segment of the separator line "
        "in templates/manuscript.qmd.j2")


def test_table1_values_stay_on_one_line(rendered):
    styles = _xml(rendered[0], "word/styles.xml")
    fonts = styles.find("w:docDefaults/w:rPrDefault/w:rPr/w:rFonts", NS)
    assert fonts is not None and fonts.get(f"{W}ascii") == "Times New Roman", \
        "the widths below are Times New Roman's"
    table = _table1(rendered[0])
    half_points, cell_margins = _table_style(rendered[0])
    widths = _column_widths(rendered[0], table)
    body = _rows(table)[1:]
    # wide cells are there: a range with decimals (age) and a log10 median (IQR) of viral loads
    assert any(re.fullmatch(r"\d+\.\d \(\d+\.\d–\d+\.\d\)", cell)
               for row in body for cell in row[1:])
    for row in body:
        for cell, width in zip(row[1:], widths[1:], strict=True):
            need = sum(TIMES_EM.get(ch, CHAR_EM) for ch in cell) * half_points * 10
            assert need <= width - cell_margins, (
                f"{cell!r} ({need:.0f} twips) would wrap in a {width:.0f}-twip column of "
                "Table 1 (a range like '(2,100–' / '60,770)' splits at the dash)")


def test_title_style_is_at_most_18_pt(rendered):
    styles = _xml(rendered[0], "word/styles.xml")
    size = _style_size(styles, "Title")
    assert size is not None and size <= 36, f"Title is {size} half-points (pandoc's is 56)"
    assert _style(styles, "Title").find("w:rPr/w:b", NS) is not None, "Title is not bold"


def test_journal_plain_styles(rendered):
    styles = _xml(rendered[0], "word/styles.xml")
    sizes = {name: _style_size(styles, name) for name in
             ("BodyText", "Subtitle", "Heading1", "Heading2", "Heading3", "Table")}
    assert sizes == {"BodyText": 22, "Subtitle": 24, "Heading1": 26, "Heading2": 23,
                     "Heading3": 21, "Table": 18}
    fonts = styles.find("w:docDefaults/w:rPrDefault/w:rPr/w:rFonts", NS)
    assert fonts.get(f"{W}ascii") == "Times New Roman"
    assert fonts.get(f"{W}asciiTheme") is None   # a theme font would win over the name
    borders = _style(styles, "Table").find("w:tblPr/w:tblBorders", NS)
    assert {b.tag.removeprefix(W): b.get(f"{W}val") for b in borders} == {
        "top": "single", "bottom": "single"}
    for heading in ("Heading1", "Heading2", "Heading3"):
        assert _style(styles, heading).find("w:rPr/w:color", NS) is None, heading


def test_two_conversions_give_identical_bytes(rendered):
    one, two = rendered
    assert one != two and one.stat().st_size > 10_000
    assert one.read_bytes() == two.read_bytes()


def test_reference_docx_is_what_its_generator_makes():
    """templates/reference.docx is exactly what templates/make_reference_docx.py builds."""
    spec = importlib.util.spec_from_file_location(
        "make_reference_docx", ROOT / "templates" / "make_reference_docx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    default = module.pandoc_default()
    built = module.build(default)
    assert built == module.build(default), "the generator is not deterministic"
    assert built == REFERENCE.read_bytes(), (
        "templates/reference.docx differs from a rebuild: run "
        "python templates/make_reference_docx.py")
    with zipfile.ZipFile(REFERENCE) as z:
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert re.search(rb'w:styleId="Title"', z.read("word/styles.xml"))


def _table_starting(docx: Path, first_cell: str) -> ET.Element:
    tables = [t for t in _xml(docx, "word/document.xml").iter(f"{W}tbl")
              if _text(t.find("w:tr/w:tc", NS)).strip() == first_cell]
    assert len(tables) == 1, f"no table (or several) whose first cell is {first_cell!r}"
    return tables[0]


MONO_EM = 0.6  # Consolas and the monospaced fonts that stand in for it


def _width(text: str, half_points: int, *, bold: bool, mono: bool) -> float:
    """Estimated width of ``text`` in twips: Times New Roman's digits and punctuation,
    CHAR_EM for any other character, 5% more in bold; MONO_EM per character in code."""
    ems = len(text) * MONO_EM if mono else sum(TIMES_EM.get(ch, CHAR_EM) for ch in text)
    return ems * (1.05 if bold and not mono else 1.0) * half_points * 10


# Columns whose cells must stay on one line (a value, not a sentence), by first header cell.
ONE_LINE = {"Analysis": (2,), "Quantity": (1, 2), "Input": (1, 2)}


def test_no_table_breaks_a_word_or_a_value(rendered):
    """LibreOffice breaks a word wider than its column ('Da/y', 'At/ris/k'), and a value
    wraps at its dash ('44–/88'): in every table every word fits its column, and in the
    columns of ONE_LINE every value its line (Table 1's values: the test above)."""
    half_points, cell_margins = _table_style(rendered[0])
    tables = list(_xml(rendered[0], "word/document.xml").iter(f"{W}tbl"))
    firsts = [_text(t.find("w:tr/w:tc", NS)).strip() for t in tables]
    assert {"Characteristic", "Analysis", "Quantity", "Input"} <= set(firsts)
    header_s1 = _rows(_table_starting(rendered[0], "Analysis"))[0]
    assert header_s1 == ["Analysis", "Day", "Estimate", "At risk",
                         "What differs from the primary analysis"]
    for table, first in zip(tables, firsts, strict=True):
        widths = _column_widths(rendered[0], table)
        for r, tr in enumerate(table.findall("w:tr", NS)):
            for c, (tc, width) in enumerate(zip(tr.findall("w:tc", NS), widths, strict=True)):
                room = width - cell_margins
                runs = [(_text(run), r == 0 or run.find("w:rPr/w:b", NS) is not None,
                         run.find("w:rPr/w:rStyle", NS) is not None)
                        for run in tc.iter(f"{W}r")]
                for text, bold, mono in runs:
                    for word in text.split():
                        need = _width(word, half_points, bold=bold, mono=mono)
                        assert need <= room, (
                            f"{first} table: {word!r} needs {need:.0f} twips, its column "
                            f"has {room:.0f}: widen its segment of the separator line in "
                            "templates/manuscript.qmd.j2")
                if r > 0 and c in ONE_LINE.get(first, ()):
                    value = "".join(text for text, _, _ in runs).strip()
                    need = _width(value, half_points, bold=False,
                                           mono=any(m for _, _, m in runs))
                    assert need <= room, f"{first} table: {value!r} wraps ({need:.0f} > {room:.0f})"


def test_abstract_keeps_its_labelled_paragraphs(rendered):
    """Each part of the abstract starts a line of its own with its label in bold (pandoc
    writes the front matter's paragraphs as one "Abstract" paragraph with line breaks)."""
    body = _xml(rendered[0], "word/document.xml").find("w:body", NS)
    abstract = [p for p in body.findall("w:p", NS)
                if (style := p.find("w:pPr/w:pStyle", NS)) is not None
                and style.get(f"{W}val") == "Abstract"]
    assert abstract, "no paragraph in the Abstract style"
    starts = []  # (text of the run starting each line, bold)
    for paragraph in abstract:
        new_line = True
        for run in paragraph.findall("w:r", NS):
            if run.find("w:br", NS) is not None:
                new_line = True
            elif _text(run).strip():
                if new_line:
                    starts.append((_text(run).strip(), run.find("w:rPr/w:b", NS) is not None))
                new_line = False
    assert starts == [(label, True) for label in
                      ("Background.", "Methods.", "Results.", "Conclusions.")]
