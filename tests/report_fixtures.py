"""Fake upstream results for the rendering tests, built in a temporary project directory.

Estimates and Table 1 come from the real analysis functions applied to a small fabricated
cohort (tests/cohort_factory.py), so the numbers are consistent with each other; the figures
are stand-ins (a grey SVG rectangle and a 1-pixel PNG): these tests are about text, not drawing.
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import pandas as pd
import yaml

from cmvig_report import paths
from cmvig_report.privacy.printed_counts import disclosure_plan, landmark_plan
from cmvig_report.release.provenance import build_provenance
from cmvig_report.render.render_settings import from_params
from cmvig_report.stats import claims
from cmvig_report.stats.analysis import compute_estimates
from cmvig_report.stats.table1 import build_table1

ROOT = Path(__file__).resolve().parents[1]
DAYS = {"response_day": 50, "os_cmvig_day": 100, "os_hsct_day": 365, "lloq_iu_ml": 137}
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200">'
       '<rect width="400" height="200" fill="#eee"/></svg>')


def tiny_png() -> bytes:
    """A valid 1x1 grey PNG, written without any imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\xcc")) + chunk(b"IEND", b""))


# The caption facts the figure steps add beside the fixtures' own (nothing hidden, every
# event on the axis, one assay limit).
FIGURE1_SMALL_CELLS = {"timeline_drawn": True, "timeline_types_pooled": False,
                       "timeline_marks_left_out": {}, "timeline_deaths_beyond_axis": 0}
FIGURE2_AXES = {"events_beyond_axis": {"response": 0, "overall_survival": 0},
                "axis_end": {"response": 50, "overall_survival": 100}}
FIGURE3_STYLE = {"groups_summarised_only": [], "median_band": False, "many_children": False,
                 "sample_limits": [137.0], "own_limits_marked": False}


def make_project(tmp_path: Path, cohort: pd.DataFrame, *, figure1_meta: dict | None = None,
                 figure2_meta: dict | None = None, figure3_meta: dict | None = None,
                 estimates_patch: dict | None = None, study: str = "replication",
                 sample_lloqs: pd.Series | None = None, min_cell_count: int = 0) -> dict:
    """A project directory (templates copied from the checkout, results/ for ``cohort``).

    Returns the keyword arguments of ``report.run_render`` minus the outputs, plus
    ``_project`` (the directory, a Path), ``_metadata`` (the study's metadata file, a Path)
    and ``_estimates`` (the estimates dict) for assertions. ``estimates_patch`` overrides
    top-level keys of the estimates (e.g. to fake a null); ``study`` is config ``study``;
    ``sample_lloqs`` the LLOQ of each PCR result (``results/viral_loads.csv``);
    ``min_cell_count`` applies the small-cell plan as the estimates step does.
    """
    project = tmp_path / "project"
    shutil.copytree(ROOT / "templates", project / "templates")
    results = project / "results"
    figures = results / "figures"
    figures.mkdir(parents=True)
    # The replication appendix compares with the published window, as the shipped cohort does.
    window = yaml.safe_load((ROOT / "data" / "published.yaml").read_text())["study_period"]
    plan = disclosure_plan(cohort, DAYS["response_day"], min_cell_count)
    est = compute_estimates(cohort, **DAYS, sensitivity_days=[28, 50],
                            study_period=(window, "published"), study=study,
                            sample_lloqs=sample_lloqs, hidden=plan.estimate_keys,
                            min_cell_count=min_cell_count)
    if min_cell_count > 1:  # the landmark counts' marks, and the words that read them
        marks, _ = landmark_plan(est, plan)
        est["disclosure"]["hidden"] = dict(sorted({**est["disclosure"]["hidden"],
                                                   **marks}.items()))
        est["claims"] = claims.build(est, est["disclosure"]["hidden"])
    est.update(estimates_patch or {})
    if estimates_patch and "claims" not in estimates_patch:  # the words follow the patch
        est["claims"] = claims.build(est)
    (results / "estimates.json").write_text(json.dumps(est, allow_nan=False))
    build_table1(cohort, plan.hidden, plan.min_cell).to_csv(results / "table1.csv",
                                                             index=False)
    for name in paths.FIGURE_NAMES:
        (figures / f"{name}.svg").write_text(SVG)
        (figures / f"{name}.png").write_bytes(tiny_png())
    (figures / "figure1.json").write_text(json.dumps(figure1_meta or {
        "timeline_rows_shown": len(cohort), "timeline_rows_total": len(cohort),
        "timeline_subset_rule": None, "timeline_groups_not_drawn": [],
        "timeline_axis_end": 400, "timeline_bars_cut": True,
        "timeline_cut_days_printed": True, **FIGURE1_SMALL_CELLS}))
    (figures / "figure2.json").write_text(json.dumps(figure2_meta or {
        "at_risk_ticks": [0, 50, 100], "at_risk_ticks_response": [0, 25, 50],
        "censor_marks_shown": {"response": True, "overall_survival": True},
        "censor_marks_omitted": [], "risk_table_rows": ["at_risk", "events", "censored"],
        "response_estimand": "one minus Kaplan-Meier", "competing_marks_shown": False,
        **FIGURE2_AXES}))
    (figures / "figure3.json").write_text(json.dumps(figure3_meta or {
        "results_drawn": 12 * len(cohort), "groups_not_drawn": [], "responses_marked": True,
        "axis_end": 150, "results_after_axis_end": False, **FIGURE3_STYLE}))
    data = project / "data"
    data.mkdir()
    shutil.copy(ROOT / "data" / "published.yaml", data / "published.yaml")
    cohort.to_csv(data / "patients.csv", index=False)
    prov = build_provenance({"patients": str(data / "patients.csv")}, {"response_day": 50})
    (results / "provenance.json").write_text(json.dumps(prov))
    return {
        "template_files": [str(project / f) for f in paths.template_files("html", project)],
        "estimates": str(results / "estimates.json"),
        "table1": str(results / "table1.csv"),
        "figures": [str(figures / f"{name}.svg") for name in paths.FIGURE_NAMES],
        "figure_facts": [str(figures / f"{name}.json") for name in paths.FIGURE_NAMES],
        "provenance": str(results / "provenance.json"),
        "metadata": str(project / paths.METADATA[study]),
        "published": str(data / "published.yaml"),
        "replication": study == "replication",
        "line_numbers": False,
        "journal": str(project / paths.JOURNALS / "frontiers-in-pediatrics.yaml"),
        "_project": project,
        "_templates": project / "templates",
        "_metadata": project / paths.METADATA[study],
        "_estimates": est,
    }


def stage_args(kwargs: dict, **settings) -> dict:
    """The keyword arguments a renderer accepts (drops the ``_`` test extras): the render
    settings among ``kwargs`` (flat, as a rule's params), updated with ``settings``, become
    its one ``settings`` object, as the rule's script makes it."""
    render, rest = from_params({**{k: v for k, v in kwargs.items() if not k.startswith("_")},
                                **settings})
    return {**rest, "settings": render}


def qmd_args(kwargs: dict, **settings) -> dict:
    """``stage_args`` for the Quarto source: its templates and the PNG figures."""
    project = kwargs["_project"]
    args = stage_args(kwargs, **settings)
    args["template_files"] = [str(project / f) for f in paths.template_files("qmd", project)]
    args["figures"] = [p.replace(".svg", ".png") for p in args["figures"]]
    args["figure_copies"] = [str(project / "report" / "figures" / Path(p).name)
                             for p in args["figures"]]
    return args
