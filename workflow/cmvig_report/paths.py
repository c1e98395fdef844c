"""Every file the workflow reads or writes, named once.

The Snakefile and the rule files, the live preview and the tests import these names instead of
spelling paths out (as showyourwork's ``paths`` module does), so a file moves or a figure is
added in one place. Paths are relative to the project root, where Snakemake runs. Nothing heavy
is imported here: the Snakefile reads this module on every run, no-op included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

RESULTS = "results"
REPORT = "report"
LOGS = "logs"
TEMPLATES = "templates"

# One export, one chain of steps: the config's own export is the unnamed centre, whose files are
# results/cohort.csv, report/manuscript.pdf, logs/estimates.log; a centre of the centres sheet
# has the same files one folder down (results/centres/<centre>/cohort.csv, ...). The rules name
# their files with the wildcard {centre_dir}, "" or "centres/<centre>/" (CENTRE_DIR_PATTERN).
CENTRES = "centres"
CENTRE_NAME_PATTERN = "[A-Za-z0-9][A-Za-z0-9_-]*"
CENTRE_DIR_PATTERN = f"({CENTRES}/{CENTRE_NAME_PATTERN}/)?"
CENTRE_DIR = "{centre_dir}"


def centre_dir(centre: str | None) -> str:
    """The folder of one export's files below ``results/``, ``report/`` and ``logs/``: ``""``
    for the config's own export (``centre`` None or empty), ``centres/<centre>/`` for a centre
    of the sheet."""
    return f"{CENTRES}/{centre}/" if centre else ""


def for_centre(path: str, centre_dir: str = CENTRE_DIR) -> str:
    """``path`` (under ``results/``, ``report/`` or ``logs/``) for the export of ``centre_dir``
    (by default the rules' wildcard): ``results/cohort.csv`` is
    ``results/centres/north/cohort.csv`` for centre ``north``."""
    top, _, rest = path.partition("/")
    if top not in (RESULTS, REPORT, LOGS) or not rest:
        raise ValueError(f"{path!r} is not a file under {RESULTS}/, {REPORT}/ or {LOGS}/")
    return f"{top}/{centre_dir}{rest}"

# Stage 1, cohort: the audit trail of cleaning (internal: patient IDs and dates).
COHORT = f"{RESULTS}/cohort.csv"
VIRAL_LOADS = f"{RESULTS}/viral_loads.csv"
CLEANING_LOG = f"{RESULTS}/cleaning_log.csv"
DATA_QUALITY = f"{RESULTS}/data_quality.csv"
STUDY_NUMBERS = f"{RESULTS}/study_numbers.csv"
PROVENANCE = f"{RESULTS}/provenance.json"

# Stage 2, analysis.
ESTIMATES = f"{RESULTS}/estimates.json"
TABLE1 = f"{RESULTS}/table1.csv"
KM_CURVES = f"{RESULTS}/km_curves.csv"
DISCLOSURE_LOG = f"{RESULTS}/disclosure_log.csv"

# Stage 3, figures: one entry per figure drawn by a rule of workflow/rules/figures.smk. The
# manuscript receives each one's SVG (HTML/PDF), PNG (DOCX) and caption facts (JSON).
FIGURE_NAMES = ("figure1", "figure2", "figure3")
FIGURES_DIR = f"{RESULTS}/figures"


def figure(name: str, kind: str) -> str:
    """``results/figures/<name>.<kind>``; kind is ``svg``, ``png`` or ``json`` (caption facts)."""
    return f"{FIGURES_DIR}/{name}.{kind}"


def figure_files(kind: str) -> list[str]:
    """That file of every figure, in ``FIGURE_NAMES`` order."""
    return [figure(name, kind) for name in FIGURE_NAMES]


# Comparison with a previous data freeze (config compare_with): internal, patient level.
CHANGES_PATIENTS = f"{RESULTS}/changes_patients.csv"
CHANGES_SUMMARY = f"{RESULTS}/changes_summary.json"

# Stage 4, report. Everything shareable is written to UNCHECKED first (inside the data-protection
# boundary) and reaches report/ only through the leak check of the publish step.
FORMATS = ("html", "pdf", "qmd", "docx")
UNCHECKED = f"{RESULTS}/unchecked"
MANIFEST = f"{REPORT}/manifest.json"
PREVIEW_HTML = f"{REPORT}/preview.html"
PREVIEW_PDF = f"{REPORT}/preview.pdf"
NUMBERS = "numbers.csv"
CLAIMS = "claims.csv"  # the words about the data, with the values each rule read (claims.py)
CHECKLIST_CSV = "checklist.csv"
CHECKLIST_PDF = "checklist.pdf"
CHANGES = "changes.csv"
# The Quarto source links its figures here, next to it (report/figures/ once published).
QMD_FIGURES = "figures"


def manuscript(fmt: str) -> str:
    """``manuscript.<fmt>``, the name of the manuscript in one format."""
    return f"manuscript.{fmt}"


def staged(name: str, centre_dir: str = "") -> str:
    """``results/[<centre_dir>]unchecked/<name>``: a shareable file before the leak check."""
    return for_centre(f"{UNCHECKED}/{name}", centre_dir)


def published(name: str, centre_dir: str = "") -> str:
    """``report/[<centre_dir>]<name>``: a shareable file after the leak check."""
    return for_centre(f"{REPORT}/{name}", centre_dir)


def shared_files(formats: list[str], compare: bool) -> list[str]:
    """Names (relative to report/) of every shareable file the build publishes."""
    names = [manuscript(fmt) for fmt in formats] + [NUMBERS, CLAIMS, CHECKLIST_CSV, CHECKLIST_PDF]
    if "qmd" in formats:
        names += [f"{QMD_FIGURES}/{Path(p).name}" for p in figure_files("png")]
    return names + ([CHANGES] if compare else [])


# The submission package (`snakemake --cores 2 submission`): staged under
# results/unchecked/submission/, published to report/submission/ after the leak check.
# Many centres (config `centres`, docs/centres.md): each centre's stages under
# results/centres/{centre}/, its one shareable file, and the estimates pooled from bundles.
AGGREGATE = "aggregate.json"
CENTRE_BUNDLE = f"{CENTRES}/{{centre}}/{AGGREGATE}"
POOLED = f"{RESULTS}/pooled"
POOLED_ESTIMATES = f"{POOLED}/estimates.json"
POOLED_FOREST = f"{POOLED}/forest_response.svg"
POOLED_FOREST_PNG = f"{POOLED}/forest_response.png"
POOLED_MANUSCRIPT = "pooled/manuscript.html"
POOLED_MANUSCRIPT_PDF = "pooled/manuscript.pdf"
POOLED_MANUSCRIPT_DOCX = "pooled/manuscript.docx"
POOLED_NUMBERS = "pooled/numbers.csv"


SUBMISSION = "submission"
SUBMISSION_DOCUMENTS = ("manuscript.pdf", "manuscript.docx")
SUBMISSION_EXTRAS = ("table1.docx", "supplementary.pdf", "supplementary.docx", "checklist.pdf",
                     "title_page.docx", "cover_letter.docx")
SUBMISSION_MANIFEST = "MANIFEST.txt"
# What publish_submission published, and from which build (internal; report_folder.py).
SUBMISSION_RECORD = f"{RESULTS}/submission_published.json"
# The file suffix of each figure format a journal profile may ask for.
FIGURE_SUFFIX = {"tiff": "tif", "eps": "eps", "png": "png", "pdf": "pdf", "jpeg": "jpg"}


def figure_format(profile: dict[str, Any]) -> str | None:
    """The format of a journal profile's figure files, or None when the journal wants the
    figures in the manuscript only."""
    figures = profile["figures"]
    return str(figures["format"]) if figures.get("separate_files", True) else None


def submission_figures(figure_format: str | None) -> list[str]:
    """The package's figure files (none when ``figure_format`` is None: the figures stay in
    the manuscript)."""
    if figure_format is None:
        return []
    return [f"{name}.{FIGURE_SUFFIX[figure_format]}" for name in FIGURE_NAMES]


def submission_files(figure_format: str | None) -> list[str]:
    """Every file of the package, by its name in the folder, ``MANIFEST.txt`` last."""
    return [*SUBMISSION_DOCUMENTS, *submission_figures(figure_format), *SUBMISSION_EXTRAS,
            SUBMISSION_MANIFEST]


def placeholders(rule: str, centre_dir: str = "") -> str:
    """``results/[<centre_dir>]placeholders/<rule>.csv``: the metadata placeholders that
    renderer printed (internal), listed at the end of the build."""
    return for_centre(f"{RESULTS}/placeholders/{rule}.csv", centre_dir)


def log(rule: str, centre_dir: str = "") -> str:
    """One log per step: ``logs/[<centre_dir>]<rule>.log``."""
    return for_centre(f"{LOGS}/{rule}.log", centre_dir)


# The metadata (title, authors, declarations) of each study (config `study`): the replication's
# words in their own file, the user's study in templates/metadata.yaml.
METADATA = {"own": f"{TEMPLATES}/metadata.yaml",
            "replication": f"{TEMPLATES}/replication/metadata.yaml"}
# What each journal asks of a submission (config `journal`): templates/journals/<name>.yaml.
JOURNALS = f"{TEMPLATES}/journals"

# The templates each output reads, so that an edit re-runs only the outputs that use it (the
# metadata is an input of its own, chosen by the study).
HTML_TEMPLATE = "manuscript.html.j2"
# Tables in the main text, for the journals' display limits: Table 1 (Table S1 is supplementary)
MAIN_TEXT_TABLES = 1
# the pooled manuscript of a multi-centre study, relative to templates/ as the others
POOLED_TEMPLATE = "pooled/manuscript.html.j2"
QMD_TEMPLATE = "manuscript.qmd.j2"
TEMPLATE_GLOBS = {
    "html": (HTML_TEMPLATE, "partials/*.html.j2", "text.j2", "cite.j2", "style.css"),
    "checklist": ("checklist.yaml", "checklist.html.j2"),
    "qmd": (QMD_TEMPLATE, "text.j2", "cite.j2"),
    "docx": ("reference.docx",),
    "submission": ("submission/*.md.j2",),
    # the pooled manuscript: a variant of the HTML one (its stylesheet and reference list)
    "pooled": (POOLED_TEMPLATE, "partials/references.html.j2", "cite.j2", "style.css"),
}


def template_files(fmt: str, root: str | Path = ".") -> list[str]:
    """The template files the ``html`` (and PDF) or ``qmd`` renderer reads, sorted."""
    base = Path(root) / TEMPLATES
    files = {p for pattern in TEMPLATE_GLOBS[fmt] for p in base.glob(pattern) if p.is_file()}
    return sorted(str(p.relative_to(root)) for p in files)


def manuscript_templates(root: str | Path = ".") -> list[str]:
    """The templates the manuscript step renders: the manuscript (HTML, PDF) and checklist."""
    return template_files("html", root) + template_files("checklist", root)


def all_template_files(root: str | Path = ".") -> list[str]:
    """Every file under ``templates/`` (recorded in the manifest)."""
    base = Path(root) / TEMPLATES
    return sorted(str(p.relative_to(root)) for p in base.rglob("*") if p.is_file())


# The code that makes the outputs: the Snakefile, the rule files, one script per rule (named
# like the rule) and the package the scripts import (see codebase.py).
SNAKEFILE = "Snakefile"
WORKFLOW = "workflow"
PACKAGE = f"{WORKFLOW}/cmvig_report"
SCRIPTS = f"{WORKFLOW}/scripts"
WORKFLOW_GLOBS = (SNAKEFILE, f"{WORKFLOW}/rules/*.smk", f"{SCRIPTS}/*.py",
                  f"{WORKFLOW}/schemas/*.yaml")


def script(rule: str) -> str:
    """``workflow/scripts/<rule>.py``: the script a rule runs."""
    return f"{SCRIPTS}/{rule}.py"


def module_file(module: str) -> str:
    """The file of one module of the package, from its dotted key relative to the package:
    ``analysis`` is ``workflow/cmvig_report/stats/analysis.py``, ``stats.survival`` is
    ``workflow/cmvig_report/stats/survival.py`` and ``stats.__init__`` the subpackage's
    ``__init__.py``."""
    return f"{PACKAGE}/{module.replace('.', '/')}.py"
