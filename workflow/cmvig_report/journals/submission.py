"""The submission package: what a journal's submission system asks for, in one folder.

``snakemake --cores 2 submission`` writes ``report/submission/`` (through the same leak check
as every shareable file): the review copy of the manuscript as PDF and DOCX (line numbers and
spacing of the journal profile; the figures left out when the journal takes them as separate
files), each figure as its own file in the profile's format and resolution, Table 1 and
Supplementary Table S1 as editable DOCX, the reporting checklist, the title page and a cover
letter drafted from templates/submission/ with placeholders to fill in, and ``MANIFEST.txt``
listing every file with its checksum.

A figure file is drawn from the figure's SVG (the vector drawing the PDF shows): WeasyPrint
lays it on a page of its own size, pdfium rasterises the page at the profile's resolution and
Pillow writes the TIFF (LZW), JPEG, PNG or EPS with that resolution recorded; ``pdf`` keeps
the vector page.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path
from typing import Any

from markupsafe import Markup

from ..core.io import (
    atomic_write_bytes,
    atomic_write_text,
    read_json,
    read_text,
    read_yaml,
    sha256_file,
)
from ..errors import PipelineError
from ..paths import MAIN_TEXT_TABLES, QMD_TEMPLATE, figure_format, submission_figures
from ..render.pdf import html_to_pdf
from ..render.templating import make_environment, render_template
from ..render.tracked import track
from .journal import load_profile

TITLE_PAGE_TEMPLATE = "submission/title_page.md.j2"
COVER_LETTER_TEMPLATE = "submission/cover_letter.md.j2"
COUNTS_TEMPLATE = "submission/counts.md.j2"
SUPPLEMENT_TEMPLATE = "submission/supplementary.md.j2"
# How each figure format is written by Pillow.
_PILLOW = {"tiff": ("TIFF", {"compression": "tiff_lzw"}), "jpeg": ("JPEG", {"quality": 95}),
           "png": ("PNG", {}), "eps": ("EPS", {})}
# Where a table of the Quarto source ends: its caption line, ": **Table 1.** ..."
TABLE1_CAPTION = ": **Table 1.**"


# --------------------------------------------------------------------------------------------
# Figures


def _svg_size_pt(svg: str | Path) -> tuple[float, float]:
    head = Path(svg).read_text(encoding="utf-8")[:4000]
    root = re.search(r"<svg\b[^>]*>", head)
    size = {}
    for key in ("width", "height"):
        m = re.search(rf'\b{key}="([\d.]+)(pt|px|in)?"', root.group() if root else "")
        if not m:
            raise PipelineError(f"{svg}: the drawing has no {key} (an SVG of the figures step?)")
        scale = {"pt": 1.0, "px": 0.75, "in": 72.0, None: 0.75}[m.group(2)]
        size[key] = float(m.group(1)) * scale
    return size["width"], size["height"]


def figure_file(svg: str | Path, out: str | Path, fmt: str, dpi: int) -> tuple[int, int]:
    """``out``: the figure drawn from ``svg`` in ``fmt`` at ``dpi``; returns its pixel size
    ((0, 0) for a vector PDF)."""
    import pypdfium2

    width, height = _svg_size_pt(svg)
    page = (f'<html><head><style>@page {{ size: {width}pt {height}pt; margin: 0 }} '
            f'body {{ margin: 0 }} img {{ display: block; width: {width}pt; '
            f'height: {height}pt }}</style></head><body><img src="{Path(svg).name}">'
            '</body></html>')
    # through the manuscript's PDF maker: nothing outside the figure's folder is fetched, and
    # the same drawing gives the same bytes
    folder = Path(svg).resolve().parent
    pdf = html_to_pdf(page, folder, folder)[0]
    if fmt == "pdf":
        atomic_write_bytes(out, pdf)
        return 0, 0
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=dpi / 72, fill_color=(255, 255, 255, 255)).to_pil()
    finally:
        document.close()
    image = image.convert("RGB")
    kind, options = _PILLOW[fmt]
    encoded = io.BytesIO()
    image.save(encoded, format=kind, dpi=(dpi, dpi), **options)
    atomic_write_bytes(out, encoded.getvalue())
    return image.size


# --------------------------------------------------------------------------------------------
# Tables, title page, cover letter


def table_markdown(qmd_text: str, caption_start: str) -> str:
    """The pipe table of the Quarto source whose caption line starts with ``caption_start``,
    with its caption: the same rows as the manuscript, as a document of its own."""
    lines = qmd_text.splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith(caption_start)), None)
    if at is None:
        raise PipelineError(f"the Quarto source has no table captioned {caption_start!r}")
    end = at - 1
    while end >= 0 and not lines[end].strip():
        end -= 1
    start = end
    while start > 0 and lines[start - 1].startswith("|"):
        start -= 1
    if start > end or not lines[start].startswith("|"):
        raise PipelineError(f"no pipe table above the caption {caption_start!r}")
    return "\n".join(lines[start:end + 1] + ["", lines[at], ""])


def _docx_from_markdown(markdown: str, out: str | Path, work: Path,
                        reference: str | None) -> None:
    from ..render.quarto import pandoc_docx

    source = work / f"{Path(out).stem}.md"
    atomic_write_text(source, markdown)
    pandoc_docx(source, out, reference)


# --------------------------------------------------------------------------------------------
# The manifest


def manifest_text(files: list[str | Path], profile: dict[str, Any]) -> str:
    """``MANIFEST.txt``: what the package holds, one line per file (sha256, bytes, name)."""
    lines = [f"# Submission package for {profile['name']} ({profile.get('article_type', '')})",
             f"# Figures: {profile['figures']['format'].upper()} at "
             f"{profile['figures']['dpi']} dpi"
             + ("" if profile["figures"].get("separate_files", True) else " (in the manuscript)"),
             "# sha256  bytes  file"]
    for path in files:
        p = Path(path)
        lines.append(f"{sha256_file(p)}  {p.stat().st_size}  {p.name}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Stage


def _checklist(tdir: Path, est: dict[str, Any], meta: dict[str, Any], html: str,
               anchors: dict[str, Any], profile: dict[str, Any], out: str, work: Path) -> None:
    """The checklist of the review copy: its pages, and "S<n>" for the supplement's."""
    from ..render.report import CHECKLIST_ITEMS, STYLESHEET, _environment
    from . import checklist
    from .journal import abstract_form

    env, _ = _environment(tdir, est, None)
    items = checklist.build(read_yaml(tdir / CHECKLIST_ITEMS, "reporting checklist"), anchors,
                            html, checklist.abstract_terms(abstract_form(profile)))
    context = {"meta": track(meta, "metadata.yaml"),
               "stylesheet": Markup(read_text(tdir / STYLESHEET, "stylesheet"))}
    checklist.write_pdf(env, items, context, out, work, tdir)


