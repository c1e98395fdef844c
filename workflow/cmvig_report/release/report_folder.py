"""What ``report/`` holds: the files this build published, each listed in its manifest.

A file left in ``report/`` by an earlier build (another cohort's submission package, the
changes of a comparison since switched off, a figure copy of a format no longer built) would sit
beside the new manuscript as if it belonged to it. Ownership, for the current config:

- the ``publish`` step owns ``report/`` and writes ``report/manifest.json``;
- each centre's bundle step owns ``report/centres/<centre>/aggregate.json`` and the pooled step
  ``report/pooled/``: with config ``centres`` or ``pooled_from`` they are inputs of ``publish``,
  so they are this build's before the manifest is written;
- a centre's own ``publish`` step (the same rule, for that centre's export) owns the rest of
  ``report/centres/<centre>/`` and writes its manifest there; the build's ``publish`` leaves
  the folders of the sheet's centres alone and removes those of centres no longer listed;
- ``publish_submission`` owns ``report/submission/`` and runs after ``publish`` (the manifest
  is one of its inputs): it adds the package to the manifest, and records the package's files
  with the fingerprint of the build it was made from (:func:`fingerprint`) in
  ``results/submission_published.json`` (Snakemake deletes a step's outputs before running it,
  so the manifest cannot carry it from one ``publish`` to the next). A later ``publish`` keeps
  the package only while its own fingerprint is the same, i.e. same inputs, settings, results,
  templates and code, and the files are those recorded.

Everything else the ``publish`` step finds in ``report/`` is removed, one line each: a file the
pipeline makes is deleted, any other file (never leak-checked, possibly the user's) is moved to
``results/set_aside/`` inside the data-protection boundary.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..core.io import sha256_file, write_json
from ..paths import (
    CENTRES,
    FORMATS,
    MANIFEST,
    POOLED_MANUSCRIPT,
    PREVIEW_HTML,
    PREVIEW_PDF,
    QMD_FIGURES,
    RESULTS,
    SUBMISSION,
    SUBMISSION_RECORD,
    shared_files,
)

# The manifest's sections that say what a build was made from (not what it wrote, nor the git
# commit: a commit that changes no file changes nothing built).
MADE_FROM = ("config", "inputs", "software", "code_sha256", "templates_sha256", "results")
# Where a file found in report/ that the pipeline does not make is moved (internal).
SET_ASIDE = f"{RESULTS}/set_aside"
# Removals named one by one up to this many, then counted.
MAX_NAMED = 20


def fingerprint(manifest: dict[str, Any]) -> str:
    """The SHA-256 of what a build was made from (:data:`MADE_FROM`), from its manifest."""
    made_from = {key: manifest.get(key) for key in MADE_FROM}
    text = json.dumps(made_from, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_json(path: str | Path) -> dict[str, Any]:
    try:
        found = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def pipeline_made(name: str) -> bool:
    """Whether ``name`` (relative to report/) is a file some step or the live preview writes,
    for some config."""
    top = Path(name).parts[0]
    own = {*shared_files(list(FORMATS), True), *(Path(p).name for p in
                                                 (MANIFEST, PREVIEW_HTML, PREVIEW_PDF))}
    return (name in own or top in (SUBMISSION, CENTRES, Path(POOLED_MANUSCRIPT).parts[0],
                                   QMD_FIGURES)
            or (Path(name).name.startswith(".") and name.endswith(".tmp")))


def tidy(root: str | Path, keep: Iterable[str], set_aside: str | Path = SET_ASIDE
         ) -> list[str]:
    """Remove every file under ``root`` whose path (``root/...``) is not in ``keep``: delete
    it when the pipeline makes it, else move it to ``set_aside``. Empty folders go too.
    Returns the lines to print."""
    root = Path(root)
    keep = {Path(p).resolve() for p in keep}
    removed, moved = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        if path.resolve() in keep:
            continue
        shown, name = path.as_posix(), path.relative_to(root).as_posix()
        if pipeline_made(name):
            path.unlink()
            removed.append(shown)
        else:
            dest = Path(set_aside) / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), dest)
            moved.append(f"moved {shown} to {dest}: not made by the pipeline (never "
                         "leak-checked)")
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    notes = [f"removed {p} (not made by this build)" for p in removed[:MAX_NAMED]]
    if len(removed) > MAX_NAMED:
        notes.append(f"... and {len(removed) - MAX_NAMED} more files removed from {root}/")
    return notes + moved


def _current_package(record: str | Path, made_with: str,
                     submission: Sequence[str]) -> dict[str, Any] | None:
    # the package in report/submission/ belongs to this build if it was made from the same
    # inputs, settings, results, templates and code, has the files this config's journal asks
    # for, and nobody changed them since
    package = _read_json(record)
    if not isinstance(package, dict) or package.get("made_with") != made_with:
        return None
    files = package.get("files") or {}
    if sorted(files) != sorted(submission):
        return None
    if any(not Path(p).is_file() or sha256_file(p) != digest for p, digest in files.items()):
        return None
    return package


def settle(record: dict[str, Any], manifest: str, published: Sequence[str],
           others: Sequence[str], submission: Sequence[str],
           package_record: str | Path = SUBMISSION_RECORD, owned: Sequence[str] = ()
           ) -> list[str]:
    """Step ``publish``, last: leave in the manifest's folder only ``published``, ``others``
    (what the other publish steps made for this config before it), the ``submission`` package
    when ``package_record`` says it is this build's, and whatever is in the folders ``owned``
    by another export's publish step (a centre's report folder, which that step tidies and
    lists in its own manifest); write the manifest ``record`` listing every file left in its
    own care (its ``outputs``). Returns the lines naming what was removed."""
    made_with = fingerprint(record)
    package = _current_package(package_record, made_with, submission)
    kept = [*published, *others, *(package["files"] if package else []),
            *(p for folder in owned for p in Path(folder).rglob("*") if p.is_file())]
    notes = tidy(Path(manifest).parent, [*kept, manifest])
    record = dict(record)
    record["outputs"] = {**record.get("outputs", {}),
                         **{str(p): sha256_file(p) for p in others},
                         **(package["files"] if package else {})}
    if package:
        record[SUBMISSION] = package
    write_json(record, manifest)
    return notes


def record_package(manifest: str, published: Sequence[str], package_record: str) -> list[str]:
    """Step ``publish_submission``, last: remove from the package's folder what this package
    does not hold (another journal's figure files), add the package to the manifest, and
    write ``package_record``: its files and the fingerprint of the build it was made from.
    The package's files are then touched, so that they are newer than the manifest, an input
    of this step."""
    folder = Path(published[0]).parent
    notes = tidy(folder, published)
    record = _read_json(manifest)
    files = {str(p): sha256_file(p) for p in published}
    inside = f"{folder.as_posix()}/"
    record["outputs"] = {**{k: v for k, v in (record.get("outputs") or {}).items()
                            if not k.startswith(inside)}, **files}
    record[SUBMISSION] = {"made_with": fingerprint(record), "files": files}
    write_json(record[SUBMISSION], package_record)
    write_json(record, manifest)
    for path in published:
        os.utime(path)
    return notes

