"""Stage 3: the paper's figures, drawn from the cleaned cohort and the estimates.

Figure 1: (A) cohort flow with counts (:mod:`.figure_flow`), (B) per-patient timeline in days
since the first CMVIG dose. Figure 2: (A) probability of response by infection type, (B) overall
survival after CMVIG, each with a KMunicate-style table (at risk, events, censored) under the
plot. Figure 3 (viral loads over time) is :mod:`.figure3`, sharing the style defined here.

Only the object-oriented matplotlib API is used (no pyplot state, safe in threads), with the Agg
canvas. Layout is computed in inches, so the figures are 180 mm wide and every font stays >= 7 pt
in print. Output is byte-identical across runs: fixed SVG hash salt, no dates or software tags.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_hex, to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from . import figure_incidence as fi  # noqa: E402
from . import printed_counts as pc  # noqa: E402
from . import survival  # noqa: E402
from .disclosure import small_mark  # noqa: E402
from .endpoints import response_frame  # noqa: E402
from .figure_axes import (  # noqa: E402
    events_beyond,
    figure2_ticks,
    nice_ticks,
    panel_ticks,
    risk_table_curves,
)
from .figure_flow import (  # noqa: E402
    GROUPS,
    LABELS,
    draw_flow,
    flow_counts,
    layout_flow,
    text_width,
)
from .formatting import format_number, format_p  # noqa: E402
from .io import atomic_write_bytes, read_clean_cohort, write_json  # noqa: E402

__all__ = ["figure1", "figure2", "figure2_at_risk", "figure2_ticks", "flow_counts",
           "timeline_plan",
           "groups_not_drawn", "panel_ticks", "risk_table_curves",
           "render_bytes", "run_figure1", "run_figure2", "timeline_subset"]

WIDTH = 180 / 25.4  # inches: a full-width figure
# Okabe & Ito colour-blind-safe palette.
COLOURS = {"recurrent": "#0072B2", "refractory": "#D55E00", "overall": "#000000",
           "response": "#009E73", "cmvig": "#CC79A7", "death": "#000000", "alive": "#7F7F7F",
           "band": "#999999", "guide": "#555555"}
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8,
    "xtick.labelsize": 7.5, "ytick.labelsize": 7.5, "legend.fontsize": 7.5,
    "legend.title_fontsize": 7.5, "axes.spines.top": False, "axes.spines.right": False,
    "axes.linewidth": 0.7, "xtick.major.width": 0.7, "ytick.major.width": 0.7,
    "svg.fonttype": "none", "svg.hashsalt": "cmvig-report", "path.simplify": False,
}
TABLE_ROW = 0.15  # inches per at-risk table row (7 pt text)
# rcParams are process-global and the SVG backend reads svg.fonttype/hashsalt from them at save
# time; the lock keeps figures built in parallel threads from seeing each other's style.
_STYLE_LOCK = threading.RLock()


def render_bytes(fig: Figure) -> tuple[bytes, bytes]:
    """SVG and 300 dpi PNG bytes; the style must be active at save time (svg.fonttype)."""
    FigureCanvasAgg(fig)
    with _STYLE_LOCK, matplotlib.rc_context(STYLE):
        svg, png = io.BytesIO(), io.BytesIO()
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
        fig.savefig(png, format="png", dpi=300, metadata={"Software": None})
    return svg.getvalue(), png.getvalue()


def _save(fig: Figure, svg_out: str, png_out: str) -> None:
    svg, png = render_bytes(fig)
    atomic_write_bytes(svg_out, svg)
    atomic_write_bytes(png_out, png)


def _load(cohort: str, estimates: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    return read_clean_cohort(cohort), json.loads(Path(estimates).read_text(encoding="utf-8"))


def _axes(fig: Figure, left: float, bottom: float, width: float, height: float) -> Axes:
    """Axes placed in inches from the figure's bottom-left corner."""
    w, h = fig.get_size_inches()
    return fig.add_axes((left / w, bottom / h, width / w, height / h))


def _tint(colour: str, amount: float) -> str:
    # an opaque light tint (not alpha) keeps marker contrast and the SVG simple
    return to_hex([1 - amount * (1 - c) for c in to_rgb(colour)])


def _letter(fig: Figure, x_in: float, top_in: float, letter: str) -> None:
    w, h = fig.get_size_inches()
    fig.text(x_in / w, top_in / h, letter, fontsize=11, fontweight="bold", va="top")


