"""Stage 4: fill the templates with the results: HTML and PDF (WeasyPrint) and Quarto source.

Templates render with ``StrictUndefined`` (a misspelled variable stops the build naming the
template, the line and the name) and, for HTML, autoescaping. WeasyPrint gets a URL fetcher that
serves files inside the project only and refuses everything else, so rendering never touches
the network. The same inputs give the same PDF bytes: no timestamp is written unless the user
sets ``SOURCE_DATE_EPOCH``, and the PDF identifier is a hash of the HTML.

This module imports only jinja2, yaml and (when a PDF is written) weasyprint, so that a template
edit re-renders quickly: no pandas, no matplotlib (``io`` imports pandas only inside the
functions that read tables).

Template context (documented for template authors in templates/README.md):
``est`` estimates.json, ``meta`` templates/metadata.yaml, ``prov`` provenance.json,
``figures`` (name -> ``{src, facts}``: the file relative to the output and its caption facts),
``refs`` reference id -> number, ``table1`` (results/table1.csv as groups and rows, see
:func:`table1_rows`), ``replication``,
``replication_rows`` ({label, published, reproduced, matches}), ``replication_matches``,
``published_source``, ``line_numbers``, ``build_date`` (ISO date from SOURCE_DATE_EPOCH or None),
``stylesheet`` (templates/style.css, inlined), ``output`` ("html" or "qmd").
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2
import yaml
from markupsafe import Markup

from .errors import PipelineError
from .formatting import FILTERS, round_half_up
from .io import atomic_write_bytes, atomic_write_text, fixed_source_date
from .paths import HTML_TEMPLATE, QMD_TEMPLATE

METADATA = "metadata.yaml"
STYLESHEET = "style.css"

# Errors a template can cause by calling a filter or attribute on the wrong kind of value.
TEMPLATE_RUNTIME_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError,
                           ZeroDivisionError)


# --------------------------------------------------------------------------------------------
# Files


def _read_text(path: str | Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PipelineError(f"{path}: {what} not found") from None
    except UnicodeDecodeError as exc:
        raise PipelineError(f"{path}: {what} is not UTF-8 text ({exc.reason})") from None


def _read_json(path: str | Path, what: str) -> Any:
    try:
        return json.loads(_read_text(path, what))
    except json.JSONDecodeError as exc:
        raise PipelineError(f"{path}: {what} is not valid JSON (line {exc.lineno}: {exc.msg})"
                            ) from None


def read_yaml(path: str | Path, what: str) -> Any:
    """A YAML mapping, or a PipelineError naming the file and what it should have held."""
    try:
        data = yaml.safe_load(_read_text(path, what))
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: {what} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise PipelineError(f"{path}: {what} must be a YAML mapping (key: value lines)")
    return data


# --------------------------------------------------------------------------------------------
# Templates


def markdown_escape(text: Any) -> str:
    """Data text as literal Markdown: characters pandoc would read as markup get a backslash."""
    return re.sub(r"([\\`*_\[\]<>|$@~^#])", r"\\\1", str(text))


def make_environment(templates: str | Path, *, html: bool = True) -> jinja2.Environment:
    """Jinja2 environment for the manuscript templates, with the number filters.

    ``html`` switches autoescaping on (HTML) or off (Quarto source). The ``text`` filter marks
    data strings that are printed as plain text: autoescaping covers them in HTML, and in the
    Quarto source it escapes Markdown characters.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.filters["text"] = str if html else markdown_escape
    return env


def _display_path(filename: str | None, templates: Path) -> str:
    if not filename:
        return "<template>"
    try:
        return Path(filename).resolve().relative_to(templates.resolve().parent).as_posix()
    except ValueError:
        return filename


def _template_location(exc: BaseException, templates: Path) -> tuple[str, int | None]:
    # Jinja rewrites tracebacks so that template frames carry the template's file and line;
    # the innermost template frame is where the mistake is.
    location: tuple[str, int | None] = ("<template>", None)
    root = str(templates.resolve())
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename.startswith(root) or filename.endswith(".j2"):
            location = (_display_path(filename, templates), lineno)
    return location


