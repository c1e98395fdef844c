"""Audit trail: what went in (inputs, config, software) and everything that came out.

``results/provenance.json`` records the inputs' checksums, the config and the software
versions; it depends on nothing the pipeline computes, so it is written while the cohort is
cleaned and the manuscript's reproducibility appendix can print it. The code is not in it: a
printed code checksum would make every edit to any step's code re-render the manuscript.
``report/manifest.json`` is written last and adds the checksums of every result, template,
code file (one for the whole code too) and manuscript file, and the git commit (it cannot be
embedded in the manuscript it describes).
"""

from __future__ import annotations

import ctypes.util
import hashlib
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

from ..core.io import sha256_file, write_json
from ..errors import PipelineError

# Distributions whose versions a reviewer needs to rebuild the numbers and the document.
SOFTWARE = (
    "cmvig-report", "snakemake", "pandas", "pyarrow", "numpy", "scipy", "lifelines", "matplotlib",
    "jinja2", "weasyprint", "pydyf", "pyyaml", "openpyxl", "pypandoc-binary",
)


def software_versions() -> dict[str, str]:
    """Versions of Python and of each dependency installed in this environment."""
    versions = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    # WeasyPrint subsets fonts with HarfBuzz when the system library is there, with fontTools
    # otherwise: the PDF bytes differ between the two, so a rebuild needs to know which.
    versions["font subsetting"] = ("libharfbuzz-subset" if ctypes.util.find_library(
        "harfbuzz-subset") else "fontTools")
    return versions


def file_record(path: str | Path) -> dict[str, object]:
    """Path, size and sha256 of one file."""
    p = Path(path)
    if not p.is_file():
        raise PipelineError(f"{p}: expected file is missing")
    return {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)}


def files_sha256(files: list[str]) -> str:
    """One checksum for a set of files: the SHA-256 of the lines ``<sha256>  <path>`` (as
    ``sha256sum`` prints them), in sorted path order. It changes when any file's content or
    name does; ``sha256sum FILE... | sha256sum`` in that order gives it again."""
    lines = "".join(f"{sha256_file(p)}  {Path(p).as_posix()}\n" for p in sorted(files))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def git_commit(root: str | Path = ".") -> str | None:
    """The commit checked out at ``root``, or None when git is missing or it is no checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "HEAD"], cwd=root,
                              capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def build_provenance(inputs: dict[str, str], config: dict) -> dict:
    """The provenance record of docs/interfaces.md: inputs, config and software."""
    return {
        "config": config,
        "inputs": {name: file_record(path) for name, path in sorted(inputs.items())},
        "software": software_versions(),
    }


def run_provenance(*, provenance: str, config: dict, **inputs: str) -> list[str]:
    """Step ``provenance``: ``results/provenance.json``; every other input is recorded by role
    (its name in the rule: patients, viral_loads, published)."""
    write_json(build_provenance(inputs, dict(config)), provenance)
    return []


# Config keys that hold paths or raw text from the input: what is shared names inputs by role and
# checksum, and gives the size of the cause vocabulary, never its raw texts.
UNSHARED_SETTINGS = ("patients", "viral_loads", "published", "compare_with", "centres",
                     "pooled_from")


def shareable_settings(config: dict) -> dict:
    """The config as shareable outputs print it: no input paths, the cause vocabulary as a
    number of categories (its raw texts come from the export)."""
    out = {k: v for k, v in config.items() if k not in UNSHARED_SETTINGS}
    if isinstance(out.get("cause_of_death_categories"), dict):
        out["cause_of_death_categories"] = len(out["cause_of_death_categories"])
    return out


def build_manifest(provenance: dict, results: list[str], outputs: list[str],
                   templates: list[str], code: list[str], commit: str | None) -> dict:
    """Everything a reviewer needs to check a build: inputs (by role and checksum, no path),
    settings, software, the code (one checksum for the code, one for the templates, the git
    commit) and the checksums of every result, template, code and manuscript file.

    It sits in report/ beside the manuscript, so it holds nothing that identifies a patient or
    the place the export came from: every path is relative to the project."""
    return {
        "config": shareable_settings(provenance.get("config", {})),
        "inputs": {role: {k: v for k, v in record.items() if k != "path"}
                   for role, record in provenance.get("inputs", {}).items()},
        "software": provenance.get("software", {}),
        "code_sha256": files_sha256(code),
        "templates_sha256": files_sha256(templates),
        "git_commit": commit,
        "results": {str(p): sha256_file(p) for p in sorted(results)},
        "templates": {str(p): sha256_file(p) for p in sorted(templates)},
        "code": {str(p): sha256_file(p) for p in sorted(code)},
        "outputs": {str(p): sha256_file(p) for p in sorted(outputs)},
    }
