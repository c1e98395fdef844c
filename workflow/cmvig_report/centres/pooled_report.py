"""The pooled manuscript of a multi-centre study, from ``results/pooled/estimates.json`` only
(docs/centres.md); and its leak check against every centre's patients when this build has them.

It is a variant of the single manuscript (:mod:`.report`), made by the same parts: the Jinja
environment and number filters (:mod:`.templating`, :mod:`.formatting`), the register of
printed numbers (:mod:`.register`, ``report/pooled/numbers.csv``), CSL citations from the
study's bibliography (:mod:`.references`), ``templates/style.css``, WeasyPrint (:mod:`.pdf`)
and pandoc (:func:`.quarto.html_to_docx`). What is its own: the template (aggregate data
have no patient-level Table 1, figures or metadata) and the centres' numbering.

Centres are printed as numbers (alphabetical order of their names): a centre's name is often
the name of the folder its export sits in, which the leak check refuses in a shareable file.
In the register a centre's results are keyed by its number in place of its name
(``estimates.json#centres.response_by_centre.2``; :func:`shared_view`), and a printed centre
number by its name's position (``estimates.json#centres.names[1]``, :func:`value_of` reads
both back).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from markupsafe import Markup

from ..core.config_check import citation_style as resolve_style
from ..core.io import atomic_write_bytes, atomic_write_text, read_json, read_text, rows_csv_bytes
from ..errors import PipelineError
from ..journals.journal import load_profile
from ..paths import POOLED_TEMPLATE
from ..privacy.disclosure import PATIENTS, cell_name, cell_parts, group_size_name
from ..privacy.leak_terms import Sensitive, manuscript_words, merge_sensitive, own_text
from ..privacy.printed_counts import COLUMNS, Plan, landmark_plan
from ..privacy.printed_estimates import estimate_marks
from ..release.publish import check_and_publish, input_path_terms, sensitive_terms
from ..render.quarto import html_to_docx
from ..render.references import Citations, close_up
from ..render.register import Register
from ..render.register_html import NUMBERS_COLUMNS, numbers_table
from ..render.report import STYLESHEET
from ..render.templating import make_environment, render_template
from ..render.tracked import TrackedFloat, TrackedInt, TrackedStr, track
from .federated import centre_numbers

ESTIMATES = "estimates.json"  # how the register names results/pooled/estimates.json
# A Table 2 share's source: its count's key, this, and the key of the column's n.
SHARE_OF = " / "
LABEL_OF = "*"  # a Table 2 label's source: the cells whose names start with it
CENTRE_NUMBER = ("centre number: the position of the centre's name in alphabetical order "
                 "(names are not printed)")
HETEROGENEITY = ("Cochran's Q and I² between the centres' response estimates, inverse-variance "
                 "weighted on the log(-log) scale")
SHARE = "share of the column's children (count / column n), summed over centres"


def shared_view(est: dict[str, Any]) -> dict[str, Any]:
    """``est`` as the manuscript may print it: every per-centre mapping keyed by the centre's
    number ("1", "2", ...) instead of its name, and the names left out (see the module's
    docstring)."""
    numbers = centre_numbers(est["centres"]["names"])

    def by_number(mapping: dict[str, Any]) -> dict[str, Any]:
        return {str(numbers[name]): value
                for name, value in sorted(mapping.items(), key=lambda kv: numbers[kv[0]])}

    c = est["centres"]
    centres = {**{k: v for k, v in c.items() if k != "names"},
               **{k: by_number(c[k]) for k in ("suppressed_groups", "min_cell_count",
                                                "response_by_centre")},
               # the method the register prints beside Q, its p and I²
               "heterogeneity": {**c["heterogeneity"], "method": HETEROGENEITY,
                                 "left_out": by_number(c["heterogeneity"].get("left_out")
                                                       or {})}}
    counts = {cell: {**v, "hidden_in": sorted(numbers[n] for n in v["hidden_in"])}
              for cell, v in est["table1_counts"].items()}
    return {**est, "centres": centres, "table1_counts": counts}


def centre_number(number: int) -> TrackedInt:
    """A centre's printed number, tracked to the position of its name in
    ``estimates.json#centres.names`` (alphabetical)."""
    return TrackedInt(number, f"{ESTIMATES}#centres.names[{number - 1}]",
                      {"method": CENTRE_NUMBER, "n": ""})


