"""Figure 3: each child's viral load against days since the first CMVIG dose."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from cohort_factory import abstract_like_cohort, make_cohort

from cmvig_report.figures.figure1 import groups_not_drawn
from cmvig_report.figures.figure3 import (
    BLQ_DROP,
    MANY_LINES,
    TRAJECTORY_COUNTS,
    figure3,
    run_figure3,
)
from cmvig_report.privacy.printed_counts import disclosure_plan, size

LLOQ = 137.0


def viral_loads(cohort: pd.DataFrame) -> pd.DataFrame:
    """Weekly results from day -7, falling tenfold a week to below the LLOQ on the response
    day (reported as "<137"), or staying high until the last PCR: the columns of
    results/viral_loads.csv, as text."""
    rows = []
    for _, c in cohort.iterrows():
        last = int(c["days_to_response"]) if c["responded"] else int(c["last_pcr_day"])
        days = sorted({*range(-7, last, 7), last})
        for day in days:
            below = bool(c["responded"]) and day == last
            load = "" if below else str(10_000.0 / 10 ** (max(day, 0) / 7 / 4))
            rows.append({"patient_id": c["patient_id"], "row": str(len(rows) + 2),
                         "sample_date": "2020-01-01",
                         "result_as_reported": "<137" if below else load,
                         "cmv_dna_iu_ml": load, "below_quantification": str(below),
                         "lloq_iu_ml": "137.0", "below_lloq": str(below),
                         "days_since_cmvig": str(day)})
    return pd.DataFrame(rows)


def _lines(ax) -> list:
    return [line for line in ax.lines if len(line.get_xdata()) > 0 and line.get_marker() == "o"]


def test_one_line_per_child_with_the_lloq_and_each_response():
    cohort = abstract_like_cohort()
    loads = viral_loads(cohort)
    fig, meta = figure3(cohort, loads, LLOQ)
    panels = fig.axes
    assert len(panels) == 2
    for ax, group in zip(panels, ("recurrent", "refractory"), strict=True):
        children = cohort[cohort["infection_type"] == group]
        assert len(_lines(ax)) == len(children)
        lloq_lines = [line for line in ax.lines if list(line.get_ydata()) == [np.log10(LLOQ)] * 2]
        assert len(lloq_lines) == 1 and lloq_lines[0].get_linestyle() == "--"
        # a response marker per responder, on the band below the LLOQ, on its response day
        offsets = ax.collections[0].get_offsets()
        responders = children[children["responded"]]
        assert sorted(offsets[:, 0]) == sorted(responders["days_to_response"].astype(float))
        assert np.allclose(offsets[:, 1], np.log10(LLOQ) - BLQ_DROP)
        assert ax.get_title(loc="left").endswith(f"(n = {len(children)})")
    # the axis ends at three times the response landmark (every response is before it);
    # non-responders monitored for longer run past it
    end = 3 * 50
    days = loads["days_since_cmvig"].astype(int)
    assert meta == {"results_drawn": int((days <= end).sum()), "groups_not_drawn": [],
                    "responses_marked": True, "axis_end": end, "results_after_axis_end": True,
                    "groups_summarised_only": [], "median_band": False,
                    "many_children": False, "sample_limits": [LLOQ],
                    "own_limits_marked": False}
    assert all(ax.get_xlim()[1] == end for ax in panels)


def test_run_figure3_writes_svg_png_and_facts_without_ids_or_dates(tmp_path):
    cohort = abstract_like_cohort()
    c, v, e = tmp_path / "cohort.csv", tmp_path / "viral_loads.csv", tmp_path / "est.json"
    cohort.to_csv(c, index=False)
    viral_loads(cohort).to_csv(v, index=False)
    e.write_text(json.dumps({"disclosure": {"min_cell_count": 0, "hidden": {}}}))
    out = {k: tmp_path / f"figure3.{k}" for k in ("svg", "png", "json")}
    notes = run_figure3(cohort=str(c), viral_loads=str(v), estimates=str(e),
                        response_day=50, lloq_iu_ml=LLOQ, min_cell_count=0,
                        svg=str(out["svg"]), png=str(out["png"]), facts=str(out["json"]))
    assert notes == []
    assert out["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = out["svg"].read_text()
    assert "<svg" in svg and "LLOQ" in svg
    assert not any(pid in svg for pid in cohort["patient_id"])
    assert "2020-01-01" not in svg and "2019-" not in svg
    facts = json.loads(out["json"].read_text())
    days = viral_loads(cohort)["days_since_cmvig"].astype(int)
    assert facts["results_drawn"] == int((days <= facts["axis_end"]).sum())
    first = out["svg"].read_bytes() + out["png"].read_bytes()
    run_figure3(cohort=str(c), viral_loads=str(v), estimates=str(e), response_day=50,
                lloq_iu_ml=LLOQ, min_cell_count=0, svg=str(out["svg"]), png=str(out["png"]),
                facts=str(out["json"]))
    assert out["svg"].read_bytes() + out["png"].read_bytes() == first


def test_a_group_below_the_small_cell_limit_is_not_drawn():
    # 12 recurrent, 3 refractory: with a limit of 5 the refractory n (3) is hidden, and so is
    # the recurrent n (12 = 15 - 3 would give it back); neither group's lines are drawn
    rows = [{"type": "recurrent", "response": 14 + i, "fu": 400} for i in range(8)]
    rows += [{"type": "recurrent", "response": None, "fu": 400} for _ in range(4)]
    rows += [{"type": "refractory", "response": 21, "fu": 400},
             {"type": "refractory", "response": None, "fu": 300},
             {"type": "refractory", "response": None, "fu": 200}]
    cohort = make_cohort(rows)
    plan = disclosure_plan(cohort, 50, 5)
    assert plan.hidden[size("refractory")] == "<5"
    skipped = groups_not_drawn(plan.hidden, TRAJECTORY_COUNTS)
    assert "refractory" in skipped
    # as the comment above derives: the recurrent n is the complement, so neither group's
    # lines are drawn; each panel shows its median band instead (never an empty panel)
    assert skipped == ["recurrent", "refractory"]
    fig, meta = figure3(cohort, viral_loads(cohort), LLOQ, plan.hidden)
    for ax, group in zip(fig.axes, ("recurrent", "refractory"), strict=True):
        assert _lines(ax) == []  # no line per child
        assert not [c for c in ax.collections if len(c.get_offsets())
                    and c.get_offsets().shape[0] and c.get_facecolor().size
                    and type(c).__name__ == "PathCollection"]  # no response marks
        assert len(ax.collections) == 1  # the interquartile band
        assert ax.get_title(loc="left").endswith(f"(n = {plan.hidden[size(group)]})")
    assert meta["groups_not_drawn"] == []
    assert meta["groups_summarised_only"] == skipped and meta["median_band"]
    assert not meta["responses_marked"]
    # without the limit every child is drawn
    assert figure3(cohort, viral_loads(cohort), LLOQ, disclosure_plan(cohort, 50, 0).hidden
                   )[1]["groups_summarised_only"] == []


def test_both_panels_share_one_style_and_responses_are_drawn_on_top():
    from cohort_factory import random_cohort

    # one panel past MANY_LINES children, the other below it: both get the band
    cohort = random_cohort(60)
    counts = cohort["infection_type"].value_counts()
    assert counts.max() > MANY_LINES >= 0
    fig, meta = figure3(cohort, viral_loads(cohort), LLOQ)
    assert meta["many_children"] and meta["median_band"]
    for ax in fig.axes:
        widths = {line.get_linewidth() for line in ax.lines if line.get_marker() in ("", "None")
                  and len(line.get_xdata()) > 2}
        assert 1.6 in widths  # the median
        scatter = [c for c in ax.collections if type(c).__name__ == "PathCollection"]
        others = [a for a in (*ax.lines, *ax.collections) if a not in scatter]
        assert scatter and scatter[0].get_zorder() > max(a.get_zorder() for a in others)


def test_a_sample_with_its_own_limit_is_marked_at_that_limit():
    cohort = abstract_like_cohort()
    loads = viral_loads(cohort)
    # a second assay with a higher limit for one child's samples: a result of 300 IU/mL is
    # below that limit, so it is drawn on the band, beneath every limit line
    child = loads["patient_id"] == cohort["patient_id"].iloc[0]
    loads.loc[child, "lloq_iu_ml"] = "500.0"
    loads.loc[child.idxmax(), ["cmv_dna_iu_ml", "below_lloq"]] = ["300.0", "True"]
    fig, meta = figure3(cohort, loads, LLOQ)
    assert meta["sample_limits"] == [LLOQ, 500.0] and meta["own_limits_marked"]
    dashes = [line for ax in fig.axes for line in ax.lines if line.get_marker() == "_"]
    assert len(dashes) == 1 and set(dashes[0].get_ydata()) == {np.log10(500.0)}
    assert len(dashes[0].get_xdata()) == int(child.sum())


def test_every_text_is_at_least_7_pt_and_none_overlaps():
    from itertools import combinations

    import matplotlib
    from cohort_factory import random_cohort
    from test_figures import _texts

    from cmvig_report.figures.figure_style import STYLE, render_bytes

    for cohort in (abstract_like_cohort(), random_cohort(300)):
        fig, _ = figure3(cohort, viral_loads(cohort), LLOQ)
        render_bytes(fig)
        with matplotlib.rc_context(STYLE):
            fig.canvas.draw()
        assert abs(fig.get_figwidth() * 25.4 - 180) < 1
        texts = _texts(fig)
        assert min(t.get_fontsize() for t in texts) >= 7
        renderer = fig.canvas.get_renderer()
        extents = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
        for label, box in extents:
            assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 + 1, label
        for (a, ba), (b, bb) in combinations(extents, 2):
            assert not ba.shrunk(0.98, 0.9).overlaps(bb.shrunk(0.98, 0.9)), (a, b)
