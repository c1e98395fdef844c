"""The pooled manuscript of a multi-centre study, from ``results/pooled/estimates.json`` only
(docs/centres.md); and its leak check against every centre's patients when this build has them.

Centres are printed as numbers (alphabetical order of their names): a centre's name is often
the name of the folder its export sits in, which the leak check refuses in a shareable file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .disclosure import PATIENTS, cell_name, cell_parts, group_size_name
from .federated import centre_numbers
from .io import atomic_write_bytes, atomic_write_text
from .leak_terms import Sensitive, manuscript_words, merge_sensitive, own_text
from .paths import POOLED_TEMPLATE
from .printed_counts import COLUMNS
from .publish import check_and_publish, input_path_terms, sensitive_terms
from .quarto import html_to_docx
from .templating import make_environment, read_json, read_text, render_template


def centre_rows(est: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per centre, numbered from 1 in alphabetical order of name;
    ``left_out_of_heterogeneity`` is why the heterogeneity test could not use the centre."""
    withheld = est["centres"]["suppressed_groups"]
    numbers = centre_numbers(est["centres"]["response_by_centre"])
    left_out = est["centres"]["heterogeneity"].get("left_out", {})
    return [{"number": numbers[name], "response": block, "withheld": withheld.get(name, []),
             "min_cell_count": est["centres"]["min_cell_count"][name],
             "left_out_of_heterogeneity": left_out.get(name)}
            for name, block in sorted(est["centres"]["response_by_centre"].items())]


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
    n = {g: counts.get(group_size_name(g), {}).get("count") for g in groups}
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
        hidden_in = sorted({numbers[name] for cell in cells.values()
                            for name in cell["hidden_in"]})
        small = any(cell["count"] is not None and 0 < cell["count"] < limit
                    for cell in cells.values())
        withheld = bool(hidden_in) or small or None in n.values()
        rows.append({"variable": variable, "withheld": withheld, "hidden_in": hidden_in,
                     "categories": [] if withheld else [
                         {"category": c, "cells": [
                             {"n": cells[c, g]["count"],
                              "fraction": (cells[c, g]["count"] / n[g]
                                           if n[g] and cells[c, g]["count"] is not None
                                           else None)}
                             for g in groups]} for c in categories]})
    return {"n": [n[g] for g in groups], "rows": rows, "min_cell_count": limit}


def run_pooled_manuscript(*, estimates: str, forest: str, forest_png: str,
                          template_files: list[str], html: str, pdf: str, docx: str,
                          reference_doc: list[str] | None = None) -> list[str]:
    """Step ``pooled_manuscript``: the pooled manuscript as HTML and PDF (WeasyPrint, as the
    single-centre manuscript) and DOCX (pandoc, from the same template with the forest plot
    as a PNG), before its leak check."""
    from .pdf import html_to_pdf

    est = read_json(estimates, "pooled estimates")
    # the loader's root is templates/, of which the template is a file two levels down
    templates = Path(template_files[0]).parents[1]
    env = make_environment(templates)
    context = {"est": est, "centres": centre_rows(est), "table2": characteristics(est),
               "forest_svg": read_text(forest, "forest plot").split("?>", 1)[-1],
               "forest_png": ""}
    text = render_template(env, POOLED_TEMPLATE, context)
    # the forest plot is inline: the PDF fetches nothing
    pdf_bytes, notes, _ = html_to_pdf(text, Path(html).parent, templates.resolve().parent)
    for_docx = render_template(env, POOLED_TEMPLATE,
                               {**context, "forest_png": Path(forest_png).name})
    html_to_docx(for_docx, docx, Path(forest_png).parent,
                 reference_doc[0] if reference_doc else None)
    atomic_write_text(html, text)
    atomic_write_bytes(pdf, pdf_bytes)
    return [f"pooled manuscript of {len(est['centres']['names'])} centres", *notes]


def run_publish_pooled(*, staged: list[str], cohorts: list[str], clean_viral_loads: list[str],
                       template_files: list[str], input_paths: list[str],
                       cause_categories: dict[str, list[str]], published: list[str]
                       ) -> list[str]:
    """Step ``pooled``: the leak check of the pooled manuscript against each centre's
    IDs, dates and free text (when this build has the centres' data) and the input paths."""
    checks = [sensitive_terms(c, v, input_paths, cause_categories, template_files)
              for c, v in zip(cohorts, clean_viral_loads, strict=True)]
    if not checks:  # the coordinating centre: bundles only, nothing patient-level to search
        checks = [Sensitive(paths=input_path_terms(input_paths),
                            vocabulary=frozenset(cause_categories),
                            words=manuscript_words(own_text(template_files)))]
    notes = check_and_publish(staged, published, [], merge_sensitive(checks))
    return [*notes, *(f"{target}: checked against {len(cohorts)} centres' patients and published"
                      for target in published)]
