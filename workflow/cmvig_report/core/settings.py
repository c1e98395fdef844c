"""Settings derived from config/config.yaml, shared by the Snakefile and ``watch``.

Kept in one place so that the live preview renders with exactly the inputs and flags the
Snakemake build uses (:func:`render_inputs`, :func:`manuscript_params`). Imports nothing heavy:
the Snakefile reads it on every run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..paths import (
    CHANGES_SUMMARY,
    ESTIMATES,
    FORMATS,
    JOURNALS,
    METADATA,
    PROVENANCE,
    TABLE1,
    centre_dir,
    figure_files,
    figure_format,
    for_centre,
    template_files,
)
from ..paths import submission_figures as submission_figures_for
from ..paths import submission_files as submission_files_for
from . import config_check
from .config_check import bibliography_path, bundle_files, read_metadata
from .io import sha256_file

# Booleans arrive as text from `snakemake --config key=value`.
TRUE_WORDS = (True, "true", "yes")
# Checksums of the shipped reconstruction, written by data/reconstruction/build_shipped_cohort.py.
SHIPPED_SUMS = "data/reconstruction/SHA256SUMS"


def shipped_checksums(root: str | Path = ".") -> dict[str, str]:
    """File name (``patients.csv``, ``viral_loads.csv``) -> sha256 of the shipped cohort."""
    try:
        lines = (Path(root) / SHIPPED_SUMS).read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    return {Path(name).name: digest for digest, name in (line.split() for line in lines if line)}


def _sha256(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:  # a missing input is reported by the cohort step, not here
        return None


def is_shipped_cohort(config: dict[str, Any], root: str | Path = ".") -> bool:
    """Whether the inputs are the shipped synthetic reconstruction, byte for byte (under any
    path). A different cohort copied over ``data/raw/`` is not. Only a safety net: the study
    reported is chosen by config ``study`` (:func:`study_warning`)."""
    sums = shipped_checksums(root)
    return bool(sums) and all(
        _sha256(Path(root) / config[key]) == sums.get(name)
        for key, name in (("patients", "patients.csv"), ("viral_loads", "viral_loads.csv")))


def replication(config: dict[str, Any]) -> bool:
    """Whether the manuscript reports the replication (config ``study: replication``): its
    metadata, the published values and their appendix, the published study period."""
    return config["study"] == "replication"


def metadata_file(config: dict[str, Any]) -> str:
    """The metadata of the study reported (``paths.METADATA``)."""
    return METADATA[config["study"]]


def study_warning(config: dict[str, Any], root: str | Path = ".") -> str | None:
    """One line when the study and the inputs disagree: the shipped cohort (recognised by
    checksum) reported as an own study, or another cohort reported as the replication."""
    shipped = is_shipped_cohort(config, root)
    if replication(config) and not shipped:
        return ("warning: study: replication, but the inputs are not the shipped cohort: the "
                "manuscript is framed as the replication of the published series (its "
                "metadata, published values and appendix); set study: own for your own export")
    if shipped and not replication(config):
        return ("warning: study: own, but the inputs are the shipped synthetic cohort: the "
                "manuscript presents invented records as your study; set study: replication "
                "to report the replication")
    return None


def study_period(config: dict[str, Any], root: str | Path = ".") -> tuple[str, str]:
    """The enrolment window as ``("YYYY-MM/YYYY-MM", source)``, source ``config``,
    ``published`` (the replication) or ``data``; for ``data`` the window is empty and the
    analysis takes the first and last CMVIG month of the cohort."""
    if config["study_period"] != "auto":
        return config["study_period"], "config"
    if replication(config):
        import yaml  # only here: the Snakefile reads this module on every run

        published = yaml.safe_load((Path(root) / config["published"]).read_text("utf-8")) or {}
        if published.get("study_period"):
            return str(published["study_period"]), "published"
    return "", "data"


def own_text_files(config: dict[str, Any], *kinds: str, root: str | Path = ".") -> list[str]:
    """The files whose words the manuscript prints by itself, for the leak check (a folder
    named "own" is prose, not an identifier): the templates of the manuscript in every format
    and of the checklist, the study's metadata, and those of ``kinds`` (``"submission"``:
    the package's templates and the journal profile they print from)."""
    files = {f for kind in ("html", "qmd", "checklist", *kinds)
             for f in template_files(kind, root)}
    files.add(metadata_file(config))
    if "submission" in kinds:
        files.add(journal_profile(config, root))
    return sorted(files)


