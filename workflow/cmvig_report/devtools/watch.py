"""Live preview while editing templates: ``python -m cmvig_report watch``.

A Snakemake rebuild after a template edit pays for Snakemake's start-up, a fresh interpreter and
WeasyPrint's import before any rendering starts. The watcher keeps one warm process instead: it
polls the templates and the results the manuscript reads, and
re-renders ``report/preview.html`` and ``report/preview.pdf`` as soon as one of them changes.
It never writes the audited outputs (``report/manuscript.*``, ``report/manifest.json``): those
remain Snakemake's, so the next ``snakemake`` run still rebuilds and records everything.

The preview is the build: it takes the same configuration as ``snakemake`` (config/config.yaml,
``--configfile``, ``--config KEY=VALUE`` in Snakemake's syntax) and derives every input and flag
with the functions the rules use (:mod:`.settings`).
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .. import paths
from ..core import settings
from ..errors import PipelineError
from ..render.render_settings import from_params

Snapshot = dict[str, tuple[int, int]]


CONFIG_FILE = "config/config.yaml"  # the Snakefile's `configfile:`
SCHEMA = "workflow/schemas/config.schema.yaml"


def _bool_word(value: str) -> bool:
    if value in ("True", "False"):
        return value == "True"
    raise ValueError(value)


def _yaml_base(value: str) -> Any:
    import yaml

    return yaml.load(value, Loader=yaml.BaseLoader)


def parse_overrides(entries: list[str]) -> dict[str, Any]:
    """``--config KEY=VALUE ...`` read as Snakemake reads it: each value is the first of an
    int, a float, ``True``/``False``, YAML read as text (``[a, b]`` is a list of strings,
    ``true`` stays a word) or the string itself; an empty value is None.

    Written here, not imported: Snakemake's own reader (``snakemake.cli.parse_config``) is not
    part of its documented API, and importing ``snakemake.cli`` would slow the preview's start.
    tests/test_watch.py checks both give the same values."""
    out: dict[str, Any] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep or not re.match(r"[a-zA-Z_][\w-]*\w$", key):
            raise PipelineError(f"--config {entry!r}: give it as KEY=VALUE")
        if value == "":
            out[key] = None
            continue
        for parse in (int, float, _bool_word, _yaml_base, str):
            try:
                parsed = parse(value)
            except Exception:  # noqa: BLE001 -- Snakemake tries each reading in turn
                continue
            if not callable(parsed):
                out[key] = parsed
                break
    return out


def load_config(project: str | Path = ".", configfiles: list[str] | None = None,
                overrides: list[str] | None = None) -> dict[str, Any]:
    """The config the ``snakemake`` command line would build, validated by the same schema:
    config/config.yaml, then each ``--configfile`` merged over it (key by key, nested ones
    too), then the ``--config KEY=VALUE`` overrides."""
    from snakemake.utils import update_config

    from ..core.config_check import schema_problems
    from ..core.io import read_yaml

    root = Path(project)
    config: dict[str, Any] = {}
    files = [root / CONFIG_FILE] if (root / CONFIG_FILE).is_file() or not configfiles else []
    for path in files + [Path(f) for f in configfiles or []]:
        update_config(config, read_yaml(path, "the config"))
    update_config(config, parse_overrides(overrides or []))
    # one line per key, as the build says it (not Snakemake's dump of the schema)
    problems = schema_problems(config, root / SCHEMA)
    if problems:
        where = ", ".join(str(f) for f in files + [Path(f) for f in configfiles or []])
        raise PipelineError(f"{where}: " + "\n".join(problems))
    return config


def render_arguments(project: str | Path, config: dict[str, Any],
                     html: str = paths.PREVIEW_HTML,
                     pdf: str | None = paths.PREVIEW_PDF) -> dict[str, Any]:
    """The arguments of :func:`report.run_render` the ``manuscript`` rule would use with this
    config (:func:`settings.render_inputs`, and :func:`settings.manuscript_params` as one
    ``settings`` object by :func:`.render_settings.from_params`, as the rule's script does);
    ``pdf`` None renders the HTML only."""
    root = Path(project)
    inputs = {k: [str(root / f) for f in v] if isinstance(v, list) else str(root / v)
              for k, v in settings.render_inputs(config).items()}
    params = settings.manuscript_params(config)
    if params["compare_with"]:
        params["compare_with"] = str(root / params["compare_with"])
    render, _ = from_params(params)
    return {
        "settings": render,
        "template_files": [str(root / f) for f in paths.manuscript_templates(root)],
        "figures": [str(root / f) for f in paths.figure_files("svg")],
        **inputs,
        "html": str(root / html),
        "pdf": str(root / pdf) if pdf else None,
    }


def leak_check_arguments(project: str | Path, config: dict[str, Any]) -> dict[str, Any]:
    """What the preview's leak check reads: the cleaned cohort and samples, the input paths,
    the cause vocabulary and the templates (the manuscript's own words), as the publish step
    does."""
    root = Path(project)
    return {"cohort": str(root / paths.COHORT), "viral_loads": str(root / paths.VIRAL_LOADS),
            "input_paths": settings.input_paths(config),
            "vocabulary": list(config.get("cause_of_death_categories") or {}),
            "template_files": [str(root / p)
                               for p in settings.own_text_files(config, root=root)]}


def watched_files(args: dict[str, Any]) -> list[Path]:
    """Every file the rendered manuscript depends on: templates and the results it reads.

    The templates are listed afresh each time, so a new partial is picked up."""
    from ..render.report import template_dir

    folder = template_dir(args["template_files"], paths.HTML_TEMPLATE)
    files = [p for p in folder.rglob("*") if p.is_file()]
    files += [Path(args[k]) for k in ("estimates", "table1", "provenance", "metadata",
                                      "published", "changes_summary") if args.get(k)]
    files += [Path(p) for k in ("figures", "figure_facts") for p in args[k]]
    return sorted(set(files))


def snapshot(files: list[Path]) -> Snapshot:
    """Modification time and size of each file (missing files are simply absent)."""
    out: Snapshot = {}
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        out[str(path)] = (st.st_mtime_ns, st.st_size)
    return out


def _leaks(html: str, leak_check: dict[str, Any] | None, cached: dict[str, Any]) -> list[str]:
    """Hits of the leak check on the preview's HTML (the PDF is made from it); the terms are
    read again when anything they are made of changed: the check's settings, the cleaned
    files, or a template or the metadata (the manuscript's own words)."""
    if not leak_check or not Path(leak_check["cohort"]).is_file():
        return []
    from ..privacy.leaks import scan_outputs
    from ..release.publish import sensitive_terms

    sources = [Path(leak_check["cohort"]), Path(leak_check["viral_loads"]),
               *map(Path, leak_check.get("template_files", ()))]
    stamp = (repr(sorted(leak_check.items())), snapshot(sources))
    if cached.get("stamp") != stamp:
        cached["stamp"] = stamp
        cached["terms"] = sensitive_terms(leak_check["cohort"], leak_check["viral_loads"],
                                          leak_check["input_paths"], leak_check["vocabulary"],
                                          leak_check.get("template_files", ()))
    hits, _ = scan_outputs([html], cached["terms"])
    return [str(h) for h in hits]


def require_results(args: dict[str, Any]) -> None:
    """Stop with one line when the results a preview reads are not built yet."""
    missing = [k for k in ("estimates", "table1", "provenance") if not Path(args[k]).is_file()]
    if missing:
        raise PipelineError("no results to preview yet: run `snakemake --cores 2` once first "
                            f"(missing: {', '.join(args[k] for k in missing)})")


def _changed(before: Snapshot | None, after: Snapshot, files: list[Path]) -> bool:
    return before is not None and any(before.get(str(f)) != after.get(str(f)) for f in files)


def watch(args: dict[str, Any], *, interval: float = 0.1, settle: float = 0.0,
          stop: threading.Event | None = None,
          on_render: Callable[[float, list[str] | None], None] | None = None,
          on_start: Callable[[], None] | None = None,
          on_error: Callable[[str], None] | None = None,
          out: TextIO = sys.stderr, leak_check: dict[str, Any] | None = None,
          config_files: list[Path] | None = None,
          reconfigure: Callable[[], tuple[dict[str, Any], dict[str, Any] | None]] | None = None,
          ) -> None:
    """Render now, then again whenever a watched file changes, until ``stop`` is set.

    A template error (an undefined variable, a syntax slip) is printed and the watcher keeps
    going: fixing the template re-renders. The Jinja environment and WeasyPrint's fonts stay
    warm between renders. With ``leak_check`` (:func:`leak_check_arguments`) a preview that
    shows a patient identifier is deleted and the hits are printed, as the build would.
    ``args["pdf"]`` None renders the HTML only. A change is rendered once the files have stayed
    unchanged for ``settle`` seconds (an editor saving several files is one render). When one
    of ``config_files`` changes, ``reconfigure`` gives the new render and leak-check arguments.
    ``on_start`` is called as a render begins; ``on_error`` receives a failed render's message;
    ``on_render`` then receives the seconds the render took and its notes (``None`` when it
    failed).
    """
    from ..render.report import Session, run_render

    session = Session()
    cached: dict[str, Any] = {}
    config_files = list(config_files or [])

    require_results(args)
    stop = stop or threading.Event()
    seen: Snapshot | None = None
    reread = False  # the config changed and has not been read without an error since
    while not stop.is_set():
        current = snapshot(watched_files(args) + config_files)
        if current == seen:
            stop.wait(interval)
            continue
        if seen is not None and settle > 0:
            stop.wait(settle)
            if snapshot(watched_files(args) + config_files) != current:
                continue  # still being saved
        reread = reread or _changed(seen, current, config_files)
        seen = current
        if on_start is not None:
            on_start()
        started = time.perf_counter()
        try:
            if reread and reconfigure is not None:
                args, leak_check = reconfigure()  # a config error: every render stops here
                reread = False
                seen = snapshot(watched_files(args) + config_files)
            notes: list[str] | None = run_render(**args, session=session)
            hits = _leaks(args["html"], leak_check, cached)
            if hits:
                for name in ("html", "pdf"):
                    if args.get(name):
                        Path(args[name]).unlink(missing_ok=True)
                raise PipelineError("identifying information in the preview (deleted):\n  "
                                    + "\n  ".join(hits))
        except PipelineError as exc:
            notes = None
            print(f"[watch] not rendered:\n{exc}", file=out, flush=True)
            if on_error is not None:
                on_error(str(exc))
        took = time.perf_counter() - started
        if notes is not None:
            for note in notes:
                print(f"[watch] {note}", file=out, flush=True)
            print(f"[watch] {args['pdf'] or args['html']} rendered in {took:.2f} s; waiting "
                  "for changes (Ctrl-C to stop)", file=out, flush=True)
        if on_render is not None:
            on_render(took, notes)
        stop.wait(interval)


class BuildConfig:
    """The configuration ``snakemake`` would build from the same ``--configfile`` and
    ``--config`` arguments, read again when one of its files is saved."""

    def __init__(self, project: str | Path = ".", configfiles: list[str] | None = None,
                 overrides: list[str] | None = None) -> None:
        self.project = Path(project)
        self.configfiles = list(configfiles or [])
        self.overrides = list(overrides or [])

    @property
    def files(self) -> list[Path]:
        """The config files read: config/config.yaml and each ``--configfile``."""
        main = self.project / CONFIG_FILE
        return ([main] if main.is_file() or not self.configfiles else []) + [
            Path(f) for f in self.configfiles]

    def load(self) -> dict[str, Any]:
        """The validated config (:func:`load_config`)."""
        return load_config(self.project, self.configfiles, self.overrides)

    def arguments(self, html: str, pdf: str | None
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The render arguments (``pdf`` None: HTML only) and the leak-check arguments."""
        config = self.load()
        return (render_arguments(self.project, config, html, pdf),
                leak_check_arguments(self.project, config))


def run_watch(configfile: list[str], config: list[str], html: str, pdf: str,
              interval: float) -> list[str]:
    """``python -m cmvig_report watch``: watch from the project directory until Ctrl-C, with
    the configuration ``snakemake`` would use given the same ``--configfile`` and ``--config``
    (read again when one of the config files is saved)."""
    build = BuildConfig(".", configfile, config)
    settings_ = build.load()
    if warning := settings.study_warning(settings_):
        print(warning, file=sys.stderr, flush=True)
    args, leak_check = build.arguments(html, pdf)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the user stops it
        watch(args, interval=interval, leak_check=leak_check, config_files=build.files,
              reconfigure=lambda: build.arguments(html, pdf))
    return []
