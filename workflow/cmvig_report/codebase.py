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
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

from . import paths

PACKAGE_NAME = Path(paths.PACKAGE).name
INIT = "__init__"  # runs whenever any module of the package is imported


@cache  # by text: a file is read each time, parsed once per content
def _import_nodes(text: str) -> tuple[ast.Import | ast.ImportFrom, ...]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        # A Snakemake file is not Python as a whole: read its one-line import statements.
        lines = (line.strip() for line in text.splitlines())
        tree = ast.Module(body=[], type_ignores=[])
        for line in lines:
            if line.startswith(("import ", "from ")):
                try:
                    tree.body += ast.parse(line).body
                except SyntaxError:
                    continue
    return tuple(node for node in _statements(tree.body)
                 if isinstance(node, (ast.Import, ast.ImportFrom)))


def _statements(nodes: list[ast.AST]) -> Iterator[ast.AST]:
    # Imports are statements: the bodies of functions, classes, branches and handlers are
    # searched, expressions are not (ast.walk would visit every node of every expression).
    for node in nodes:
        yield node
        for block in ("body", "orelse", "finalbody", "handlers", "cases"):
            yield from _statements(getattr(node, block, None) or [])


def imported_modules(path: str | Path, root: str | Path = ".") -> set[str]:
    """Modules of the package that the file ``path`` imports itself (not transitively).

    ``from . import survival``, ``from .io import write_json``, ``import cmvig_report.step``
    and ``from cmvig_report import paths`` all count; relative imports only inside the package.
    """
    package = Path(root) / paths.PACKAGE
    inside = Path(path).resolve().parent == package.resolve()
    found: set[str] = set()
    for node in _import_nodes(Path(path).read_text(encoding="utf-8")):
        if isinstance(node, ast.Import):
            dotted = [alias.name.split(".") for alias in node.names]
            found.update(d[1] if len(d) > 1 else INIT for d in dotted if d[0] == PACKAGE_NAME)
            continue
        if node.level == 1 and inside:
            parts = node.module.split(".") if node.module else []
        elif node.level == 0 and node.module and node.module.split(".")[0] == PACKAGE_NAME:
            parts = node.module.split(".")[1:]
        else:
            continue
        found.add(INIT)
        if parts:
            found.add(parts[0])
        else:  # from . import a, b / from cmvig_report import a, b: submodules (or names)
            found.update(alias.name for alias in node.names)
    return {m for m in found if (Path(root) / paths.module_file(m)).is_file()}


def package_code(files: Iterable[str | Path], root: str | Path = ".") -> list[str]:
    """The package modules ``files`` import, directly or through each other, as sorted paths
    relative to ``root`` (with the package's ``__init__.py``, which every import runs)."""
    seen: set[str] = set()
    todo = [module for f in files for module in imported_modules(Path(root) / f, root)]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += imported_modules(Path(root) / paths.module_file(module), root)
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
