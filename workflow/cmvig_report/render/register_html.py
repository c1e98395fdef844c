"""The register of printed numbers read back from the rendered HTML (``report/numbers.csv``):
each tracked number's section, the words before it, text, source, value, method and n, and
the numbers printed without a source.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from .register import ALLOWED, NUMBER_TOKEN, Entry, Register

# Elements whose text is one passage: a sentence's number is described by the words before it.
_PASSAGES = ("p", "li", "figcaption", "caption", "dd", "dt", "h1", "h2", "h3")
CONTEXT_WORDS = 8
_TRAILING_N = re.compile(r"\s*\bn\s*=\s*$")
_SENTENCE_END = re.compile(r"(?<=[.;:!?)])\s+(?=[A-Z])")
# The register reporting on itself (its appendix, the changes appendix) is not a number of the
# manuscript: it would make each freeze differ from the last by its own listing.
SELF_SOURCES = ("numbers.csv", "changes.csv")


class _Sections(HTMLParser):
    """Spans with a data-source, each with the section it stands in (h1/h2, or the label of
    the figure or table whose caption holds it) and what a reader sees it as: in running text
    the words before it, in a table the row's label and the column's heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[dict[str, str]] = []
        self.section = "Title page"
        self._h2 = "Title page"
        self._level = ""
        self._heading: list[str] | None = None
        self._label: list[str] | None = None
        self._figure_section: str | None = None
        self._spans: list[tuple[str | None, list[str], int]] = []
        self._passage: list[str] = []  # text of the current passage so far
        self._table_head: list[str] = []
        self._row: list[str] = []  # cells of the current table row, as read so far
        self._cell: list[str] | None = None
        self._cell_words: list[str] = []
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("h1", "h2", "h3"):
            self._heading, self._level = [], tag
        elif tag == "span" and "label" in (a.get("class") or "").split():
            self._label = []
        elif tag == "figure":
            self._figure_section = self.section
        elif tag == "thead":
            self._in_head, self._table_head = True, []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell, self._cell_words = [], []
        elif tag == "br":
            self.handle_data(" ")
        if tag in _PASSAGES:
            self._passage = []
        if tag == "span":
            self._spans.append((a.get("data-source"), [], len(self._text())))

    def _text(self) -> str:
        return "".join(self._cell if self._cell is not None else self._passage)

    def _context(self, before: str) -> str:
        if self._cell is not None and self._in_head:  # the n under a column's heading
            return _TRAILING_N.sub("", " ".join("".join(self._cell_words).split())) or "heading"
        if self._cell is not None:  # a table cell: row label and column heading
            column = len(self._row)
            head = self._table_head[column] if column < len(self._table_head) else ""
            label = self._row[0] if self._row else ""
            return " / ".join(p for p in (label, head) if p)
        # the sentence the number stands in, from its start or its last few words
        sentence = _SENTENCE_END.split(" ".join(before.split()))[-1]
        words = sentence.split()
        more = "\u2026 " if len(words) > CONTEXT_WORDS else ""
        return more + " ".join(words[-CONTEXT_WORDS:])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            title = " ".join("".join(self._heading).split())
            if tag == "h1":
                self._h2 = self.section = "Title page"
            elif tag == "h2":
                self._h2 = self.section = title
            else:  # a subsection: "Results: Response"
                self.section = f"{self._h2}: {title}"
            self._heading = None
        elif tag == "figure" and self._figure_section is not None:
            self.section, self._figure_section = self._figure_section, None
        elif tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if self._in_head:  # a heading's own words, without the n printed under it
                label = " ".join("".join(self._cell_words).split())
                self._table_head.append(_TRAILING_N.sub("", label))
            self._row.append(text)
            self._cell = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "span" and self._spans:
            source, text, offset = self._spans.pop()
            if self._label is not None and source is None:
                self.section = " ".join("".join(self._label).split()).rstrip(".")
                self._label = None
            if source is not None:
                self.rows.append({"section": self.section, "text": " ".join(
                    "".join(text).split()), "source": source,
                    "context": self._context(self._text()[:offset])})
            if self._spans:  # nested: the outer span holds this text too
                self._spans[-1][1].extend(text)

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)
        if self._label is not None:
            self._label.append(data)
        for _, text, _ in self._spans:
            text.append(data)
        (self._cell if self._cell is not None else self._passage).append(data)
        if self._cell is not None and not any(src for src, _, _ in self._spans):
            self._cell_words.append(data)  # the cell's words outside printed numbers


NUMBERS_COLUMNS = ["section", "context", "text", "source", "value", "method", "n", "suppressed"]


def numbers_table(html: str, register: Register) -> list[dict[str, str]]:
    """One row per number printed in ``html``: ``NUMBERS_COLUMNS``, in document order.

    ``context`` is how a reader finds it: the words before it in its sentence, or in a table
    the row's label and the column's heading. A count hidden by small-cell control keeps its
    printed mark in ``text``, an empty ``value`` and ``suppressed`` = yes."""
    parser = _Sections()
    parser.feed(html)
    out = []
    for row in parser.rows:
        if row["source"].startswith(SELF_SOURCES):
            continue
        entry = register.entries.get(row["source"]) or Entry("", "", "")
        hidden = entry.suppressed or register.is_mark(row["text"])
        out.append({**row, "value": "" if hidden else entry.value, "method": entry.method,
                    "n": entry.n, "suppressed": "yes" if hidden else ""})
    return out


def untracked_numbers(html: str) -> list[str]:
    """Number tokens of the HTML body outside data-source spans, exceptions removed (a test of
    the shipped templates: it should find nothing)."""
    body = html.split("<body", 1)[-1]
    body = re.sub(r"<style.*?</style>", " ", body, flags=re.S)
    body = re.sub(r'<span class="num[^"]*" data-source="[^"]*" title="[^"]*">.*?</span>', " ",
                  body, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", body)
    text = ALLOWED.sub(" ", text.replace("&nbsp;", " "))
    return NUMBER_TOKEN.findall(text)
