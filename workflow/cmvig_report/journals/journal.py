"""A journal profile: what one journal asks of a submission (templates/journals/<name>.yaml).

Config ``journal: <name>`` selects the profile; it gives the CSL style of the references, the
abstract's headings and word limit, the main text's word limit, the number of displays,
the review copy's line numbers and spacing, and the figure files' format and resolution
(docs/journals.md). Config ``citation_style`` overrides the profile's style. A limit exceeded
is one warning line (an error under ``strict_metadata``).

Each value of a profile is only as good as the instructions it was read from: ``sources``
names, field by field, the page and section that gave it. A field without a source is not
checked, and a build with such a profile says so in one warning line (:func:`unchecked_warning`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.config_check import journal_profile
from ..core.io import read_yaml
from ..errors import PipelineError

ABSTRACT_PARTS = ("background", "methods", "results", "conclusion")
FIGURE_FORMATS = ("tiff", "eps", "png", "pdf", "jpeg")
REQUIRED = ("name", "checked_against", "citation_style", "abstract", "main_text_word_limit",
            "displays", "review_copy", "figures")
# The fields whose source a profile records (``sources``: field -> {url, section}).
SOURCED = ("article_type", "citation_style", "abstract.form", "abstract.word_limit",
           "main_text_word_limit", "displays", "running_title.word_limit", "first_page_counts",
           "review_copy", "figures.separate_files", "figures.embedded_in_manuscript",
           "figures.format", "figures.dpi", "supplementary.in_manuscript", "tables_as")


def _need(ok: bool, path: Path, what: str) -> None:
    if not ok:
        raise PipelineError(f"journal profile {path}: {what}")


def load_profile(path: str | Path) -> dict[str, Any]:
    """The profile at ``path``, checked: one line naming the file and key if it is wrong."""
    path = Path(path)
    if not path.is_file():  # one message for a missing profile, the config check's
        journal_profile(path.stem, folder=path.parent)
    profile = read_yaml(path, "journal profile")  # a mapping, or it has already said why
    missing = [k for k in REQUIRED if k not in profile]
    _need(not missing, path, f"missing {', '.join(missing)}")
    abstract = profile["abstract"]
    _need(isinstance(abstract, dict) and isinstance(abstract.get("sections"), list)
          and abstract["sections"], path, "abstract.sections must list the paragraphs")
    used = [p for s in abstract["sections"] for p in (s.get("parts") or [])]
    _need(sorted(used) == sorted(ABSTRACT_PARTS), path,
          f"abstract.sections must hold each of {', '.join(ABSTRACT_PARTS)} once "
          f"(holds {', '.join(used) or 'none'})")
    for key in ("main_text_word_limit", "displays"):
        _need(isinstance(profile[key], int) and profile[key] > 0, path,
              f"{key} must be a positive whole number")
    _need(isinstance(abstract.get("word_limit"), int), path, "abstract.word_limit missing")
    figures = profile["figures"]
    _need(figures.get("format") in FIGURE_FORMATS, path,
          f"figures.format must be one of {', '.join(FIGURE_FORMATS)}")
    _need(isinstance(figures.get("dpi"), int) and figures["dpi"] >= 72, path,
          "figures.dpi must be a whole number of dots per inch (300, 600...)")
    limit = (profile.get("running_title") or {}).get("word_limit")
    _need(limit is None or (isinstance(limit, int) and limit > 0), path,
          "running_title.word_limit must be a positive whole number (or left out)")
    sources = profile.get("sources") or {}
    _need(isinstance(sources, dict) and all(
        k in SOURCED and isinstance(v, dict) and v.get("url") and v.get("section")
        for k, v in sources.items()), path,
        f"sources must map fields ({', '.join(SOURCED)}) to a url and a section")
    return profile


def abstract_form(profile: dict[str, Any]) -> str:
    """``structured`` when the abstract's paragraphs carry headings, else ``unstructured``."""
    headed = any(str(s.get("heading") or "").strip() for s in profile["abstract"]["sections"])
    return "structured" if headed else "unstructured"


def unchecked_fields(profile: dict[str, Any]) -> list[str]:
    """The fields of :data:`SOURCED` the profile gives no source for (those it sets)."""
    sources = profile.get("sources") or {}
    return [f for f in SOURCED if f not in sources]


def unchecked_warning(path: str | Path) -> str | None:
    """One warning line when the profile at ``path`` has fields not checked against the
    journal's instructions (no ``sources`` entry); None when every field has its source or the
    profile cannot be read (the render then says why)."""
    import yaml  # only here: the Snakefile calls this on every run

    try:
        profile = yaml.safe_load(Path(path).read_text("utf-8"))
        missing = unchecked_fields(profile)
    except (OSError, yaml.YAMLError, AttributeError, TypeError):
        return None
    if not missing:
        return None
    name = profile.get("name", Path(path).stem)
    if len(missing) == len(SOURCED):
        return (f"warning: journal profile {path} ({name}) is not checked against the journal's "
                "instructions for authors: re-check every value before submitting")
    return (f"warning: journal profile {path} ({name}): {len(missing)} of {len(SOURCED)} "
            f"fields not checked against the journal's instructions ({', '.join(missing)}): "
            "re-check them before submitting")


def running_title_notes(short_title: str, profile: dict[str, Any], strict: bool) -> list[str]:
    """A warning when the running title has more words than the journal allows
    (``running_title.word_limit``); an error with ``strict``."""
    from .metadata import PLACEHOLDER  # a placeholder is reported as one, not counted

    limit = (profile.get("running_title") or {}).get("word_limit")
    words = len(str(short_title).split())
    if not limit or words <= limit or PLACEHOLDER.search(str(short_title)):
        return []
    line = (f"the running title has {words} words, over the limit of {limit} "
            f"({profile['name']}): shorten short_title in the study's metadata")
    if strict:
        raise PipelineError(f"journal limits exceeded (strict_metadata: true): {line}")
    return [f"warning: {line}"]


def word_limits(profile: dict[str, Any], meta: dict[str, Any]) -> dict[str, int]:
    """The word limits: the journal's, then the study's own (metadata ``word_limits``) over
    them where it sets one."""
    limits = {"abstract": int(profile["abstract"]["word_limit"]),
              "main_text": int(profile["main_text_word_limit"])}
    own = meta.get("word_limits") or {}
    return {**limits, **{k: int(v) for k, v in own.items() if k in limits}}


def limit_notes(counts: dict[str, int], limits: dict[str, int], displays: int,
                profile: dict[str, Any], strict: bool) -> list[str]:
    """The word counts in one line, then one warning per limit exceeded (words of the abstract
    and the main text, number of displays); with ``strict`` the warnings stop the build."""
    notes = ["words: " + ", ".join(
        f"{part.replace('_', ' ')} {n:,}" + (f" (limit {limits[part]:,})" if part in limits
                                             else "") for part, n in counts.items())]
    over = [f"the {part.replace('_', ' ')} has {n:,} words, over the limit of "
            f"{limits[part]:,} ({profile['name']})"
            for part, n in counts.items() if part in limits and n > limits[part]]
    if displays > int(profile["displays"]):
        over.append(f"the manuscript has {displays} displays (figures and tables), over the "
                    f"{profile['displays']} {profile['name']} allows")
    if over and strict:
        raise PipelineError("journal limits exceeded (strict_metadata: true): "
                            + "; ".join(over))
    return notes + [f"warning: {line}" for line in over]