def centre_rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per centre of the tracked :func:`shared_view`, numbered from 1 in alphabetical
    order of name; ``left_out_of_heterogeneity`` is why the heterogeneity test could not use
    the centre."""
    c = view["centres"]
    return [{"number": centre_number(int(k)), "response": block,
             "withheld": c["suppressed_groups"].get(k, []),
             "min_cell_count": c["min_cell_count"][k],
             "left_out_of_heterogeneity": c["heterogeneity"]["left_out"].get(k)}
            for k, block in c["response_by_centre"].items()]


def characteristics(est: dict[str, Any]) -> dict[str, Any]:
    """The pooled Table 2: for each variable of the counts the centres print, each category's
    count and share of its column's children, summed over centres. A variable is printed whole
    or withheld whole: withheld when a centre hid one of its cells, or when a pooled count is
    below the largest minimum cell count of the centres, since one hidden cell of a variable
    printed with the others (and the column's n) could be read back by subtraction."""
    counts = est["table1_counts"]
    groups = COLUMNS
    limit = max(est["centres"]["min_cell_count"].values(), default=0)
    numbers = centre_numbers(est["centres"]["names"])
    n = {g: _count(counts, group_size_name(g), "children in the column, summed over centres",
                   "") for g in groups}
    variables: dict[str, list[str]] = {}
    for cell in counts:
        variable, category, _ = cell_parts(cell)
        if variable != PATIENTS:
            variables.setdefault(variable, [])
            if category not in variables[variable]:
                variables[variable].append(category)
    rows = []
    for variable, categories in variables.items():
        # a cell no centre counted (e.g. a row Table 1 gives for all children only) is absent
        cells = {(c, g): counts.get(cell_name(variable, c, g), {"count": None, "hidden_in": [],
                                                              "absent": True})
                 for c in categories for g in groups}
        hidden_in = [centre_number(k) for k in sorted({numbers[name] for cell in cells.values()
                                                       for name in cell["hidden_in"]})]
        small = any(cell["count"] is not None and 0 < cell["count"] < limit
                    for cell in cells.values())
        withheld = bool(hidden_in) or small or None in n.values()
        rows.append({"variable": _label(variable), "withheld": withheld,
                     "hidden_in": hidden_in, "categories": [] if withheld else [
                         {"category": _label(variable, c), "cells": [
                             {"n": _count(counts, cell_name(variable, c, g),
                                          "count summed over centres", n[g]),
                              "fraction": _share(counts, cell_name(variable, c, g),
                                                 group_size_name(g))}
                             for g in groups]} for c in categories]})
    return {"n": [n[g] for g in groups], "rows": rows,
            "min_cell_count": _limit(est["centres"]["min_cell_count"])}


def _limit(min_cell_counts: dict[str, Any]) -> Any:
    # the largest minimum cell count of the centres, tracked to the centre that set it
    if not min_cell_counts:
        return 0
    name = max(sorted(min_cell_counts), key=lambda k: min_cell_counts[k])
    number = centre_numbers(min_cell_counts)[name]
    return TrackedInt(min_cell_counts[name], f"{ESTIMATES}#centres.min_cell_count.{number}",
                      {"method": "the largest minimum cell count of the centres", "n": ""})


def _label(variable: str, category: str | None = None) -> TrackedStr:
    # a label of Table 2, from the names of the cells it heads (some hold a number: "Response
    # by day 50"): tracked to them, ``table1_counts.<variable>|*`` or ``<variable>|<category>|*``
    parts = [variable] if category is None else [variable, category]
    return TrackedStr(parts[-1], f"{ESTIMATES}#table1_counts.{'|'.join(parts)}|{LABEL_OF}",
                      {"method": "label of the centres' Table 1 counts", "n": ""})


def _count(counts: dict[str, Any], cell: str, method: str, n: Any) -> TrackedInt | None:
    # a pooled Table 1 count, tracked to its key; None where no centre counted it
    value = counts.get(cell, {}).get("count")
    return None if value is None else TrackedInt(
        value, f"{ESTIMATES}#table1_counts.{cell}.count", {"method": method, "n": n})


def _share(counts: dict[str, Any], cell: str, size: str) -> TrackedFloat | None:
    value = counts.get(cell, {}).get("count")
    total = counts.get(size, {}).get("count")
    if value is None or not total:
        return None
    return TrackedFloat(value / total, f"{ESTIMATES}#table1_counts.{cell}.count{SHARE_OF}"
                        f"table1_counts.{size}.count", {"method": SHARE, "n": total})


def value_of(est: dict[str, Any], source: str) -> Any:
    """The value in ``est`` (results/pooled/estimates.json) that the register's ``source``
    (``estimates.json#key``, as :func:`shared_view` and :func:`characteristics` name it)
    stands for: a centre number, a Table 2 share or label, or a value of its key."""
    file, _, key = source.partition("#")
    if file != ESTIMATES:
        raise PipelineError(f"{source}: not a key of the pooled estimates")
    if SHARE_OF in key:
        part, whole = (value_of(est, f"{ESTIMATES}#{k}") for k in key.split(SHARE_OF))
        return part / whole
    if key.startswith("centres.names["):
        return int(key[len("centres.names["):-1]) + 1
    if key.startswith("table1_counts.") and key.endswith(f"|{LABEL_OF}"):
        return key[len("table1_counts."):-len(LABEL_OF) - 1].split("|")[-1]
    if key.startswith("table1_counts."):
        cell, _, field = key[len("table1_counts."):].rpartition(".")
        return est["table1_counts"][cell][field]
    node: Any = shared_view(est)
    for part in key.replace("[", ".").replace("]", "").split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _register(est: dict[str, Any], view: dict[str, Any]) -> Register:
    """The register of the pooled manuscript: small-cell control of the counts behind each
    landmark (at risk, events, censored: tooltips and numbers.csv print them) as the single
    manuscript's (:func:`.printed_counts.landmark_plan`), at the largest minimum cell count
    of the centres."""
    limit = int(max(est["centres"]["min_cell_count"].values(), default=0))
    hidden, _ = landmark_plan(view, Plan(min_cell=limit))
    hidden.update(estimate_marks(view, hidden, limit)[0])  # an estimate goes with its counts
    return Register(html=True, hidden=hidden, cohort_n=est["n_patients"], min_cell=limit)


def _citations(templates: Path, bibliography: str, citation_style: str, journal: str
               ) -> Citations:
    # the single manuscript's rule (report.build_context): config citation_style over the
    # journal profile's style, the study's bibliography
    style = resolve_style(citation_style, load_profile(journal), journal, templates.parent)
    return Citations(bibliography, style, "html")


def pooled_template_dir(template_files: list[str]) -> Path:
    """The templates folder (the loader's root): two levels above the pooled template."""
    for path in template_files:
        if Path(path).as_posix().endswith(POOLED_TEMPLATE):
            return Path(path).parents[1]
    raise PipelineError(f"{POOLED_TEMPLATE} is not among the templates "
                        f"({', '.join(template_files)})")


def render_pooled(*, est: dict[str, Any], templates: Path, forest_src: str,
                  bibliography: str, citation_style: str = "", journal: str = "",
                  docx: bool = False) -> tuple[str, list[dict[str, str]]]:
    """The pooled manuscript's HTML (the forest plot shown from ``forest_src``; ``docx``: the
    HTML pandoc makes the DOCX from) and its register of printed numbers (rows of
    :data:`.register.NUMBERS_COLUMNS`)."""
    view = shared_view(est)
    register = _register(est, view)
    env = make_environment(templates, register=register)
    refs = _citations(templates, bibliography, citation_style, journal)
    tracked = track(view, ESTIMATES)
    context = {"est": tracked, "centres": centre_rows(tracked),
               "table2": characteristics(est), "refs": refs, "forest_src": forest_src,
               "docx": docx,
               "stylesheet": Markup(read_text(templates / STYLESHEET, "stylesheet"))}
    text = close_up(render_template(env, POOLED_TEMPLATE, context), refs, "html")
    return text, numbers_table(text, register)


def run_pooled_manuscript(*, estimates: str, forest: str, forest_png: str,
                          template_files: list[str], html: str, pdf: str, docx: str,
                          numbers: str | None = None, bibliography: str,
                          journal: str, citation_style: str = "", style_file: str = "",
                          reference_doc: list[str] | None = None) -> list[str]:
    """Step ``pooled_manuscript``: the pooled manuscript as HTML and PDF (WeasyPrint, as the
    single manuscript) and DOCX (pandoc, from the same template with the forest plot as a
    PNG), and its register of printed numbers (``numbers``), before its leak check.
    ``bibliography``, ``journal``, ``citation_style``: the study's, as for the single
    manuscript (:func:`.report.build_context`); ``style_file`` is the style when it is a file
    (an input, so an edit re-renders)."""
    from ..render.pdf import html_to_pdf

    del style_file
    est = read_json(estimates, "pooled estimates")
    templates = pooled_template_dir(template_files)
    svg = base64.b64encode(Path(forest).read_bytes()).decode("ascii")
    settings = {"est": est, "templates": templates, "bibliography": bibliography,
                "citation_style": citation_style, "journal": journal}
    # the forest plot is inside the HTML: one file to send, and the PDF fetches nothing
    text, rows = render_pooled(forest_src=f"data:image/svg+xml;base64,{svg}", **settings)
    pdf_bytes, notes, _ = html_to_pdf(text, Path(html).parent, templates.resolve().parent)
    for_docx, _ = render_pooled(forest_src=Path(forest_png).name, docx=True, **settings)
    html_to_docx(for_docx, docx, Path(forest_png).parent,
                 reference_doc[0] if reference_doc else None)
    atomic_write_text(html, text)
    atomic_write_bytes(pdf, pdf_bytes)
    if numbers:
        atomic_write_bytes(numbers, rows_csv_bytes(rows, NUMBERS_COLUMNS))
    return [f"pooled manuscript of {len(est['centres']['names'])} centres, "
            f"{len(rows)} printed numbers in its register", *notes]


def pooled_sensitive(cohorts: list[str], clean_viral_loads: list[str],
                     template_files: list[str], input_paths: list[str],
                     cause_categories: dict[str, list[str]]) -> Sensitive:
    """What the pooled manuscript must not print: every centre's patients (IDs, dates, free
    text: :func:`.publish.sensitive_terms`, as for the single manuscript) when this build has
    their data, and the input paths always."""
    checks = [sensitive_terms(c, v, input_paths, cause_categories, template_files)
              for c, v in zip(cohorts, clean_viral_loads, strict=True)]
    if not checks:  # the coordinating centre: bundles only, nothing patient-level to search
        checks = [Sensitive(paths=input_path_terms(input_paths),
                            vocabulary=frozenset(cause_categories),
                            words=manuscript_words(own_text(template_files)))]
    return merge_sensitive(checks)


def run_publish_pooled(*, staged: list[str], cohorts: list[str], clean_viral_loads: list[str],
                       template_files: list[str], input_paths: list[str],
                       cause_categories: dict[str, list[str]], published: list[str],
                       figures: list[str] | str = ()) -> list[str]:
    """Step ``pooled``: the leak check of the pooled manuscript (and ``figures``, its forest
    plot) against each centre's IDs, dates and free text (when this build has the centres'
    data) and the input paths, then the files into ``report/pooled/``: the single manuscript's
    check and publish (:func:`.publish.check_and_publish`)."""
    sensitive = pooled_sensitive(cohorts, clean_viral_loads, template_files, input_paths,
                                 cause_categories)
    figures = [figures] if isinstance(figures, str) else list(figures)
    notes = check_and_publish(staged, published, figures, sensitive)
    return [*notes, *(f"{target}: checked against {len(cohorts)} centres' patients and published"
                      for target in published)]
