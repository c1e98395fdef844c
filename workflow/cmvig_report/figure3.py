"""Figure 3: each child's viral load over time, by type of infection.

One line per child: CMV DNA (log10 IU/mL) against days since the first CMVIG dose, with the
lower limit of quantification (LLOQ) drawn, results below it on a band of their own, and the
response (the first result below the LLOQ after the first dose) marked. Children are not named
on the figure; it holds relative days only.

A per-child figure shows how many children a group has (count the lines) and how many of them
responded (count the markers). Under small-cell control a group whose size, responders or
non-responders are hidden by the plan is therefore not drawn at all (docs/disclosure.md).
"""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from . import printed_counts as pc
from .figure_flow import GROUPS, LABELS
from .figures import (
    _STYLE_LOCK,
    COLOURS,
    STYLE,
    WIDTH,
    _axes,
    _letter,
    _save,
    _tint,
    groups_not_drawn,
    nice_ticks,
    signed_number,
)
from .formatting import format_measure, format_number
from .io import read_clean_cohort, write_json

BLQ_DROP = 0.6  # log10 units between the LLOQ line and the band of results below it
MANY_LINES = 30  # past this many children in a panel, lines get thinner and lighter
RASTER_LINES = 500  # past this many, the lines and response marks are drawn as one bitmap


