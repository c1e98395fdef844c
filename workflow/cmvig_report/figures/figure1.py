"""Figure 1: (A) cohort flow with counts (:mod:`.figure_flow`), (B) per-patient timeline in days
since the first CMVIG dose.
"""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..core.formatting import format_number
from ..core.io import write_json
from ..data.groups import GROUPS, LABELS
from ..privacy import printed_counts as pc
from .figure_axes import nice_ticks
from .figure_flow import draw_flow, layout_flow, text_width
from .figure_style import _STYLE_LOCK, COLOURS, STYLE, WIDTH, _axes, _letter, _load, _save, _tint

SUBSET_RULE = "an evenly spaced sample in order of study number"


def groups_not_drawn(hidden: dict[str, str], quantities: tuple[tuple[str, str], ...]
                     ) -> list[str]:
    """Groups a per-child panel leaves out under small-cell control.

    One row or line per child lets a reader count the group's size and, from its markers,
    ``quantities`` (responders, deaths, ...): a group with any of those cells hidden by the
    plan (``hidden``: cell name -> mark) is not drawn.
    """
    return [g for g in GROUPS
            if any(c in hidden for c in (pc.size(g), *(pc.cell(q, g) for q in quantities)))]


def timeline_plan(hidden: dict[str, str], response_day: int
                  ) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    """What Figure 1B draws under small-cell control: (units, marks left out per unit).

    A unit is a type of infection, or ``"overall"`` when a type's size is hidden: the rows are
    then drawn in one colour, so that nobody counts a type's rows (none at all when the
    cohort's own size is hidden). A unit's response markers are left out when any count they
    show (responders, ever or by the landmark, and the others) is hidden, and its death and
    alive markers when its deaths or survivors are: the panel is never empty, only the marks
    that would count a hidden cell are missing.
    """
    if pc.size("overall") in hidden:
        return (), {}
    units = ("overall",) if any(pc.size(g) in hidden for g in GROUPS) else GROUPS
    shows = {"response": (pc.RESPONDERS, pc.NON_RESPONDERS, *pc.by_day(response_day)),
             "death": (pc.DIED, pc.ALIVE)}
    return units, {u: [m for m, qs in shows.items() if any(pc.cell(q, u) in hidden for q in qs)]
                   for u in units}


def timeline_subset(cohort: pd.DataFrame, max_rows: int) -> tuple[pd.DataFrame, str | None]:
    """At most ``max_rows`` patients: all of them, or an evenly spaced sample by study number.

    Spacing in study-number order (type of infection, then CMVIG start; not, say, the longest
    follow-up) keeps the sample representative and independent of the outcomes drawn.
    """
    ordered = cohort.sort_values("study_number", kind="stable")
    if len(ordered) <= max_rows:
        return ordered, None
    idx = np.unique(np.linspace(0, len(ordered) - 1, max(max_rows, 1)).round().astype(int))
    return ordered.iloc[idx], SUBSET_RULE


def _timeline_order(shown: pd.DataFrame) -> pd.DataFrame:
    """Rows in study-number order (type of infection, then CMVIG start), number 1 on top."""
    return shown.sort_values("study_number", kind="stable").reset_index(drop=True)


def signed_number(x: float) -> str:
    """A tick label with a true minus sign for negative days."""
    return f"\u2212{format_number(-x)}" if x < 0 else format_number(x)


def timeline_axis(d: pd.DataFrame, horizon: int | None = None) -> np.ndarray:
    """Ticks of Figure 1B, in days since the first CMVIG dose.

    From the earliest HSCT (a negative day) to the last response and the last death within
    ``horizon`` days of CMVIG (every death, without one), so the events spread over the
    width; the long follow-up of survivors is not what the panel is for, and a bar that runs
    past the axis ends at its edge with its last day printed beside it.
    """
    left = -float(d["days_hsct_to_cmvig"].max()) if len(d) else 0.0
    dead = d["died"].to_numpy(dtype=bool)
    deaths = d["os_from_cmvig_days"].to_numpy(dtype=float)[dead]
    if horizon is not None:
        deaths = deaths[deaths <= horizon]
    responses = d["days_to_response"].dropna().to_numpy(dtype=float)
    right = max([1.0, *deaths, *responses])
    step = float(nice_ticks(right - min(left, 0.0), target=8)[1])
    return np.arange(np.floor(min(left, 0.0) / step) * step, np.ceil(right / step) * step
                     + step / 2, step)


