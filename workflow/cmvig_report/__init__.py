"""Reproducible manuscript pipeline for the CMVIG salvage-therapy case series.

One module per pipeline stage: ``cohort`` (validation and cleaning), ``survival`` and
``analysis`` (estimates, Table 1), ``figures``, ``report`` (templates to HTML/PDF/QMD/DOCX),
``provenance`` (checksums and versions), ``synth`` (cohort generator). Each Snakemake rule runs
one stage function through its script in ``workflow/scripts/`` and ``step``.
"""

__version__ = "0.1.0"
