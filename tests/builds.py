"""Copies of a built project for the end-to-end tests (the shared builds are in conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path


def clone_build(built: Path, dest: Path) -> Path:
    """A copy of a built project in ``dest``/clone, outputs and Snakemake's records included
    (mtimes kept: ``copytree`` copies with ``copy2``), so that Snakemake sees it up to date."""
    clone = dest / "clone"
    shutil.copytree(built, clone, symlinks=True)
    return clone
