"""Checks of the study's metadata (``templates/metadata.yaml``, or the replication's).

A journal returns a submission without its declarations, so a required field left empty stops
the build naming the field. An ORCID iD must be a real one (its last character is an ISO 7064
MOD 11-2 check digit) or be left out: a placeholder printed as if it were real is worse than
none. Author contributions use the CRediT roles.

Placeholders (:data:`PLACEHOLDER`) are what the user still has to fill in. None may reach a
shareable output unnoticed: each renderer lists those it printed (field and output), the build
lists them all at its end, and with ``strict_metadata: true`` they stop the build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..core.io import atomic_write_bytes, read_rows, rows_csv_bytes
from ..errors import PipelineError

# Dotted paths of the fields a submission cannot go without.
REQUIRED = (
    "title", "short_title", "authors", "affiliations", "keywords",
    "setting.description", "setting.centres",
    "ethics.committee", "ethics.approval", "ethics.consent",
    "funding", "conflicts", "data_availability",
)
# The CRediT (Contributor Roles Taxonomy) roles, as journals ask for them.
CREDIT_ROLES = (
    "Conceptualization", "Data curation", "Formal analysis", "Funding acquisition",
    "Investigation", "Methodology", "Project administration", "Resources", "Software",
    "Supervision", "Validation", "Visualization", "Writing – original draft",
    "Writing – review & editing",
)
ORCID = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")
# A placeholder: a label in capitals and a colon, then a hint, in square brackets, e.g.
# "[TITLE: your study's title]". (A label keeps "[Internet]" in a reference from counting.)
PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9 &/'-]*:[^\[\]]*\]")
PLACEHOLDER_COLUMNS = ["file", "field", "placeholder", "output"]


def orcid_is_valid(orcid: str) -> bool:
    """Whether ``orcid`` is well formed and its check digit (ISO 7064 MOD 11-2) is right."""
    if not ORCID.match(orcid):
        return False
    digits = orcid.replace("-", "")
    total = 0
    for ch in digits[:-1]:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    return digits[-1] == ("X" if check == 10 else str(check))


def _get(meta: dict[str, Any], dotted: str) -> Any:
    node: Any = meta
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value) or (
        isinstance(value, str) and not value.strip())


def _fold(role: str) -> str:
    return " ".join(role.replace("-", "–").replace("&", "and").casefold().split())


def validate_metadata(meta: dict[str, Any], where: str = "templates/metadata.yaml") -> None:
    """Raise PipelineError listing every empty required field, bad ORCID and unknown role."""
    problems = [f"required field {field!r} is empty" for field in REQUIRED
                if _empty(_get(meta, field))]
    roles = {_fold(r): r for r in CREDIT_ROLES}
    affiliation_ids = {a.get("id") for a in meta.get("affiliations") or [] if isinstance(a, dict)}
    for i, author in enumerate(meta.get("authors") or [], start=1):
        if not isinstance(author, dict) or _empty(author.get("name")):
            problems.append(f"authors[{i}]: required field 'name' is empty")
            continue
        name = author["name"]
        orcid = str(author.get("orcid") or "").strip()
        if orcid and not orcid_is_valid(orcid):
            problems.append(f"authors[{i}] ({name}): orcid {orcid!r} is not a valid ORCID iD "
                            "(wrong form or check digit); leave it empty to print none")
        if _empty(author.get("contributions")):
            problems.append(f"authors[{i}] ({name}): required field 'contributions' is empty "
                            "(CRediT roles)")
        for role in author.get("contributions") or []:
            if _fold(str(role)) not in roles:
                problems.append(f"authors[{i}] ({name}): contribution {role!r} is not a CRediT "
                                f"role ({', '.join(CREDIT_ROLES)})")
        for aff in author.get("affiliations") or []:
            if aff not in affiliation_ids:
                problems.append(f"authors[{i}] ({name}): affiliation {aff!r} is not an id "
                                "under 'affiliations'")
    if problems:
        raise PipelineError(f"{where}: " + "; ".join(problems) if len(problems) == 1 else
                            f"{where}: {len(problems)} problems\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------------------------
# Placeholders


def _leaves(node: Any, field: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{field}.{key}" if field else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{field}[{i}]")
    elif isinstance(node, str):
        yield field, node


def placeholders(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, placeholder)`` for every placeholder in the metadata; fields are dotted
    (``ethics.approval``, ``authors[0].name``)."""
    return [(field, " ".join(m.group().split())) for field, value in _leaves(meta)
            for m in PLACEHOLDER.finditer(value)]


def _plain_text(text: str) -> str:
    """Rendered HTML or Quarto source as the words a reader sees: no tags, entities, JSON or
    Markdown escapes, single spaces."""
    from .checklist import words  # tags and entities, as the word counts read them

    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), words(text))
    return " ".join(re.sub(r"\\(.)", r"\1", text).split())


def printed_placeholders(meta: dict[str, Any], where: str,
                         rendered: Iterable[tuple[list[str], str]]) -> list[dict[str, str]]:
    """The placeholders of ``meta`` (read from ``where``) that a rendered text prints, one row
    (``PLACEHOLDER_COLUMNS``) per output: ``rendered`` pairs the names of the outputs made from
    a text with the text."""
    found = placeholders(meta)
    rows = []
    for outputs, text in rendered:
        plain_text = _plain_text(text)
        rows += [{"file": where, "field": field, "placeholder": placeholder, "output": output}
                 for field, placeholder in found if placeholder in plain_text
                 for output in outputs]
    return rows


def placeholder_lines(rows: list[dict[str, str]]) -> list[str]:
    """One line per placeholder: its file and field, its text and the outputs that print it."""
    outputs: dict[tuple[str, str, str], list[str]] = {}
    for row in rows:
        key = (row["file"], row["field"], row["placeholder"])
        if row["output"] not in outputs.setdefault(key, []):
            outputs[key].append(row["output"])
    return [f"{file}, field {field!r}: {placeholder} (in {', '.join(names)})"
            for (file, field, placeholder), names in outputs.items()]


def check_placeholders(rows: list[dict[str, str]], strict: bool) -> list[str]:
    """A warning naming each printed placeholder; with ``strict`` (config ``strict_metadata``)
    a PipelineError naming them all instead."""
    lines = placeholder_lines(rows)
    if lines and strict:
        raise PipelineError(f"{len(lines)} metadata placeholder(s) would reach a shareable "
                            "output (strict_metadata: true); fill them in:\n  "
                            + "\n  ".join(lines))
    return [f"warning: placeholder in {line}" for line in lines]


def write_placeholders(rows: list[dict[str, str]], path: str | Path) -> None:
    """The rows of :func:`printed_placeholders` as CSV (internal, for the end of the build)."""
    atomic_write_bytes(path, rows_csv_bytes(rows, PLACEHOLDER_COLUMNS))


def placeholder_summary(files: list[str]) -> list[str]:
    """What the end of a build prints: every placeholder its renderers recorded in ``files``
    (``paths.placeholders(rule)``), with its field and outputs; nothing when none."""
    rows: list[dict[str, str]] = []
    for path in files:
        if Path(path).is_file():
            rows += read_rows(path)
    lines = placeholder_lines(rows)
    if not lines:
        return []
    return [f"{len(lines)} metadata placeholder(s) still printed in shareable outputs "
            "(fill them in; strict_metadata: true makes this an error):",
            *(f"  {line}" for line in lines)]
