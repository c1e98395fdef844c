"""Figures: files, the numbers they draw, labels, determinism, readability at any N."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from cohort_factory import abstract_like_cohort, make_cohort, random_cohort
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import FancyBboxPatch
from matplotlib.text import Text

from cmvig_report.core.formatting import format_number, format_p
from cmvig_report.figures.figure1 import figure1, run_figure1, timeline_plan
from cmvig_report.figures.figure2 import MAX_CENSOR_MARKS, figure2, figure2_at_risk, run_figure2
from cmvig_report.figures.figure_axes import nice_ticks
from cmvig_report.figures.figure_flow import GROUPS, flow_counts
from cmvig_report.figures.figure_style import STYLE, render_bytes
from cmvig_report.privacy import printed_counts as pc
from cmvig_report.privacy.printed_counts import disclosure_plan, size
from cmvig_report.stats import survival
from cmvig_report.stats.analysis import compute_estimates, km_curves

DAYS = {"response_day": 50, "os_cmvig_day": 100, "os_hsct_day": 365, "lloq_iu_ml": 137}


def huge_cohort(copies: int = 3334) -> pd.DataFrame:
    """~50,000 patients (the 15-patient shape repeated) with long drug lists: counts in the
    tens of thousands and long names, to test that text stays inside boxes and tables."""
    base = abstract_like_cohort()
    big = pd.concat([base] * copies, ignore_index=True)
    big["patient_id"] = [f"P{i:06d}" for i in range(len(big))]
    drugs = "valganciclovir;foscarnet;cidofovir;letermovir;maribavir"
    big["prior_antivirals"] = drugs
    big["n_prior_antivirals"] = 5
    return big


def long_names_cohort() -> pd.DataFrame:
    """The 15-patient shape with a drug name wider than a flow box on its own."""
    cohort = abstract_like_cohort()
    cohort["prior_antivirals"] = "ganciclovir-" + "extended-release-" * 6 + "tablets;foscarnet"
    cohort["n_prior_antivirals"] = 2
    return cohort


def minimal_estimates(p: float | None = 0.0004) -> dict:
    """Only what Figure 2 reads, so a 50,000-patient render needs no survival fits."""
    return {"response": {"day": 50}, "os_from_cmvig": {"day": 100}, "logrank_p": p,
            "settings": {"response_day": 50, "os_cmvig_day": 100}}


def _write_inputs(tmp_path, cohort):
    est = compute_estimates(cohort, **DAYS)
    c, e = tmp_path / "cohort.csv", tmp_path / "estimates.json"
    cohort.to_csv(c, index=False)
    e.write_text(json.dumps(est))
    return str(c), str(e), est


def _texts(fig) -> list[Text]:
    """Every text actually drawn (tick labels outside the view limits are not)."""
    texts: list[Text] = list(fig.texts)
    legends = list(fig.legends)
    for ax in fig.axes:
        texts += ax.texts
        legends += [ax.get_legend()] if ax.get_legend() else []
        if not ax.axison:
            continue
        texts += [ax.xaxis.label, ax.yaxis.label]
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = min(lo, hi), max(lo, hi)
            texts += [t.label1 for t in axis.get_major_ticks() if lo <= t.get_loc() <= hi]
    for leg in legends:
        texts += [*leg.get_texts(), leg.get_title()]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _drawn_table(fig, index: int) -> list[list[str]]:
    """The numbers drawn in the ``index``-th at-risk table, row by row (top first)."""
    ax = [a for a in fig.axes if a.get_label() == "at-risk table"][index]
    cells = [t for t in ax.texts if t.get_transform() == ax.transData]
    rows: dict[float, list[tuple[float, str]]] = {}
    for t in cells:
        x, y = t.get_position()
        rows.setdefault(y, []).append((x, t.get_text()))
    return [[text for _, text in sorted(rows[y])] for y in sorted(rows)]


def test_files_for_shipped_shape_and_generated_cohort(tmp_path):
    for name, cohort in (("small", abstract_like_cohort()), ("big", random_cohort(300))):
        c, e, _ = _write_inputs(tmp_path, cohort)
        for fig, run in (("figure1", run_figure1), ("figure2", run_figure2)):
            out = {k: tmp_path / f"{name}-{fig}.{k}" for k in ("svg", "png", "json")}
            args = dict(cohort=c, svg=str(out["svg"]), png=str(out["png"]),
                        facts=str(out["json"]))
            args["estimates"] = e
            if fig == "figure1":
                args.update(response_day=50, max_rows=40)
            else:
                curves = tmp_path / f"{name}-curves.csv"
                km_curves(cohort).to_csv(curves, index=False)
                args["curves"] = str(curves)
            notes = run(**args)
            meta = json.loads(out["json"].read_text())
            subset = fig == "figure1" and meta["timeline_subset_rule"]
            omitted = [f"{panel}: over {MAX_CENSOR_MARKS} distinct censoring times, not marked"
                       for panel in meta.get("censor_marks_omitted", [])]
            assert notes == ([f"timeline shows {meta['timeline_rows_shown']} of {len(cohort)} "
                              "patients"] if subset else omitted)
            assert out["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert "<svg" in out["svg"].read_text()
            if fig == "figure1":
                assert meta["timeline_rows_total"] == len(cohort)
                # at most 40, fewer only when 40 would push the caption off the page
                assert min(len(cohort), 30) <= meta["timeline_rows_shown"] <= min(len(cohort), 40)
            else:
                assert meta["at_risk_ticks"][0] == 0
                deaths = cohort.loc[cohort["died"], "os_from_cmvig_days"]
                assert meta["at_risk_ticks"][-1] >= deaths.max()  # every death on the axis
                assert meta["events_beyond_axis"] == {"response": 0, "overall_survival": 0}
                assert 50 in meta["at_risk_ticks_response"]
        assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_at_risk_numbers_drawn_match_the_landmark_counts():
    cohort = abstract_like_cohort()
    est = compute_estimates(cohort, **DAYS)
    fig, meta = figure2(cohort, est, km_curves(cohort))
    panels = [
        (0, meta["at_risk_ticks_response"],
         [cohort[cohort["infection_type"] == g] for g in ("recurrent", "refractory")],
         "days_to_response_or_censoring", "responded"),
        (1, meta["at_risk_ticks"], [cohort], "os_from_cmvig_days", "died"),
    ]
    for index, ticks, groups, time, event in panels:
        drawn = _drawn_table(fig, index)
        expected = []
        for d in groups:
            blocks = [survival.km_landmark(d[time], d[event], day) for day in ticks]
            for key in ("at_risk", "events", "censored"):
                expected.append([format_number(b[key]) for b in blocks])
        assert drawn == expected
    # ... and the same counts as the landmark blocks in estimates.json
    table = figure2_at_risk(cohort["os_from_cmvig_days"], cohort["died"], [100])
    block = est["os_from_cmvig"]
    assert table.iloc[0][["at_risk", "events", "censored"]].tolist() == [
        block["at_risk"], block["events"], block["censored"]]
    assert 100 in meta["at_risk_ticks"]


def test_svg_keeps_labels_as_text():
    cohort = abstract_like_cohort()
    est = compute_estimates(cohort, **DAYS)
    svg = render_bytes(figure2(cohort, est)[0])[0].decode()
    assert "Recurrent" in svg and "Refractory" in svg
    assert f"Exploratory log-rank {format_p(est['logrank_p'])}" in svg
    assert "Days since the first CMVIG dose" in svg
    assert "Day 50" in svg and "Day 100" in svg
    svg = render_bytes(figure2(huge_cohort(10), minimal_estimates(0.0004))[0])[0].decode()
    assert "Exploratory log-rank p &lt; 0.001" in svg


def test_two_renders_are_byte_identical():
    cohort = abstract_like_cohort()
    est = compute_estimates(cohort, **DAYS)
    first = render_bytes(figure2(cohort, est)[0]) + render_bytes(figure1(cohort, 50)[0])
    second = render_bytes(figure2(cohort, est)[0]) + render_bytes(figure1(cohort, 50)[0])
    assert first == second


def test_large_cohort_timeline_shows_a_stated_subset():
    cohort = random_cohort(500)
    fig, meta = figure1(cohort, 50, max_rows=40)
    shown = meta["timeline_rows_shown"]
    assert 30 <= shown <= 40
    assert meta["timeline_rows_total"] == 500
    assert "evenly spaced" in meta["timeline_subset_rule"]
    svg = render_bytes(fig)[0].decode()
    assert f"Showing {shown} of 500 patients" in svg
    # rows are labelled by study number, never by patient ID
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert len(labels) == shown and set(labels) <= {str(n) for n in cohort["study_number"]}
    assert not any(f">{pid}<" in svg for pid in cohort["patient_id"])
    # one bar per row shown, and the subset is the same on every run
    assert sum(len(c.patches) for c in fig.axes[1].containers) == shown
    assert figure1(cohort, 50, max_rows=40)[1] == meta
    # the figure leaves room on an A4 page (251 mm of text height) for a six-line caption
    assert fig.get_figheight() * 25.4 <= 220
    # a short flow diagram leaves room for all 40
    plain = cohort.assign(prior_antivirals="ganciclovir", n_prior_antivirals=1)
    assert figure1(plain, 50, max_rows=40)[1]["timeline_rows_shown"] == 40
    # more rows than fit with readable IDs: thinner rows, no IDs, still one page
    fig, meta = figure1(cohort, 50, max_rows=100)
    assert meta["timeline_rows_shown"] == 100
    assert fig.get_figheight() * 25.4 <= 220
    assert "T001" not in render_bytes(fig)[0].decode()
    # a cohort that fits shows everyone and states no rule
    assert figure1(abstract_like_cohort(), 50, 40)[1]["timeline_subset_rule"] is None


def test_single_group_cohort_still_renders():
    cohort = make_cohort([{"type": "recurrent", "response": 20, "fu": 200},
                          {"type": "recurrent", "response": None, "fu": 120}])
    est = compute_estimates(cohort, **DAYS)
    assert flow_counts(cohort, 50)["refractory"]["n"] == 0
    fig, _ = figure2(cohort, est)
    svg = render_bytes(fig)[0].decode()
    assert "not estimable" in svg
    assert _drawn_table(fig, 0)[3:] == [["0"] * len(_drawn_table(fig, 0)[0])] * 3
    fig, meta = figure1(cohort, 50)
    render_bytes(fig)
    assert meta["timeline_rows_shown"] == 2
    # the empty arm stops at its "n = 0" box: cohort box + 5 recurrent + 1 refractory
    flow = " ".join(t.get_text() for t in fig.axes[0].texts).replace("\u00a0", " ")
    assert len(fig.axes[0].texts) == 7 and "Refractory CMV infection (n = 0)" in flow
    assert "not estimable" not in flow


def test_run_figure2_without_a_curves_file(tmp_path):
    # the rule passes results/km_curves.csv; without it the curves are fitted from the cohort
    cohort = abstract_like_cohort()
    c, e, _ = _write_inputs(tmp_path, cohort)
    outs = [str(tmp_path / f"f2.{k}") for k in ("svg", "png", "json")]
    assert run_figure2(cohort=c, estimates=e, svg=outs[0], png=outs[1], facts=outs[2]) == []
    curves = tmp_path / "curves.csv"
    km_curves(cohort).to_csv(curves, index=False)
    with_file = [str(tmp_path / f"g2.{k}") for k in ("svg", "png", "json")]
    run_figure2(cohort=c, estimates=e, svg=with_file[0], png=with_file[1], facts=with_file[2],
                curves=str(curves))
    # same curves either way, so the same bytes
    for a, b in zip(outs, with_file, strict=True):
        assert Path(a).read_bytes() == Path(b).read_bytes()


@pytest.mark.parametrize("make", [abstract_like_cohort, huge_cohort, long_names_cohort],
                         ids=["n15", "n50000", "long-drug-name"])
def test_flow_text_stays_inside_its_box(make):
    cohort = make()
    fig, _ = figure1(cohort, 50, 40)
    with matplotlib.rc_context(STYLE):
        FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == len(ax.texts) == 11
    renderer = fig.canvas.get_renderer()
    for box, text in zip(boxes, ax.texts, strict=True):
        outer, inner = box.get_window_extent(renderer), text.get_window_extent(renderer)
        assert outer.x0 < inner.x0 and inner.x1 < outer.x1, text.get_text()
        assert outer.y0 < inner.y0 and inner.y1 < outer.y1, text.get_text()
    counts = flow_counts(cohort, 50)
    drawn = " ".join(t.get_text() for t in ax.texts).replace("\u00a0", " ")
    assert f"n = {format_number(len(cohort))}" in drawn
    assert f"Recurrent CMV infection (n = {format_number(counts['recurrent']['n'])})" in drawn


@pytest.mark.parametrize("make", [abstract_like_cohort, huge_cohort], ids=["n15", "n50000"])
def test_no_text_overlaps_and_every_font_is_at_least_7_pt(make):
    cohort = make()
    figs = [figure1(cohort, 50, 40)[0], figure2(cohort, minimal_estimates())[0]]
    for fig in figs:
        render_bytes(fig)
        with matplotlib.rc_context(STYLE):
            fig.canvas.draw()  # lay out at the figure's own dpi before measuring
        assert abs(fig.get_figwidth() * 25.4 - 180) < 1
        assert fig.get_figheight() * 25.4 <= 220  # fits a journal page with its caption
        texts = _texts(fig)
        assert min(t.get_fontsize() for t in texts) >= 7
        renderer = fig.canvas.get_renderer()
        extents = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
        fig_box = fig.bbox
        for label, box in extents:
            assert fig_box.x0 <= box.x0 and box.x1 <= fig_box.x1 + 1, label
        for (a, ba), (b, bb) in combinations(extents, 2):
            assert not ba.shrunk(0.98, 0.9).overlaps(bb.shrunk(0.98, 0.9)), (a, b)


def _tick_marks(ax) -> int:
    return sum(1 for line in ax.lines if line.get_marker() == "|")


def test_censor_ticks_are_all_or_nothing_per_panel():
    # refractory: 70 distinct censoring times (a smear); recurrent: 3 (readable on their own)
    rows = [{"type": "refractory", "response": None, "fu": 20 + day} for day in range(70)]
    rows += [{"type": "recurrent", "response": None, "fu": fu} for fu in (30, 60, 90)]
    rows += [{"type": "recurrent", "response": 10}, {"type": "refractory", "response": 12}]
    for r in rows:
        r.setdefault("fu", 400)
    cohort = make_cohort(rows)
    fig, meta = figure2(cohort, compute_estimates(cohort, **DAYS))
    assert "response" in meta["censor_marks_omitted"]
    assert meta["censor_marks_shown"]["response"] is False
    assert _tick_marks(fig.axes[0]) == 0  # neither group marked, not only the crowded one

    few = make_cohort([{"type": "recurrent", "response": None, "fu": 40},
                       {"type": "recurrent", "response": 10, "fu": 400},
                       {"type": "refractory", "response": None, "fu": 60},
                       {"type": "refractory", "response": 12, "fu": 400}])
    fig, meta = figure2(few, compute_estimates(few, **DAYS))
    assert meta["censor_marks_omitted"] == []
    assert meta["censor_marks_shown"]["response"] is True
    assert _tick_marks(fig.axes[0]) == 2  # one set of ticks per group


def test_figure2b_axis_shows_every_death_up_to_the_latest_landmark():
    # the last death, day 330 after CMVIG, lies past three times the day-100 landmark (the
    # default axis end, 300) but within the 365-day landmark from HSCT
    rows = [{"type": "recurrent", "response": 20, "fu": 700} for _ in range(12)]
    rows += [{"type": "refractory", "response": None, "fu": 330, "died": True, "hsct_to_cmvig": 30},
             {"type": "refractory", "response": None, "fu": 80, "died": True}]
    cohort = make_cohort(rows)
    est = compute_estimates(cohort, **DAYS)
    default_end = nice_ticks(3 * DAYS["os_cmvig_day"], target=6)[-1]
    assert default_end < 330
    fig, meta = figure2(cohort, est)
    ticks = meta["at_risk_ticks"]
    assert ticks[-1] >= 330
    assert fig.axes[2].get_xlim()[1] == ticks[-1]  # panel B's plot
    table = _drawn_table(fig, 1)  # at risk, events, censored under panel B
    assert table[0][-1] == "12" and table[1][-1] == "2"
    # a death after the latest landmark stretches the axis too: no death is left off it
    later = {**DAYS, "os_hsct_day": 300}
    _, meta = figure2(cohort, compute_estimates(cohort, **later))
    assert meta["at_risk_ticks"][-1] >= 330
    assert meta["events_beyond_axis"] == {"response": 0, "overall_survival": 0}


def test_figure2b_axis_reaches_the_last_death_of_a_long_follow_up():
    # issue 27: 60 children, 20 deaths, 4 of them between days 494 and 761; the axis of
    # panel B used to stop at day 400 and leave them out without a word
    rows = [{"type": "recurrent" if i % 2 else "refractory", "response": 20 + i, "fu": 900}
            for i in range(40)]
    rows += [{"type": "recurrent" if i % 2 else "refractory", "response": None,
              "fu": 30 + 20 * i, "died": True} for i in range(16)]
    rows += [{"type": "refractory", "response": None, "fu": d, "died": True}
             for d in (494, 560, 640, 761)]
    cohort = make_cohort(rows)
    fig, meta = figure2(cohort, compute_estimates(cohort, **DAYS))
    assert meta["at_risk_ticks"][-1] >= 761 == cohort.loc[cohort["died"],
                                                            "os_from_cmvig_days"].max()
    assert meta["axis_end"]["overall_survival"] == meta["at_risk_ticks"][-1]
    assert meta["events_beyond_axis"]["overall_survival"] == 0
    # the curve's last step (the death on day 761) is drawn inside panel B
    step = [line for line in fig.axes[2].lines if line.get_drawstyle() == "steps-post"][0]
    assert 761 in list(step.get_xdata()) and fig.axes[2].get_xlim()[1] >= 761


def test_figure1b_rows_in_study_number_order_on_days_since_cmvig():
    cohort = abstract_like_cohort().sample(frac=1, random_state=3)  # rows shuffled
    fig, meta = figure1(cohort, 50, 40, None, 365)
    ax = fig.axes[1]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    positions = list(ax.get_yticks())
    top_down = [label for _, label in sorted(zip(positions, labels, strict=True), reverse=True)]
    assert top_down == [str(n) for n in sorted(cohort["study_number"])]
    # HSCT on a negative day, the first CMVIG dose at 0, every death within 365 days on the axis
    lo, hi = ax.get_xlim()
    assert lo <= -cohort["days_hsct_to_cmvig"].max() < 0
    deaths = cohort.loc[cohort["died"] & (cohort["os_from_cmvig_days"] <= 365),
                        "os_from_cmvig_days"]
    assert hi >= deaths.max() and hi == meta["timeline_axis_end"]
    assert hi < cohort["os_from_cmvig_days"].max()  # long survivors do not set the scale
    assert meta["timeline_bars_cut"] and meta["timeline_cut_days_printed"]
    cut = cohort.loc[cohort["os_from_cmvig_days"] > hi, "os_from_cmvig_days"]
    printed = {t.get_text().strip() for t in ax.texts}
    assert {format_number(d) for d in cut} <= printed


def test_figure1b_under_small_cell_control_draws_every_child_without_the_revealing_marks():
    # 12 recurrent, 3 refractory, limit 5: the refractory n is hidden, the recurrent n too
    # (15 - 3); rows coloured by type would give both back, so panel B draws every child in
    # one colour, and leaves out the markers whose counts are hidden
    rows = [{"type": "recurrent", "response": 14 + i, "fu": 400} for i in range(8)]
    rows += [{"type": "recurrent", "response": None, "fu": 400} for _ in range(4)]
    rows += [{"type": "refractory", "response": 21, "fu": 400},
             {"type": "refractory", "response": None, "fu": 300},
             {"type": "refractory", "response": None, "fu": 200, "died": True}]
    cohort = make_cohort(rows)
    plan = disclosure_plan(cohort, 50, 5)
    assert plan.hidden[size("refractory")] == "<5"
    units, left_out = timeline_plan(plan.hidden, 50)
    assert units == ("overall",)
    fig, meta = figure1(cohort, 50, 40, plan.hidden, 365)
    drawn = {t.get_text() for t in fig.axes[1].get_yticklabels()}
    assert drawn == {str(n) for n in cohort["study_number"]}  # never an empty panel
    assert meta["timeline_groups_not_drawn"] == [] and meta["timeline_types_pooled"]
    assert meta["timeline_rows_total"] == len(cohort)
    labels = {h.get_label() for h in fig.legends[0].legend_handles}
    assert not labels & {"Recurrent", "Refractory"}
    # one death in 15: the deaths are hidden ("<5"), so no death or alive marker is drawn
    assert plan.hidden[pc.cell(pc.DIED)] == "<5" and "death" in left_out["overall"]
    assert not labels & {"Death", "Alive at last follow-up"}
    markers = {c.get_paths()[0].vertices.tobytes() for c in fig.axes[1].collections
               if type(c).__name__ == "PathCollection"}
    assert len(markers) == 2 - ("response" in left_out["overall"])  # HSCT (+ response)
    assert any("not told apart (small-cell control)" in t.get_text() for t in fig.texts)
    render_bytes(fig)
    # without the limit every child has a row in the colour of its type
    _, full = figure1(cohort, 50, 40, {}, 365)
    assert full["timeline_rows_shown"] == len(cohort) and not full["timeline_types_pooled"]


def test_figure1b_leaves_out_only_the_markers_of_a_hidden_count():
    # 20 recurrent (2 deaths) and 20 refractory (no death), limit 5: every size is shown,
    # the recurrent deaths are hidden, so recurrent rows lose their death/alive markers only
    rows = [{"type": "recurrent", "response": 10 + i, "fu": 400 + i, "died": i < 2}
            for i in range(20)]
    rows += [{"type": "refractory", "response": 30 + i, "fu": 300 + i} for i in range(20)]
    cohort = make_cohort(rows)
    plan = disclosure_plan(cohort, 50, 5)
    units, left_out = timeline_plan(plan.hidden, 50)
    assert units == GROUPS and "death" in left_out["recurrent"]
    fig, meta = figure1(cohort, 50, 40, plan.hidden, 365)
    assert meta["timeline_rows_shown"] == 40 and not meta["timeline_types_pooled"]
    assert "death" in meta["timeline_marks_left_out"]["recurrent"]
    deaths = [c for c in fig.axes[1].collections if type(c).__name__ == "PathCollection"
              and c.get_offsets().shape[0] and c.get_sizes()[0] == 26]  # an X
    assert not deaths  # no death marker anywhere (the only deaths are recurrent)


def test_figure2_under_small_cell_control_prints_at_risk_only_and_marks(tmp_path):
    # a group of 3 is hidden; its size may not show in the legend nor at the first tick
    cohort = make_cohort([dict(type="recurrent", response=10 + i, fu=400, died=False)
                          for i in range(3)]
                         + [dict(type="refractory", response=20 + i if i % 2 else None,
                                 fu=300 + i, died=i == 4) for i in range(9)])
    est = compute_estimates(cohort, response_day=50, os_cmvig_day=100, os_hsct_day=365,
                            lloq_iu_ml=137)
    est["disclosure"] = {"min_cell_count": 5, "hidden": {"infection_type.recurrent": "<5",
                                                         "infection_type.refractory": "[c]"}}
    fig, meta = figure2(cohort, est)
    assert meta["risk_table_rows"] == ["at_risk"]
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert "Recurrent (n = <5)" in texts and "Refractory (n = [c])" in texts
    assert "Events" not in texts  # the cumulative rows are left out
    # nothing in the figure prints a count of 1 to 4
    assert not [t for t in texts if t.strip() in ("1", "2", "3", "4")]
    _, full = figure2(cohort, {**est, "disclosure": {"min_cell_count": 0, "hidden": {}}})
    assert full["risk_table_rows"] == ["at_risk", "events", "censored"]
