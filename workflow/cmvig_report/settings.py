"""Settings derived from config/config.yaml, shared by the Snakefile and ``watch``.

Kept in one place so that the live preview renders with exactly the flags the Snakemake build
uses. Imports nothing heavy: the Snakefile reads it on every run.
"""

from __future__ import annotations

from typing import Any

# Booleans arrive as text from `snakemake --config key=value`.
TRUE_WORDS = (True, "true", "yes")
SHIPPED_INPUTS = ("data/raw/patients.csv", "data/raw/viral_loads.csv")


def replication_check(config: dict[str, Any]) -> bool:
    """Whether Appendix A compares with the published values: by default only for the
    shipped cohort, whose numbers are the paper's."""
    if config["replication_check"] == "auto":
        return (config["patients"], config["viral_loads"]) == SHIPPED_INPUTS
    return config["replication_check"] in TRUE_WORDS


def line_numbers(config: dict[str, Any]) -> bool:
    """Whether the manuscript numbers its paragraphs for review."""
    return config["line_numbers"] in TRUE_WORDS


def output_formats(config: dict[str, Any]) -> list[str]:
    """Extra formats (html, pdf, qmd, docx); ``--config formats=a,b`` arrives as one string."""
    formats = config["formats"]
    return formats.split(",") if isinstance(formats, str) else list(formats)