# ------------------------------------------------------------------ Figure 1


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


def run_figure1(*, cohort: str, data_quality: str, response_day: int, max_rows: int,
                min_cell_count: int = 0, os_hsct_day: int | None = None, svg: str, png: str,
                facts: str) -> list[str]:
    """Step ``figure1``: writes the SVG, PNG and caption facts (JSON).

    It needs only the cleaned cohort (no estimates), so it is drawn while the analysis runs;
    small-cell control is planned from the same inputs as the analysis's, so Table 1, the text
    and the flow hide the same counts.
    """
    from .printed_counts import figure_plan

    df = read_clean_cohort(cohort)
    plan = figure_plan(df, data_quality, response_day, min_cell_count)
    fig, meta = figure1(df, int(response_day), int(max_rows), plan.hidden,
                        None if os_hsct_day is None else int(os_hsct_day))
    _save(fig, svg, png)
    write_json(meta, facts)
    note = (f"timeline shows {meta['timeline_rows_shown']} of {meta['timeline_rows_total']} "
            "patients" if meta["timeline_subset_rule"] else None)
    return [note] if note else []


# ------------------------------------------------------------------ Figure 2


def figure2_at_risk(durations: Any, events: Any, ticks: Any) -> pd.DataFrame:
    """The at-risk table drawn under a Figure 2 panel: ``survival.at_risk_table`` itself.

    Columns tick, at_risk (time > tick), events and censored (cumulative, time <= tick).
    """
    return survival.at_risk_table(durations, events, ticks)


MAX_CENSOR_MARKS = 60  # distinct censoring times per curve; beyond that, marks are noise


def _visible_censor_times(durations: pd.Series, events: pd.Series, xmax: float) -> np.ndarray:
    times = survival.censor_times(durations, events)
    return times[times <= xmax]


def _too_many_censor_times(times: list[np.ndarray]) -> bool:
    """True when any curve of a panel has more than MAX_CENSOR_MARKS distinct censoring times.

    The decision is per panel, so a panel never marks one group and leaves the other bare.
    """
    return any(len(t) > MAX_CENSOR_MARKS for t in times)


def _censor_marks(ax: Axes, curve: pd.DataFrame, times: np.ndarray, colour: str, flip: bool,
                  omit: bool) -> str:
    """Ticks on the curve at the distinct censoring ``times``: "shown", "none" or "omitted"."""
    if len(times) == 0:
        return "none"
    if omit:
        return "omitted"
    pos = np.searchsorted(curve["time"].to_numpy(), times, side="right") - 1
    y = curve["survival"].to_numpy()[pos]
    ax.plot(times, 100 * (1 - y if flip else y), linestyle="none", marker="|", markersize=5,
            markeredgewidth=0.9, color=colour, zorder=3)
    return "shown"


ROWS = (("at_risk", "At risk"), ("events", "Events"), ("censored", "Censored"))
Table = tuple[str, str, pd.DataFrame]  # group label ("" for one group), colour, at-risk table


def _table_margins(tables: list[Table]) -> tuple[float, float, float]:
    """Left margin, right margin and number half-width (inches) so no label meets a number.

    Numbers are centred under the ticks, so the first and last columns reach half their width
    beyond the axis ends; at N = 50,000 that is wider than a fixed margin allows.
    """
    def half(col: int) -> float:
        return max(text_width(format_number(t[2][c].iloc[col]), 7) / 2
                   for t in tables for c, _ in ROWS)

    first = half(0)
    group_w = max(text_width(LABELS[g], 7.5, "bold") for g in GROUPS)
    rows_w = max(text_width(name, 7) for _, name in ROWS)
    left = max(0.1 + group_w + 0.15 + rows_w + 0.1 + first, 1.2)
    return left, max(0.2, half(-1) + 0.08), first


