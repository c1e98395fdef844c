"""Figure 2: (A) probability of response by infection type, (B) overall survival after CMVIG,
each with a KMunicate-style table (at risk, events, censored) under the plot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..core.formatting import format_number, format_p
from ..core.io import write_json
from ..data.endpoints import response_frame
from ..data.groups import GROUPS, LABELS, of_group
from ..privacy.disclosure import small_mark
from ..stats import survival
from . import figure_incidence as fi
from .figure_axes import events_beyond, figure2_ticks
from .figure_flow import text_width
from .figure_style import (
    _STYLE_LOCK,
    COLOURS,
    STYLE,
    TABLE_ROW,
    WIDTH,
    _axes,
    _letter,
    _load,
    _save,
    _tint,
)


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
    by_group = {g: of_group(panel_a, g) for g in GROUPS}
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
