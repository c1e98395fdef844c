"""The pooled manuscript of a multi-centre study, from ``results/pooled/estimates.json`` only
(docs/centres.md); and its leak check against every centre's patients when this build has them.

Centres are printed as numbers (alphabetical order of their names): a centre's name is often
the name of the folder its export sits in, which the leak check refuses in a shareable file.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .errors import PipelineError
from .io import atomic_write_bytes, atomic_write_text
from .leaks import Sensitive, manuscript_words, own_text, scan_outputs
from .publish import sensitive_terms
from .templating import make_environment, read_json, read_text, render_template

TEMPLATE = "pooled/manuscript.html.j2"


def centre_rows(est: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per centre, numbered from 1 in alphabetical order of name."""
    withheld = est["centres"]["suppressed_groups"]
    return [{"number": k, "response": block, "withheld": withheld.get(name, []),
             "min_cell_count": est["centres"]["min_cell_count"][name]}
            for k, (name, block) in enumerate(sorted(est["centres"]["response_by_centre"]
                                                     .items()), start=1)]


def run_pooled_manuscript(*, estimates: str, forest: str, template_files: list[str],
                          html: str, pdf: str) -> list[str]:
    """Step ``pooled_manuscript``: the pooled manuscript as HTML and PDF (WeasyPrint, as the
    single-centre manuscript), before its leak check."""
    from .pdf import html_to_pdf

    est = read_json(estimates, "pooled estimates")
    templates = Path(template_files[0]).parents[1]
    text = render_template(make_environment(templates), TEMPLATE, {
        "est": est, "centres": centre_rows(est),
        "forest_svg": read_text(forest, "forest plot").split("?>", 1)[-1]})
    # the forest plot is inline: the PDF fetches nothing
    pdf_bytes, notes, _ = html_to_pdf(text, Path(html).parent, templates.resolve().parent)
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
        checks = [Sensitive(paths=tuple(input_paths), vocabulary=frozenset(cause_categories),
                            words=manuscript_words(own_text(template_files)))]
    hits = [h for s in checks for h in scan_outputs(staged, s)[0]]
    if hits:
        for path in staged:
            Path(path).unlink(missing_ok=True)
        raise PipelineError("identifying information found in the pooled manuscript; nothing "
                            "was published:\n  " + "\n  ".join(str(h) for h in hits[:50]))
    for source, target in zip(staged, published, strict=True):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return [f"{target}: checked against {len(cohorts)} centres' patients and published"
            for target in published]
