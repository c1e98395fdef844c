"""Stage 4: fill the templates with the results; HTML and PDF (WeasyPrint) and Quarto source.

Templates render with ``StrictUndefined`` (a misspelled variable stops the build naming the
template, line and name) and HTML autoescaping. WeasyPrint gets a URL fetcher that serves files
inside the project only and refuses everything else, so rendering never touches the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import Markup

from .errors import PipelineError
from .formatting import FILTERS, round_half_up
from .io import atomic_write_bytes, atomic_write_text, fixed_source_date

HTML_TEMPLATE = "manuscript.html.j2"
QMD_TEMPLATE = "manuscript.qmd.j2"


def make_environment(templates: str | Path, *, html: bool = True) -> jinja2.Environment:
    """Jinja2 environment for the manuscript templates, with the number filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def _template_location(exc: BaseException) -> tuple[str, int | None]:
    # Jinja rewrites tracebacks so that template frames carry the template's file and line.
    location: tuple[str, int | None] = ("<template>", None)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename.endswith((".j2", ".html", ".qmd")):
            location = (filename, lineno)
    return location


def render_template(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render one template; template mistakes become a PipelineError with file and line."""
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise PipelineError(
            f"template {exc.filename or exc.name}, line {exc.lineno}: {exc.message}"
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise PipelineError(f"template not found: {exc.name} (in {env.loader.searchpath})"
                            ) from None
    except jinja2.UndefinedError as exc:
        filename, lineno = _template_location(exc)
        raise PipelineError(
            f"template {filename}, line {lineno}: undefined variable: {exc.message}"
        ) from None


def _dig(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise PipelineError(f"published value key {dotted!r} is not in estimates.json")
        node = node[part]
    return node


def replication_rows(estimates: dict[str, Any], published: dict[str, Any]) -> list[dict]:
    """Published beside reproduced values, rounded to the published precision."""
    rows = []
    for item in published["values"]:
        value = _dig(estimates, item["key"])
        pub = item["published"]
        decimals = 0 if isinstance(pub, int) else len(str(pub).split(".")[1])
        if value is None:
            shown, matches = "not estimable", False
        else:
            rounded = round_half_up(value * item.get("scale", 1), decimals)
            shown = f"{rounded:.{decimals}f}" if decimals else str(int(rounded))
            matches = rounded == float(pub)
        rows.append({"label": item["label"], "published": str(pub), "reproduced": shown,
                     "matches": matches})
    return rows


def _read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _read_yaml(path: str | Path) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML: {exc}") from None


def build_context(templates: str, estimates: str, table1_html: str, figures_dir: str,
                  provenance: str, published: str, replication: bool, line_numbers: bool,
                  out_dir: str | Path, figure_ext: str) -> dict[str, Any]:
    """Everything the templates may use (documented in templates/README.md)."""
    est = _read_json(estimates)
    figures = Path(figures_dir)
    rel = Path(os.path.relpath(figures, Path(out_dir)))
    rows = replication_rows(est, _read_yaml(published)) if replication else []
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    build_date = (datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%d")
                  if epoch and epoch.isdigit() else None)
    return {
        "est": est,
        "meta": _read_yaml(Path(templates) / "metadata.yaml"),
        "prov": _read_json(provenance),
        "fig1": _read_json(figures / "figure1.json"),
        "fig2": _read_json(figures / "figure2.json"),
        "table1_html": Markup(Path(table1_html).read_text(encoding="utf-8")),
        "figure1_src": (rel / f"figure1.{figure_ext}").as_posix(),
        "figure2_src": (rel / f"figure2.{figure_ext}").as_posix(),
        "replication": replication,
        "replication_rows": rows,
        "replication_matches": sum(r["matches"] for r in rows),
        "published_source": _read_yaml(published).get("source", "") if replication else "",
        "line_numbers": line_numbers,
        "build_date": build_date,
        "stylesheet": Markup((Path(templates) / "style.css").read_text(encoding="utf-8")),
    }


class ProjectOnlyFetcher:
    """WeasyPrint URL fetcher that serves files inside ``root`` and refuses everything else."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.refused: list[str] = []

    def __call__(self, url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from weasyprint.urls import default_url_fetcher

        if url.startswith("data:"):
            return default_url_fetcher(url)
        if url.startswith("file://"):
            from urllib.parse import unquote, urlparse

            path = Path(unquote(urlparse(url).path)).resolve()
            if path == self.root or self.root in path.parents:
                return default_url_fetcher(url)
            reason = "outside the project"
        else:
            reason = "no network access"
        self.refused.append(f"refused to fetch {url}: {reason}")
        raise ValueError(f"refused to fetch {url}: {reason}")


def html_to_pdf(html: str, base_dir: str | Path, root: str | Path) -> tuple[bytes, list[str]]:
    """PDF bytes of ``html`` (relative URLs resolved from ``base_dir``) and fetcher notes."""
    import logging

    from weasyprint import HTML

    fetcher = ProjectOnlyFetcher(root)
    # WeasyPrint logs each refused resource as an error; the notes already say it once.
    logging.getLogger("weasyprint").setLevel(logging.CRITICAL)
    document = HTML(string=html, base_url=Path(base_dir).resolve().as_uri() + "/",
                    url_fetcher=fetcher).render()
    identifier = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode()
    with fixed_source_date():  # fontTools stamps subset fonts with the current time
        pdf = document.write_pdf(pdf_identifier=identifier)
    return pdf, sorted(set(fetcher.refused))


def run_render(templates: str, estimates: str, table1_html: str, figures_dir: str,
               provenance: str, published: str, replication: bool, line_numbers: bool,
               html_out: str, pdf_out: str | None = None) -> list[str]:
    """CLI entry: report/manuscript.html and report/manuscript.pdf."""
    out_dir = Path(html_out).parent
    context = build_context(templates, estimates, table1_html, figures_dir, provenance,
                            published, replication, line_numbers, out_dir, "svg")
    html = render_template(make_environment(templates), HTML_TEMPLATE, context)
    notes: list[str] = []
    pdf = None
    if pdf_out:
        pdf, notes = html_to_pdf(html, out_dir, Path(templates).resolve().parent)
    atomic_write_text(html_out, html)
    if pdf is not None:
        atomic_write_bytes(pdf_out, pdf)
    return notes


def table1_markdown_rows(table1_csv: str | Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Column headers and rows of Table 1 for a Markdown pipe table."""
    import csv

    with open(table1_csv, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    groups = ["overall", "recurrent", "refractory"]
    head, body = rows[0], rows[1:]
    columns = [f"{g.capitalize()} (n = {head[g]})" for g in groups]
    out = []
    for r in body:
        if r["level"] == "median (range)":
            label = f"{r['variable']}, median (range)"
        else:
            label = f"{r['variable']}: {r['level']}, n (%)"
        out.append({"label": label.replace("|", "/"), "values": [r[g] for g in groups]})
    return columns, out


def run_qmd(templates: str, estimates: str, table1_html: str, figures_dir: str,
            provenance: str, published: str, replication: bool, line_numbers: bool,
            qmd_out: str, table1_csv: str) -> list[str]:
    """CLI entry: report/manuscript.qmd, the same manuscript as Quarto source."""
    context = build_context(templates, estimates, table1_html, figures_dir, provenance,
                            published, replication, line_numbers, Path(qmd_out).parent, "png")
    context["table1_columns"], context["table1_rows"] = table1_markdown_rows(table1_csv)
    qmd = render_template(make_environment(templates, html=False), QMD_TEMPLATE, context)
    atomic_write_text(qmd_out, qmd)
    return []
