"""The reporting checklist (``report/checklist.csv`` and ``checklist.pdf``) and word counts.

``templates/checklist.yaml`` lists the items of a reporting guideline (STROBE for cohort
studies is shipped, in the project's own words; a journal's own list can replace it). Each item
names the id of the heading under which the manuscript reports it. The page is read from the
rendered PDF (WeasyPrint records on which page each id lands), never typed: an item is
``reported`` when its heading is in the document, with that page, and ``not reported`` with the
reason otherwise.
"""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path
from typing import Any

from .errors import PipelineError
from .io import atomic_write_bytes

COLUMNS = ["item", "description", "section", "page", "status", "note"]
# Sections counted as the main text (journals count from the introduction to the conclusion).
MAIN_TEXT = ("introduction", "methods", "results", "discussion", "conclusion")


def headings(html: str) -> dict[str, str]:
    """Element id -> the text of that heading (or figure label), from the rendered HTML."""
    out = {}
    for m in re.finditer(r'<(h[1-4]|figcaption|caption)\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</\1>',
                         html, flags=re.S):
        out[m.group(2)] = words(m.group(3))
    return out


def words(fragment: str) -> str:
    """The text of an HTML fragment, tags dropped and spaces collapsed."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def build(items: dict[str, Any], anchors: dict[str, int], html: str) -> list[dict[str, Any]]:
    """Checklist rows (``COLUMNS``) for the items of ``templates/checklist.yaml``."""
    titles = headings(html)
    rows = []
    for i, item in enumerate(items.get("items") or [], start=1):
        if not isinstance(item, dict) or "item" not in item or "description" not in item:
            raise PipelineError(f"checklist.yaml, item {i}: needs 'item' and 'description'")
        section = str(item.get("section") or "")
        row = {"item": str(item["item"]), "description": " ".join(str(item["description"])
                                                                   .split()),
               "section": "", "page": "", "status": "not reported",
               "note": " ".join(str(item.get("note") or "").split())}
        if section and section in titles:
            row.update(section=titles[section], status="reported",
                       page=str(anchors.get(section, "")))
        elif section:
            row["note"] = (row["note"] or f"no heading with id '{section}' in this manuscript")
        rows.append(row)
    return rows


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
    from .pdf import html_to_pdf
    from .templating import render_template

    text = render_template(env, "checklist.html.j2", {**context, "checklist": rows})
    pdf, _, _ = html_to_pdf(text, out_dir, template_dir.resolve().parent)
    atomic_write_bytes(path, pdf)
    return text
