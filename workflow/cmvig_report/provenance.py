"""Audit trail: checksums of inputs and results, the config used, software versions.

``results/provenance.json`` is written before rendering (the manuscript's reproducibility
appendix prints it); ``report/manifest.json`` is written last and adds the checksums of the
templates and of every manuscript file, so it can never be embedded in the manuscript itself.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

from .errors import PipelineError
from .io import sha256_file, write_json

# Distributions whose versions a reviewer needs to rebuild the numbers and the document.
SOFTWARE = (
    "cmvig-report", "snakemake", "pandas", "numpy", "scipy", "lifelines", "matplotlib",
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
    return versions


def file_record(path: str | Path) -> dict[str, object]:
    """Path, size and sha256 of one file."""
    p = Path(path)
    if not p.is_file():
        raise PipelineError(f"{p}: expected file is missing")
    return {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)}


def build_provenance(inputs: dict[str, str], results: list[str], config: dict) -> dict:
    """The provenance record of docs/interfaces.md."""
    return {
        "config": config,
        "inputs": {name: file_record(path) for name, path in sorted(inputs.items())},
        "results": {str(p): sha256_file(p) for p in sorted(results)},
        "software": software_versions(),
    }


def run_provenance(inputs: list[tuple[str, str]], results: list[str], config_json: str,
                   out: str) -> list[str]:
    """CLI entry for ``results/provenance.json``."""
    write_json(build_provenance(dict(inputs), results, json.loads(config_json)), out)
    return []


def build_manifest(provenance: dict, outputs: list[str], templates: list[str]) -> dict:
    """Everything a reviewer needs to check a build: provenance plus report and template hashes."""
    return {
        **provenance,
        "templates": {str(p): sha256_file(p) for p in sorted(templates)},
        "outputs": {str(p): sha256_file(p) for p in sorted(outputs)},
    }


def run_manifest(provenance: str, outputs: list[str], out: str,
                 templates: list[str] | None = None) -> list[str]:
    """CLI entry for ``report/manifest.json``."""
    record = json.loads(Path(provenance).read_text(encoding="utf-8"))
    write_json(build_manifest(record, outputs, templates or []), out)
    return []
