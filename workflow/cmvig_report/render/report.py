"""Stage 4: fill the templates with the results: HTML and PDF (WeasyPrint) and Quarto source.

Every value the templates see is *tracked* (:mod:`.register`): the number filters print it in a
``data-source`` span in the HTML and the register of printed numbers (``numbers.csv``) is read
back from the rendered page. The manuscript is written to ``results/unchecked/`` first: the
``publish`` step scans it for anything identifying (:mod:`.publish`) before it reaches
``report/``.

This module imports only jinja2, yaml and (when a PDF is written) weasyprint, so that a template
edit re-renders quickly: no pandas, no matplotlib.

Template context (documented for template authors in templates/README.md):
``est`` estimates.json, ``meta`` the study's metadata (templates/metadata.yaml, or
templates/replication/metadata.yaml for the replication), ``prov`` provenance.json,
``figures`` (name -> ``{src, facts}``: the image to show and its caption facts), ``refs``
reference id -> number, ``table1`` (results/table1.csv as groups and rows, see
:func:`table1_rows`), ``replication`` (config ``study: replication``),
``replication_rows`` ({label, published, reproduced, matches}), ``replication_matches``,
``published_source``, ``changes`` (the previous data freeze, or None), ``inputs`` (role ->
sha256 and bytes, no paths), ``settings`` (the config as printed, paths left out),
``line_numbers``, ``number_appendix``, ``numbers`` (the register, for that appendix),
``build_date``, ``stylesheet``, ``output`` ("html" or "qmd").
"""

from __future__ import annotations

import base64
import csv
import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from markupsafe import Markup

from ..core.config_check import citation_style
from ..core.formatting import round_half_up
from ..core.io import (
    atomic_write_bytes,
    atomic_write_text,
    read_json,
    read_rows,
    read_text,
    read_yaml,
    rows_csv_bytes,
)
from ..data import freeze
from ..errors import PipelineError
from ..journals import checklist
from ..journals.editorial import check_figure_order, check_title_numbers
from ..journals.journal import (
    abstract_form,
    limit_notes,
    load_profile,
    running_title_notes,
    word_limits,
)
from ..journals.metadata import (
    check_placeholders,
    printed_placeholders,
    validate_metadata,
    write_placeholders,
)
from ..paths import HTML_TEMPLATE, MAIN_TEXT_TABLES, QMD_FIGURES, QMD_TEMPLATE
from ..privacy.disclosure import small_mark
from ..release.provenance import shareable_settings
from ..stats import claims
from .quarto import run_docx
from .references import Citations, citations, close_up
from .register import Register, template_names, typed_numbers
from .register_html import NUMBERS_COLUMNS, numbers_table
from .render_settings import RenderSettings
from .templating import make_environment, render_template
from .tracked import track

