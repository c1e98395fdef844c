"""The code each step runs, found from the imports, so that an edit re-runs what it touches.

Every rule runs its own script, ``workflow/scripts/<rule>.py``, which imports its stage
function from this package. The code of a step is that script and the package modules it
imports, directly or through other modules (lazy imports inside functions included). Each rule
lists them as its ``code`` input (:func:`stage_code`), so Snakemake re-runs the step, and
everything below it, when one of them changes; :func:`build_code` is the code of the whole
build, which the provenance record and the manifest checksum.

Files are read with :mod:`ast`, never imported: the Snakefile calls this on every run, no-op
included. Paths are relative to the project root, where Snakemake runs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from .. import paths

PACKAGE_NAME = Path(paths.PACKAGE).name
INIT = "__init__"  # runs whenever any module of the package is imported


# An import statement's first line: ``import x`` or ``from x import y``, at any indentation
# (imports inside functions count). Only these statements are parsed, not whole files: the
# Snakefile reads the code of every step on every run, no-op included.
_IMPORT_START = re.compile(r"^[ \t]*(?:from[ \t]+\.*[\w.]*[ \t]+import\b|import[ \t]+\w)", re.M)


@cache  # by text: a file is read each time, scanned once per content
def _import_nodes(text: str) -> tuple[ast.Import | ast.ImportFrom, ...]:
    nodes: list[ast.Import | ast.ImportFrom] = []
    for match in _IMPORT_START.finditer(text):
        statement = _statement(text, match.start())
        try:
            body = ast.parse(statement.strip()).body
        except SyntaxError:  # a line of prose that reads like one (in a docstring)
            continue
        nodes += [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return tuple(nodes)


def _statement(text: str, start: int) -> str:
    # the statement from ``start`` to its end: the line, or up to the closing parenthesis of
    # ``from x import (a,\n b)``, or over backslash continuations
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    line = text[start:end]
    if "(" in line and ")" not in line:
        close = text.find(")", end)
        return text[start:close + 1] if close >= 0 else line
    while line.endswith("\\") and end < len(text):
        nxt = text.find("\n", end + 1)
        nxt = len(text) if nxt < 0 else nxt
        line, end = line[:-1] + text[end + 1:nxt], nxt
    return line


def package_modules(root: str | Path = ".") -> frozenset[str]:
    """Every module of the package as its dotted key relative to the package (``stats.survival``,
    ``stats.__init__``, ``__init__``), from one walk of its folder."""
    package = Path(root) / paths.PACKAGE
    return frozenset(".".join(f.relative_to(package).with_suffix("").parts)
                     for f in package.rglob("*.py"))


def _module(parts: tuple[str, ...], modules: frozenset[str]) -> str | None:
    """The module named by ``parts`` (relative to the package) as its dotted key, when it is a
    file of the package: ``stats.survival`` for ``stats/survival.py``, ``stats.__init__`` for
    the subpackage ``stats/``, ``__init__`` for the package itself; None otherwise."""
    if parts and ".".join(parts) in modules:
        return ".".join(parts)
    if (init := ".".join([*parts, INIT])) in modules:
        return init
    return None


def _with_parents(parts: tuple[str, ...], modules: frozenset[str]) -> set[str]:
    # Importing a.b.c runs the __init__ of the package and of a and a.b first.
    found = {_module(parts[:depth], modules) for depth in range(len(parts))}
    found.add(_module(parts, modules))
    return found - {None}


@cache  # a pure function of the file's text, its place and the package's modules
def _imports(text: str, here: tuple[str, ...] | None, modules: frozenset[str]
             ) -> frozenset[str]:
    found: set[str] = set()
    for node in _import_nodes(text):
        if isinstance(node, ast.Import):
            for alias in node.names:
                dotted = alias.name.split(".")
                if dotted[0] == PACKAGE_NAME:
                    found |= _with_parents(tuple(dotted[1:]), modules)
            continue
        if node.level and here is not None and node.level - 1 <= len(here):
            base = here[:len(here) - (node.level - 1)]
        elif node.level == 0 and node.module and node.module.split(".")[0] == PACKAGE_NAME:
            base = ()
        else:
            continue
        parts = base + tuple(node.module.split(".") if node.module else ())
        if node.level == 0:
            parts = parts[1:]  # the package's own name
        found |= _with_parents(parts, modules)
        # from x import a, b: submodules of x where they are modules, names of x otherwise
        for alias in node.names:
            if (submodule := _module((*parts, alias.name), modules)) is not None:
                found |= _with_parents((*parts, alias.name), modules) | {submodule}
    return frozenset(found)


def _place(path: str | Path, root: str | Path) -> tuple[str, ...] | None:
    # where a relative import starts from: the file's own (sub)package, or None outside
    package = (Path(root) / paths.PACKAGE).resolve()
    folder = Path(path).resolve().parent
    return folder.relative_to(package).parts if folder.is_relative_to(package) else None


def imported_modules(path: str | Path, root: str | Path = ".",
                     modules: frozenset[str] | None = None) -> set[str]:
    """Modules of the package that the file ``path`` imports itself (not transitively), as
    dotted keys relative to the package (:func:`paths.module_file` gives their files).

    ``from . import survival``, ``from .io import write_json``, ``import cmvig_report.core.step``,
    ``from cmvig_report import paths`` and, in a subpackage, ``from ..stats import km`` all
    count, with the ``__init__`` of every package on the way (which the import runs).
    ``modules``: the package's modules (:func:`package_modules`), when the caller has them.
    """
    modules = package_modules(root) if modules is None else modules
    text = Path(path).read_text(encoding="utf-8")
    return set(_imports(text, _place(path, root), modules))


def package_code(files: Iterable[str | Path], root: str | Path = ".") -> list[str]:
    """The package modules ``files`` import, directly or through each other, as sorted paths
    relative to ``root`` (with the package's ``__init__.py``, which every import runs)."""
    modules = package_modules(root)
    seen: set[str] = set()
    todo = [m for f in files for m in imported_modules(Path(root) / f, root, modules)]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            # a module's own place is its dotted key less its name: no path to resolve
            text = (Path(root) / paths.module_file(module)).read_text(encoding="utf-8")
            todo += _imports(text, tuple(module.split(".")[:-1]), modules)
    return sorted(paths.module_file(m) for m in seen)


def stage_code(rule: str, root: str | Path = ".") -> list[str]:
    """The code of the rule ``rule`` (its ``code`` input): its script, then every package module
    that script imports, directly or indirectly, sorted."""
    script = paths.script(rule)
    if not (Path(root) / script).is_file():
        raise FileNotFoundError(f"{script}: missing; rule {rule!r} runs the script named after "
                                "it (workflow/scripts/<rule>.py)")
    return [script, *package_code([script], root)]


def build_code(root: str | Path = ".") -> list[str]:
    """The code of the whole build, sorted: the Snakefile, the rule files, every rule's script,
    the config schema, and the package modules they import (not the package's other tools)."""
    base = Path(root)
    workflow = sorted({p.relative_to(base).as_posix() for pattern in paths.WORKFLOW_GLOBS
                       for p in base.glob(pattern) if p.is_file()})
    return sorted({*workflow, *package_code(workflow, root)})
