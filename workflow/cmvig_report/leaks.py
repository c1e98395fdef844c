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

import base64
import binascii
import contextlib
import datetime as dt
import html
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from .errors import MAX_PROBLEMS_SHOWN, PipelineError

Chunk = tuple[str, str]  # (where in the output, text found there)

# How each kind of term is named in messages.
KIND_LABELS = {
    "patient_id": "patient_id",
    "input path": "input path",
    "folder name": "input path folder name",
    "free text": "free text",
    "date": "date",
}
_PATH_KINDS = frozenset({"input path", "folder name"})

# Shorter terms occur by chance in any text (units, abbreviations, initials).
MIN_TERM_CHARS = 3
# Numbers with fewer digits occur as counts, days, years and study numbers 1..n.
MIN_NUMBER_DIGITS = 5

# A term made of plain words only (letters, with spaces, hyphens or apostrophes between them):
# if every word is one the manuscript's own text uses, a hit could not be told from prose.
_PLAIN_WORDS = re.compile(r"[^\W\d_]+(?:[\s'\u2019-][^\W\d_]+)*")
# Whose words are the manuscript's own: the templates' text and metadata (what every build
# prints, whatever the data), and the configured category labels.
_OWN_TEXT_SUFFIXES = (".j2", ".yaml", ".yml", ".md")

# Characters that hide or disguise text without changing how it reads: soft hyphens and
# zero-width characters vanish, ligatures (pypdf returns "ﬁ" for some fonts) are spelled out,
# typographic hyphens become "-".
_READ_AS = str.maketrans({
    "\u00ad": "", "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "",
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
    "\ufb05": "st", "\ufb06": "st", "\u2010": "-", "\u2011": "-", "\u2212": "-",
})

# Runs of letters and digits: the unit a whole-token match is anchored on.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Sensitive:
    """What the inputs hold that must never appear in a shareable output."""

    patient_ids: frozenset[str] = frozenset()
    dates: frozenset[dt.date] = frozenset()  # every calendar date in the inputs
    paths: tuple[str, ...] = ()  # input paths as given and resolved
    free_texts: frozenset[str] = frozenset()  # raw values the pipeline maps to categories
    vocabulary: frozenset[str] = frozenset()  # category labels, which may appear
    # the manuscript's own words, casefolded (manuscript_words): templates, metadata, labels
    words: frozenset[str] = frozenset()


def merge_sensitive(parts: Iterable[Sensitive]) -> Sensitive:
    """Everything any of ``parts`` must keep out (several centres' patients, for one file)."""
    parts = list(parts)
    return Sensitive(
        patient_ids=frozenset().union(*(s.patient_ids for s in parts)),
        dates=frozenset().union(*(s.dates for s in parts)),
        paths=tuple(dict.fromkeys(p for s in parts for p in s.paths)),
        free_texts=frozenset().union(*(s.free_texts for s in parts)),
        vocabulary=frozenset().union(*(s.vocabulary for s in parts)),
        words=frozenset().union(*(s.words for s in parts)))


@dataclass(frozen=True)
class Term:
    """One string to search for: ``kind`` is patient_id, input path, folder name or free text."""

    kind: str
    text: str


@dataclass(frozen=True)
class Hit:
    """One identifying value found in one output, located as a reader would find it."""

    output: str
    kind: str  # a Term kind, or "date"
    found: str  # the term, or for a date the text as written
    where: str  # "page 2", "line 88", "word/document.xml, paragraph 12", ...
    date: dt.date | None = None  # the input date a date hit was read as

    def __str__(self) -> str:
        place = f"{self.output}, {self.where}" if self.where else self.output
        if self.date is not None:
            iso = self.date.isoformat()
            what = f"date {iso}" if self.found == iso else f"date {iso} (written {self.found!r})"
        else:
            what = f"{KIND_LABELS.get(self.kind, self.kind)} {self.found!r}"
        return f"{place}: {what}"


# --------------------------------------------------------------------------- terms


def _normalise(text: str) -> str:
    return " ".join(text.translate(_READ_AS).split())


