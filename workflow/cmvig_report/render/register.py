"""Where each printed number comes from: tracked values, the register and the typed-number check.

Every file the templates read (estimates.json, table1.csv, provenance.json, the figures'
caption facts, published.yaml, metadata.yaml) reaches them as *tracked* values
(:mod:`.tracked`): numbers and strings that remember the file and key they came from. The number
filters and Jinja's ``finalize`` hook (which sees every ``{{ ... }}``) print a tracked value as
``<span data-source="estimates.json#response" title="method; n = ...">67% (...)</span>`` in the
HTML, and as plain text in the Quarto source. Reading the rendered HTML back
(:mod:`.register_html`) gives the register of printed numbers (``report/numbers.csv``):
section, text, source, value, method, n.

A number typed into a template has no source. :func:`typed_numbers` finds them in the
templates' literal text, with template and line, before anything is rendered. The exceptions are
few and listed in :data:`ALLOWED`: Figure/Table/Appendix labels and the 95% confidence level.
Citation numbers and metadata (ORCID, affiliations, references) come from metadata.yaml and are
tracked like everything else.

Small-cell control happens here too: a count that the analysis marked as hidden
(``estimates.json#disclosure.hidden``) prints as its mark ("<5"), whatever filter prints it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..core.formatting import FILTERS, format_measure, format_number
from ..privacy.disclosure import is_mark
from .tracked import Tracked, TrackedDict, TrackedFloat, TrackedInt, TrackedList, plain

# Filters whose output is a number (the others, e.g. `text` or `value`, print words).
NUMBER_FILTERS = ("month", "percent", "ci", "percent_ci", "pvalue", "number", "measure",
                  "median_range", "median_and_range", "days", "plural", "period", "points",
                  "median_iqr", "log10_median_iqr")
# Literal numbers a template may hold: labels of figures, tables and appendices, and the
# confidence level of the intervals. Everything else typed is reported.
ALLOWED = re.compile(r"\b(?:Figures?|Tables?|Appendix|Appendices)\s+\d+[A-Z]?\b"
                     r"|\b(?:95|97\.5)\s?%")
NUMBER_TOKEN = re.compile(r"(?<![\w.#&\-/])\d+(?:[.,]\d+)*%?(?![\w])")


# --------------------------------------------------------------------------------------------
# The register


def _key(source: str) -> str:
    return source.split("#", 1)[1] if "#" in source else ""


@dataclass
class Entry:
    """What the register knows of one source: its value, method and the patients behind it.

    A count hidden by small-cell control keeps its method only: ``value`` is empty and
    ``suppressed`` is true, and the counts behind an estimate (``n``, ``detail``) print each
    through the same plan."""

    value: str
    method: str
    n: str
    detail: str = ""  # at a landmark: at risk, events, censored
    suppressed: bool = False


@dataclass
class Register:
    """Collects the sources printed while rendering and marks them up.

    ``html``: print spans with ``data-source`` and a tooltip; otherwise plain text.
    ``hidden``: estimates.json keys of counts hidden by small-cell control -> mark (the
    analysis's plan, ``estimates.json#disclosure.hidden``), and whole sources of other files'
    hidden counts (``changes_summary.json#added``); ``min_cell``: its limit.
    ``cohort_n``: the number of patients, for counts without a block of their own.
    """

    html: bool = True
    hidden: Mapping[str, str] = field(default_factory=dict)
    cohort_n: int | None = None
    min_cell: int = 0
    entries: dict[str, Entry] = field(default_factory=dict)

    def hidden_mark(self, value: Any) -> str | None:
        """The mark to print instead of ``value`` when it is a hidden count, else None."""
        if not isinstance(value, Tracked):
            return None
        if value._source.startswith("estimates.json#"):
            return self.hidden.get(_key(value._source))
        return self.hidden.get(value._source)  # other files' counts, by their whole source

    def is_mark(self, text: str) -> bool:
        """Whether ``text`` is what a hidden cell prints ("<5", "[c]")."""
        return is_mark(text, self.min_cell)

    def count(self, key: str, value: Any) -> str:
        """A count behind an estimate (estimates.json ``key``) as the plan lets it print."""
        return self.hidden.get(key) or str(value)

    def mark(self, text: str, value: Any, kind: str) -> Any:
        """``text`` printed for the tracked ``value`` by filter ``kind``: recorded, and wrapped
        in a span in the HTML."""
        source = value._source
        if source not in self.entries:
            self.entries[source] = _entry(value, kind, self)
        entry = self.entries[source]
        if self.is_mark(text) and not entry.suppressed:  # a Table 1 cell printed as its mark
            entry = self.entries[source] = Entry("", entry.method, entry.n, entry.detail, True)
        if not self.html:
            return text
        if entry.suppressed:
            tip = f"{entry.method}; hidden by small-cell control"
        else:
            tip = entry.method + (f". {entry.detail}." if entry.detail else
                                  f"; n = {entry.n} patients" if entry.n else "")
        # long text (a reference, a note) is not underlined on screen, only numbers are
        css = "num" if len(text) <= 40 else "num long"
        return Markup('<span class="{}" data-source="{}" title="{}">{}</span>').format(
            css, source, tip, text)


def _entry(value: Any, kind: str, register: Register) -> Entry:
    block = value._block if not isinstance(value, TrackedDict) else value
    block = block or {}
    file = value._source.split("#", 1)[0]
    key = _key(value._source)
    shown = plain(value)
    if key.startswith("settings.") or key.endswith(".day"):
        return Entry(str(shown), "analysis setting (config/config.yaml)", "")
    if key == "study_period":
        return Entry(f"{block.get('first')}/{block.get('last')}",
                     f"study period ({block.get('source')})", "")
    method = str(block.get("method") or block.get("ci_method") or _method(file, kind))
    if register.hidden_mark(value) is not None:  # whatever file the hidden count comes from
        return Entry("", method if file == "estimates.json" else _method(file, kind), "", "",
                     True)
    if kind == "text" or file != "estimates.json":
        return Entry(str(shown), _method(file, kind), "")
    # the key of the block whose counts are printed beside the value
    where = _key(getattr(block, "_source", "")) if isinstance(block, Tracked) else ""
    prefix = f"{where}." if where else ""
    if "at_risk" in block:
        n = register.count(f"{prefix}at_risk", block["at_risk"])
        detail = (f"At day {block.get('day')}: "
                  f"{register.count(prefix + 'n', block.get('n'))} patients, "
                  f"{n} still at risk, "
                  f"{register.count(prefix + 'events', block.get('events', 0))} events, "
                  f"{register.count(prefix + 'censored', block.get('censored', 0))} censored")
    else:
        n = register.count(f"{prefix}n", block.get("n", register.cohort_n) or "")
        detail = ""
    if isinstance(shown, dict):
        shown = {k: v for k, v in shown.items() if k in ("estimate", "ci_lower", "ci_upper",
                                                           "median", "min", "max", "days",
                                                           "first", "last", "q1", "q3")}
    return Entry(str(shown), method, n, detail)


def _method(file: str, kind: str) -> str:
    by_file = {
        "table1.csv": "Table 1 cell: n (% of the column), median (range), or median (IQR) of "
                      "log10 IU/mL for viral loads",
        "provenance.json": "recorded by the pipeline",
        "metadata.yaml": "as written in templates/metadata.yaml",
        "published.yaml": "as published",
        "references": "citation or reference formatted by the CSL style (references.py)",
    }
    if file in by_file:
        return by_file[file]
    if kind == "text":
        return "as written in " + file
    return {"number": "count", "plural": "count", "median_range": "median (range)",
            "median_and_range": "median (range)", "median_iqr": "median (IQR)",
            "log10_median_iqr": "median (IQR) of log10 IU/mL", "month": "calendar month",
            "measure": "setting", "days": "days"}.get(kind, kind)


def _tracked_in(values: Iterable[Any]) -> Any:
    return next((v for v in values if isinstance(v, Tracked)), None)


def wrap_filter(register: Register, name: str, func: Callable[..., str]) -> Callable[..., Any]:
    """``func`` (a formatter) as a template filter that records and marks what it prints."""

    def filt(value: Any, *args: Any, **kwargs: Any) -> Any:
        mark = register.hidden_mark(value)
        if mark is not None:
            text = f"{mark} {args[1] if len(args) > 1 else args[0]}" if name == "plural" else mark
        else:
            text = func(plain(value), *[plain(a) for a in args], **kwargs)
        tracked = _tracked_in((value, *args))
        if tracked is None or not (name in NUMBER_FILTERS or _has_digit(text)
                                   or register.is_mark(str(text))):
            return text
        return register.mark(text, tracked, name)

    filt.__name__ = name
    filt.__doc__ = func.__doc__
    return filt


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def finalize(register: Register) -> Callable[[Any], Any]:
    """Jinja's ``finalize``: a tracked number or string with digits printed as ``{{ x }}``
    goes into the register like one printed through a filter."""

    def fin(value: Any) -> Any:
        if not isinstance(value, Tracked) or isinstance(value, (TrackedDict, TrackedList)):
            return value
        mark = register.hidden_mark(value)
        if isinstance(value, TrackedInt):
            return register.mark(mark or format_number(value), value, "number")
        if isinstance(value, TrackedFloat):
            return register.mark(mark or format_measure(value), value, "measure")
        if mark is not None:
            return register.mark(mark, value, "text")
        if _has_digit(value) or register.is_mark(value):  # "[c]" is a hidden count too
            return register.mark(str(value), value, "text")
        return str(value)

    return fin


def install(env: jinja2.Environment, register: Register,
            text: Callable[[str], str] = str) -> None:
    """Give ``env`` the recording filters, ``finalize`` and the test ``one``.

    ``text`` is how data text is printed (escaped for Markdown in the Quarto source); a
    tracked string with digits printed through it is recorded too.
    """
    for name, func in {**FILTERS, "text": lambda v: text(str(v))}.items():
        env.filters[name] = wrap_filter(register, name, func)
    env.finalize = finalize(register)
    # "1 child" reads differently from "2 children": a hidden count always takes the plural.
    env.tests["one"] = lambda v: register.hidden_mark(v) is None and v == 1
    # a count hidden by small-cell control: the template leaves out what would give it back
    env.tests["hidden"] = lambda v: register.hidden_mark(v) is not None
    # hidden as below the limit ("<5"), not as a complement: a group that small has medians
    # and ranges made of single children's values
    env.tests["small"] = lambda v: (register.hidden_mark(v) or "").startswith("<")



# --------------------------------------------------------------------------------------------
# Numbers typed into templates


@dataclass(frozen=True)
class TypedNumber:
    """A number in a template's own text: where, and the text around it."""

    template: str
    line: int
    token: str
    context: str

    def __str__(self) -> str:
        return (f"template {self.template}, line {self.line}: number {self.token!r} typed in "
                f"the text (\u2026{self.context}\u2026); print it from the results instead")


def typed_numbers(env: jinja2.Environment, names: Iterable[str]) -> list[TypedNumber]:
    """Numbers written into the literal text of the templates ``names``.

    Tags, HTML entities, Pandoc attributes ``{...}`` and a Quarto front matter are not text;
    :data:`ALLOWED` lists the numbers that may be typed.
    """
    found = []
    for name in sorted(names):
        source, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
        for lineno, kind, value in env.lex(source, name, filename):
            if kind != "data":
                continue
            for offset, line in enumerate(value.split("\n")):
                text = re.sub(r"<[^>]*>?|&#?\w+;|\{[^{}]*\}|^\s*\w[\w-]*:\s.*$", " ", line)
                text = ALLOWED.sub(" ", text)
                for m in NUMBER_TOKEN.finditer(text):
                    found.append(TypedNumber(name, lineno + offset, m.group(),
                                             " ".join(text[max(0, m.start() - 25):
                                                           m.end() + 25].split())))
    return found


def template_names(folder: str | Path, suffixes: tuple[str, ...] = (".j2",)) -> list[str]:
    """Every template under ``folder`` (relative names, for the loader)."""
    root = Path(folder)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.name.endswith(suffixes))