def _risk_table(ax: Axes, groups: list[Table], ticks: np.ndarray, left: float,
                first: float, rows: tuple[tuple[str, str], ...] = ROWS,
                shown: Callable[[str, int, int], str] | None = None) -> None:
    """KMunicate table: per group, rows at risk / events / censored, numbers under the ticks.

    ``shown(group label, tick index, value)`` prints an at-risk count (small-cell control)."""
    ax.set_label("at-risk table")
    ax.set_xlim(ticks[0], ticks[-1])
    per = len(rows)
    ax.set_ylim(per * len(groups) + 0.3 * (len(groups) - 1) - 0.5, -0.5)
    ax.axis("off")
    width_in = ax.get_position().width * ax.figure.get_figwidth()
    label_x = -(0.1 + first) / width_in  # axes fraction, clear of the first column
    group_x = -(left - 0.1) / width_in  # group names start 0.1 in from the figure edge
    axis = ax.get_yaxis_transform()
    for gi, (label, colour, table) in enumerate(groups):
        for ri, (col, name) in enumerate(rows):
            yy = per * gi + ri + 0.3 * gi
            ax.text(label_x, yy, name, transform=axis, ha="right", va="center", fontsize=7,
                    color=colour)
            if label and ri == 0:
                ax.text(group_x, yy, label, transform=axis, ha="left", va="center",
                        fontsize=7.5, color=colour, fontweight="bold")
            for i, (tick, value) in enumerate(zip(ticks, table[col], strict=True)):
                text = shown(label, i, int(value)) if shown else format_number(value)
                ax.text(tick, yy, text, ha="center", va="center", fontsize=7, color=colour)


def _curve(curves: pd.DataFrame, name: str, durations: pd.Series, events: pd.Series,
           xmax: float) -> pd.DataFrame:
    """The step function up to the axis end (``xmax``), where it is cut with its last value.

    Steps beyond the axis are invisible but would still be written to the SVG: at 50,000
    patients they made Figure 2 four times larger and slower to print.
    """
    part = curves[curves["curve"] == name].reset_index(drop=True)
    # a curves file from another run (or none) must not silently disagree with the cohort
    curve = part if len(part) else survival.km_curve(durations, events)
    inside = curve[curve["time"] <= xmax]
    if len(inside) == len(curve) or inside.empty:
        return curve
    return pd.concat([inside, inside.iloc[[-1]].assign(time=xmax)], ignore_index=True)


def _guide(ax: Axes, day: int, xmax: float) -> None:
    """Dotted line at a landmark day, labelled just above the plot area."""
    ax.axvline(day, color=COLOURS["guide"], linestyle=":", linewidth=0.9, zorder=1)
    # a landmark at the right end of the axis (short follow-up) would push a centred label
    # past the figure edge: end it at the line instead
    ha = "right" if day >= 0.92 * xmax else "center"
    ax.text(day, 1.0, f"Day {format_number(day)}", transform=ax.get_xaxis_transform(),
            ha=ha, va="bottom", fontsize=7, color=COLOURS["guide"])


def _logrank_label(p: float | None) -> str:
    # exploratory: two small groups, no prespecified hypothesis (the Methods say so too)
    return (f"Exploratory log-rank {format_p(p)}" if p is not None
            else "Log-rank test: not estimable")


def _finish_axes(ax: Axes, ticks: np.ndarray, ylabel: str) -> None:
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_xticks(ticks, [format_number(t) for t in ticks])
    # a little room above 100% and below 0% so curves lying there are not hidden by the spine
    ax.set_ylim(-2.5, 102.5)
    ax.set_yticks(range(0, 101, 20))
    ax.spines["left"].set_bounds(0, 100)
    ax.set_xlabel("Days since the first CMVIG dose")
    ax.set_ylabel(ylabel)