def _bounded(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is a whole token: no letter or digit touches it.

    Digits after a decimal point or thousands separator belong to the number they end, so a
    numeric ID ``00123`` is not found in ``p = 0.00123`` nor ``12345`` in ``12,345.6``.
    """
    if start > 0:
        before = text[start - 1]
        if before.isalnum() or (before in ".," and start > 1 and text[start - 2].isdigit()
                                and text[start].isdigit()):
            return False
    if end < len(text):
        after = text[end]
        if after.isalnum() or (after in ".," and end + 1 < len(text)
                               and text[end + 1].isdigit() and text[end - 1].isdigit()):
            return False
    return True


def _occurs(needle: str, haystack: str) -> bool:
    start = haystack.find(needle)
    while start != -1:
        if _bounded(haystack, start, start + len(needle)):
            return True
        start = haystack.find(needle, start + 1)
    return False


def _path_parts(path: str) -> tuple[list[str], str | None, list[str]]:
    """Full path strings, file name and folder names of one input path."""
    full = [path]
    with contextlib.suppress(OSError, RuntimeError):  # still searched as given
        full.append(str(Path(path).expanduser().resolve()))
    file_name = None
    folders: list[str] = []
    for one in full:
        # Split on both separators: a Windows path can reach a Linux build through the config.
        parts = [p for p in re.split(r"[\\/]+", one) if p not in ("", ".", "..", "~")]
        parts = [p for p in parts if not re.fullmatch(r"[A-Za-z]:", p)]  # drive letters
        if parts:
            file_name = file_name or parts[-1]
            folders += parts[:-1]
    return full, file_name, folders


def manuscript_words(texts: Iterable[str]) -> frozenset[str]:
    """The words (runs of letters, casefolded) of the manuscript's own text: ``texts`` are
    the templates, the metadata and the category labels."""
    return frozenset(w.casefold() for text in texts for w in _WORD.findall(text)
                     if not w.isdigit())


def own_text(template_files: Iterable[str | Path]) -> list[str]:
    """The text of the template files that hold prose and metadata (not styles or images)."""
    return [Path(p).read_text(encoding="utf-8", errors="replace") for p in template_files
            if str(p).endswith(_OWN_TEXT_SUFFIXES)]


def _ordinary_words(text: str, words: frozenset[str]) -> bool:
    return bool(words) and _PLAIN_WORDS.fullmatch(text) is not None and all(
        w.casefold() in words for w in _WORD.findall(text))


def _why_not_checkable(kind: str, text: str, vocabulary: Sequence[str],
                       words: frozenset[str] = frozenset()) -> str | None:
    if not any(c.isalnum() for c in text):
        return "has no letters or digits and cannot be told apart from punctuation"
    if not any(c.isalpha() for c in text) and sum(c.isdigit() for c in text) < MIN_NUMBER_DIGITS:
        return "cannot be told apart from an ordinary number"
    if len(text) < MIN_TERM_CHARS:
        return f"is shorter than {MIN_TERM_CHARS} characters and cannot be told apart from " \
               "ordinary text"
    if kind != "patient_id" and _ordinary_words(text, words):
        return ("is made of words the manuscript's own text uses (templates, metadata, "
                "labels) and cannot be told apart from them")
    folded = kind == "free text"
    needle = text.casefold() if folded else text
    for label in vocabulary:
        # Printing an allowed category label would print the term too.
        if _occurs(needle, label.casefold() if folded else label):
            return f"occurs in the category label {label!r}, which the outputs may print"
    return None


def checkable_terms(s: Sensitive) -> tuple[list[Term], list[str]]:
    """The terms to search the outputs for, and one line per term that cannot be checked.

    From each input path come the full path (as given and resolved), its file name and each
    folder name. A term is reported as not checkable, once, instead of being searched when it
    cannot be told apart from ordinary text: it has fewer than 3 characters, it is a number
    (no letters) with fewer than 5 digits, it is a folder name, file name or free text made of
    plain words that the manuscript's own text uses (``s.words``: "own", "review",
    "children"), or it occurs in a category label of ``s.vocabulary`` (which may be printed).
    Full paths, patient IDs, names with digits or punctuation and any word the templates
    never use are searched.
    """
    vocabulary = sorted({_normalise(v) for v in s.vocabulary} - {""})
    terms: dict[tuple[bool, str], Term] = {}
    notes: dict[str, None] = {}  # ordered set: the same message once

    def add(kind: str, raw: str) -> None:
        text = _normalise(raw)
        if not text:
            return
        reason = _why_not_checkable(kind, text, vocabulary, s.words)
        if reason:
            notes[f"{KIND_LABELS[kind]} {text!r} {reason}: not checked"] = None
            return
        folded = kind == "free text"
        # The first kind added wins for the same text: a folder named after a patient is
        # reported as that patient's ID.
        terms.setdefault((folded, text.casefold() if folded else text), Term(kind, text))

    for pid in sorted(s.patient_ids):
        add("patient_id", pid)
    for path in s.paths:
        full, file_name, folders = _path_parts(path)
        for one in full:
            add("input path", one)
        if file_name:
            add("input path", file_name)
        for folder in folders:
            add("folder name", folder)
    for text in sorted(s.free_texts):
        add("free text", text)
    return list(terms.values()), list(notes)


# --------------------------------------------------------------------------- matching

_MONTH_NUMBERS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_MONTH = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_START = r"(?<![^\W_])"  # not preceded by a letter or digit
_END = r"(?![^\W_])"
# Few shapes, each parsed and looked up in the set of input dates: one alternation of every
# input date written every way would be thousands of branches long and slow.
_ISO = re.compile(_START + r"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
                  r"(?:(?=T\d)|" + _END + ")")  # a timestamp prints its date too
_NUMERIC = re.compile(_START + r"(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4})"
                      + _END)
_DAY_MONTH = re.compile(_START + r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\s(?:of\s)?" + _MONTH
                        + r",?\s(?P<y>\d{4})" + _END, re.IGNORECASE)
_MONTH_DAY = re.compile(_START + _MONTH + r"\s(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s(?P<y>\d{4})"
                        + _END, re.IGNORECASE)
_YEAR = re.compile(r"\d{4}")
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")


def _date(y: str, m: str | int, d: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def _as_dates(dates: Iterable[dt.date]) -> frozenset[dt.date]:
    # A datetime (or pandas Timestamp) never equals the date it falls on.
    return frozenset(d.date() if isinstance(d, dt.datetime) else d for d in dates)


class _Index:
    """Terms keyed by their first run of letters and digits, then by offset and length.

    Looking up each word of the text costs about the same for 20 or 20,000 terms, also when
    thousands of terms share their first word ("MRN-000123", "death due to ..."): each word
    is checked once per distinct (offset, length) of the terms it starts, by slicing the text
    and looking the slice up. A term with a hyphen, slash or space in it is anchored on its
    first word and checked in place, so ``MRN-00123`` is found in ``MRN-00123-b`` and
    ``P1001`` in ``P1001-P1002``.
    """

    def __init__(self, entries: Iterable[tuple[str, Term]]):
        groups: dict[str, dict[tuple[int, int], dict[str, list[Term]]]] = {}
        for needle, term in entries:
            first = _WORD.search(needle)
            if first:  # checkable_terms keeps no term without a letter or digit
                shape = (first.start(), len(needle))
                same = groups.setdefault(first.group(), {}).setdefault(shape, {})
                same.setdefault(needle, []).append(term)
        self.by_word = {word: [(off, n, needles) for (off, n), needles in shapes.items()]
                        for word, shapes in groups.items()}

    def find(self, text: str) -> list[tuple[int, int, Term]]:
        if not self.by_word or self.by_word.keys().isdisjoint(_WORD.findall(text)):
            return []
        found = []
        for word in _WORD.finditer(text):
            for offset, length, needles in self.by_word.get(word.group(), ()):
                start = word.start() - offset
                end = start + length
                terms = needles.get(text[start:end]) if start >= 0 else None
                if terms and _bounded(text, start, end):
                    found += [(start, end, term) for term in terms]
        return found


class _Matcher:
    """Every term and date, prepared once for scanning many chunks."""

    def __init__(self, terms: Iterable[Term], dates: Iterable[dt.date]):
        terms = list(terms)
        self.exact = _Index((_normalise(t.text), t) for t in terms if t.kind != "free text")
        self.folded = _Index(
            (_normalise(t.text).casefold(), t) for t in terms if t.kind == "free text")
        self.dates = _as_dates(dates)
        # Every date shape above has its year either starting a token and followed by a
        # separator (ISO) or after a separator or space and ending a token: a year of an
        # input date written so is what any date finding needs (int() also reads other
        # scripts' digits, hence _OTHER_DIGIT).
        years = "|".join(sorted({f"{d.year:04d}" for d in self.dates}))
        # (the year first: the engine then skips ahead to the digits it starts with)
        self.year_like = re.compile(
            rf"(?:{years})(?:(?<={_START}\d{{4}})[-/.]|(?<=[-/.\s]\d{{4}}){_END})")

    def may_match(self, text: str) -> bool:
        """False only if ``scan`` finds nothing in any line of ``text`` (lines joined by
        newlines): one pass over many lines rules them all out at once."""
        text = text.translate(_READ_AS)
        if not self.exact.by_word.keys().isdisjoint(_WORD.findall(text)):
            return True
        if self.folded.by_word and not self.folded.by_word.keys().isdisjoint(
                _WORD.findall(text.casefold())):
            return True
        return bool(self.dates) and (self.year_like.search(text) is not None
                                     or (not text.isascii()
                                         and _OTHER_DIGIT.search(text) is not None))

    def scan(self, text: str) -> list[tuple[str, str, dt.date | None]]:
        """(kind, found, date) for each match in one chunk of text."""
        text = _normalise(text)
        if not text:
            return []
        spans = self.exact.find(text)
        paths = [(s, e) for s, e, t in spans if t.kind in _PATH_KINDS]
        out: list[tuple[str, str, dt.date | None]] = []
        for start, end, term in spans:
            # The folder and file names inside a printed path are one finding, not five.
            if term.kind in _PATH_KINDS and any(
                    s <= start and end <= e and (s, e) != (start, end) for s, e in paths):
                continue
            out.append((term.kind, term.text, None))
        out += [(t.kind, t.text, None) for _, _, t in self.folded.find(text.casefold())]
        if self.dates and _YEAR.search(text):
            out += self._dates_in(text)
        return out

    def _dates_in(self, text: str) -> list[tuple[str, str, dt.date | None]]:
        out: list[tuple[str, str, dt.date | None]] = []

        def keep(written: str, *readings: dt.date | None) -> None:
            # An ambiguous d/m/y or m/d/y counts if either reading is an input date.
            for reading in readings:
                if reading in self.dates:
                    out.append(("date", written, reading))
                    return

        for m in _ISO.finditer(text):
            keep(m.group(), _date(m["y"], m["m"], m["d"]))
        for m in _NUMERIC.finditer(text):
            keep(m.group(), _date(m["y"], m["b"], m["a"]), _date(m["y"], m["a"], m["b"]))
        for pattern in (_DAY_MONTH, _MONTH_DAY):
            for m in pattern.finditer(text):
                keep(m.group(), _date(m["y"], _MONTH_NUMBERS[m["mon"][:3].lower()], m["d"]))
        return out


# --------------------------------------------------------------------------- text extraction

_TEXT_SUFFIXES = frozenset({
    ".html", ".htm", ".xhtml", ".qmd", ".md", ".rmd", ".svg", ".csv", ".tsv", ".txt", ".json",
    ".yaml", ".yml", ".xml", ".tex", ".bib", ".log", ".css", ".js",
})
# A data: URI up to its comma; where its payload ends depends on what encloses it.
_DATA_URI = re.compile(
    r"(?<![\w.-])data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[\w.+-]+(?:=[^;,\s\"'()]*)?)*),",
    re.IGNORECASE)
_UNQUOTED_END = re.compile(r"[\s\"'<>)]")
_TAG = re.compile(r"<!--.*?-->|<(/?)([A-Za-z][\w:.-]*)(?:\s[^<>]*)?/?>", re.DOTALL)
# Tags that style words rather than separate them: removing them must join what they split.
_INLINE_TAGS = frozenset({
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font", "i",
    "ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time",
    "tspan", "u", "var", "wbr",
})
# pypdf returns a hyphenation point as U+2010 or a soft hyphen, sometimes as "-".
_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])[-\u2010\u00ad][ \t]*\n\s*(?=[^\W\d_])")
# A review copy's line numbers (pdf_lines) are read between its lines: the page is also read
# without them, so that a phrase broken over two lines is found whole.
_MARGIN_NUMBER = re.compile(r"^[ \t]*\d+[ \t]*\n", re.M)
# Word markup that separates words: paragraph starts (text boxes nest paragraphs), tabs,
# breaks, field codes. All other tags inside a paragraph only split runs and are removed.
_DOCX_BREAK = re.compile(
    r"<w:(?:p|tab|br|cr|instrText|fldSimple|txbxContent|footnoteReference|endnoteReference)\b"
    r"[^>]*>|</w:(?:instrText|txbxContent)>|</?a:p\b[^>]*>")
_ANY_TAG = re.compile(r"<[^>]*>")
_ATTRIBUTE = re.compile(r"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
# Attributes holding revision ids and namespaces: random hex that only causes false alarms.
_NOISE_ATTRIBUTE = re.compile(r"rsid|paraId|textId|durableId|^xmlns|Ignorable", re.IGNORECASE)


def _as_text(data: bytes) -> str | None:
    """The bytes as UTF-8 text, or None for binary data (images, fonts)."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decode_data_uri(params: str, payload: str) -> str | None:
    payload = html.unescape(payload)  # an attribute value may be HTML-escaped
    if "base64" not in params.lower():
        return unquote(payload)
    compact = re.sub(r"\s+", "", unquote(payload))
    try:
        data = base64.b64decode(compact + "=" * (-len(compact) % 4))
    except (binascii.Error, ValueError):
        return None
    return _as_text(data)


