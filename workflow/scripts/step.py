"""Every rule's script: runs the rule's stage function (cmvig_report.step.STEPS) with the
rule's named inputs, outputs and params as keyword arguments, and writes its log."""

from cmvig_report.step import run

run(snakemake)  # noqa: F821 -- `snakemake` is provided by Snakemake's script: directive
