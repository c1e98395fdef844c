"""Figures: files, the numbers they draw, labels, determinism, readability at any N."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from cohort_factory import abstract_like_cohort, make_cohort

from cmvig_report.analysis import compute_estimates, km_curves
from cmvig_report.figures import (
    figure1,
    figure2,
    figure2_at_risk,
    flow_counts,
    render_bytes,
    run_figure1,
    run_figure2,
)
from cmvig_report.formatting import format_p

DAYS = {"response_day": 50, "os_cmvig_day": 100, "os_hsct_day": 365, "lloq_iu_ml": 137}


def random_cohort(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        fu = int(rng.integers(20, 900))
        resp = int(rng.integers(7, 80)) if rng.random() < 0.6 else None
        if resp is not None and resp > fu:
            resp = None
        rows.append({"type": "recurrent" if rng.random() < 0.5 else "refractory",
                     "response": resp, "fu": fu, "died": bool(rng.random() < 0.25),
                     "hsct_to_cmvig": int(rng.integers(20, 150))})
    return make_cohort(rows)


def _write_inputs(tmp_path, cohort):
    est = compute_estimates(cohort, **DAYS)
    c, e = tmp_path / "cohort.csv", tmp_path / "estimates.json"
    cohort.to_csv(c, index=False)
    e.write_text(json.dumps(est))
    return str(c), str(e), est


def test_files_for_shipped_shape_and_generated_cohort(tmp_path):
    for name, cohort in (("small", abstract_like_cohort()), ("big", random_cohort(300))):
        c, e, _ = _write_inputs(tmp_path, cohort)
        for fig, run in (("figure1", run_figure1), ("figure2", run_figure2)):
            out = {k: str(tmp_path / f"{name}-{fig}.{k}") for k in ("svg", "png", "json")}
            args = dict(cohort=c, estimates=e, svg_out=out["svg"], png_out=out["png"],
                        meta_out=out["json"])
            if fig == "figure1":
                args["max_rows"] = 40
            else:
                curves = tmp_path / f"{name}-curves.csv"
                km_curves(cohort).to_csv(curves, index=False)
                args["curves"] = str(curves)
            run(**args)
            assert (tmp_path / f"{name}-{fig}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert "<svg" in (tmp_path / f"{name}-{fig}.svg").read_text()


def test_at_risk_numbers_drawn_match_the_landmark_counts():
    cohort = abstract_like_cohort()
    est = compute_estimates(cohort, **DAYS)
    table = figure2_at_risk(cohort["os_from_cmvig_days"], cohort["died"], [0, 100])
    row = table[table["tick"] == 100].iloc[0]
    block = est["os_from_cmvig"]
    assert (row["at_risk"], row["events"], row["censored"]) == (
        block["at_risk"], block["events"], block["censored"])
    rec = cohort[cohort["infection_type"] == "recurrent"]
    row = figure2_at_risk(rec["days_to_response_or_censoring"], rec["responded"], [50]).iloc[0]
    block = est["response_by_type"]["recurrent"]
    assert (row["at_risk"], row["events"]) == (block["at_risk"], block["events"])
    # the drawing uses exactly this table: its numbers appear as SVG text
    fig, meta = figure2(cohort, est)
    svg = render_bytes(fig)[0].decode()
    ticks = meta["at_risk_ticks"]
    drawn = figure2_at_risk(cohort["os_from_cmvig_days"], cohort["died"], ticks)
    for value in drawn["at_risk"]:
        assert f">{value}<" in svg


def test_svg_keeps_labels_as_text():
    cohort = abstract_like_cohort()
    est = compute_estimates(cohort, **DAYS)
    svg = render_bytes(figure2(cohort, est)[0])[0].decode()
    assert "Recurrent" in svg and "Refractory" in svg
    assert f"Log-rank {format_p(est['logrank_p'])}" in svg
    assert "Days since CMVIG start" in svg


def test_two_renders_are_byte_identical():
    cohort = abstract_like_cohort()
    est = compute_estimates(cohort, **DAYS)
    first = render_bytes(figure2(cohort, est)[0]) + render_bytes(figure1(cohort, 50)[0])
    second = render_bytes(figure2(cohort, est)[0]) + render_bytes(figure1(cohort, 50)[0])
    assert first == second


def test_large_cohort_timeline_shows_a_stated_subset():
    cohort = random_cohort(500)
    fig, meta = figure1(cohort, 50, max_rows=40)
    assert meta["timeline_rows_shown"] == 40
    assert meta["timeline_rows_total"] == 500
    assert "evenly spaced" in meta["timeline_subset_rule"]
    svg = render_bytes(fig)[0].decode()
    assert "Showing 40 of 500 patients" in svg
    shown_ids = [pid for pid in cohort["patient_id"] if f">{pid}<" in svg]
    assert len(shown_ids) == 40


def test_single_group_cohort_still_renders():
    cohort = make_cohort([{"type": "recurrent", "response": 20, "fu": 200},
                          {"type": "recurrent", "response": None, "fu": 120}])
    est = compute_estimates(cohort, **DAYS)
    assert flow_counts(cohort, 50)["refractory"]["n"] == 0
    svg = render_bytes(figure2(cohort, est)[0])[0].decode()
    assert "not estimable" in svg
    render_bytes(figure1(cohort, 50)[0])


def test_every_text_is_at_least_7_pt_at_180_mm():
    from matplotlib.text import Text

    cohort = random_cohort(500)
    est = compute_estimates(cohort, **DAYS)
    for fig in (figure1(cohort, 50, 40)[0], figure2(cohort, est)[0]):
        render_bytes(fig)  # lay out tick labels
        assert abs(fig.get_figwidth() * 25.4 - 180) < 1
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
        assert sizes and min(sizes) >= 7