def figure2(cohort: pd.DataFrame, estimates: dict[str, Any],
            curves: pd.DataFrame | None = None) -> tuple[Figure, dict[str, Any]]:
    """Figure 2 and the facts its caption needs.

    ``curves`` is ``results/km_curves.csv`` (columns curve, time, survival, ci_lower,
    ci_upper); missing curves are computed from the cohort with :func:`survival.km_curve`.
    """
    curves = curves if curves is not None else pd.DataFrame(columns=["curve"])
    settings = estimates.get("settings", {})
    response_day = int(settings.get("response_day", estimates["response"]["day"]))
    os_day = int(settings.get("os_cmvig_day", estimates["os_from_cmvig"]["day"]))
    # An own study's panel A: cumulative incidence over the evaluable children (None: 1 - KM)
    incidence = response_frame(cohort, estimates)
    panel_a = cohort if incidence is None else incidence
    ticks = figure2_ticks(cohort, estimates, incidence)
    ticks_a, ticks_b = ticks["response"], ticks["overall_survival"]
    by_group = {g: panel_a[panel_a["infection_type"] == g] for g in GROUPS}
    disclosure = estimates.get("disclosure") or {}
    hidden, min_cell = disclosure.get("hidden") or {}, int(disclosure.get("min_cell_count") or 0)
    # the analysis's plan for the numbers at risk (curve -> tick -> mark), audited with the
    # tooltips' and the text's counts
    planned = disclosure.get("risk_tables") or {}
    size_keys = {LABELS[g]: f"infection_type.{g}" for g in GROUPS} | {"": "n_patients"}
    curve_of = {LABELS[g]: f"response_{g}" for g in GROUPS} | {"": "os_from_cmvig"}

    def count(value: int, key: str = "") -> str:
        # the analysis's small-cell plan for a group's size; any other count below the limit
        # prints as "<N"
        if key in hidden:
            return hidden[key]
        return (small_mark(min_cell) if min_cell > 1 and 0 < value < min_cell
                else format_number(value))

    def at_risk(label: str, tick: int, value: int) -> str:
        curve = curve_of.get(label, "")
        day = str(int((ticks_b if curve == "os_from_cmvig" else ticks_a)[tick]))
        if day in planned.get(curve, {}):
            return planned[curve][day]
        # at the first tick everyone is at risk: that is the group's size
        return count(value, size_keys.get(label, "") if tick == 0 else "")

    # Under small-cell control the cumulative events and censorings are left out: the last
    # column would print a hidden count (every death of the series, say).
    rows = ROWS if min_cell <= 1 else ROWS[:1]
    rows_a = rows if incidence is None else fi.ROWS[:len(fi.ROWS) if min_cell <= 1 else 1]
    table_a: list[Table] = [
        (LABELS[g], COLOURS[g], figure2_at_risk(d["days_to_response_or_censoring"],
                                                d["responded"], ticks_a) if incidence is None
         else fi.incidence_table(d["days_to_response_or_censoring"], d["code"],
                                               ticks_a))
        for g, d in by_group.items()]
    t, e = cohort["os_from_cmvig_days"], cohort["died"]
    table_b: list[Table] = [("", COLOURS["overall"], figure2_at_risk(t, e, ticks_b))]
    left, right, first = _table_margins(table_a + table_b)
    tab_a_h, tab_b_h = (2 * len(rows_a) + 0.3) * TABLE_ROW, len(rows) * TABLE_ROW
    plot_h, axis_h, gap = 2.3, 0.5, 0.45
    # from the top: margin, plot A, axis, table A, gap, plot B, axis, table B, margin
    height = 0.25 + plot_h + axis_h + tab_a_h + gap + plot_h + axis_h + tab_b_h + 0.1
    marks = {"response": [], "overall_survival": []}
    with _STYLE_LOCK, matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, height))
        w = WIDTH - left - right
        top_a = height - 0.25
        ax_a = _axes(fig, left, top_a - plot_h, w, plot_h)
        tab_a = _axes(fig, left, top_a - plot_h - axis_h - tab_a_h, w, tab_a_h)
        top_b = top_a - plot_h - axis_h - tab_a_h - gap
        ax_b = _axes(fig, left, top_b - plot_h, w, plot_h)
        tab_b = _axes(fig, left, 0.1, w, tab_b_h)
        censored = Line2D([], [], linestyle="none", marker="|", markersize=5,
                          markeredgewidth=0.9, color="#444444", label="Censored")

        lines = []
        # with competing events only code 0 is a censoring (a death gets its own mark)
        censored_a = {g: _visible_censor_times(d["days_to_response_or_censoring"],
                                               d["responded"] if incidence is None
                                               else d["code"].ne(0), ticks_a[-1])
                      for g, d in by_group.items()}
        died_first = False
        omit_a = _too_many_censor_times(list(censored_a.values()))
        for g, d in by_group.items():
            if len(d):
                tg, eg = d["days_to_response_or_censoring"], d["responded"]
                curve = _curve(curves, f"response_{g}", tg, eg, ticks_a[-1])
                lines += ax_a.step(curve["time"], 100 * (1 - curve["survival"]), where="post",
                                   color=COLOURS[g], linewidth=1.4,
                                   label=f"{LABELS[g]} (n = {count(len(d), size_keys[LABELS[g]])})")
                marks["response"].append(_censor_marks(ax_a, curve, censored_a[g], COLOURS[g],
                                                       True, omit_a))
                if incidence is not None:
                    fi.draw_band(ax_a, curve, COLOURS[g])
                    died_first |= fi.competing_marks(
                        ax_a, curve, tg, d["code"], COLOURS[g], ticks_a[-1])
        _guide(ax_a, response_day, ticks_a[-1])
        _finish_axes(ax_a, ticks_a, "Probability of response (%)" if incidence is None
                     else "Cumulative incidence of response (%)")
        extra = fi.legend_extras(estimates, died_first) if incidence is not None else []
        # the p value is the legend title, so "best" keeps both off the curves together;
        # "best" does not see the bands of an own study's curves, which rise from the lower
        # left, so their legend takes the upper left, which they reach last
        ax_a.legend(handles=lines + [censored] * ("shown" in marks["response"]) + extra,
                    loc="best" if incidence is None else "upper left", frameon=False,
                    title=_logrank_label(estimates.get("logrank_p")) if incidence is None
                    else fi.gray_label(estimates), alignment="left")
        _risk_table(tab_a, table_a, ticks_a, left, first, rows_a, at_risk)

        handles: list[Any] = []
        if len(cohort):
            curve = _curve(curves, "os_from_cmvig", t, e, ticks_b[-1])
            band = ax_b.fill_between(curve["time"], 100 * curve["ci_lower"],
                                     100 * curve["ci_upper"], step="post",
                                     color=_tint(COLOURS["band"], 0.35), linewidth=0,
                                     label="95% CI (log-log)")
            handles = ax_b.step(curve["time"], 100 * curve["survival"], where="post",
                                color=COLOURS["overall"], linewidth=1.4,
                                label=f"All patients (n = {count(len(cohort), 'n_patients')})")
            censored_b = _visible_censor_times(t, e, ticks_b[-1])
            marks["overall_survival"].append(_censor_marks(
                ax_b, curve, censored_b, COLOURS["overall"], False,
                _too_many_censor_times([censored_b])))
            handles += [band] + [censored] * ("shown" in marks["overall_survival"])
        _guide(ax_b, os_day, ticks_b[-1])
        _finish_axes(ax_b, ticks_b, "Overall survival (%)")
        ax_b.legend(handles=handles, loc="best", frameon=False)
        _risk_table(tab_b, table_b, ticks_b, left, first, rows, at_risk)

        _letter(fig, 0.03, height - 0.05, "A")
        _letter(fig, 0.03, top_b + 0.2, "B")
    meta = {"at_risk_ticks_response": [int(x) for x in ticks_a],
            "at_risk_ticks": [int(x) for x in ticks_b],
            # True when the panel carries censoring ticks (the caption mentions them)
            "censor_marks_shown": {k: "shown" in v for k, v in marks.items()},
            "censor_marks_omitted": sorted(k for k, v in marks.items() if "omitted" in v),
            # the rows of the tables under the panels (small-cell control keeps at risk only)
            "risk_table_rows": [col for col, _ in rows],
            # own study: panel A is a cumulative incidence with competing events marked
            "response_estimand": "one minus Kaplan-Meier" if incidence is None
            else "cumulative incidence",
            "competing_marks_shown": bool(incidence is not None and died_first),
            # every event lies within the axis (panel_ticks): the caption says so from these
            "events_beyond_axis": {
                "response": sum(events_beyond(d["days_to_response_or_censoring"],
                                              d["responded"], ticks_a[-1])
                                for d in by_group.values()),
                "overall_survival": events_beyond(t, e, ticks_b[-1])},
            "axis_end": {"response": int(ticks_a[-1]), "overall_survival": int(ticks_b[-1])}}
    return fig, meta


def run_figure2(*, cohort: str, estimates: str, svg: str, png: str, facts: str,
                curves: str | None = None) -> list[str]:
    """Step ``figure2``: writes the SVG, PNG and caption facts (JSON).

    ``curves`` is results/km_curves.csv; without it the curves are fitted from the cohort.
    """
    df, est = _load(cohort, estimates)
    fig, meta = figure2(df, est, pd.read_csv(curves) if curves else None)
    _save(fig, svg, png)
    write_json(meta, facts)
    return [f"{panel}: over {MAX_CENSOR_MARKS} distinct censoring times, not marked"
            for panel in meta["censor_marks_omitted"]]