def _take_data_uris(text: str) -> tuple[str, list[tuple[str, str | None]]]:
    """The text with data: URI payloads cut out, and each payload labelled and decoded.

    Cut out, because random base64 can contain a token that looks like an ID; the line count
    is kept so locations stay true to the source.
    """
    pieces: list[str] = []
    embedded: list[tuple[str, str | None]] = []
    counts = {"embedded image": 0, "embedded file": 0}
    pos = 0
    for m in _DATA_URI.finditer(text):
        if m.start() < pos:
            continue  # inside the payload of the previous URI
        opener = text[m.start() - 1] if m.start() else ""
        if opener and opener in "\"'":
            end = text.find(opener, m.end())
        elif opener == "(":
            end = text.find(")", m.end())
        else:
            found = _UNQUOTED_END.search(text, m.end())
            end = found.start() if found else -1
        end = len(text) if end == -1 else end
        payload = text[m.end():end]
        pieces += [text[pos:m.end()], "\n" * payload.count("\n")]
        pos = end
        label = ("embedded image" if (m["type"] or "").lower().startswith("image/")
                 else "embedded file")
        counts[label] += 1
        embedded.append((f"{label} {counts[label]}", _decode_data_uri(m["params"], payload)))
    pieces.append(text[pos:])
    return "".join(pieces), embedded


