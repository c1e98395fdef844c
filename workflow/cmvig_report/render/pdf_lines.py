"""Line numbers in the margin of a PDF laid out by WeasyPrint, as reviewers cite them.

WeasyPrint has no line numbering, so the review copy is numbered after layout: every line box
of running text (tables left out, as Word's line numbers leave them out) is read from
WeasyPrint's layout tree with the page it lies on and its baseline; the numbers, counted
continuously through the document, are laid out by WeasyPrint on transparent pages of the same
size and merged onto the document's pages with pypdf. The text of the page stays as it was
(selectable, read by the leak check); the numbers are text too, in the left margin.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

PX_TO_PT = 0.75  # WeasyPrint lays out in CSS pixels
NUMBER_FONT_PT = 7.0
# Where the numbers end: this far left of the document's leftmost line of text.
GAP_PT = 8.0
NUMBER_WIDTH_PT = 24.0
# DejaVu Sans: ascent in ems, to set a number's baseline on its line's baseline.
ASCENT_EM = 0.93


@dataclass(frozen=True)
class Line:
    """One numbered line: its page (from 0), baseline and left edge, in points from the top
    left corner of the page."""

    page: int
    baseline: float
    left: float


def _has_text(box: Any) -> bool:
    from weasyprint.formatting_structure import boxes

    if isinstance(box, boxes.TextBox):
        return bool(box.text.strip())
    return any(_has_text(c) for c in getattr(box, "children", None) or [])


def _lines(box: Any, page: int, out: list[Line]) -> None:
    from weasyprint.formatting_structure import boxes

    if isinstance(box, (boxes.TableBox, boxes.MarginBox)):
        return  # tables are not numbered; the running head and page numbers neither
    if isinstance(box, boxes.LineBox):
        if _has_text(box):
            out.append(Line(page, (box.position_y + box.baseline) * PX_TO_PT,
                            box.position_x * PX_TO_PT))
        return  # a line inside a line (an inline block) is the same line
    for child in getattr(box, "children", None) or []:
        _lines(child, page, out)


def text_lines(document: Any) -> list[Line]:
    """The lines of running text of a rendered WeasyPrint ``document``, in reading order; lines
    sharing a baseline on a page (side by side) count once."""
    found: list[Line] = []
    for number, page in enumerate(document.pages):
        on_page: list[Line] = []
        _lines(page._page_box, number, on_page)
        on_page.sort(key=lambda line: (round(line.baseline, 1), line.left))
        for line in on_page:
            if found and found[-1].page == number and abs(found[-1].baseline
                                                          - line.baseline) < 1.0:
                continue
            found.append(line)
    return found


def _overlay_html(document: Any, lines: list[Line]) -> str:
    width = document.pages[0].width * PX_TO_PT
    height = document.pages[0].height * PX_TO_PT
    pages: list[list[str]] = [[] for _ in document.pages]
    # one column for the whole document, left of its leftmost line (an indented line, a
    # reference with a hanging indent, does not move its number)
    right = min((line.left for line in lines), default=0.0) - GAP_PT
    for number, line in enumerate(lines, start=1):
        top = line.baseline - ASCENT_EM * NUMBER_FONT_PT
        pages[line.page].append(
            f'<span style="top:{top:.2f}pt;left:{right - NUMBER_WIDTH_PT:.2f}pt">{number}</span>')
    body = "".join(f'<div class="p">{"".join(spans)}</div>' for spans in pages)
    return (f"<html><head><style>@page {{ size: {width:.3f}pt {height:.3f}pt; margin: 0 }}"
            f"body {{ margin: 0 }} .p {{ position: relative; width: {width:.3f}pt; "
            f"height: {height:.3f}pt; break-after: page; overflow: hidden }}"
            f".p span {{ position: absolute; width: {NUMBER_WIDTH_PT}pt; text-align: right; "
            f'font: {NUMBER_FONT_PT}pt/1 "DejaVu Sans", sans-serif; color: #777 }}'
            f"</style></head><body>{body}</body></html>")


def stamp_line_numbers(pdf: bytes, document: Any) -> tuple[bytes, int]:
    """``pdf`` (the bytes of the WeasyPrint ``document``) with each line of running text
    numbered in the left margin, and how many lines were numbered. Deterministic: the same
    document gives the same bytes."""
    from pypdf import PdfReader, PdfWriter
    from weasyprint import HTML

    from ..core.io import fixed_source_date

    lines = text_lines(document)
    with fixed_source_date():
        overlay = HTML(string=_overlay_html(document, lines)).write_pdf(
            pdf_identifier=b"line-numbers")
    numbers = PdfReader(io.BytesIO(overlay))
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    for page, stamp in zip(writer.pages, numbers.pages, strict=True):
        page.merge_page(stamp, over=True)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), len(lines)
