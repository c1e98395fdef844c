"""Finding terms and input dates in a text, as whole tokens, however a date is written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from .leak_terms import PATH_KINDS, READ_AS, WORD, Term, bounded, normalise

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
            first = WORD.search(needle)
            if first:  # checkable_terms keeps no term without a letter or digit
                shape = (first.start(), len(needle))
                same = groups.setdefault(first.group(), {}).setdefault(shape, {})
                same.setdefault(needle, []).append(term)
        self.by_word = {word: [(off, n, needles) for (off, n), needles in shapes.items()]
                        for word, shapes in groups.items()}

    def find(self, text: str) -> list[tuple[int, int, Term]]:
        if not self.by_word or self.by_word.keys().isdisjoint(WORD.findall(text)):
            return []
        found = []
        for word in WORD.finditer(text):
            for offset, length, needles in self.by_word.get(word.group(), ()):
                start = word.start() - offset
                end = start + length
                terms = needles.get(text[start:end]) if start >= 0 else None
                if terms and bounded(text, start, end):
                    found += [(start, end, term) for term in terms]
        return found


class Matcher:
    """Every term and date, prepared once for scanning many chunks."""

    def __init__(self, terms: Iterable[Term], dates: Iterable[dt.date]):
        terms = list(terms)
        self.exact = _Index((normalise(t.text), t) for t in terms if t.kind != "free text")
        self.folded = _Index(
            (normalise(t.text).casefold(), t) for t in terms if t.kind == "free text")
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
        text = text.translate(READ_AS)
        if not self.exact.by_word.keys().isdisjoint(WORD.findall(text)):
            return True
        if self.folded.by_word and not self.folded.by_word.keys().isdisjoint(
                WORD.findall(text.casefold())):
            return True
        return bool(self.dates) and (self.year_like.search(text) is not None
                                     or (not text.isascii()
                                         and _OTHER_DIGIT.search(text) is not None))

    def scan(self, text: str) -> list[tuple[str, str, dt.date | None]]:
        """(kind, found, date) for each match in one chunk of text."""
        text = normalise(text)
        if not text:
            return []
        spans = self.exact.find(text)
        paths = [(s, e) for s, e, t in spans if t.kind in PATH_KINDS]
        out: list[tuple[str, str, dt.date | None]] = []
        for start, end, term in spans:
            # The folder and file names inside a printed path are one finding, not five.
            if term.kind in PATH_KINDS and any(
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