CHANGES_SUMMARY = "changes_summary.json"  # how the templates' sources name it
STYLESHEET = "style.css"
CHECKLIST_ITEMS = "checklist.yaml"
CHECKLIST_TEMPLATE = "checklist.html.j2"


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
    A study period (``{first, last}``) is compared as ``YYYY-MM/YYYY-MM``.
    """
    rows = []
    for i, item in enumerate(published.get("values") or []):
        missing = [k for k in ("label", "key", "published") if k not in item]
        if missing:
            raise PipelineError(f"published values, entry {i + 1}: missing {', '.join(missing)}")
        value = _dig(estimates, item["key"])
        text = str(item["published"])
        decimals = len(text.split(".")[1]) if "." in text else 0
        if isinstance(value, dict) and {"first", "last"} <= set(value):
            shown = f"{value['first']}/{value['last']}"
            matches = shown == text
        elif value is None or isinstance(value, (dict, list, str, bool)):
            shown, matches = "not estimable", False
        else:
            rounded = round_half_up(value * item.get("scale", 1), decimals)
            shown = f"{rounded:.{decimals}f}" if decimals else str(int(rounded))
            pub = float(item["published"])
            matches = shown == (f"{pub:.{decimals}f}" if decimals else str(int(pub)))
        rows.append({"label": item["label"], "published": text, "reproduced": shown,
                     "matches": matches, "key": item["key"], "index": i})
    return rows


def table1_rows(path: str | Path) -> dict[str, Any]:
    """``results/table1.csv`` as the templates print it, in HTML and in the Quarto source.

    Returns ``{"groups": [{"key", "label", "n"}], "rows": [{"kind", "label", "cells"}]}``
    where ``kind`` is ``continuous`` (a median row, ``summary`` saying ``median (range)`` or
    ``median (IQR)``), ``variable`` (the heading of a
    categorical variable, no cells) or ``level`` (one level of it). Cells are tracked as
    ``table1.csv#<variable>: <level>/<column>``.
    """
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        table = list(reader)
    if not header or header[:2] != ["variable", "level"] or not table:
        raise PipelineError(f"{path}: not a Table 1 file (columns variable, level, groups...)")
    keys = header[2:]
    first, *body = table

    def cells(variable: str, level: str, values: list[str]) -> list[Any]:
        row = f"{variable}: {level}" if level else variable
        return [track(v, f"table1.csv#{row}/{k}") for k, v in zip(keys, values, strict=True)]

    def label(text: str, row: str) -> Any:
        return track(text, f"table1.csv#{row}")

    sizes = cells(first[0], first[1], first[2:])
    groups = [{"key": k, "label": k.capitalize(), "n": n}
              for k, n in zip(keys, sizes, strict=True)]
    rows: list[dict[str, Any]] = []
    previous = None
    for variable, level, *values in body:
        if level.startswith("median ("):  # median (range), or (IQR) for viral loads
            rows.append({"kind": "continuous", "label": label(variable, variable),
                         "summary": level, "cells": cells(variable, level, values)})
            previous = None
            continue
        if variable != previous:
            rows.append({"kind": "variable", "label": label(variable, variable), "cells": []})
            previous = variable
        rows.append({"kind": "level", "label": label(level, f"{variable}: {level}"),
                     "cells": cells(variable, level, values)})
    return {"groups": groups, "rows": rows}


def _figures(figures: list[str], figure_facts: list[str], output: str
             ) -> dict[str, dict[str, Any]]:
    # A figure is known by its file name (results/figures/<name>.svg): the templates show
    # `figures.<name>.src` and read the caption facts from `figures.<name>.facts`. The HTML
    # carries its figures inside (one file to send); the Quarto source links them relative to
    # where it is published (report/).
    facts = {Path(p).stem: p for p in figure_facts}
    out: dict[str, dict[str, Any]] = {}
    for path in figures:
        name = Path(path).stem
        if name not in facts:
            raise PipelineError(f"{path}: no caption facts ({name}.json) among the inputs")
        if output == "html":
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            src = f"data:image/svg+xml;base64,{data}"
        else:
            src = f"{QMD_FIGURES}/{Path(path).name}"
        out[name] = {"src": src, "facts": track(read_json(facts[name], f"{name} caption facts"),
                                                f"{name}.json")}
    return out


def build_context(*, template_dir: str | Path, est: dict[str, Any], table1: str,
                  figures: list[str], figure_facts: list[str], provenance: str, metadata: str,
                  published: str, settings: RenderSettings, output: str,
                  journal: str, bibliography: str = "",
                  changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the templates may use (listed in this module's docstring). ``metadata`` is
    the study's metadata file; ``published`` is read only for the replication. ``journal``
    is the journal profile; ``settings.citation_style`` (a CSL style name or file) overrides
    its style; ``bibliography`` overrides the file the metadata names.
    ``settings.review_copy``: the copy for the journal's reviewers (line numbers and spacing of
    the profile, figures left out when the journal wants them as separate files)."""
    tdir = Path(template_dir)
    review_copy = settings.review_copy
    # The replication table prints the published counts beside ours: under small-cell control
    # it would give every hidden count back, so it is left out.
    replication = settings.replication and not small_cells(est)
    meta = read_yaml(metadata, "manuscript metadata")
    validate_metadata(meta, str(metadata))
    pub = read_yaml(published, "published values") if replication else {}
    rows = replication_rows(est, pub) if replication else []
    for row in rows:  # printed from both files: tracked to each
        where = f"published.yaml#values[{row['index']}]"
        row["label"] = track(row["label"], f"{where}.label")
        row["published"] = track(row["published"], f"{where}.published")
        row["reproduced"] = track(row["reproduced"], f"estimates.json#{row['key']}")
    prov = read_json(provenance, "provenance record")
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    build_date = (datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%d")
                  if epoch.isdigit() else None)
    profile = load_profile(journal)
    style = citation_style(settings.citation_style, profile, journal, tdir.parent)
    refs = (Citations(bibliography, style, output)
            if bibliography else citations(metadata, meta, style, output))
    review = profile["review_copy"] if review_copy else {}
    embed = not review_copy or bool(profile["figures"].get("embedded_in_manuscript", True))
    return {
        "est": track(est, "estimates.json"),
        "meta": track(meta, "metadata.yaml"),
        "prov": track(prov, "provenance.json"),
        "inputs": track(prov.get("inputs", {}), "provenance.json#inputs"),
        "settings": track(shareable_settings(prov.get("config", {})),
                          "provenance.json#config"),
        "figures": _figures(figures, figure_facts, output),
        "embed_figures": embed,
        "refs": refs,
        "journal": track(profile, "journal.yaml"),
        "line_spacing": float(review.get("line_spacing", 1) or 1),
        "table1": table1_rows(table1),
        "replication": bool(replication),
        "replication_rows": rows,
        "replication_matches": track(sum(r["matches"] for r in rows),
                                     "published.yaml#values (matching)"),
        "replication_count": track(len(rows), "published.yaml#values"),
        "published_source": track(pub.get("source", ""), "published.yaml#source"),
        "changes": changes,
        # the review copy numbers its lines after layout (pdf_lines), not its paragraphs
        "line_numbers": bool(settings.line_numbers) and not review_copy,
        "number_appendix": bool(settings.number_appendix),
        "numbers": [],
        "build_date": build_date,
        "stylesheet": Markup(read_text(tdir / STYLESHEET, "stylesheet")) if output == "html"
        else "",
        "output": output,
    }


