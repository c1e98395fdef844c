"""Refuse to share an output that identifies a patient.

After rendering, the text of every shareable output is read back and searched for what the
inputs hold and the manuscript must never print: patient IDs, calendar dates, the input paths
(full path, file name, folder names) and raw free-text values that the pipeline maps to
category labels. The search reads the files as written rather than trusting the templates,
because a value can reach an output through a template, a label, the config or a figure.

What is read, per format (``extract_chunks``):

- PDF: the text of each page (pypdf; a date or phrase broken over two lines still matches),
  the link targets on each page, the document properties and any attached files.
- HTML, QMD, MD, SVG, CSV, TXT and other text: each source line, attribute values included
  (``alt``, ``title``), once as written and once with inline tags removed, so that
  ``23 <b>July</b> 2018`` is read as ``23 July 2018``. Every ``data:`` URI is cut out of the
  line and, when it decodes to text (``data:image/svg+xml;base64,...``,
  ``data:image/svg+xml;utf8,...``, ``data:text/csv,...``), read line by line in its turn.
- DOCX: every XML part of the zip (document, headers, footers, footnotes, comments,
  docProps/core.xml, relationships), per paragraph with the runs joined, so text that Word
  splits over several ``<w:t>`` runs is read as one; attribute values (alt text, link
  targets) are read too. SVG images inside the DOCX are read like SVG files.
- PNG, JPEG, fonts and other binaries are skipped: nothing in them can be searched as text.
  Scan the file a picture was made from (the figure's SVG) instead; ``scan_outputs`` notes
  every skipped file.

A term matches only as a whole token: not preceded or followed by a letter or a digit, so
patient ID ``P101`` is found in ``(P101)`` and ``P101-P105`` but not in ``P1012``, ``AP101`` or
``P101a``. IDs, paths and folder names match case-sensitively; free text case-insensitively.
Whitespace runs (line breaks, non-breaking spaces) count as one space everywhere.

Nothing is deleted here: the caller decides what to do with an output that leaks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import MAX_PROBLEMS_SHOWN, PipelineError
from .leak_matching import Matcher
from .leak_terms import Hit, Sensitive, Term, checkable_terms
from .leak_text import Chunk, extract_chunks

_BLOCK_LINES = 200


def _scan_chunks(output: str, chunks: Iterable[Chunk], matcher: Matcher) -> list[Hit]:
    hits: dict[Hit, None] = {}  # ordered set: a chunk read two ways reports a finding once
    chunks = list(chunks)
    # Most lines hold nothing to find (a figure's path data, thousands of lines of it):
    # blocks of lines are ruled out together, and only a block that may hold a finding is
    # scanned line by line, so the hits and their order are the same.
    for first in range(0, len(chunks), _BLOCK_LINES):
        block = chunks[first:first + _BLOCK_LINES]
        if not matcher.may_match("\n".join(text for _, text in block)):
            continue
        for where, text in block:
            for kind, found, date in matcher.scan(text):
                hits[Hit(output, kind, found, where, date)] = None
    return list(hits)


def scan_file(path: str | Path, terms: Sequence[Term], dates: Iterable[dt.date]) -> list[Hit]:
    """Every term and input date found in one output, in document order.

    ``terms`` are searched as given (see ``checkable_terms`` for which terms are worth
    searching). A skipped binary file (PNG, ...) gives no hits.
    """
    chunks = extract_chunks(path)
    if chunks is None:
        return []
    return _scan_chunks(str(path), chunks, Matcher(terms, dates))


def scan_outputs(paths: Sequence[str | Path],
                 sensitive: Sensitive) -> tuple[list[Hit], list[str]]:
    """Hits in all outputs, and notes on what could not be checked.

    The notes name each term that cannot be told apart from ordinary text and each binary
    output that was skipped. A missing or unreadable output raises ``PipelineError``.
    """
    terms, notes = checkable_terms(sensitive)
    matcher = Matcher(terms, sensitive.dates)
    hits: list[Hit] = []
    for path in paths:
        chunks = extract_chunks(path)
        if chunks is None:
            notes.append(f"{path}: binary file not scanned (scan the file it was made from, "
                         "such as its SVG, instead)")
            continue
        hits += _scan_chunks(str(path), chunks, matcher)
    return hits, notes


def assert_no_leaks(paths: Sequence[str | Path], sensitive: Sensitive) -> list[str]:
    """Raise ``PipelineError`` listing every hit; otherwise return the not-checkable notes.

    Nothing is deleted: the caller decides what happens to an output that leaks.
    """
    hits, notes = scan_outputs(paths, sensitive)
    if hits:
        n = len(hits)
        files = len({h.output for h in hits})
        lines = [f"identifying data found in {files} shareable output"
                 f"{'s' if files != 1 else ''} ({n} finding{'s' if n != 1 else ''}); "
                 "remove it from the templates, labels or config and re-run:"]
        lines += [f"  {hit}" for hit in hits[:MAX_PROBLEMS_SHOWN]]
        if n > MAX_PROBLEMS_SHOWN:
            lines.append(f"  ... and {n - MAX_PROBLEMS_SHOWN} more")
        raise PipelineError("\n".join(lines))
    return notes
