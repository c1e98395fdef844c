"""Upstream results for rendering tests, built with the real stage functions in a temp dir."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from cmvig_report.analysis import compute_estimates
from cmvig_report.provenance import build_provenance
from cmvig_report.table1 import build_table1, table1_html

ROOT = Path(__file__).resolve().parents[1]
DAYS = {"response_day": 50, "os_cmvig_day": 100, "os_hsct_day": 365, "lloq_iu_ml": 137}
# A stand-in figure: the rendering tests are about text, not about drawing.
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200">'
       '<rect width="400" height="200" fill="#eee"/></svg>')


def make_project(tmp_path: Path, cohort: pd.DataFrame, *, with_png: bool = False) -> dict:
    """A project directory (templates copied) with results/ for ``cohort``; returns the
    keyword arguments of report.run_render minus the outputs."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "templates", project / "templates")
    results = project / "results"
    figures = results / "figures"
    figures.mkdir(parents=True)
    est = compute_estimates(cohort, **DAYS)
    (results / "estimates.json").write_text(json.dumps(est))
    table = build_table1(cohort)
    table.to_csv(results / "table1.csv", index=False)
    (results / "table1.html").write_text(table1_html(table))
    for name in ("figure1", "figure2"):
        (figures / f"{name}.svg").write_text(SVG)
    (figures / "figure1.json").write_text(json.dumps(
        {"timeline_rows_shown": len(cohort), "timeline_rows_total": len(cohort),
         "timeline_subset_rule": None}))
    (figures / "figure2.json").write_text(json.dumps({"at_risk_ticks": [0, 50, 100]}))
    data = project / "data"
    data.mkdir()
    shutil.copy(ROOT / "data" / "published.yaml", data / "published.yaml")
    cohort.to_csv(data / "patients.csv", index=False)
    prov = build_provenance({"patients": str(data / "patients.csv")}, [], {"response_day": 50})
    (results / "provenance.json").write_text(json.dumps(prov))
    return {
        "templates": str(project / "templates"),
        "estimates": str(results / "estimates.json"),
        "table1_html": str(results / "table1.html"),
        "figures_dir": str(figures),
        "provenance": str(results / "provenance.json"),
        "published": str(data / "published.yaml"),
        "replication": True,
        "line_numbers": False,
        "_project": project,
        "_estimates": est,
    }
