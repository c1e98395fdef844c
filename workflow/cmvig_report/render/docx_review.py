"""The review copy's Word layout: line numbers, page numbers, line spacing and table columns.

Pandoc writes the DOCX from the Quarto source with templates/reference.docx's styles; what a
journal's editorial office checks beyond the styles is set here, on the written file:

- continuous line numbers (``w:lnNumType`` in the section properties, restarting never);
- a page number in the footer (a ``PAGE`` field, which Word and LibreOffice fill in);
- the profile's line spacing (``review_copy.line_spacing``: 2 is ``w:line="480"``) in the
  document defaults and every paragraph style except the table cells' (``Compact``): tables
  stay single spaced, as Word's line numbers skip them anyway;
- table columns at least as wide as their longest word: pandoc sizes columns from the dashes
  of a pipe table's separator line, and a word wider than its column breaks inside
  ("publi/shed"); each column gets the room of its longest word (estimated from the font size)
  and the rest of the text width is shared as pandoc shared it.

The file is rewritten deterministically: the same entries in sorted order, each with a fixed
timestamp, so the same DOCX gives the same bytes.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

from ..core.io import atomic_write_bytes
from ..errors import PipelineError

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
W = f"{{{W_NS}}}"
FOOTER_PART = "word/footer-review.xml"
FOOTER_TYPE = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer")
FOOTER_CONTENT = "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Word's single line is 240 twentieths of a line ("auto" rule): 1.5 is 360, double 480.
SINGLE_LINE = 240
# Paragraph styles left single spaced: the table cells'.
SINGLE_SPACED_STYLES = ("Compact",)
# Section property children in the order the schema (CT_SectPr) requires; lnNumType goes
# after the page margins and borders, before the page numbering and columns.
_AFTER_LN_NUM = ("pgNumType", "cols", "formProt", "vAlign", "noEndnote", "titlePg",
                 "textDirection", "bidi", "rtlGutter", "docGrid", "printerSettings",
                 "sectPrChange")
# Estimated text widths: a generous average character width in ems (as tests/test_docx.py
# estimates what LibreOffice needs), 5% more for bold, Word's default cell margins.
CHAR_EM = 0.55
MONO_EM = 0.6  # code (the checksums), in a monospaced font
BOLD = 1.05
DEFAULT_HALF_POINTS = 20
DEFAULT_CELL_MARGIN = 108


def _footer_xml() -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<w:ftr xmlns:w="{W_NS}" xmlns:r="{R_NS}"><w:p><w:pPr><w:suppressLineNumbers/>'
            '<w:jc w:val="center"/></w:pPr><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            '<w:r><w:instrText '
            'xml:space="preserve"> PAGE </w:instrText></w:r><w:r><w:fldChar '
            'w:fldCharType="separate"/></w:r><w:r><w:t>1</w:t></w:r><w:r><w:fldChar '
            'w:fldCharType="end"/></w:r></w:p></w:ftr>').encode()


def _parse(data: bytes):
    from lxml import etree

    return etree.fromstring(data, etree.XMLParser(remove_blank_text=False))


def _dump(root) -> bytes:
    from lxml import etree

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _w(tag: str) -> str:
    return f"{W}{tag}"


def _child(parent, tag: str, before: tuple[str, ...] = ()):
    """The ``w:tag`` child of ``parent``, created (before the first of ``before``) if absent."""
    from lxml import etree

    found = parent.find(_w(tag))
    if found is not None:
        return found
    element = etree.Element(_w(tag))
    for i, child in enumerate(parent):
        if isinstance(child.tag, str) and child.tag.removeprefix(W) in before:
            parent.insert(i, element)
            return element
    parent.append(element)
    return element


# --------------------------------------------------------------------------------------------
# Sections: line numbers and the footer


def _number_lines_and_pages(document, footer_rel: str | None, line_numbers: bool) -> None:
    from lxml import etree

    body = document.find(_w("body"))
    sections = list(document.iter(_w("sectPr"))) or [_child(body, "sectPr")]
    for sect in sections:
        if line_numbers:
            ln = _child(sect, "lnNumType", _AFTER_LN_NUM)
            ln.attrib.clear()
            ln.set(_w("countBy"), "1")
            ln.set(_w("restart"), "continuous")
            ln.set(_w("distance"), "360")  # a quarter inch from the text
        if footer_rel is not None:
            for old in sect.findall(_w("footerReference")):
                sect.remove(old)
            ref = etree.Element(_w("footerReference"))
            ref.set(_w("type"), "default")
            ref.set(f"{{{R_NS}}}id", footer_rel)
            sect.insert(0, ref)


def _add_footer(parts: dict[str, bytes]) -> str:
    """Adds the footer part, its relationship and content type; returns the relationship id."""
    rels = _parse(parts["word/_rels/document.xml.rels"])
    ids = {r.get("Id") for r in rels}
    rel_id = next(f"rIdReviewFooter{i}" for i in range(len(ids) + 1)
                  if f"rIdReviewFooter{i}" not in ids)
    from lxml import etree

    ns = rels.nsmap[None]
    rel = etree.SubElement(rels, f"{{{ns}}}Relationship")
    rel.set("Id", rel_id)
    rel.set("Type", FOOTER_TYPE)
    rel.set("Target", FOOTER_PART.removeprefix("word/"))
    parts["word/_rels/document.xml.rels"] = _dump(rels)
    types = _parse(parts["[Content_Types].xml"])
    tns = types.nsmap[None]
    override = etree.SubElement(types, f"{{{tns}}}Override")
    override.set("PartName", f"/{FOOTER_PART}")
    override.set("ContentType", FOOTER_CONTENT)
    parts["[Content_Types].xml"] = _dump(types)
    parts[FOOTER_PART] = _footer_xml()
    return rel_id


# --------------------------------------------------------------------------------------------
# Line spacing


def _space_styles(styles, line: int) -> None:
    defaults = styles.find(f"{_w('docDefaults')}/{_w('pPrDefault')}/{_w('pPr')}")
    targets = [defaults] if defaults is not None else []
    for style in styles.findall(_w("style")):
        if (style.get(_w("type")) == "paragraph"
                and style.get(_w("styleId")) not in SINGLE_SPACED_STYLES):
            targets.append(_child(style, "pPr", ("rPr", "tblPr", "trPr", "tcPr", "tblStylePr")))
    for ppr in targets:
        spacing = _child(ppr, "spacing", ("ind", "contextualSpacing", "mirrorIndents",
                                           "suppressOverlap", "jc", "textDirection",
                                           "textAlignment", "textboxTightWrap",
                                           "outlineLvl", "divId", "cnfStyle", "rPr",
                                           "sectPr", "pPrChange"))
        spacing.set(_w("line"), str(line))
        spacing.set(_w("lineRule"), "auto")


# --------------------------------------------------------------------------------------------
# Table columns


def _text(element) -> str:
    return "".join(t.text or "" for t in element.iter(_w("t")))


def _table_style(styles) -> tuple[int, int]:
    """Font size (half-points) and left + right cell margins (twips) of the style "Table"."""
    for style in styles.findall(_w("style")):
        if style.get(_w("styleId")) == "Table":
            size = style.find(f"{_w('rPr')}/{_w('sz')}")
            margins = [style.find(f"{_w('tblPr')}/{_w('tblCellMar')}/{_w(side)}")
                       for side in ("left", "right")]
            return (int(size.get(_w("val"))) if size is not None else DEFAULT_HALF_POINTS,
                    sum(int(m.get(_w("w"))) if m is not None else DEFAULT_CELL_MARGIN
                        for m in margins))
    return DEFAULT_HALF_POINTS, 2 * DEFAULT_CELL_MARGIN


def word_width(word: str, half_points: int, bold: bool = False, mono: bool = False) -> float:
    """Estimated width of ``word`` in twips at ``half_points``: CHAR_EM per character (5%
    more in bold), MONO_EM in code."""
    if mono:
        return len(word) * MONO_EM * half_points * 10
    return len(word) * CHAR_EM * half_points * 10 * (BOLD if bold else 1.0)


def column_widths(grid: list[int], needs: list[float], total: float) -> list[int]:
    """Column widths summing to ``total`` (twips): each at least its need, the room left
    shared in proportion to ``grid`` (pandoc's relative widths). When the needs alone exceed
    the width, the columns are in proportion to their needs."""
    need_sum = sum(needs)
    if need_sum >= total:
        widths = [n / need_sum * total for n in needs]
    else:
        widths = [g / sum(grid) * total for g in grid]
        # raise each column short of its need to it, taking the room from the others in
        # proportion to what they have beyond their own need
        for _ in range(len(grid)):
            short = [i for i, w in enumerate(widths) if w < needs[i] - 0.5]
            if not short:
                break
            wanted = sum(needs[i] - widths[i] for i in short)
            for i in short:
                widths[i] = needs[i]
            spare = {i: widths[i] - needs[i] for i in range(len(grid)) if i not in short}
            pool = sum(spare.values())
            for i, s in spare.items():
                widths[i] -= wanted * s / pool if pool else 0
    # whole twips, none below its need: rounded up, the excess taken from the roomiest column
    rounded = [math.ceil(w) for w in widths]
    roomiest = max(range(len(rounded)), key=lambda i: rounded[i] - needs[i])
    rounded[roomiest] -= sum(rounded) - int(round(total))
    return rounded


def _text_width(document) -> int:
    sect = document.find(f"{_w('body')}/{_w('sectPr')}")
    size = sect.find(_w("pgSz")) if sect is not None else None
    margins = sect.find(_w("pgMar")) if sect is not None else None
    if size is None or margins is None:
        return 9000  # A4 with 2.5 cm margins, about
    return (int(size.get(_w("w"))) - int(margins.get(_w("left")))
            - int(margins.get(_w("right"))))


def _fit_columns(document, half_points: int, cell_margins: int) -> None:
    total = _text_width(document)
    for table in document.iter(_w("tbl")):
        grid = table.find(_w("tblGrid"))
        cols = grid.findall(_w("gridCol")) if grid is not None else []
        if not cols:
            continue
        needs = [0.0] * len(cols)
        for r, row in enumerate(table.findall(_w("tr"))):
            for c, cell in enumerate(row.findall(_w("tc"))[:len(cols)]):
                for run in cell.iter(_w("r")):
                    bold = r == 0 or run.find(f"{_w('rPr')}/{_w('b')}") is not None
                    mono = run.find(f"{_w('rPr')}/{_w('rStyle')}") is not None
                    for word in _text(run).split():
                        needs[c] = max(needs[c], word_width(word, half_points, bold, mono))
        needs = [n + cell_margins for n in needs]
        widths = column_widths([int(c.get(_w("w")) or 1) for c in cols], needs, total)
        for col, width in zip(cols, widths, strict=True):
            col.set(_w("w"), str(width))
        for row in table.findall(_w("tr")):
            for cell, width in zip(row.findall(_w("tc")), widths, strict=False):
                tcw = cell.find(f"{_w('tcPr')}/{_w('tcW')}")
                if tcw is not None:
                    tcw.set(_w("w"), str(width))
                    tcw.set(_w("type"), "dxa")


# --------------------------------------------------------------------------------------------
# The file


def _read_parts(path: str | Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as z:
            return {name: z.read(name) for name in z.namelist()}
    except (OSError, zipfile.BadZipFile) as exc:
        raise PipelineError(f"{path}: not a DOCX file ({exc})") from None


def write_parts(parts: dict[str, bytes], path: str | Path) -> None:
    """The DOCX ``parts`` written to ``path``: [Content_Types].xml first (as Word expects),
    the others sorted, each with a fixed timestamp."""
    out = io.BytesIO()
    names = ["[Content_Types].xml", *sorted(n for n in parts if n != "[Content_Types].xml")]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in names:
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, parts[name])
    atomic_write_bytes(path, out.getvalue())


def review_layout(path: str | Path, *, line_numbers: bool, line_spacing: float,
                  page_numbers: bool = True) -> None:
    """Rewrite the DOCX at ``path`` as a review copy: continuous line numbers (when
    ``line_numbers``), a PAGE field in the footer (``page_numbers``), ``line_spacing`` (1, 1.5,
    2...) in the paragraph styles, and every table column as wide as its longest word."""
    parts = _read_parts(path)
    document = _parse(parts["word/document.xml"])
    styles = _parse(parts["word/styles.xml"])
    footer = _add_footer(parts) if page_numbers else None
    _number_lines_and_pages(document, footer, line_numbers)
    if line_spacing and line_spacing != 1:
        _space_styles(styles, int(round(SINGLE_LINE * line_spacing)))
    _fit_columns(document, *_table_style(styles))
    parts["word/document.xml"] = _dump(document)
    parts["word/styles.xml"] = _dump(styles)
    write_parts(parts, path)


def fit_table_columns(path: str | Path) -> None:
    """Rewrite the DOCX at ``path`` with every table column as wide as its longest word."""
    parts = _read_parts(path)
    document = _parse(parts["word/document.xml"])
    _fit_columns(document, *_table_style(_parse(parts["word/styles.xml"])))
    parts["word/document.xml"] = _dump(document)
    write_parts(parts, path)
