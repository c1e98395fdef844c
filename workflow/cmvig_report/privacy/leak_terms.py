"""What must never appear in a shareable output, and the terms searched for.

``Sensitive`` holds what the inputs hold (patient IDs, dates, paths, free text);
``checkable_terms`` makes the strings worth searching for of it, and says which cannot be told
apart from the manuscript's own words. A ``Hit`` is one finding, described for the reader.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# How each kind of term is named in messages.
KIND_LABELS = {
    "patient_id": "patient_id",
    "input path": "input path",
    "folder name": "input path folder name",
    "free text": "free text",
    "date": "date",
}
PATH_KINDS = frozenset({"input path", "folder name"})

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
READ_AS = str.maketrans({
    "\u00ad": "", "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "",
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
    "\ufb05": "st", "\ufb06": "st", "\u2010": "-", "\u2011": "-", "\u2212": "-",
})

# Runs of letters and digits: the unit a whole-token match is anchored on.
WORD = re.compile(r"[^\W_]+")


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


def normalise(text: str) -> str:
    return " ".join(text.translate(READ_AS).split())


def bounded(text: str, start: int, end: int) -> bool:
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
        if bounded(haystack, start, start + len(needle)):
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
    return frozenset(w.casefold() for text in texts for w in WORD.findall(text)
                     if not w.isdigit())


def own_text(template_files: Iterable[str | Path]) -> list[str]:
    """The text of the template files that hold prose and metadata (not styles or images)."""
    return [Path(p).read_text(encoding="utf-8", errors="replace") for p in template_files
            if str(p).endswith(_OWN_TEXT_SUFFIXES)]


def _ordinary_words(text: str, words: frozenset[str]) -> bool:
    return bool(words) and _PLAIN_WORDS.fullmatch(text) is not None and all(
        w.casefold() in words for w in WORD.findall(text))


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
    vocabulary = sorted({normalise(v) for v in s.vocabulary} - {""})
    terms: dict[tuple[bool, str], Term] = {}
    notes: dict[str, None] = {}  # ordered set: the same message once

    def add(kind: str, raw: str) -> None:
        text = normalise(raw)
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