def _draw_timeline(ax: Axes, d: pd.DataFrame, ticks: np.ndarray, show_ids: bool,
                   units: tuple[str, ...] = GROUPS,
                   left_out: dict[str, list[str]] | None = None) -> list[Any]:
    """Bars from HSCT to the last follow-up and markers; returns the legend handles for what
    is actually drawn. ``units`` and ``left_out`` are :func:`timeline_plan`'s."""
    left_out = left_out or {}
    y = np.arange(len(d))[::-1]
    xmax = float(ticks[-1])
    start = -d["days_hsct_to_cmvig"].to_numpy(dtype=float)
    end = d["os_from_cmvig_days"].to_numpy(dtype=float)
    cut = end > xmax
    shown_end = np.minimum(end, xmax)
    handles: list[Any] = []
    unit_of = (d["infection_type"] if units != ("overall",)
               else pd.Series("overall", index=d.index)).to_numpy()
    for g in units:
        m = unit_of == g
        colour = COLOURS["alive"] if g == "overall" else COLOURS[g]
        if m.any():
            ax.barh(y[m], shown_end[m] - start[m], left=start[m], height=0.62,
                    color=_tint(colour, 0.55), edgecolor=colour, linewidth=0.5)
            handles.append(Patch(facecolor=_tint(colour, 0.55), edgecolor=colour,
                                 linewidth=0.5, label=LABELS.get(g, "Patient")))
    ax.axvline(0, color=COLOURS["cmvig"], linewidth=1.0, zorder=2)
    handles.append(Line2D([], [], color=COLOURS["cmvig"], linewidth=1.0,
                          label="First CMVIG dose"))
    def marked(kind: str) -> np.ndarray:
        return np.isin(unit_of, [u for u in units if kind not in left_out.get(u, [])])

    resp = d["responded"].to_numpy(dtype=bool) & marked("response")
    dead = d["died"].to_numpy(dtype=bool) & marked("death")
    alive = ~d["died"].to_numpy(dtype=bool) & marked("death")
    resp_at = d["days_to_response"].fillna(0).to_numpy(dtype=float)
    # (mask, x, marker, size, colour, label): distinct shapes and colours for print in grey
    marks = [(np.ones(len(d), bool), start, "|", 30, "#000000", "HSCT"),
             (resp, resp_at, "o", 16, COLOURS["response"], "Response"),
             (dead, shown_end, "X", 26, COLOURS["death"], "Death"),
             (alive, shown_end, ">", 16, COLOURS["alive"], "Alive at last follow-up")]
    for mask, x, marker, size, colour, label in marks:
        if mask.any():
            edge = {"linewidth": 1.0} if marker == "|" else {"edgecolor": "white",
                                                              "linewidth": 0.4}
            ax.scatter(x[mask], y[mask], marker=marker, s=size, color=colour, zorder=3,
                       clip_on=False, **edge)
            handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=5,
                                  color=colour, markeredgecolor="white" if marker != "|"
                                  else colour, markeredgewidth=0.4 if marker != "|" else 1.0,
                                  label=label))
    if show_ids:
        # the last day of a bar cut at the axis end, beside it (rows are 7-pt tall)
        for yy, day in zip(y[cut], end[cut], strict=True):
            ax.text(xmax, yy, f"  {format_number(day)}", ha="left", va="center", fontsize=7,
                    color="#444444", clip_on=False)
    # Rows are labelled by study number only: a patient ID never reaches a shared figure.
    ids = d["study_number"].astype(str)
    ax.set_yticks(y, list(ids) if show_ids else [])
    ax.tick_params(axis="y", length=0, labelsize=7)
    ax.set_ylim(-0.7, len(d) - 0.3)
    # the axis starts a little before the earliest HSCT, not at the tick before it
    first = float(np.min(start, initial=0.0))
    lo = max(first - 0.03 * (xmax - first), float(ticks[0]))
    shown = ticks[ticks >= lo]
    ax.set_xlim(lo, xmax)
    ax.set_xticks(shown, [signed_number(t) for t in shown])
    ax.set_xlabel("Days since the first CMVIG dose (HSCT on a negative day)")
    ax.set_ylabel("Study number" if show_ids else "Patients")
    return handles


ROW_PITCH = 0.11  # inches per timeline row with a 7-pt patient ID
FIGURE1_MAX_HEIGHT = 8.65  # inches (220 mm): 251 mm of A4 text height less a 6-line caption