def template_dir(template_files: list[str], main: str) -> Path:
    """The templates folder: where the main template (``main``) of this format lies."""
    for path in template_files:
        if Path(path).name == main:
            return Path(path).parent
    raise PipelineError(f"{main} is not among the templates ({', '.join(template_files)})")


def _register(est: dict[str, Any], html: bool) -> Register:
    disclosure = est.get("disclosure") or {}
    return Register(html=html, hidden=disclosure.get("hidden") or {},
                    cohort_n=est.get("n_patients"),
                    min_cell=int(disclosure.get("min_cell_count") or 0))


def small_cells(est: dict[str, Any]) -> bool:
    """Whether small-cell control is on (``min_cell_count`` > 1) for these estimates."""
    return _register(est, html=False).min_cell > 1


@dataclass
class Session:
    """What the live preview keeps warm between renders: the Jinja environment (templates are
    recompiled only when their file changed) and WeasyPrint's fonts and decoded figures."""

    env: Any = None
    register: Register | None = None
    template_dir: Path | None = None
    pdf: Any = None


def _environment(tdir: Path, est: dict[str, Any], session: Session | None
                 ) -> tuple[Any, Register]:
    fresh = _register(est, html=True)
    if session is None:
        return make_environment(tdir, register=fresh), fresh
    if session.env is None or session.template_dir != tdir or session.register is None:
        session.register = fresh
        session.env = make_environment(tdir, register=fresh)
        session.template_dir = tdir
    else:  # the filters are bound to this register: give it the new results
        session.register.hidden, session.register.cohort_n = fresh.hidden, fresh.cohort_n
        session.register.min_cell = fresh.min_cell
        session.register.entries.clear()
    return session.env, session.register


def check_typed_numbers(env: Any, names: list[str], strict: bool) -> list[str]:
    """Numbers typed into templates: notes (a warning each), or an error with ``strict``."""
    found = typed_numbers(env, names)
    if found and strict:
        raise PipelineError(f"{len(found)} number(s) typed into the templates "
                            "(strict_numbers: true):\n  " + "\n  ".join(map(str, found)))
    return [f"warning: {f}" for f in found]


# --------------------------------------------------------------------------------------------
# Stages


def _changes(rows: list[dict[str, str]], changes_summary: str | None,
             register: Register) -> dict[str, Any]:
    """The context of the changes appendix: the printed numbers that moved (``rows``, from
    :mod:`.freeze`) and how many patients were added, removed or changed, each count passed
    through small-cell control (a count of 1..N-1 patients prints as "<N")."""
    patients = read_json(changes_summary, "changes summary") if changes_summary else {}
    if register.min_cell > 1:
        register.hidden = {**register.hidden, **{
            f"{CHANGES_SUMMARY}#{k}": small_mark(register.min_cell) for k, v in patients.items()
            if isinstance(v, int) and 0 < v < register.min_cell}}
    return {"rows": track(rows, "changes.csv"), "patients": track(patients, CHANGES_SUMMARY)}