def run_submission(*, template_files: list[str], estimates: str, table1: str,
                   figures: list[str], figures_png: list[str], figure_facts: list[str],
                   provenance: str, metadata: str, journal: str, replication: bool,
                   published: str = "", bibliography: str = "", style_file: str = "",
                   citation_style: str = "", strict_numbers: bool = False,
                   strict_metadata: bool = False, reference_doc: list[str] | None = None,
                   manuscript_pdf: str, manuscript_docx: str, figure_files: list[str],
                   table1_docx: str, supplementary_pdf: str, supplementary_docx: str,
                   checklist_pdf: str, title_page: str, cover_letter: str, manifest: str,
                   changes_summary: str | None = None) -> list[str]:
    """Step ``submission_package``: every file of the package (``paths.submission_files``) in the
    staging folder, MANIFEST.txt last. ``figures`` are the SVGs, ``figures_png`` the PNGs the
    DOCX shows when the journal wants the figures in the manuscript.

    The review copy numbers its lines and pages and takes the profile's line spacing; the
    supplement (Table S1, appendices) is a file of its own, and leaves the manuscript when the
    profile says so; the counts go on the first page when the profile asks. Every check runs
    before any file is written: with ``strict_metadata`` a placeholder or stand-in anywhere in
    the package stops the step naming the file to edit and its field."""
    from ..render.docx_review import fit_table_columns, review_layout
    from ..render.render_settings import from_params
    from ..render.report import run_qmd, run_render, template_dir
    from ..render.review_copy import (
        counts_in_html,
        counts_in_markdown,
        legends_together,
        split_html,
        split_markdown,
    )
    from .checklist import word_counts
    from .editorial import check_package, invented_rows, package_placeholders, with_article

    del style_file, changes_summary  # the journal gets no changes appendix
    profile = load_profile(journal)
    review = profile["review_copy"]
    in_manuscript = bool((profile.get("supplementary") or {}).get("in_manuscript", True))
    reference = (reference_doc or [None])[0]
    settings, _ = from_params(dict(replication=replication, strict_numbers=strict_numbers,
                                   strict_metadata=strict_metadata,
                                   citation_style=citation_style, review_copy=True))
    shared = dict(settings=settings, template_files=template_files, estimates=estimates,
                  table1=table1, figure_facts=figure_facts, provenance=provenance,
                  metadata=metadata, published=published, journal=journal,
                  bibliography=bibliography)
    # before any rendering: the rule's figure files must be those the profile asks for
    wanted = submission_figures(figure_format(profile))
    if [Path(p).name for p in figure_files] != wanted:
        raise PipelineError(f"figure files {figure_files} are not those the profile "
                            f"asks for ({', '.join(wanted) or 'none'})")
    staging = Path(manifest).parent
    staging.mkdir(parents=True, exist_ok=True)
    tdir = template_dir(template_files, QMD_TEMPLATE)
    root = tdir.resolve().parent
    with tempfile.TemporaryDirectory(prefix=".work-", dir=staging) as tmp:
        work = Path(tmp)
        # the manuscript as HTML and Quarto source, with every check of the renderers
        html_file = work / "manuscript.html"
        notes = run_render(**shared, figures=figures, html=str(html_file))
        qmd = work / "manuscript.qmd"
        notes += [n for n in run_qmd(**shared, figures=figures_png, qmd=str(qmd),
                                     figure_copies=[str(work / "figures" / Path(p).name)
                                                    for p in figures_png])
                  if not n.startswith("warning: placeholder")]
        html, qmd_text = html_file.read_text(encoding="utf-8"), qmd.read_text(encoding="utf-8")
        # the package's own texts: title page, cover letter, counts, the supplement's opening
        env = make_environment(tdir, html=False)
        env.filters["a_an"] = lambda phrase: with_article(str(phrase)).split(" ", 1)[0]
        meta = read_yaml(metadata, "manuscript metadata")
        est = read_json(estimates, "estimates")
        context = {"meta": track(meta, "metadata.yaml"), "journal": track(profile, "journal"),
                   "words": word_counts(html), "figure_count": len(figures),
                   "table_count": MAIN_TEXT_TABLES,
                   "figure_files": [Path(p).name for p in figure_files]}
        texts = {name: render_template(env, name, context) for name in (
            TITLE_PAGE_TEMPLATE, COVER_LETTER_TEMPLATE, COUNTS_TEMPLATE, SUPPLEMENT_TEMPLATE)}
        # nothing is written before this: placeholders and stand-ins, named by file and field
        rows = package_placeholders(meta, metadata, [
            (Path(title_page).name, str(tdir / TITLE_PAGE_TEMPLATE), texts[TITLE_PAGE_TEMPLATE]),
            (Path(cover_letter).name, str(tdir / COVER_LETTER_TEMPLATE),
             texts[COVER_LETTER_TEMPLATE])])
        rows += invented_rows(meta, metadata, [
            (Path(manuscript_pdf).name, html), (Path(manuscript_docx).name, qmd_text),
            (Path(title_page).name, texts[TITLE_PAGE_TEMPLATE]),
            (Path(cover_letter).name, texts[COVER_LETTER_TEMPLATE])])
        notes += check_package(rows, strict_metadata)
        # the review copy and the supplement
        main_html, supplement_html = split_html(html, texts[SUPPLEMENT_TEMPLATE])
        main_md, supplement_md = split_markdown(qmd_text, texts[SUPPLEMENT_TEMPLATE])
        if not supplement_html or not supplement_md:
            raise PipelineError("the manuscript has no Supplementary Table S1 to open the "
                                "package's supplementary file with (templates/partials/"
                                "supplement.html.j2 and manuscript.qmd.j2)")
        if in_manuscript:
            main_html, main_md = html, qmd_text
        if not profile["figures"].get("embedded_in_manuscript", True):
            main_html = legends_together(main_html)
        if profile.get("first_page_counts"):
            main_html = counts_in_html(main_html, texts[COUNTS_TEMPLATE])
            main_md = counts_in_markdown(main_md, texts[COUNTS_TEMPLATE])
        review_pdf, pdf_notes, anchors = html_to_pdf(
            main_html, work, root, line_numbers=bool(review.get("line_numbers")))
        notes += pdf_notes
        supplement_pdf, _, supplement_anchors = html_to_pdf(supplement_html, work, root)
        atomic_write_bytes(manuscript_pdf, review_pdf)
        atomic_write_bytes(supplementary_pdf, supplement_pdf)
        _checklist(tdir, est, meta, html, {**{k: f"S{v}" for k, v in
                                              supplement_anchors.items()}, **anchors},
                   profile, checklist_pdf, work)
        _docx_from_markdown(main_md, manuscript_docx, work, reference)
        review_layout(manuscript_docx, line_numbers=bool(review.get("line_numbers")),
                      line_spacing=float(review.get("line_spacing") or 1))
        _docx_from_markdown(supplement_md, supplementary_docx, work, reference)
        review_layout(supplementary_docx, line_numbers=False, line_spacing=1)
        _docx_from_markdown(table_markdown(qmd_text, TABLE1_CAPTION), table1_docx, work,
                            reference)
        fit_table_columns(table1_docx)
        fmt, dpi = profile["figures"]["format"], int(profile["figures"]["dpi"])
        for svg, out in zip(figures, figure_files, strict=False):
            figure_file(svg, out, fmt, dpi)
        for name, out in ((TITLE_PAGE_TEMPLATE, title_page),
                          (COVER_LETTER_TEMPLATE, cover_letter)):
            _docx_from_markdown(texts[name], out, work, reference)
            fit_table_columns(out)
    files = [manuscript_pdf, manuscript_docx, *figure_files, table1_docx, supplementary_pdf,
             supplementary_docx, checklist_pdf, title_page, cover_letter]
    atomic_write_text(manifest, manifest_text(files, profile))
    return notes + [f"submission package for {profile['name']}: {len(files) + 1} files"
                    f"{f', figures as {fmt.upper()} at {dpi} dpi' if figure_files else ''}"
                    f", review copy with {'line numbers, ' if review.get('line_numbers') else ''}"
                    f"line spacing {review.get('line_spacing') or 1}"]
