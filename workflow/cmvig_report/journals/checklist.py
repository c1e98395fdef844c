"""The reporting checklist (``report/checklist.csv`` and ``checklist.pdf``) and word counts.

``templates/checklist.yaml`` lists the items of a reporting guideline (STROBE for cohort
studies is shipped, in the project's own words; a journal's own list can replace it). Each item
names the id of the heading under which the manuscript reports it and the mark
(``data-checklist``) of the sentence or data that answers it. The page is read from the
rendered PDF (WeasyPrint records on which page each id lands), never typed: an item is
``reported`` when its heading is in the document and its mark holds text, and ``not reported``
(or ``not applicable``) with the reason otherwise: a heading alone never counts.
"""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ..core.io import atomic_write_bytes
from ..errors import PipelineError

COLUMNS = ["item", "description", "requirement", "section", "page", "status", "note"]
STATUSES = ("reported", "not reported", "not applicable")
# Sections counted as the main text (journals count from the introduction to the conclusion).
MAIN_TEXT = ("introduction", "methods", "results", "discussion", "conclusion")


class _Outline(HTMLParser):
    """Headings by id, named as a reader finds them ("Definitions (Methods)", "Figure 1"), and
    the text of every ``data-checklist`` mark."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.names: dict[str, str] = {}
        self.marks: dict[str, str] = {}
        self._h2 = ""
        self._open: list[tuple[str, str | None, str | None, list[str]]] = []
        self._label: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "span" and "label" in (a.get("class") or "").split() and self._open:
            self._label = []
        if a.get("id") and tag in HEADINGS or a.get("data-checklist"):
            self._open.append((tag, a.get("id") if tag in HEADINGS else None,
                               a.get("data-checklist"), []))
        elif self._open and tag not in VOID:
            self._open.append((tag, None, None, []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._label is not None:
            label = " ".join("".join(self._label).split()).rstrip(".")
            for _, ident, _, _ in reversed(self._open):
                if ident:
                    self.names[ident] = label
                    break
            self._label = None
        if not self._open or self._open[-1][0] != tag:
            return
        _, ident, mark, text = self._open.pop()
        words_ = " ".join("".join(text).split())
        if self._open:
            self._open[-1][3].extend(text)
        if mark:
            self.marks[mark] = (self.marks.get(mark, "") + " " + words_).strip()
        if ident and tag in ("h1", "h2", "h3", "h4"):
            if tag == "h2":
                self._h2 = words_
            self.names[ident] = f"{words_} ({self._h2})" if tag in ("h3", "h4") and self._h2 \
                else words_
        elif ident and ident not in self.names:  # a caption without a label: its first words
            self.names[ident] = " ".join(words_.split()[:4])

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self._label.append(data)
        if self._open:
            self._open[-1][3].append(data)


HEADINGS = ("h1", "h2", "h3", "h4", "figcaption", "caption")
VOID = ("br", "img", "meta", "link", "hr", "input", "col", "wbr")


def outline(html: str) -> tuple[dict[str, str], dict[str, str]]:
    """(heading id -> section name, checklist mark -> its text) from the rendered HTML."""
    parser = _Outline()
    parser.feed(html)
    return parser.names, parser.marks


def words(fragment: str) -> str:
    """The text of an HTML fragment, tags dropped and spaces collapsed."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _item_row(i: int, item: Any, terms: dict[str, str] | None = None) -> dict[str, str]:
    if not isinstance(item, dict) or "item" not in item or "description" not in item:
        raise PipelineError(f"checklist.yaml, item {i}: needs 'item' and 'description'")
    where = f"checklist.yaml, item {item['item']}"
    if item.get("section"):
        if not item.get("satisfied_by"):
            raise PipelineError(f"{where}: a reported item needs 'satisfied_by' (what answers it)")
    elif item.get("status") not in STATUSES[1:] or not item.get("note"):
        raise PipelineError(f"{where}: without a section, give 'status' (not reported or not "
                            "applicable) and a 'note' saying why")
    requirement = " ".join(str(item.get("satisfied_by") or "").split())
    for key, value in (terms or {}).items():  # the journal's words: "an unstructured abstract"
        requirement = requirement.replace(f"{{{key}}}", value)
    return {"item": str(item["item"]), "description": " ".join(str(item["description"]).split()),
            "requirement": requirement,
            "section": "", "page": "", "status": str(item.get("status") or "not reported"),
            "note": " ".join(str(item.get("note") or "").split())}


def build(items: dict[str, Any], anchors: dict[str, Any], html: str,
          terms: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Checklist rows (``COLUMNS``) for the items of ``templates/checklist.yaml``.

    An item is ``reported`` only when its section is in the manuscript and, if it names one,
    its mark holds text; otherwise it is ``not reported`` with what is missing, or carries the
    status and reason the list gives it. ``terms`` replace their ``{key}`` in the items' words
    (:func:`abstract_terms`)."""
    names, marks = outline(html)
    rows = []
    for i, item in enumerate(items.get("items") or [], start=1):
        row = _item_row(i, item, terms)
        section, mark = str(item.get("section") or ""), str(item.get("requires") or "")
        if not section:
            rows.append(row)
            continue
        if section not in names:
            row["note"] = row["note"] or f"no heading with id '{section}' in this manuscript"
        elif mark and not marks.get(mark):
            row["note"] = f"absent from this manuscript: {row['requirement']}"
        else:
            row.update(section=names[section], status="reported",
                       page=str(anchors.get(section, "")))
        rows.append(row)
    return rows


def abstract_terms(form: str) -> dict[str, str]:
    """The checklist's words for the journal's abstract form (``structured`` or
    ``unstructured``): ``{an_abstract}`` and ``{An_abstract}``."""
    from .editorial import with_article

    phrase = f"{with_article(form)} abstract"
    return {"an_abstract": phrase, "An_abstract": phrase[0].upper() + phrase[1:]}


def _section_words(html: str, name: str) -> int:
    m = re.search(rf'<section\b[^>]*class="[^"]*\b{name}\b[^"]*"[^>]*>(.*?)</section>', html,
                  flags=re.S)
    if not m:
        return 0
    body = re.sub(r"<h[1-6]\b.*?</h[1-6]>", " ", m.group(1), flags=re.S)
    return len(re.findall(r"[^\s]+", words(body)))


def word_counts(html: str) -> dict[str, int]:
    """Words in the abstract and in the main text (headings left out)."""
    return {"abstract": _section_words(html, "abstract"),
            "main_text": sum(_section_words(html, name) for name in MAIN_TEXT)}


def write_pdf(env: Any, rows: list[dict[str, Any]], context: dict[str, Any], path: str,
              out_dir: str | Path, template_dir: Path) -> str:
    """``report/checklist.pdf``: the checklist as a journal asks for it at submission; returns
    the HTML it was made from."""
    from ..render.pdf import html_to_pdf
    from ..render.templating import render_template

    text = render_template(env, "checklist.html.j2", {**context, "checklist": rows})
    pdf, _, _ = html_to_pdf(text, out_dir, template_dir.resolve().parent)
    atomic_write_bytes(path, pdf)
    return text