def run_render(*, settings: RenderSettings, template_files: list[str], estimates: str,
               table1: str, figures: list[str], figure_facts: list[str], provenance: str,
               metadata: str, published: str = "", changes_summary: str | None = None,
               html: str, pdf: str | None = None, numbers: str | None = None,
               claims_csv: str | None = None, checklist_csv: str | None = None,
               checklist_pdf: str | None = None, changes_csv: str | None = None,
               placeholders: str | None = None, journal: str = "", bibliography: str = "",
               style_file: str = "", session: Session | None = None) -> list[str]:
    """Step ``manuscript``: the HTML and (unless ``pdf`` is None) the PDF, with the register of
    printed numbers, the claims register (``claims_csv``: the words about the data and the
    values each rule read, :mod:`.claims`), the reporting checklist and, with
    ``settings.compare_with``, the changes since the previous data freeze. ``settings``: the
    config's render settings (:class:`.render_settings.RenderSettings`; the rule's flat params
    become one with :func:`.render_settings.from_params`). ``session`` keeps the environment
    and fonts warm (live preview).

    The metadata placeholders printed are noted (and written to ``placeholders``, for the end
    of the build); with ``strict_metadata`` they are an error and nothing is written. The
    journal profile's limits (words, displays) warn, or stop it under ``strict_metadata``.
    ``journal``, ``bibliography``: see :func:`build_context`; ``style_file`` is the style when
    it is a file (an input, so an edit re-renders)."""
    del style_file
    strict_metadata, compare_with = settings.strict_metadata, settings.compare_with
    out_dir = Path(html).parent
    tdir = template_dir(template_files, HTML_TEMPLATE)
    est = read_json(estimates, "estimates")
    env, register = _environment(tdir, est, session)
    notes = check_typed_numbers(env, [n for n in template_names(tdir)
                                      if n != QMD_TEMPLATE and n != CHECKLIST_TEMPLATE],
                                settings.strict_numbers)
    context = build_context(template_dir=tdir, est=est, table1=table1,
                            figures=figures, figure_facts=figure_facts, provenance=provenance,
                            metadata=metadata, published=published, settings=settings,
                            output="html", journal=journal, bibliography=bibliography)
    text = close_up(render_template(env, HTML_TEMPLATE, context), context["refs"], "html")
    rows = numbers_table(text, register)
    changed: list[dict[str, str]] = []
    if compare_with:  # what moved since the previous freeze, register against register
        before, hide, freeze_notes = freeze.previous_register(compare_with, register.min_cell)
        notes += freeze_notes
        changed = freeze.compare_registers(before, rows, hide)
        context["changes"] = _changes(changed, changes_summary, register)
    if settings.number_appendix:  # prints the register of the first pass
        context["numbers"] = track([dict(r) for r in rows], "numbers.csv")
    if compare_with or settings.number_appendix:
        text = close_up(render_template(env, HTML_TEMPLATE, context), context["refs"], "html")
        rows = numbers_table(text, register)
    shown = [Path(html).name] + ([Path(pdf).name] if pdf else [])
    found = printed_placeholders(context["meta"], metadata, [(shown, text)])
    # Placeholders first: the words a filled-in field brings change the counts checked next.
    check_placeholders(found, strict_metadata)  # before the PDF: nothing written
    notes += limit_notes(checklist.word_counts(text),
                         word_limits(context["journal"], context["meta"]),
                         len(context["figures"]) + MAIN_TEXT_TABLES, context["journal"],
                         strict_metadata)
    # the editorial office's checks: figures cited in order (always, for the journal's
    # copy), the running title's length, numbers in the title against the data
    notes += check_figure_order(text, strict_metadata or settings.review_copy)
    notes += running_title_notes(context["meta"].get("short_title", ""), context["journal"],
                                 strict_metadata)
    notes += check_title_numbers(context["meta"], metadata, est.get("n_patients"),
                                 strict_metadata)
    pdf_bytes, anchors = None, {}
    if pdf:
        from .pdf import Warm, html_to_pdf

        if session is not None and session.pdf is None:
            session.pdf = Warm()
        pdf_bytes, pdf_notes, anchors = html_to_pdf(text, out_dir, tdir.resolve().parent,
                                                    session.pdf if session else None)
        notes += pdf_notes
    atomic_write_text(html, text)
    if pdf_bytes is not None:
        atomic_write_bytes(pdf, pdf_bytes)  # type: ignore[arg-type]
    if numbers:
        atomic_write_bytes(numbers, rows_csv_bytes(rows, NUMBERS_COLUMNS))
    if claims_csv:
        atomic_write_bytes(claims_csv, rows_csv_bytes(
            claims.register_rows(est["claims"], register.hidden), claims.COLUMNS))
    if checklist_csv:
        items = checklist.build(read_yaml(tdir / CHECKLIST_ITEMS, "reporting checklist"),
                                anchors, text,
                                checklist.abstract_terms(abstract_form(context["journal"])))
        atomic_write_bytes(checklist_csv, rows_csv_bytes(items, checklist.COLUMNS))
        if checklist_pdf:
            checklist_text = checklist.write_pdf(env, items, context, checklist_pdf, out_dir,
                                                 tdir)
            found += printed_placeholders(context["meta"], metadata,
                                          [([Path(checklist_pdf).name], checklist_text)])
    if changes_csv:
        atomic_write_bytes(changes_csv, rows_csv_bytes(changed, freeze.COLUMNS))
    return notes + _placeholder_notes(found, strict_metadata, placeholders)


