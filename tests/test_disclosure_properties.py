"""Properties of small-cell control and of the figures over generated cohorts (hypothesis).

For cohorts of 5 to 200 children, with and without empty cells, one or two assay limits and
``min_cell_count`` 0, 3, 5 or 11, called at the function level (no Snakemake build):

- no count a build prints as hidden can be worked out from what it prints (the audit's linear
  programs find no interval narrower than the protection), and no small count is printed;
- every event is drawn: each figure's axis reaches its last event, or the caption's facts
  count what is not drawn (Figure 1B's subset);
- no panel is empty (unless the cohort's own size is hidden, when Figure 1B says so);
- no estimate printed (to the register's six decimals), times its n, gives back a hidden count
  of its block, read as k / n or 1 − k / n.

The number of examples is the hypothesis profile's (tests/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from cohort_factory import make_cohort
from hypothesis import given
from hypothesis import strategies as st
from test_figure3 import viral_loads

from cmvig_report.data.endpoints import response_frame
from cmvig_report.errors import PipelineError
from cmvig_report.figures.figure1 import figure1
from cmvig_report.figures.figure2 import figure2
from cmvig_report.figures.figure3 import figure3
from cmvig_report.figures.figure_axes import figure2_ticks, risk_table_curves
from cmvig_report.privacy import disclosure_audit as da
from cmvig_report.privacy import printed_counts as pc
from cmvig_report.privacy.landmark_audit import audit_landmarks, build_model
from cmvig_report.privacy.printed_estimates import estimate_marks
from cmvig_report.stats.analysis import compute_estimates

DAYS = {"response_day": 50, "os_cmvig_day": 365, "os_hsct_day": 365, "lloq_iu_ml": 137}
LLOQ = 137.0


@st.composite
def cases(draw) -> tuple[pd.DataFrame, int, bool]:
    """(cohort, min_cell_count, two assay limits)."""
    n = draw(st.integers(5, 200))
    seed = draw(st.integers(0, 2**20))
    refractory = draw(st.sampled_from([0.05, 0.3, 0.5]))
    empty = draw(st.booleans())  # empty cells: no antiviral listed, no viral load
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        fu = int(rng.integers(1, 900))
        responded = rng.random() < 0.6
        drugs = [d for d in ("ganciclovir", "foscarnet", "cidofovir", "letermovir")
                 if rng.random() < 0.4]
        rows.append({
            "type": "refractory" if rng.random() < refractory else "recurrent",
            "response": int(rng.integers(1, fu + 1)) if responded else None,
            "fu": fu, "died": bool(rng.random() < 0.3),
            "cmv_death": bool(rng.random() < 0.3),
            "drugs": ";".join(drugs) if (drugs or empty) else "ganciclovir",
            "load": None if empty and rng.random() < 0.2 else 10_000.0,
            "reaction": "yes" if rng.random() < 0.1 else "no",
            "sex": "F" if rng.random() < 0.5 else "M",
        })
    return make_cohort(rows), draw(st.sampled_from([0, 3, 5, 11])), draw(st.booleans())


def _plan(cohort: pd.DataFrame, min_cell: int) -> pc.Plan | None:
    """The plan, or None where the build refuses: a count nothing may hide would be worked out
    (16 children at N = 11, both types "<11", is each type 6 to 10), which stops the build
    rather than print it."""
    try:
        return pc.disclosure_plan(cohort, 50, min_cell)
    except PipelineError as exc:
        assert "no count that may be hidden further widens it" in str(exc)
        return None


def _estimates(cohort: pd.DataFrame, plan: pc.Plan, min_cell: int) -> dict:
    return compute_estimates(cohort, **DAYS, sensitivity_days=[28, 50, 100],
                             hidden=plan.estimate_keys, min_cell_count=min_cell)


@given(cases())
def test_no_hidden_count_can_be_worked_out_and_no_small_count_is_printed(case):
    cohort, min_cell, _ = case
    plan = _plan(cohort, min_cell)
    if plan is None:
        return
    est = _estimates(cohort, plan, min_cell)
    marks, _ = pc.landmark_plan(est, plan)
    ticks = risk_table_curves(figure2_ticks(cohort, est))
    final, tables, _ = audit_landmarks(cohort, est, plan, marks, ticks)
    if min_cell <= 1:
        assert not plan.hidden and not final and not tables
        return
    model, points = build_model(cohort, est, plan, final, ticks)
    for curve, by_tick in tables.items():
        for tick, mark in by_tick.items():
            model.hidden[points.name(curve, int(tick), "at_risk")] = mark
    small = [c for c in model.printed
             if 0 < model.values[c] < min_cell and c not in model.hidden]
    assert small == []
    assert da.exposures(model) == []
    assert pc.size("overall") not in plan.hidden or len(cohort) < min_cell


def _planned(cohort: pd.DataFrame, min_cell: int) -> tuple[dict, dict]:
    """The estimates and every key they print hidden, as the estimates step plans them."""
    plan = _plan(cohort, min_cell)
    if plan is None:
        return {}, {}
    est = _estimates(cohort, plan, min_cell)
    marks, _ = pc.landmark_plan(est, plan)
    final, _, _ = audit_landmarks(cohort, est, plan, marks,
                                  risk_table_curves(figure2_ticks(cohort, est)))
    hidden = {**plan.estimate_keys, **final}
    return est, {**hidden, **estimate_marks(est, hidden, min_cell)[0]}


def recovered(est: dict, hidden: dict, places: int = 6) -> list[tuple[str, str, int]]:
    """(block, printed value's key, hidden count) for every printed estimate or proportion that,
    rounded to ``places`` decimals and times its block's n (or one minus it), leaves a hidden
    count of the block as the only integer it allows."""
    out = []
    for path, block in pc._landmark_blocks(est) + [(k, est[k]) for k in
                                                    ("crude_response", "infusion_reaction_rate")]:
        n = block.get("n")
        secret = {v for k, v in block.items() if f"{path}.{k}" in hidden
                  and isinstance(v, int) and not isinstance(v, bool)}
        if not isinstance(n, int) or not secret:
            continue
        for key in ("estimate", "proportion", "ci_lower", "ci_upper"):
            value = block.get(key)
            if value is None or f"{path}.{key}" in hidden or path in hidden:
                continue
            half = 0.5 * 10 ** -places
            for q in (round(value, places), 1 - round(value, places)):
                low, high = np.ceil(n * (q - half) - 1e-9), np.floor(n * (q + half) + 1e-9)
                if low == high and int(low) in secret:
                    out.append((path, key, int(low)))
    return out


@given(cases())
def test_no_printed_estimate_gives_a_hidden_count_back(case):
    cohort, min_cell, _ = case
    est, hidden = _planned(cohort, min_cell)
    assert not est or recovered(est, hidden) == []


def test_an_estimate_without_censoring_would_give_its_hidden_deaths_back():
    # 46 children, nobody censored before day 365 after CMVIG and three deaths by then (below
    # 5): one minus the Kaplan-Meier estimate is 3 / 46, the hidden deaths
    rows = [{"type": "recurrent" if i % 2 else "refractory", "response": 14 + i % 30,
             "fu": 400 + i, "died": i < 3} for i in range(46)]
    for i in range(3):
        rows[i]["fu"] = 100 + 20 * i
    cohort = make_cohort(rows)
    plan = pc.disclosure_plan(cohort, 50, 5)
    est = _estimates(cohort, plan, 5)
    marks, _ = pc.landmark_plan(est, plan)
    counts_only = {**plan.estimate_keys, **marks}
    assert est["os_from_cmvig"]["censored"] == 0 and "os_from_cmvig.events" in counts_only
    assert ("os_from_cmvig", "estimate", 3) in recovered(est, counts_only)  # the leak
    assert ("os_from_cmvig", "estimate", 3) in recovered(est, counts_only, places=2)  # 93%
    _, hidden = _planned(cohort, 5)
    assert recovered(est, hidden) == []
    assert hidden["os_from_cmvig.estimate"] == hidden["os_from_cmvig"] == "[c]"


def test_an_own_study_cumulative_incidence_without_censoring_is_withheld_with_its_events():
    # an own study of 46 children, landmark day 28: 13 responses, 2 deaths before response
    # (competing, "<5"), nobody censored; the Aalen-Johansen estimate is 13 / 46, and the
    # hidden events (with the competing deaths beside them) would follow from it
    rows = [{"type": "recurrent" if i % 2 else "refractory", "fu": 400 + i,
             "response": 7 + i if i < 13 else (60 + i if i < 40 else None)} for i in range(46)]
    for i in (40, 41):
        rows[i].update(fu=20 + i - 40, died=True)
    cohort = make_cohort(rows)
    plan = pc.disclosure_plan(cohort, 28, 5)
    est = compute_estimates(cohort, response_day=28, os_cmvig_day=100, os_hsct_day=365,
                            lloq_iu_ml=137, sensitivity_days=[28, 50], study="own",
                            hidden=plan.estimate_keys, min_cell_count=5)
    panel_a = response_frame(cohort, est)
    marks, _ = pc.landmark_plan(est, plan)
    final, _, _ = audit_landmarks(cohort, est, plan, marks,
                                  risk_table_curves(figure2_ticks(cohort, est, panel_a)),
                                  panel_a)
    counts_only = {**plan.estimate_keys, **final}
    block = est["response"]
    assert block["censored"] == 0 and "response.events" in counts_only
    assert ("response", "estimate", block["events"]) in recovered(est, counts_only, places=2)
    hidden = {**counts_only, **estimate_marks(est, counts_only, 5)[0]}
    assert recovered(est, hidden) == []
    assert hidden["response"] == hidden["response.ci_lower"] == "[c]"


def _drawn(ax) -> int:
    """Data artists of a panel: lines of more than two points, bars, markers, bands."""
    lines = [ln for ln in ax.lines if len(ln.get_xdata()) > 2]
    return len(lines) + len(ax.patches) + len(ax.collections)


@given(cases())
def test_every_event_is_drawn_and_no_panel_is_empty(case):
    cohort, min_cell, two_limits = case
    plan = _plan(cohort, min_cell)
    if plan is None:
        return
    hidden = plan.hidden
    deaths = cohort.loc[cohort["died"], "os_from_cmvig_days"]
    responses = cohort["days_to_response"].dropna()

    fig, f1 = figure1(cohort, 50, 40, hidden)
    if pc.size("overall") in hidden:
        assert f1["timeline_rows_shown"] == 0 and f1["timeline_groups_not_drawn"]
    else:
        assert f1["timeline_rows_shown"] > 0 and _drawn(fig.axes[1]) > 0
        # rows not drawn are counted in the caption (a subset); deaths drawn are on the axis
        assert f1["timeline_rows_shown"] == f1["timeline_rows_total"] == len(cohort) or \
            f1["timeline_subset_rule"]
        assert f1["timeline_deaths_beyond_axis"] == 0
        if f1["timeline_rows_shown"] == len(cohort) and len(deaths):
            assert f1["timeline_axis_end"] >= deaths.max()

    est = _estimates(cohort, plan, min_cell)
    fig, f2 = figure2(cohort, est)
    assert f2["events_beyond_axis"] == {"response": 0, "overall_survival": 0}
    assert f2["at_risk_ticks"][-1] >= (deaths.max() if len(deaths) else 0)
    assert f2["at_risk_ticks_response"][-1] >= (responses.max() if len(responses) else 0)
    assert _drawn(fig.axes[0]) > 0 and _drawn(fig.axes[2]) > 0

    loads = viral_loads(cohort)
    if two_limits:  # a second assay for every third child, with a higher limit
        other = loads["patient_id"].isin(cohort["patient_id"].iloc[::3])
        value = pd.to_numeric(loads["cmv_dna_iu_ml"], errors="coerce")
        loads.loc[other, "lloq_iu_ml"] = "500.0"
        below = other & value.lt(500)
        loads.loc[below, "below_lloq"] = "True"
    fig, f3 = figure3(cohort, loads, LLOQ, hidden)
    assert f3["groups_not_drawn"] == []
    assert f3["axis_end"] >= (responses.max() if len(responses) else 0)
    for ax, group in zip(fig.axes, ("recurrent", "refractory"), strict=True):
        if (cohort["infection_type"] == group).any():
            assert _drawn(ax) > 0, group
    if two_limits:
        assert 500.0 in f3["sample_limits"]