def _strip_tags(line: str) -> str:
    return _TAG.sub(lambda m: "" if (m[2] or "").lower() in _INLINE_TAGS else " ", line)


def text_chunks(text: str, prefix: str = "") -> list[Chunk]:
    """One chunk per line ("line 12"): as written, and again without its inline tags.

    Entities are decoded (``&#39;`` is an apostrophe) and data: URIs are read separately,
    their lines located as ``embedded image 2, line 40``.
    """
    text, embedded = _take_data_uris(text)
    chunks: list[Chunk] = []
    for number, line in enumerate(text.split("\n"), 1):
        where = f"{prefix}line {number}"
        chunks.append((where, html.unescape(line)))
        if "<" in line:
            stripped = _strip_tags(line)
            if stripped != line:
                chunks.append((where, html.unescape(stripped)))
    for label, decoded in embedded:
        if decoded is not None:  # binary payloads (PNG, fonts) cannot be read as text
            chunks += text_chunks(decoded, f"{prefix}{label}, ")
    return chunks


def _pdftotext_pages(path: str | Path) -> list[str] | None:
    """The text of each page by poppler's ``pdftotext`` when it is installed, else None.

    poppler reads a page's text (figures' text included) many times faster than pypdf, which
    matters on the critical path of every build; pypdf is the fallback that is always there.
    """
    exe = shutil.which("pdftotext")
    if exe is None:
        return None
    try:
        run = subprocess.run([exe, "-enc", "UTF-8", str(path), "-"], capture_output=True,
                             timeout=120, check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    pages = run.stdout.decode("utf-8", errors="replace").split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pdf_chunks(path: str | Path) -> list[Chunk]:
    """One chunk per page ("page 3"), plus link targets, document properties, attachments."""
    try:
        reader = PdfReader(path)
        chunks: list[Chunk] = []
        fast = _pdftotext_pages(path)
        if fast is not None and len(fast) != len(reader.pages):
            fast = None  # a page count that disagrees: read it the slow, sure way
        for number, page in enumerate(reader.pages, 1):
            where = f"page {number}"
            text = fast[number - 1] if fast is not None else (page.extract_text() or "")
            chunks.append((where, text))
            unnumbered = _MARGIN_NUMBER.sub("", text)
            if unnumbered != text:
                chunks.append((where, unnumbered))
            # A word hyphenated at a line end is read both ways: joined and as printed.
            joined = _HYPHEN_BREAK.sub("", unnumbered)
            if joined != unnumbered:
                chunks.append((where, joined))
            annotations = page.get("/Annots")
            for annotation in annotations.get_object() if annotations is not None else []:
                action = annotation.get_object().get("/A")
                uri = action.get_object().get("/URI") if action is not None else None
                if uri:
                    chunks.append((f"{where}, link", str(uri)))
        for key, value in (reader.metadata or {}).items():
            chunks.append((f"document properties ({str(key).lstrip('/')})", str(value)))
        for name, contents in reader.attachments.items():
            chunks.append(("attachments", name))
            for blob in contents:
                decoded = _as_text(blob)
                if decoded is not None:
                    chunks += text_chunks(decoded, f"attachment {name!r}, ")
    except (PyPdfError, OSError, ValueError, KeyError, TypeError) as exc:
        # An output that cannot be read cannot be vouched for.
        raise PipelineError(f"{path}: cannot read the PDF to check it for identifying data "
                            f"({exc})") from exc
    return chunks


def _attribute_text(xml: str) -> str:
    values = []
    for name, double, single in _ATTRIBUTE.findall(xml):
        if _NOISE_ATTRIBUTE.search(name):
            continue
        value = html.unescape(double or single)
        values.append(value)
        if "%" in value:  # link targets are percent-encoded ("My%20Documents")
            values.append(unquote(value))
    # A separator that is neither a word nor a space: two values never read as one phrase.
    return " | ".join(values)


def _xml_part_chunks(name: str, xml: str) -> list[Chunk]:
    pieces = xml.split("</w:p>")
    if len(pieces) == 1:  # no Word paragraphs: properties, relationships, settings
        return [(name, html.unescape(_ANY_TAG.sub(" ", xml))), (name, _attribute_text(xml))]
    chunks: list[Chunk] = []
    for number, piece in enumerate(pieces, 1):
        where = f"{name}, paragraph {number}"
        text = _ANY_TAG.sub("", _DOCX_BREAK.sub(" ", piece))
        chunks.append((where, html.unescape(text)))
        attributes = _attribute_text(piece)
        if attributes:
            chunks.append((where, attributes))
    return chunks


def docx_chunks(path: str | Path) -> list[Chunk]:
    """Chunks of every XML part: "word/document.xml, paragraph 12", "docProps/core.xml"."""
    try:
        with zipfile.ZipFile(path) as zf:
            chunks: list[Chunk] = []
            for info in zf.infolist():
                name = info.filename
                suffix = Path(name).suffix.lower()
                if suffix in (".xml", ".rels", ".vml"):
                    chunks += _xml_part_chunks(name, zf.read(info).decode("utf-8", "replace"))
                elif suffix in _TEXT_SUFFIXES:
                    decoded = _as_text(zf.read(info))
                    if decoded is not None:
                        chunks += text_chunks(decoded, f"{name}, ")
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise PipelineError(f"{path}: cannot read the DOCX to check it for identifying data "
                            f"({exc})") from exc
    return chunks


def extract_chunks(path: str | Path) -> list[Chunk] | None:
    """The (location, text) chunks of one output, or None for a binary file that is skipped.

    PDF by page, DOCX by XML part and paragraph, HTML and every other text format by line
    (see the module docstring). PNG and other binaries return None: scan their source SVG.
    """
    p = Path(path)
    if not p.is_file():
        raise PipelineError(f"{path}: output to check for identifying data is missing")
    suffix = p.suffix.lower()
    if suffix == ".pdf":
        return pdf_chunks(p)
    if suffix == ".docx":
        return docx_chunks(p)
    data = p.read_bytes()
    if suffix in _TEXT_SUFFIXES:
        return text_chunks(data.decode("utf-8", "replace"))
    decoded = _as_text(data)
    return None if decoded is None else text_chunks(decoded)


# --------------------------------------------------------------------------- scanning


_BLOCK_LINES = 200


def _scan_chunks(output: str, chunks: Iterable[Chunk], matcher: _Matcher) -> list[Hit]:
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
    return _scan_chunks(str(path), chunks, _Matcher(terms, dates))


def scan_outputs(paths: Sequence[str | Path],
                 sensitive: Sensitive) -> tuple[list[Hit], list[str]]:
    """Hits in all outputs, and notes on what could not be checked.

    The notes name each term that cannot be told apart from ordinary text and each binary
    output that was skipped. A missing or unreadable output raises ``PipelineError``.
    """
    terms, notes = checkable_terms(sensitive)
    matcher = _Matcher(terms, sensitive.dates)
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
