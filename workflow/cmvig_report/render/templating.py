"""Reading the files the templates need, and rendering templates with errors a user can act on.

Templates render with ``StrictUndefined`` (a misspelled variable stops the build naming the
template, the line and the name) and, for HTML, autoescaping. The results they read are strict
as well (:class:`StrictResultsEnvironment`): reading a key the results do not hold is an error
even where Jinja would hand back an undefined value quietly (``{% if est.x is defined %}``,
``est.x is none``), so a sentence can never rest on a key that does not exist.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path
from typing import Any

import jinja2

from ..errors import PipelineError
from .register import Register, Tracked, install

# Errors a template can cause by calling a filter or attribute on the wrong kind of value.
TEMPLATE_RUNTIME_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError,
                           ZeroDivisionError)


# --------------------------------------------------------------------------------------------
# Templates


def markdown_escape(text: Any) -> str:
    """Data text as literal Markdown: characters pandoc would read as markup get a backslash."""
    return re.sub(r"([\\`*_\[\]<>|$@~^#])", r"\\\1", str(text))


class StrictResultsEnvironment(jinja2.Environment):
    """A Jinja environment in which reading a missing key of a result (a tracked mapping:
    ``est``, ``meta``, ``prov``, the figures' facts...) raises :class:`jinja2.UndefinedError`
    naming the key, instead of giving an undefined value that ``is defined``, ``is none`` or
    ``default`` would take quietly. An optional key is tested with ``"key" in block``."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if _missing_key(obj, attribute):
            raise _missing_key_error(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str) and _missing_key(obj, argument):
            raise _missing_key_error(obj, argument)
        return super().getitem(obj, argument)


def _missing_key(obj: Any, key: str) -> bool:
    return (isinstance(obj, Tracked) and isinstance(obj, dict) and key not in obj
            and not hasattr(obj, key))


def _missing_key_error(obj: Any, key: str) -> jinja2.UndefinedError:
    source = obj._source
    where = f"{source}{'.' if '#' in source else '#'}{key}"
    return jinja2.UndefinedError(f"{source} has no attribute '{key}' (no key {where} in the "
                                 "results)")


def make_environment(templates: str | Path, *, html: bool = True,
                     register: Register | None = None) -> jinja2.Environment:
    """Jinja2 environment for the manuscript templates, with the number filters.

    ``html`` switches autoescaping on (HTML) or off (Quarto source). Numbers print through the
    filters of :mod:`.formatting`, recorded in ``register`` (:mod:`.register`). The ``text``
    filter marks data strings printed as plain words: autoescaping covers them in HTML, and in
    the Quarto source it escapes Markdown characters.
    """
    env = StrictResultsEnvironment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    install(env, register or Register(html=html), str if html else markdown_escape)
    return env


def _display_path(filename: str | None, templates: Path) -> str:
    if not filename:
        return "<template>"
    try:
        return Path(filename).resolve().relative_to(templates.resolve().parent).as_posix()
    except ValueError:
        return filename


def _template_location(exc: BaseException, templates: Path) -> tuple[str, int | None]:
    # Jinja rewrites tracebacks so that template frames carry the template's file and line;
    # the innermost template frame is where the mistake is.
    location: tuple[str, int | None] = ("<template>", None)
    root = str(templates.resolve())
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename.startswith(root) or filename.endswith(".j2"):
            location = (_display_path(filename, templates), lineno)
    return location


def render_template(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render one template; template mistakes become a PipelineError with file and line."""
    templates = Path(env.loader.searchpath[0])  # type: ignore[union-attr]
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = _display_path(exc.filename, templates) if exc.filename else exc.name
        raise PipelineError(f"template {where}, line {exc.lineno}: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        filename, lineno = _template_location(exc, templates)
        where = f" (included from {filename}, line {lineno})" if lineno else ""
        raise PipelineError(f"template not found: {exc.name}, looked for in {templates}"
                            f"{where}") from None
    except jinja2.UndefinedError as exc:
        filename, lineno = _template_location(exc, templates)
        name_match = re.search(r"'([^']+)' is undefined|no attribute '([^']+)'", exc.message or "")
        undefined = next((g for g in name_match.groups() if g), None) if name_match else None
        what = f"undefined variable {undefined!r}" if undefined else "undefined variable"
        raise PipelineError(
            f"template {filename}, line {lineno}: {what} ({exc.message})"
        ) from None
    except TEMPLATE_RUNTIME_ERRORS as exc:
        filename, lineno = _template_location(exc, templates)
        if filename == "<template>":
            raise  # not a template mistake: a bug in this module
        raise PipelineError(
            f"template {filename}, line {lineno}: {type(exc).__name__}: {exc}"
        ) from None
