"""A metadata file's former ``references:`` list (``id`` and formatted ``text``, optionally
``fields``) as BibTeX entries to paste into the bibliography and complete:
``python -m cmvig_report.devtools.bibtex to-bibtex FILE.yaml``. A developer tool beside the
build: no rule runs it (the renderers read the bibliography, :mod:`..render.references`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_VANCOUVER = re.compile(
    r"^(?P<authors>[^.]+?(?:\.|; [^.]+\.)) (?P<title>.+?[.?]) (?P<journal>[^.;]+)\. "
    r"(?P<year>\d{4});(?P<volume>[^(:;]+)(?:\((?P<number>[^)]+)\))?:(?P<pages>[^.\s]+)\."
    r"(?: doi:\s*(?P<doi>\S+?))?\.?$")


def _bibtex_author(name: str) -> str:
    # "Piñana JL" -> "Piñana, J. L."; "von Elm E" -> "von Elm, E."
    parts = name.split()
    if len(parts) > 1 and parts[-1].isupper() and len(parts[-1]) <= 3:
        return f"{' '.join(parts[:-1])}, {' '.join(f'{c}.' for c in parts[-1])}"
    return f"{{{name}}}"  # a group author, kept whole


def _pages(pages: str) -> str:
    # Vancouver shortens the last page (2479–94): BibTeX holds both in full
    first, _, last = pages.replace("\u2013", "-").partition("-")
    if last and first.isdigit() and last.isdigit() and len(last) < len(first):
        last = first[:len(first) - len(last)] + last
    return f"{first}--{last}" if last else first


def parse_vancouver(text: str) -> dict[str, str] | None:
    """The fields of a journal article formatted in the Vancouver style, or None when ``text``
    does not read as one (a book, a report, a reference with parts missing)."""
    m = _VANCOUVER.match(" ".join(text.split()))
    if not m:
        return None
    names = m["authors"].rstrip(".").split(";")[0].split(", ")
    others = names[-1] in ("et al", "et al.")
    authors = [_bibtex_author(n) for n in names if n not in ("et al", "et al.")]
    fields = {"author": " and ".join(authors + (["others"] if others else [])),
              "title": m["title"].rstrip("."), "journal": m["journal"], "year": m["year"],
              "volume": m["volume"], "number": m["number"] or "", "pages": _pages(m["pages"]),
              "doi": (m["doi"] or "").rstrip(".")}
    return {k: v for k, v in fields.items() if v}


def yaml_to_bibtex(references: Iterable[dict[str, Any]]) -> str:
    """BibTeX entries for a metadata ``references:`` list. Each entry keeps its ``id`` as key;
    ``fields`` (if any) become BibTeX fields. A journal article in the Vancouver style is read
    into author, title, journal, year, volume, number, pages and doi; any other text is kept in
    ``note`` with the DOI and year read from it, for the user to complete. Check each entry
    against its record before use."""
    out = []
    for ref in references:
        key = str(ref["id"])
        text = " ".join(str(ref.get("text", "")).split())
        fields = parse_vancouver(text) or {}
        fields.update({str(k): str(v) for k, v in (ref.get("fields") or {}).items()})
        if "title" not in fields and text:
            doi = re.search(r"doi:\s*(\S+?)\.?$", text, flags=re.I)
            year = re.search(r"\b(1[89]\d\d|20\d\d)\b", text)
            if doi and "doi" not in fields:
                fields["doi"] = doi.group(1)
            if year and "year" not in fields:
                fields["year"] = year.group(1)
            fields["note"] = f"TO COMPLETE from: {text}"
        kind = fields.pop("type", "article")
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
        out.append(f"@{kind}{{{key},\n{body},\n}}\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """``python -m cmvig_report.devtools.bibtex to-bibtex METADATA.yaml``: print BibTeX
    entries."""
    import yaml

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "to-bibtex":
        print("usage: python -m cmvig_report.devtools.bibtex to-bibtex METADATA.yaml",
              file=sys.stderr)
        return 2
    meta = yaml.safe_load(Path(args[1]).read_text(encoding="utf-8")) or {}
    sys.stdout.write(yaml_to_bibtex(meta.get("references") or []))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