def journal_profile(config: dict[str, Any], root: str | Path = ".") -> str:
    """The journal profile of config ``journal``, ``templates/journals/<name>.yaml`` relative
    to ``root``, as :func:`.config_check.journal_profile` resolves it (one line,
    :class:`.config_check.ConfigError`, when there is no such profile)."""
    found = config_check.journal_profile(config["journal"], root, JOURNALS,
                                         f"config journal={config['journal']!r}")
    return os.path.relpath(found, root)


def bibliography_file(config: dict[str, Any], root: str | Path = ".") -> str:
    """The bibliography the study's metadata names (``bibliography:``, relative to the
    metadata file); one line (:class:`.config_check.ConfigError`) when the metadata cannot be
    read, names none or names a file that is not there."""
    metadata, meta = read_metadata(config, root)
    return os.path.normpath(bibliography_path(metadata, meta, root))


def citation_files(config: dict[str, Any], root: str | Path = ".") -> dict[str, Any]:
    """The journal profile, the bibliography and, when config ``citation_style`` is a file,
    the style: inputs of every renderer, so that an edit to one re-renders."""
    style = str(config["citation_style"] or "")
    return dict(
        journal=journal_profile(config, root),
        **({"bibliography": bib} if (bib := bibliography_file(config, root)) else {}),
        **({"style_file": style} if config_check.is_style_file(style) else {}),
    )


def _figure_format(config: dict[str, Any], root: str | Path) -> str | None:
    # the profile as the build reads it: one that cannot be read has already stopped the
    # build at the config check (config_check.input_problems), with its one line
    # only here: the Snakefile reads this module every run
    from ..journals.journal import load_profile

    return figure_format(load_profile(Path(root) / journal_profile(config, root)))


def submission_files(config: dict[str, Any], root: str | Path = ".") -> list[str]:
    """The files of the submission package (names in report/submission/) that the journal
    profile asks for."""
    return submission_files_for(_figure_format(config, root))


def submission_figures(config: dict[str, Any], root: str | Path = ".") -> list[str]:
    """The figure files of the submission package (names in report/submission/)."""
    return submission_figures_for(_figure_format(config, root))


def render_inputs(config: dict[str, Any], centre_dir: str = "") -> dict[str, Any]:
    """The files both renderers (manuscript and Quarto source) read besides their templates
    and figures: results (those of the export of ``centre_dir``, :func:`.paths.for_centre`;
    the rules pass their wildcard), the study's metadata, its bibliography and journal
    profile, and what the config switches on."""
    return dict(
        estimates=for_centre(ESTIMATES, centre_dir),
        table1=for_centre(TABLE1, centre_dir),
        provenance=for_centre(PROVENANCE, centre_dir),
        figure_facts=[for_centre(f, centre_dir) for f in figure_files("json")],
        metadata=metadata_file(config),
        **citation_files(config),
        **({"published": config["published"]} if replication(config) else {}),
        **({"changes_summary": for_centre(CHANGES_SUMMARY, centre_dir)}
           if config["compare_with"] else {}),
    )


def render_params(config: dict[str, Any]) -> dict[str, Any]:
    """The settings both renderers receive from the config."""
    return dict(
        replication=replication(config),
        line_numbers=line_numbers(config),
        strict_numbers=flag(config, "strict_numbers"),
        strict_metadata=flag(config, "strict_metadata"),
        compare_with=str(config["compare_with"] or ""),
        citation_style=str(config["citation_style"] or ""),
    )


def manuscript_params(config: dict[str, Any]) -> dict[str, Any]:
    """The settings of the HTML/PDF manuscript: the build's ``manuscript`` rule and the live
    preview both take them from here, so the preview renders what the build renders."""
    return {**render_params(config), "number_appendix": flag(config, "number_appendix")}


def input_paths(config: dict[str, Any]) -> list[str]:
    """The paths of what the build reads from outside: the exports and a previous freeze
    (none of them may be printed in a shareable output)."""
    return [str(p) for p in (config["patients"], config["viral_loads"],
                             config.get("compare_with"), config.get("centres"),
                             config.get("pooled_from")) if p]


