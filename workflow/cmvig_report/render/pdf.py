"""HTML to PDF with WeasyPrint: no network, no timestamps, and where each section landed.

WeasyPrint gets a URL fetcher that serves files inside the project only and refuses everything
else, so rendering never touches the network. The same HTML gives the same PDF bytes: no date is
written unless the HTML carries one (``SOURCE_DATE_EPOCH``), fonts are subset with a fixed
timestamp, and the PDF identifier is a hash of the HTML.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..core.io import fixed_source_date

try:  # WeasyPrint >= 68: a fetcher is a URLFetcher whose fetch() returns a URLFetcherResponse
    from weasyprint.urls import URLFetcher as _FetcherBase
except ImportError:  # WeasyPrint < 68: a fetcher is any callable returning a dict
    _FetcherBase = object


class ProjectOnlyFetcher(_FetcherBase):
    """WeasyPrint URL fetcher: files inside ``root`` and ``data:`` URLs only.

    Anything else (http, https, ftp, files outside the project) is refused before any
    connection is attempted; the refusal is recorded in ``refused`` and WeasyPrint, which skips
    a resource it cannot fetch, carries on without it.
    """

    def __init__(self, root: str | Path):
        super().__init__()
        self.root = Path(root).resolve()
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> Any:
        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            return self._fetch_allowed(url, headers)
        if scheme == "file":
            parts = urlsplit(url)
            path = Path(unquote(parts.path)).resolve()
            if parts.netloc in ("", "localhost") and (
                    path == self.root or self.root in path.parents):
                return self._fetch_allowed(url, headers)
            reason = "outside the project"
        else:
            reason = "no network access"
        message = f"refused to fetch {url}: {reason}"
        if message not in self.refused:
            self.refused.append(message)
        raise PermissionError(message)

    def _fetch_allowed(self, url: str, headers: Any) -> Any:
        if _FetcherBase is object:
            from weasyprint.urls import default_url_fetcher

            return default_url_fetcher(url)
        return super().fetch(url, headers)

    def __call__(self, url: str, *args: Any, **kwargs: Any) -> Any:
        return self.fetch(url)


class _Notes(logging.Handler):
    """Collects WeasyPrint's warnings (e.g. an unknown CSS property) as notes for the user."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "refused to fetch" in message:  # already a note of its own
            return
        note = f"WeasyPrint: {' '.join(message.split())}"
        if note not in self.messages:
            self.messages.append(note)


@dataclass
class Warm:
    """What the live preview keeps between renders: WeasyPrint's font configuration and its
    cache of decoded images (the figures, unchanged by a template edit)."""

    font_config: Any = None
    images: dict = field(default_factory=dict)


# A printed number (the register's span) and a space before it.
_SPACE_BEFORE_NUMBER = re.compile(r' (?=<span class="num[ "])')


def keep_numbers_with_words(html: str) -> str:
    """The HTML with a word joiner (U+2060, invisible) after each space before a number.

    The number stays on the line of the word before it ("day 100"), and the text before the
    number no longer ends in a space: WeasyPrint (70) measures a text run with its trailing
    space, and when only that space overflows the line it breaks after the run's first word
    instead, leaving that word alone on a line ("(B) Overall" / "survival ...").
    """
    return _SPACE_BEFORE_NUMBER.sub(" \u2060", html)


def html_to_pdf(html: str, base_dir: str | Path, root: str | Path, warm: Warm | None = None,
                line_numbers: bool = False) -> tuple[bytes, list[str], dict[str, int]]:
    """PDF bytes of ``html`` (relative URLs resolved from ``base_dir``), notes for the user,
    and the page (from 1) on which each element with an ``id`` starts. ``line_numbers``:
    each line of running text numbered in the left margin (:mod:`.pdf_lines`).

    Deterministic: WeasyPrint writes no creation date unless the HTML carries
    ``dcterms.created``; fonts are subset with a fixed timestamp; the PDF /ID is a hash of the
    HTML instead of a random value.
    """
    from weasyprint import HTML

    fetcher = ProjectOnlyFetcher(root)
    logger = logging.getLogger("weasyprint")
    handler = _Notes()
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        extra: dict[str, Any] = {}
        if warm is not None:
            from weasyprint.text.fonts import FontConfiguration

            warm.font_config = warm.font_config or FontConfiguration()
            if len(warm.images) > 16:  # figures redrawn many times: forget the old ones
                warm.images.clear()
            extra = {"font_config": warm.font_config, "cache": warm.images}
        document = HTML(string=keep_numbers_with_words(html),
                        base_url=Path(base_dir).resolve().as_uri() + "/",
                        url_fetcher=fetcher).render(**extra)
        identifier = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode()
        with fixed_source_date():
            pdf = document.write_pdf(pdf_identifier=identifier)
        if line_numbers:
            from .pdf_lines import stamp_line_numbers

            pdf, _ = stamp_line_numbers(pdf, document)
        anchors: dict[str, int] = {}
        for number, page in enumerate(document.pages, start=1):
            for name in page.anchors:
                anchors.setdefault(name, number)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
    return pdf, fetcher.refused + handler.messages, anchors