def render_template(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render one template; template mistakes become a PipelineError with file and line."""
    templates = Path(env.loader.searchpath[0])  # type: ignore[union-attr]
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = _display_path(exc.filename, templates) if exc.filename else exc.name
        raise PipelineError(f"template {where}, line {exc.lineno}: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        filename, lineno = _template_location(exc, templates)
        where = f" (included from {filename}, line {lineno})" if lineno else ""
        raise PipelineError(f"template not found: {exc.name}, looked for in {templates}"
                            f"{where}") from None
    except jinja2.UndefinedError as exc:
        filename, lineno = _template_location(exc, templates)
        name_match = re.search(r"'([^']+)' is undefined|no attribute '([^']+)'", exc.message or "")
        undefined = next((g for g in name_match.groups() if g), None) if name_match else None
        what = f"undefined variable {undefined!r}" if undefined else "undefined variable"
        raise PipelineError(
            f"template {filename}, line {lineno}: {what} ({exc.message})"
        ) from None
    except TEMPLATE_RUNTIME_ERRORS as exc:
        filename, lineno = _template_location(exc, templates)
        if filename == "<template>":
            raise  # not a template mistake: a bug in this module
        raise PipelineError(
            f"template {filename}, line {lineno}: {type(exc).__name__}: {exc}"
        ) from None


# --------------------------------------------------------------------------------------------
# Context


def _dig(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise PipelineError(f"published value key {dotted!r} is not in estimates.json")
        node = node[part]
    return node


def replication_rows(estimates: dict[str, Any], published: dict[str, Any]) -> list[dict]:
    """Published beside reproduced values, the reproduced one rounded to the printed precision.

    Each entry of ``published["values"]`` has ``label``, ``key`` (dotted path in estimates),
    ``published`` (as printed) and optionally ``scale`` (e.g. 100 for a fraction printed as %).
    """
    rows = []
    for i, item in enumerate(published.get("values") or []):
        missing = [k for k in ("label", "key", "published") if k not in item]
        if missing:
            raise PipelineError(f"published values, entry {i + 1}: missing {', '.join(missing)}")
        value = _dig(estimates, item["key"])
        pub = item["published"]
        text = str(pub)
        decimals = len(text.split(".")[1]) if "." in text else 0
        if isinstance(value, dict) and {"first", "last"} <= set(value):  # a period, YYYY-MM
            shown = f"{value['first']}/{value['last']}"
            rows.append({"label": item["label"], "published": text, "reproduced": shown,
                         "matches": shown == text})
            continue
        if value is None or isinstance(value, (dict, list, str, bool)):
            shown, matches = "not estimable", False
        else:
            rounded = round_half_up(value * item.get("scale", 1), decimals)
            shown = f"{rounded:.{decimals}f}" if decimals else str(int(rounded))
            matches = shown == (f"{float(pub):.{decimals}f}" if decimals else str(int(pub)))
        rows.append({"label": item["label"], "published": text, "reproduced": shown,
                     "matches": matches})
    return rows


def table1_rows(path: str | Path) -> dict[str, Any]:
    """``results/table1.csv`` as the templates print it, in HTML and in the Quarto source.

    Returns ``{"groups": [{"key", "label", "n"}], "rows": [{"kind", "label", "cells"}]}``
    where ``kind`` is ``continuous`` (a median (range) row), ``variable`` (the heading of a
    categorical variable, no cells) or ``level`` (one level of it).
    """
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        table = list(reader)
    if not header or header[:2] != ["variable", "level"] or not table:
        raise PipelineError(f"{path}: not a Table 1 file (columns variable, level, groups...)")
    keys = header[2:]
    first, *body = table
    groups = [{"key": k, "label": k.capitalize(), "n": n} for k, n in zip(keys, first[2:],
                                                                        strict=True)]
    rows: list[dict[str, Any]] = []
    previous = None
    for variable, level, *cells in body:
        if level == "median (range)":
            rows.append({"kind": "continuous", "label": variable, "cells": cells})
            previous = None
            continue
        if variable != previous:
            rows.append({"kind": "variable", "label": variable, "cells": []})
            previous = variable
        rows.append({"kind": "level", "label": level, "cells": cells})
    return {"groups": groups, "rows": rows}


def _figures(figures: list[str], figure_facts: list[str], out_dir: str | Path
             ) -> dict[str, dict[str, Any]]:
    # A figure is known by its file name (results/figures/<name>.svg): the templates show
    # `figures.<name>.src` and read the caption facts from `figures.<name>.facts`.
    facts = {Path(p).stem: p for p in figure_facts}
    out: dict[str, dict[str, Any]] = {}
    for path in figures:
        name = Path(path).stem
        if name not in facts:
            raise PipelineError(f"{path}: no caption facts ({name}.json) among the inputs")
        rel = os.path.relpath(Path(path).resolve(), Path(out_dir).resolve())
        out[name] = {"src": Path(rel).as_posix(),
                     "facts": _read_json(facts[name], f"{name} caption facts")}
    return out


def build_context(*, template_dir: str | Path, estimates: str, table1: str,
                  figures: list[str], figure_facts: list[str], provenance: str, published: str,
                  replication: bool, line_numbers: bool, out_dir: str | Path,
                  output: str) -> dict[str, Any]:
    """Everything the templates may use (listed in this module's docstring)."""
    tdir = Path(template_dir)
    est = _read_json(estimates, "estimates")
    meta = read_yaml(tdir / METADATA, "manuscript metadata")
    pub = read_yaml(published, "published values") if replication else {}
    rows = replication_rows(est, pub) if replication else []
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    build_date = (datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%d")
                  if epoch.isdigit() else None)
    refs = {str(r.get("id")): i for i, r in enumerate(meta.get("references") or [], start=1)
            if isinstance(r, dict)}
    return {
        "est": est,
        "meta": meta,
        "prov": _read_json(provenance, "provenance record"),
        "figures": _figures(figures, figure_facts, out_dir),
        "refs": refs,
        "table1": table1_rows(table1),
        "replication": bool(replication),
        "replication_rows": rows,
        "replication_matches": sum(r["matches"] for r in rows),
        "published_source": pub.get("source", ""),
        "line_numbers": bool(line_numbers),
        "build_date": build_date,
        "stylesheet": Markup(_read_text(tdir / STYLESHEET, "stylesheet")) if output == "html"
        else "",
        "output": output,
    }


def template_dir(template_files: list[str], main: str) -> Path:
    """The templates folder: where the main template (``main``) of this format lies."""
    for path in template_files:
        if Path(path).name == main:
            return Path(path).parent
    raise PipelineError(f"{main} is not among the templates ({', '.join(template_files)})")


# --------------------------------------------------------------------------------------------
# PDF


class ProjectOnlyFetcher:
    """WeasyPrint URL fetcher: files inside ``root`` and ``data:`` URLs only.

    Anything else (http, https, ftp, files outside the project) is refused before any
    connection is attempted; the refusal is recorded in ``refused`` and WeasyPrint, which skips
    a resource it cannot fetch, carries on without it.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.refused: list[str] = []

    def __call__(self, url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from weasyprint.urls import default_url_fetcher  # v66: default_url_fetcher(url, ...)

        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            return default_url_fetcher(url)
        if scheme == "file":
            parts = urlsplit(url)
            path = Path(unquote(parts.path)).resolve()
            if parts.netloc in ("", "localhost") and (
                    path == self.root or self.root in path.parents):
                return default_url_fetcher(url)
            reason = "outside the project"
        else:
            reason = "no network access"
        message = f"refused to fetch {url}: {reason}"
        if message not in self.refused:
            self.refused.append(message)
        raise PermissionError(message)


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


def html_to_pdf(html: str, base_dir: str | Path, root: str | Path) -> tuple[bytes, list[str]]:
    """PDF bytes of ``html`` (relative URLs resolved from ``base_dir``) and notes for the user.

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
        document = HTML(string=html, base_url=Path(base_dir).resolve().as_uri() + "/",
                        url_fetcher=fetcher).render()
        identifier = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode()
        with fixed_source_date():
            pdf = document.write_pdf(pdf_identifier=identifier)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
    return pdf, fetcher.refused + handler.messages


# --------------------------------------------------------------------------------------------
# Stages


def run_render(*, template_files: list[str], estimates: str, table1: str, figures: list[str],
               figure_facts: list[str], provenance: str, published: str, replication: bool,
               line_numbers: bool, html: str, pdf: str | None = None) -> list[str]:
    """Step ``manuscript``: report/manuscript.html and (unless ``pdf`` is None) the PDF."""
    out_dir = Path(html).parent
    tdir = template_dir(template_files, HTML_TEMPLATE)
    context = build_context(template_dir=tdir, estimates=estimates, table1=table1,
                            figures=figures, figure_facts=figure_facts, provenance=provenance,
                            published=published, replication=replication,
                            line_numbers=line_numbers, out_dir=out_dir, output="html")
    text = render_template(make_environment(tdir), HTML_TEMPLATE, context)
    notes: list[str] = []
    pdf_bytes = None
    if pdf:
        pdf_bytes, notes = html_to_pdf(text, out_dir, tdir.resolve().parent)
    atomic_write_text(html, text)
    if pdf_bytes is not None:
        atomic_write_bytes(pdf, pdf_bytes)  # type: ignore[arg-type]
    return notes


def run_qmd(*, template_files: list[str], estimates: str, table1: str, figures: list[str],
            figure_facts: list[str], provenance: str, published: str, replication: bool,
            line_numbers: bool, qmd: str) -> list[str]:
    """Step ``quarto_source``: report/manuscript.qmd, the same manuscript as Quarto source."""
    tdir = template_dir(template_files, QMD_TEMPLATE)
    context = build_context(template_dir=tdir, estimates=estimates, table1=table1,
                            figures=figures, figure_facts=figure_facts, provenance=provenance,
                            published=published, replication=replication,
                            line_numbers=line_numbers, out_dir=Path(qmd).parent, output="qmd")
    text = render_template(make_environment(tdir, html=False), QMD_TEMPLATE, context)
    atomic_write_text(qmd, text)
    return []
