"""The text of a shareable output as a reader would see it, in located chunks.

PDF pages, links, properties and attachments; text files line by line with tags removed and
``data:`` URIs decoded; DOCX parts per paragraph. Binary files give no text (``None``).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from urllib.parse import unquote

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ..errors import PipelineError

Chunk = tuple[str, str]  # (where in the output, text found there)


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