def flag(config: dict[str, Any], key: str) -> bool:
    """A yes/no config key (booleans arrive as text from ``--config key=value``)."""
    return config[key] in TRUE_WORDS


def line_numbers(config: dict[str, Any]) -> bool:
    """Whether the manuscript numbers its paragraphs for review."""
    return flag(config, "line_numbers")


def report_formats(config: dict[str, Any]) -> list[str]:
    """Manuscript formats to build, in ``paths.FORMATS`` order: HTML and PDF always (one step
    makes both), plus those listed in ``formats`` (``--config formats=a,b`` arrives as text)."""
    formats = config["formats"]
    wanted = {"html", "pdf", *(formats.split(",") if isinstance(formats, str) else formats)}
    return [fmt for fmt in FORMATS if fmt in wanted]


# Columns of the centres sheet (config `centres`, a TSV; workflow/schemas/centres.schema.yaml).
CENTRE_COLUMNS = ("centre", "patients", "viral_loads")
# The settings a row of the sheet may give its centre (an empty cell: the config's value).
PER_EXPORT = ("patients", "viral_loads", "lloq_iu_ml")


def exports(config: dict[str, Any], sheet: Any = None) -> dict[str, dict[str, Any]]:
    """The config of each export the build cleans, by its ``centre_dir``
    (:func:`.paths.centre_dir`): the config's own export (``""``, the config itself) and each
    centre of the ``sheet``, whose row gives its files and limit of quantification. A centre
    is built as a build of its files alone would be, so a previous freeze (``compare_with``)
    is compared centre by centre: ``<compare_with>/centres/<centre>/``."""
    out = {"": config}
    for centre in ([] if sheet is None else list(sheet["centre"])):
        own = {key: _plain_value(centre_value(sheet, centre, key, config[key]))
               for key in PER_EXPORT}
        compare = config["compare_with"]
        own["compare_with"] = (os.path.join(compare, centre_dir(centre)).rstrip("/")
                               if compare else compare)
        out[centre_dir(centre)] = {**config, **own, "centres": "", "pooled_from": ""}
    return out


def centre_sheet(path: str) -> Any:
    """The centres sheet as a pandas frame indexed by centre (one clear error for a repeated
    centre or a missing column); ``None`` when no sheet is configured."""
    if not path:
        return None
    import pandas as pd

    sheet = pd.read_csv(path, sep="\t", dtype={c: str for c in CENTRE_COLUMNS}, comment="#")
    missing = [c for c in CENTRE_COLUMNS if c not in sheet.columns]
    if missing:
        raise ValueError(f"{path}: column(s) {', '.join(missing)} missing "
                         f"(needed: {', '.join(CENTRE_COLUMNS)})")
    repeated = sheet.loc[sheet["centre"].duplicated(), "centre"]
    if len(repeated):
        raise ValueError(f"{path}: centre {repeated.iloc[0]!r} is listed twice")
    return sheet.set_index("centre", drop=False)


def centre_value(sheet: Any, centre: str, column: str, default: Any) -> Any:
    """A per-centre setting of the sheet (an empty cell or an absent column: ``default``)."""
    if column not in sheet.columns:
        return default
    value = sheet.loc[centre, column]
    return default if value != value or value == "" else value  # NaN != NaN


def per_export(exports: dict[str, dict[str, Any]]) -> Callable[[str], Callable[[Any], Any]]:
    """``value(key)``: a function of a job's wildcards giving ``key`` of the config of the
    export the job is for (its ``centre_dir``), for a rule's inputs and params."""
    def value(key: str) -> Callable[[Any], Any]:
        return lambda wildcards: exports[wildcards.centre_dir][key]
    return value


def _plain_value(value: Any) -> Any:
    # a number of the sheet as the config would hold it (137, not numpy's 137.0)
    if hasattr(value, "item"):
        value = value.item()
    return int(value) if isinstance(value, float) and value.is_integer() else value


def bundles_to_pool(config: dict[str, Any], bundle: str, centres: list[str]) -> list[str]:
    """The bundles the pooled step reads: every ``aggregate.json`` under ``pooled_from``, else
    ``bundle`` (with its ``{centre}`` wildcard) for each of this build's centres."""
    if config["pooled_from"]:
        return bundle_files(config["pooled_from"])
    return [bundle.format(centre=c) for c in centres]