def _placeholder_notes(found: list[dict[str, str]], strict: bool, path: str | None
                       ) -> list[str]:
    """Each placeholder printed as a note (the live preview), or, in the build, written to
    ``path`` and summed up in one note: the build lists them at its end."""
    notes = check_placeholders(found, strict)
    if path is None:
        return notes
    write_placeholders(found, path)
    return [f"{len(notes)} metadata placeholder(s) printed (listed at the end of the build)"
            ] if notes else []


def run_qmd(*, settings: RenderSettings, template_files: list[str], estimates: str,
            table1: str, figures: list[str], figure_facts: list[str], provenance: str,
            metadata: str, published: str = "", changes_summary: str | None = None,
            changes_csv: str | None = None, qmd: str, figure_copies: list[str],
            placeholders: str | None = None, docx: str | None = None,
            reference_doc: list[str] | None = None, journal: str = "",
            bibliography: str = "", style_file: str = "") -> list[str]:
    """Step ``quarto_source``: the same manuscript as Quarto source, with its PNG figures
    copied beside it (``figures/``), so that it can be sent and rendered on its own; then,
    given ``docx``, the DOCX made from this source (:func:`.quarto.run_docx`, with the Word
    styles of ``reference_doc``), in the same step: a step of its own cost an interpreter's
    start for a pandoc call. Placeholders as in :func:`run_render`. ``settings``, ``journal``
    and the bibliography as in :func:`run_render` (the register appendix is the HTML/PDF's
    only)."""
    del style_file
    strict_metadata, compare_with = settings.strict_metadata, settings.compare_with
    tdir = template_dir(template_files, QMD_TEMPLATE)
    est = read_json(estimates, "estimates")
    register = _register(est, html=False)
    env = make_environment(tdir, html=False, register=register)
    notes = check_typed_numbers(env, [QMD_TEMPLATE], settings.strict_numbers)
    context = build_context(template_dir=tdir, est=est, table1=table1,
                            figures=figures, figure_facts=figure_facts, provenance=provenance,
                            metadata=metadata, published=published,
                            settings=replace(settings, number_appendix=False), output="qmd",
                            journal=journal, bibliography=bibliography,
                            changes=_changes(read_rows(changes_csv), changes_summary, register)
                            if compare_with and changes_csv else None)
    text = close_up(render_template(env, QMD_TEMPLATE, context), context["refs"], "qmd")
    shown = [Path(qmd).name] + ([Path(docx).name] if docx else [])
    found = printed_placeholders(context["meta"], metadata, [(shown, text)])
    check_placeholders(found, strict_metadata)  # before anything is written
    for src, dest in zip(figures, figure_copies, strict=True):
        atomic_write_bytes(dest, Path(src).read_bytes())
    atomic_write_text(qmd, text)
    if docx:
        notes += run_docx(qmd=qmd, docx=docx, reference_doc=reference_doc)
    return notes + _placeholder_notes(found, strict_metadata, placeholders)