def trajectories(cohort: pd.DataFrame, viral_loads: pd.DataFrame, lloq: float) -> pd.DataFrame:
    """The points drawn: study_number, infection_type, day, log10 load (the band's level for a
    result below the LLOQ) and below_lloq, in study-number and day order.

    Only children of the cohort are drawn; the patient ID stops here.
    """
    who = cohort[["patient_id", "study_number", "infection_type"]]
    d = viral_loads.merge(who, on="patient_id", how="inner", validate="many_to_one")
    blq = d["below_lloq"].astype(str).str.lower().eq("true").to_numpy()
    load = pd.to_numeric(d["cmv_dna_iu_ml"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(blq, np.log10(lloq) - BLQ_DROP, np.log10(load))
    out = pd.DataFrame({"study_number": d["study_number"].astype(int),
                        "infection_type": d["infection_type"],
                        "day": pd.to_numeric(d["days_since_cmvig"]).astype(int),
                        "log10_load": y, "below_lloq": blq})
    out = out[np.isfinite(out["log10_load"])]
    return out.sort_values(["study_number", "day"], kind="stable").reset_index(drop=True)


# What a reader can count on Figure 3, group by group: lines, and those reaching the band.
TRAJECTORY_COUNTS = (pc.RESPONDERS, pc.NON_RESPONDERS)


def _panel(ax: Axes, points: pd.DataFrame, responses: pd.DataFrame, colour: str,
           lloq: float, ylim: tuple[float, float], xlim: tuple[float, float]) -> None:
    children = points["study_number"].nunique()
    many = children > MANY_LINES
    # A registry's thousands of lines are one picture, not thousands of vector paths: as vector
    # paths they make a figure of tens of MB that the PDF must lay out (text stays vector).
    raster = children > RASTER_LINES
    line_colour = _tint(colour, 0.6) if many else colour
    if raster:
        number = points["study_number"].to_numpy()
        cuts = np.flatnonzero(np.diff(number)) + 1
        xy = points[["day", "log10_load"]].to_numpy(dtype=float)
        # translucent, so that where most children's loads lie shows as the darkest band
        ax.add_collection(LineCollection(np.split(xy, cuts), colors=line_colour,
                                         linewidths=0.3, zorder=2, rasterized=True,
                                         alpha=max(0.02, min(1.0, 100 / children))))
    else:
        for _, child in points.groupby("study_number", sort=True):
            # markers only where few lines leave room for them
            ax.plot(child["day"], child["log10_load"], color=line_colour,
                    linewidth=0.4 if many else 0.9, marker="" if many else "o",
                    markersize=2.4, zorder=2)
    if len(responses):
        ax.scatter(responses["day"], responses["log10_load"], marker="o", s=9 if many else 22,
                   color=COLOURS["response"], edgecolor="white", linewidth=0.3 if many else 0.5,
                   zorder=4, rasterized=raster)
    ax.axhline(np.log10(lloq), color=COLOURS["guide"], linestyle="--", linewidth=0.9, zorder=1)
    ax.axvline(0, color=COLOURS["cmvig"], linewidth=1.0, zorder=1)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)


def figure3(cohort: pd.DataFrame, viral_loads: pd.DataFrame, lloq: float,
            hidden: dict[str, str] | None = None,
            response_day: int = 50) -> tuple[Figure, dict[str, Any]]:
    """Figure 3 and the facts its caption needs.

    The axis runs from the first result before CMVIG to three times ``response_day`` or the
    last response, whichever is later (as Figure 2A): long monitoring of non-responders would
    otherwise squeeze the weeks in which children respond into a corner.

    ``hidden`` is the small-cell plan (cell name -> mark, :mod:`.printed_counts`): the panel
    titles print each group's n through it, and a group in :func:`groups_not_drawn` is left
    empty with a note (:func:`.figures.groups_not_drawn`).
    """
    hidden = hidden or {}
    points = trajectories(cohort, viral_loads, lloq)
    skipped = groups_not_drawn(hidden, TRAJECTORY_COUNTS)
    blq_level = np.log10(lloq) - BLQ_DROP
    first = points[points["below_lloq"] & (points["day"] > 0)]
    # the response is the cohort's own (first result below the LLOQ after the first dose)
    resp = cohort.loc[cohort["responded"].astype(bool), ["study_number", "days_to_response"]]
    responses = first.merge(resp.rename(columns={"days_to_response": "day"}),
                            on=["study_number", "day"], how="inner")
    top = max(float(points["log10_load"].max()) if len(points) else 0.0, np.log10(lloq) + 1)
    ylim = (blq_level - 0.45, np.ceil(top) + 0.2)
    day_min = min(float(points["day"].min()) if len(points) else 0.0, 0.0)
    longest = float(points["day"].max()) if len(points) else 1.0
    last_response = float(resp["days_to_response"].max()) if len(resp) else 0.0
    ends = nice_ticks(max(min(longest, 3 * response_day), response_day, last_response),
                      target=6)
    day_max = float(ends[-1])
    step = float(ends[1])
    xticks = np.arange(np.floor(day_min / step) * step, day_max + step / 2, step)
    xlim = (day_min - 0.02 * (day_max - day_min), day_max)
    xticks = xticks[(xticks >= xlim[0]) & (xticks <= xlim[1])]
    yticks = np.arange(np.ceil(np.log10(lloq)), np.floor(ylim[1]) + 0.5)

    drawn = {g: points[(points["infection_type"] == g)] if g not in skipped
             else points.iloc[0:0] for g in GROUPS}
    plot_h, top_m, bottom_m, left, gap, right = 2.5, 0.6, 0.5, 0.75, 0.35, 0.15
    height = top_m + plot_h + bottom_m
    panel_w = (WIDTH - left - gap - right) / 2
    with _STYLE_LOCK, matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, height))
        for i, g in enumerate(GROUPS):
            x0 = left + i * (panel_w + gap)
            ax = _axes(fig, x0, bottom_m, panel_w, plot_h)
            pts = drawn[g]
            _panel(ax, pts, responses[responses["study_number"].isin(pts["study_number"])],
                   COLOURS[g], lloq, ylim, xlim)
            n = hidden.get(pc.size(g), format_number(int((cohort["infection_type"] == g).sum())))
            ax.set_title(f"{LABELS[g]} infection (n = {n})", loc="left", color=COLOURS[g],
                         fontweight="bold", fontsize=8)
            if g in skipped:
                ax.text(0.5, 0.5, "Not drawn: the group is below the small-cell limit",
                        transform=ax.transAxes, ha="center", va="center", fontsize=7.5,
                        color="#444444")
            ax.set_xticks(xticks, [signed_number(t) for t in xticks])
            ax.set_yticks([blq_level, *yticks],
                          ["<LLOQ", *[format_number(t) for t in yticks]])
            ax.set_xlabel("Days since the first CMVIG dose")
            if i == 0:
                ax.set_ylabel("CMV DNA (log10 IU/mL)")
            # the letter on the line of the panel's title, below the legend's row
            _letter(fig, x0 - (0.7 if i == 0 else 0.3), bottom_m + plot_h + 0.24, "AB"[i])
        handles = [
            Line2D([], [], color="#444444", linewidth=0.9, marker="o", markersize=2.4,
                   label="One child"),
            Line2D([], [], linestyle="none", marker="o", markersize=5,
                   color=COLOURS["response"], markeredgecolor="white", markeredgewidth=0.5,
                   label="Response"),
            Line2D([], [], color=COLOURS["guide"], linestyle="--", linewidth=0.9,
                   label=f"LLOQ ({format_measure(lloq)} IU/mL)"),
            Line2D([], [], color=COLOURS["cmvig"], linewidth=1.0, label="First CMVIG dose")]
        fig.legend(handles=handles, loc="center right", ncol=len(handles), frameon=False,
                   bbox_to_anchor=(1 - right / WIDTH, (height - 0.14) / height),
                   handletextpad=0.4, columnspacing=1.4, handlelength=1.6, borderaxespad=0)
    meta = {"results_drawn": int(sum((p["day"] <= day_max).sum() for p in drawn.values())),
            "axis_end": int(day_max),
            "results_after_axis_end": bool(any((p["day"] > day_max).any()
                                               for p in drawn.values())),
            "groups_not_drawn": [LABELS[g].lower() for g in skipped],
            "responses_marked": bool(len(responses[responses["study_number"].isin(
                pd.concat([p["study_number"] for p in drawn.values()]))]))}
    return fig, meta


def run_figure3(*, cohort: str, viral_loads: str, data_quality: str, response_day: int,
                lloq_iu_ml: float, min_cell_count: int = 0, svg: str, png: str,
                facts: str) -> list[str]:
    """Step ``figure3``: writes the SVG, PNG and caption facts (JSON).

    Small-cell control is planned from the same inputs as the analysis's and Figure 1's, so
    the three hide the same counts.
    """
    from .printed_counts import figure_plan

    df = read_clean_cohort(cohort)
    plan = figure_plan(df, data_quality, response_day, min_cell_count)
    loads = pd.read_csv(viral_loads, dtype=str, keep_default_na=False)
    fig, meta = figure3(df, loads, float(lloq_iu_ml), plan.hidden, int(response_day))
    _save(fig, svg, png)
    write_json(meta, facts)
    return [f"figure 3: {g} infection not drawn (small-cell control)"
            for g in meta["groups_not_drawn"]]
