"""What a journal's editorial office checks before a manuscript goes to review.

- Figures are cited in numerical order: the first citation of Figure k comes after the first
  citation of Figure k−1 (read from the rendered HTML, captions left out).
- A number the title or running head states about the cohort ("40 children") is the number
  the data give (``n_patients``).
- Nothing in the package is a placeholder: the ``[LABEL: hint]`` placeholders of the metadata
  and of the package's own templates (title page, cover letter), and metadata that only looks
  real: "A. Author", "Author One", an affiliation such as "Replication team", an address at
  example.org. Each is named by the file to edit and its field.
- Generated sentences choose "a" or "an" by the sound of the next word ("an Article",
  "a Brief Research Report", "an HSCT", "a unit").
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

from ..errors import PipelineError
from .metadata import PLACEHOLDER, placeholders

# --------------------------------------------------------------------------------------------
# a or an

# Vowel letters that sound as a consonant ("a unit", "a European", "a one-off") and silent
# h's ("an hour"); an abbreviation read letter by letter takes "an" when its first letter's
# name starts with a vowel sound (F, H, L, M, N, R, S, X and the vowels but U).
_CONSONANT_SOUND = re.compile(r"^(?:uni|unan|us[aeu]|uti|ur[aeiou]|ubiq|uk\b|eu|ewe|one\b|once\b)",
                              re.I)
_SILENT_H = re.compile(r"^(?:hour|honest|honou?r|heir)", re.I)
_VOWEL_LETTER_NAMES = set("AEFHILMNORSX")


def indefinite_article(phrase: str) -> str:
    """``"a"`` or ``"an"`` before ``phrase``, by the sound of its first word."""
    word = str(phrase).strip().split(" ", 1)[0].strip("\"'“‘(")
    if not word:
        return "a"
    if re.match(r"^[A-Z](?:-|$)", word):  # "X-ray", "T cell": the letter's name
        return "an" if word[0] in _VOWEL_LETTER_NAMES else "a"
    letters = re.sub(r"[^A-Za-z]", "", word)
    if letters and len(letters) <= 5 and letters.isupper() and len(letters) > 1:
        return "an" if letters[0] in _VOWEL_LETTER_NAMES else "a"  # HSCT, MRI, CMV
    if word[0].isdigit():
        return "an" if re.match(r"^(?:8|11|18|8\d)(?:\D|$)", word) else "a"
    if _SILENT_H.match(word):
        return "an"
    if word[0].lower() in "aeiou":
        return "a" if _CONSONANT_SOUND.match(word) else "an"
    return "a"


def with_article(phrase: str) -> str:
    """``phrase`` after its indefinite article: "an Article", "a Brief Research Report"."""
    return f"{indefinite_article(phrase)} {phrase}"


# --------------------------------------------------------------------------------------------
# Figures in numerical order

_CAPTIONS = re.compile(r"<(figcaption|caption)\b.*?</\1>", re.S | re.I)
_FIGURES = re.compile(r"\bFig(?:ure)?s?\.?\s+(\d+)((?:[A-Z]\b)?(?:\s*(?:,|and|&|–|-)\s*\d+"
                      r"[A-Z]?\b)*)")


def figure_citations(html: str) -> list[tuple[int, str]]:
    """``(figure number, words before it)`` for every figure cited in the text of the
    rendered HTML, in reading order (captions and the figures' own labels left out)."""
    body = html.split("<body", 1)[-1]
    text = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", _CAPTIONS.sub(" ", body))).split())
    found = []
    for m in _FIGURES.finditer(text):
        numbers = [int(m.group(1))] + [int(n) for n in re.findall(r"\d+", m.group(2) or "")]
        context = text[max(0, m.start() - 60):m.end()]
        found += [(n, context) for n in numbers]
    return found


def figure_order_problem(html: str) -> str | None:
    """A message naming the first figure cited before the figure numbered just below it,
    or None when the figures are first cited in numerical order."""
    first: dict[int, str] = {}
    for number, context in figure_citations(html):
        if number in first:
            continue
        if number > 1 and number - 1 not in first:
            return (f"Figure {number} is cited before Figure {number - 1} ('…{context}'): "
                    "journals ask for figures first cited in numerical order; cite Figure "
                    f"{number - 1} first or renumber the figures (templates/text.j2)")
        first[number] = context
    return None


def check_figure_order(html: str, strict: bool) -> list[str]:
    """A warning when the figures are cited out of order; an error with ``strict``."""
    problem = figure_order_problem(html)
    if problem and strict:
        raise PipelineError(problem)
    return [f"warning: {problem}"] if problem else []


# --------------------------------------------------------------------------------------------
# Numbers in the title

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORD = (r"(?:" + "|".join(_TENS) + r")(?:-(?:" + "|".join(_UNITS[1:10]) + r"))?|"
                + "|".join(reversed(_UNITS)))
_COHORT_NOUNS = ("children", "patients", "infants", "adolescents", "recipients", "cases")
_TITLE_NUMBER = re.compile(
    r"(?<![\w-])(\d[\d,]*|" + _NUMBER_WORD + r")\s+(?:[\w-]+\s+){0,2}?("
    + "|".join(_COHORT_NOUNS) + r")\b", re.I)


def _number(word: str) -> int:
    """A number written in digits or words (up to ninety-nine)."""
    word = word.lower().replace(",", "")
    if word.isdigit():
        return int(word)
    tens, _, unit = word.partition("-")
    if tens in _TENS:
        return 10 * (_TENS.index(tens) + 2) + (_UNITS.index(unit) if unit else 0)
    return _UNITS.index(word)


def title_numbers(meta: dict[str, Any], n_patients: int | None) -> list[str]:
    """One line for each number of patients the title or running head states that the data
    contradict (``n_patients`` from estimates.json)."""
    if n_patients is None:
        return []
    lines = []
    for field in ("title", "short_title"):
        for m in _TITLE_NUMBER.finditer(str(meta.get(field) or "")):
            stated = _number(m.group(1))
            if stated != int(n_patients):
                lines.append(f"field {field!r} says '{m.group(0)}', but the data have "
                             f"{n_patients} patients (estimates.json#n_patients)")
    return lines


def check_title_numbers(meta: dict[str, Any], where: str, n_patients: int | None,
                        strict: bool) -> list[str]:
    """A warning per number in the title the data contradict; an error with ``strict``."""
    lines = [f"{where}, {line}" for line in title_numbers(meta, n_patients)]
    if lines and strict:
        raise PipelineError("the title contradicts the data (strict_metadata: true):\n  "
                            + "\n  ".join(lines))
    return [f"warning: {line}" for line in lines]


# --------------------------------------------------------------------------------------------
# Placeholders and metadata that only looks real

_INVENTED = (
    ("name", re.compile(r"^(?:[A-Z]\.\s*)+Author$|^Author\s+(?:[A-Z]|\d+|One|Two|Three|Four)$"
                        r"|^(?:First|Second|Third|Last|Corresponding)\s+Author$"
                        r"|^(?:John|Jane)\s+(?:Doe|Smith)$|^Your\s+Name$", re.I)),
    ("email", re.compile(r"@(?:[\w-]+\.)*example\.(?:org|com|net)$|\.(?:example|invalid|test)$"
                         r"|^(?:name|author|you|user)@", re.I)),
    ("affiliation", re.compile(r"^(?:Replication|Research|Study|Writing)\s+team$"
                               r"|^(?:Institution|Department|Affiliation|University)(?:\s+\d+)?$",
                               re.I)),
)


def invented_metadata(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, value)`` for every author name, e-mail address and affiliation that looks
    like a stand-in rather than a real one ("A. Author", "Replication team",
    a.author@example.org)."""
    kinds = dict(_INVENTED)
    found = []
    for i, author in enumerate(meta.get("authors") or []):
        if not isinstance(author, dict):
            continue
        for key, kind in (("name", "name"), ("email", "email")):
            value = str(author.get(key) or "").strip()
            if value and kinds[kind].search(value):
                found.append((f"authors[{i}].{key}", value))
    for i, aff in enumerate(meta.get("affiliations") or []):
        value = str(aff.get("name") or "").strip() if isinstance(aff, dict) else ""
        if value and kinds["affiliation"].search(value):
            found.append((f"affiliations[{i}].name", value))
    return found


def package_placeholders(meta: dict[str, Any], metadata_file: str,
                         texts: list[tuple[str, str, str]]) -> list[tuple[str, str, str, str]]:
    """``(file to edit, field, placeholder, output)`` for every placeholder the package's own
    texts print. ``texts`` are ``(output, template file, text)``: a placeholder of the metadata
    is named by its metadata field, any other by the template that writes it and its label."""
    from .metadata import _plain_text

    from_meta = placeholders(meta)
    rows = []
    for output, template, text in texts:
        for m in PLACEHOLDER.finditer(_plain_text(text)):
            found = " ".join(m.group().split())
            fields = [f for f, p in from_meta if p == found]
            label = found[1:].split(":", 1)[0]
            rows += ([(metadata_file, f, found, output) for f in fields] if fields
                     else [(template, label, found, output)])
    return rows


def invented_rows(meta: dict[str, Any], metadata_file: str,
                  texts: list[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """As :func:`package_placeholders`, for the stand-ins of :func:`invented_metadata` that
    the ``(output, text)`` pairs print."""
    from .metadata import _plain_text

    invented = invented_metadata(meta)
    rows = []
    for output, text in texts:
        plain = _plain_text(text)
        rows += [(metadata_file, field, f"{value!r} looks like a stand-in, not a real "
                  f"{'address' if field.endswith('email') else 'name'}", output)
                 for field, value in invented if value in plain]
    return rows


def placeholder_lines(rows: list[tuple[str, str, str, str]]) -> list[str]:
    """One line per placeholder: the file to edit, its field, what it is and the outputs."""
    outputs: dict[tuple[str, str, str], list[str]] = {}
    for file, field, what, output in rows:
        names = outputs.setdefault((file, field, what), [])
        if output not in names:
            names.append(output)
    return [f"{file}, field {field!r}: {what} (in {', '.join(names)})"
            for (file, field, what), names in outputs.items()]


def check_package(rows: list[tuple[str, str, str, str]], strict: bool) -> list[str]:
    """One note per placeholder left in the package; with ``strict`` an error naming each,
    before any file of the package is written."""
    lines = placeholder_lines(rows)
    if lines and strict:
        raise PipelineError(f"{len(lines)} placeholder(s) in the submission package "
                            "(strict_metadata: true); fill them in:\n  " + "\n  ".join(lines))
    return [f"warning: placeholder in {line}" for line in lines]