def figure1(cohort: pd.DataFrame, response_day: int, max_rows: int = 40,
            hidden: dict[str, str] | None = None,
            horizon: int | None = None) -> tuple[Figure, dict[str, Any]]:
    """Figure 1 (flow diagram and patient timeline) and the facts its caption needs.

    ``hidden`` is the small-cell control's plan (cell name -> mark) for the flow's counts and
    for what panel B may draw (:func:`timeline_plan`). The timeline's axis shows every death
    (:func:`timeline_axis`); ``horizon``, the latest survival landmark, no longer limits it and
    is accepted for the step's settings only.
    """
    flow_w = WIDTH - 0.3
    rows, flow_h = layout_flow(cohort, response_day, flow_w, hidden)
    # from the top: letter row, flow, gap, letter/note row, legend row, (plot), axis, margin
    fixed_h = 0.08 + flow_h + 0.3 + 0.22 + 0.25 + 0.48
    # The figure and a five-line caption must share one A4 page: the plot gets what is left.
    plot_room = max(FIGURE1_MAX_HEIGHT - fixed_h, 1.0)
    # 7 pt patient IDs need ROW_PITCH per row; when max_rows of them do not fit, fewer rows
    # are shown (the subset rule says so). Past 45 rows the IDs go and rows get thinner.
    if max_rows <= 45:
        max_rows = max(min(max_rows, int(plot_room / ROW_PITCH)), 1)
    units, left_out = timeline_plan(hidden or {}, response_day)
    drawable = cohort if units else cohort.iloc[0:0]
    shown, rule = timeline_subset(drawable, max_rows)
    d = _timeline_order(shown)
    show_ids = len(d) <= 45
    pitch = ROW_PITCH if show_ids else min(4.8, plot_room) / max(len(d), 1)
    id_w = (max((text_width(str(p), 7) for p in d["study_number"]), default=0.2) + 0.08
            if show_ids else 0.2)
    # every death drawn is on the axis (``horizon`` no longer cuts it): a death past the
    # axis end would be an event the figure does not show
    ticks = timeline_axis(d)
    cut = d["os_from_cmvig_days"].to_numpy(dtype=float) > ticks[-1]
    # room right of the axis for the last day of a cut bar
    right_w = (max((text_width(f"  {format_number(x)}", 7)
                    for x in d["os_from_cmvig_days"][cut]), default=0.0) + 0.1
               if show_ids and cut.any() else 0.15)
    plot_h = max(len(d), 3) * pitch
    height = fixed_h + plot_h
    with _STYLE_LOCK, matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, height))
        ax_a = _axes(fig, 0.25, height - 0.08 - flow_h, flow_w, flow_h)
        draw_flow(ax_a, rows, flow_h, flow_w)
        left = 0.3 + id_w
        b_top = height - 0.08 - flow_h - 0.3
        ax_b = _axes(fig, left, 0.48, WIDTH - left - right_w, plot_h)
        handles = _draw_timeline(ax_b, d, ticks, show_ids, units, left_out)
        # legend in one row above the plot: it never covers a bar, whatever the data
        fig.legend(handles=handles, loc="center left", ncol=len(handles), frameon=False,
                   bbox_to_anchor=(left / WIDTH, (0.48 + plot_h + 0.14) / height),
                   handletextpad=0.4, columnspacing=1.4, handlelength=1.2, borderaxespad=0)
        notes = ([f"Showing {format_number(len(d))} of {format_number(len(drawable))} "
                  f"patients ({SUBSET_RULE})"] if rule else []) + (
            ["not drawn (small-cell control)"] if not units else
            ["types of infection not told apart (small-cell control)"]
            if units == ("overall",) else [])
        if notes:
            fig.text(1 - 0.15 / WIDTH, (b_top - 0.02) / height, "; ".join(notes), ha="right",
                     va="top", fontsize=7.5, color="#444444")
        _letter(fig, 0.03, height - 0.04, "A")
        _letter(fig, 0.03, b_top, "B")
    dead = d["died"].to_numpy(dtype=bool)
    meta = {"timeline_rows_shown": len(d), "timeline_rows_total": len(drawable),
            "timeline_subset_rule": rule,
            # under small-cell control: nothing drawn (the cohort's size is hidden), or the
            # types of infection drawn as one, and the markers left out per type
            "timeline_groups_not_drawn": [] if units else [LABELS[g].lower() for g in GROUPS],
            "timeline_drawn": bool(len(d)),
            "timeline_types_pooled": units == ("overall",),
            "timeline_marks_left_out": {("all" if u == "overall" else LABELS[u].lower()): m
                                        for u, m in left_out.items() if m},
            "timeline_deaths_beyond_axis": int((dead & cut).sum()),
            "timeline_axis_end": int(ticks[-1]),
            # whether some bars run past the axis (the caption says how they are drawn)
            "timeline_bars_cut": bool(cut.any()),
            "timeline_cut_days_printed": bool(show_ids and cut.any())}
    return fig, meta


def run_figure1(*, cohort: str, response_day: int, max_rows: int,
                min_cell_count: int = 0, os_hsct_day: int | None = None, svg: str, png: str,
                facts: str, estimates: str | None = None) -> list[str]:
    """Step ``figure1``: writes the SVG, PNG and caption facts (JSON).

    Small-cell control follows the plan the estimates step made and wrote
    (``estimates.json#disclosure.cells``), so Table 1, the text and the flow hide the same
    counts; without small-cell control (``min_cell_count`` 0 or 1) there is no plan, and the
    step does not wait for the estimates (``estimates`` None).
    """
    df, est = _load(cohort, estimates)
    hidden = pc.written_cells(est, min_cell_count)
    fig, meta = figure1(df, int(response_day), int(max_rows), hidden,
                        None if os_hsct_day is None else int(os_hsct_day))
    _save(fig, svg, png)
    write_json(meta, facts)
    note = (f"timeline shows {meta['timeline_rows_shown']} of {meta['timeline_rows_total']} "
            "patients" if meta["timeline_subset_rule"] else None)
    return [note] if note else []
