"""Settings derived from config/config.yaml, shared by the Snakefile and ``watch``.

Kept in one place so that the live preview renders with exactly the flags the Snakemake build
uses. Imports nothing heavy: the Snakefile reads it on every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .io import sha256_file
from .paths import FORMATS

# Booleans arrive as text from `snakemake --config key=value`.
TRUE_WORDS = (True, "true", "yes")
# Checksums of the shipped reconstruction, written by data/reconstruction/build_shipped_cohort.py.
SHIPPED_SUMS = "data/reconstruction/SHA256SUMS"


def shipped_checksums(root: str | Path = ".") -> dict[str, str]:
    """File name (``patients.csv``, ``viral_loads.csv``) -> sha256 of the shipped cohort."""
    try:
        lines = (Path(root) / SHIPPED_SUMS).read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    return {Path(name).name: digest for digest, name in (line.split() for line in lines if line)}


def _sha256(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:  # a missing input is reported by the cohort step, not here
        return None


def is_shipped_cohort(config: dict[str, Any], root: str | Path = ".") -> bool:
    """Whether the inputs are the shipped synthetic reconstruction, byte for byte (under any
    path). A different cohort copied over ``data/raw/`` is not."""
    sums = shipped_checksums(root)
    return bool(sums) and all(
        _sha256(Path(root) / config[key]) == sums.get(name)
        for key, name in (("patients", "patients.csv"), ("viral_loads", "viral_loads.csv")))


def replication_check(config: dict[str, Any], root: str | Path = ".",
                      shipped: bool | None = None) -> bool:
    """Whether the appendix compares with the published values.

    ``auto`` means: only for the shipped cohort, because the paper's numbers belong to it alone.
    ``shipped`` (from :func:`is_shipped_cohort`) spares hashing the inputs again.
    """
    if config["replication_check"] != "auto":
        return config["replication_check"] in TRUE_WORDS
    return is_shipped_cohort(config, root) if shipped is None else shipped


def study_period(config: dict[str, Any], root: str | Path = ".",
                 shipped: bool | None = None) -> tuple[str, str]:
    """The enrolment window as ``("YYYY-MM/YYYY-MM", source)``, source ``config``,
    ``published`` or ``data``; for ``data`` the window is empty and the analysis takes the
    first and last CMVIG month of the cohort."""
    if config["study_period"] != "auto":
        return config["study_period"], "config"
    if is_shipped_cohort(config, root) if shipped is None else shipped:
        import yaml  # only here: the Snakefile reads this module on every run

        published = yaml.safe_load((Path(root) / config["published"]).read_text("utf-8")) or {}
        if published.get("study_period"):
            return str(published["study_period"]), "published"
    return "", "data"


def input_paths(config: dict[str, Any]) -> list[str]:
    """The paths of what the build reads from outside: the exports and a previous freeze
    (none of them may be printed in a shareable output)."""
    return [str(p) for p in (config["patients"], config["viral_loads"],
                             config.get("compare_with")) if p]


def flag(config: dict[str, Any], key: str) -> bool:
    """A yes/no config key (booleans arrive as text from ``--config key=value``)."""
    return config[key] in TRUE_WORDS


def line_numbers(config: dict[str, Any]) -> bool:
    """Whether the manuscript numbers its paragraphs for review."""
    return flag(config, "line_numbers")


def report_formats(config: dict[str, Any]) -> list[str]:
    """Manuscript formats to build, in ``paths.FORMATS`` order: HTML and PDF always (one step
    makes both), plus those listed in ``formats`` (``--config formats=a,b`` arrives as text)."""
    formats = config["formats"]
    wanted = {"html", "pdf", *(formats.split(",") if isinstance(formats, str) else formats)}
    return [fmt for fmt in FORMATS if fmt in wanted]
