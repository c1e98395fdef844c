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

from ..core.formatting import format_measure, format_number
from ..core.io import write_json
from ..data.groups import GROUPS, LABELS, in_group, sizes
from ..privacy import printed_counts as pc
from .figure1 import groups_not_drawn, signed_number
from .figure_axes import nice_ticks
from .figure_style import _STYLE_LOCK, COLOURS, STYLE, WIDTH, _axes, _letter, _load, _save, _tint

BLQ_DROP = 0.6  # log10 units between the LLOQ line and the band of results below it
MANY_LINES = 30  # past this many children in a panel, faint lines under a median band
SUMMARY_BIN_DAYS = 7  # the median band's bins: a week, the usual monitoring interval
RASTER_LINES = 500  # past this many, the lines and response marks are drawn as one bitmap


def trajectories(cohort: pd.DataFrame, viral_loads: pd.DataFrame, lloq: float) -> pd.DataFrame:
    """The points drawn: study_number, infection_type, day, log10 load (the band's level for a
    result below its LLOQ), below_lloq and the sample's own limit (``lloq``: the config's
    ``lloq`` when the sample has none), in study-number and day order.

    The band of results below the limit lies :data:`BLQ_DROP` under the lowest limit drawn,
    so a result below its own (higher) limit is never drawn above a limit line.
    Only children of the cohort are drawn; the patient ID stops here.
    """
    who = cohort[["patient_id", "study_number", "infection_type"]]
    d = viral_loads.merge(who, on="patient_id", how="inner", validate="many_to_one")
    blq = d["below_lloq"].astype(str).str.lower().eq("true").to_numpy()
    load = pd.to_numeric(d["cmv_dna_iu_ml"], errors="coerce").to_numpy(dtype=float)
    own = (pd.to_numeric(d["lloq_iu_ml"], errors="coerce") if "lloq_iu_ml" in d
           else pd.Series(np.nan, index=d.index)).fillna(lloq).to_numpy(dtype=float)
    band = np.log10(min(lloq, float(own.min()) if len(own) else lloq)) - BLQ_DROP
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(blq, band, np.log10(load))
    out = pd.DataFrame({"study_number": d["study_number"].astype(int),
                        "infection_type": d["infection_type"],
                        "day": pd.to_numeric(d["days_since_cmvig"]).astype(int),
                        "log10_load": y, "below_lloq": blq, "lloq": own})
    out = out[np.isfinite(out["log10_load"])]
    return out.sort_values(["study_number", "day"], kind="stable").reset_index(drop=True)


def summary_band(points: pd.DataFrame, width: int = SUMMARY_BIN_DAYS) -> pd.DataFrame:
    """Median and interquartile range of the children's loads per ``width``-day bin.

    Each child counts once per bin (its last result in it), so a child sampled daily does not
    outweigh one sampled weekly. Columns: day (the bin's middle), median, q1, q3.
    """
    if points.empty:
        return pd.DataFrame(columns=["day", "median", "q1", "q3"])
    b = points.assign(bin=np.floor(points["day"] / width).astype(int))
    last = b.groupby(["bin", "study_number"], sort=True)["log10_load"].last().reset_index()
    g = last.groupby("bin", sort=True)["log10_load"]
    return pd.DataFrame({"day": (g.median().index.to_numpy() + 0.5) * width,
                         "median": g.median().to_numpy(), "q1": g.quantile(0.25).to_numpy(),
                         "q3": g.quantile(0.75).to_numpy()})


# What a reader can count on Figure 3, group by group: lines, and those reaching the band.
TRAJECTORY_COUNTS = (pc.RESPONDERS, pc.NON_RESPONDERS)


def _panel(ax: Axes, points: pd.DataFrame, responses: pd.DataFrame, colour: str,
           many: bool, lines: bool, config_lloq: float) -> None:
    """One group's panel. ``many``: the figure's style (faint lines under a median and
    interquartile band, decided for both panels at once); ``lines``: whether the children's
    own lines may be drawn (small-cell control: otherwise the band alone)."""
    children = points["study_number"].nunique()
    # A registry's thousands of lines are one picture, not thousands of vector paths: as vector
    # paths they make a figure of tens of MB that the PDF must lay out (text stays vector).
    raster = children > RASTER_LINES
    line_colour = _tint(colour, 0.6) if many else colour
    if lines and raster:
        number = points["study_number"].to_numpy()
        cuts = np.flatnonzero(np.diff(number)) + 1
        xy = points[["day", "log10_load"]].to_numpy(dtype=float)
        ax.add_collection(LineCollection(np.split(xy, cuts), colors=line_colour,
                                         linewidths=0.3, zorder=2, rasterized=True,
                                         alpha=max(0.02, min(1.0, 100 / children))))
    elif lines:
        for _, child in points.groupby("study_number", sort=True):
            ax.plot(child["day"], child["log10_load"], color=line_colour,
                    linewidth=0.4 if many else 0.9, marker="" if many else "o",
                    markersize=2.4, zorder=2)
    if many or not lines:
        band = summary_band(points)
        ax.fill_between(band["day"], band["q1"], band["q3"], color=_tint(colour, 0.3),
                        linewidth=0, zorder=3)
        ax.plot(band["day"], band["median"], color=colour, linewidth=1.6, zorder=3.5)
    if lines:
        # each sample's own limit where it is not the config's (another assay)
        other = points[~np.isclose(points["lloq"], config_lloq)]
        if len(other):
            ax.plot(other["day"], np.log10(other["lloq"]), linestyle="none", marker="_",
                    markersize=5, markeredgewidth=0.9, color=COLOURS["guide"], zorder=3)
    if lines and len(responses):
        # on top of lines and band: a response is what the figure is read for
        ax.scatter(responses["day"], responses["log10_load"], marker="o", s=16 if many else 22,
                   color=COLOURS["response"], edgecolor="white", linewidth=0.5,
                   zorder=5, rasterized=raster)


def figure3(cohort: pd.DataFrame, viral_loads: pd.DataFrame, lloq: float,
            hidden: dict[str, str] | None = None,
            response_day: int = 50) -> tuple[Figure, dict[str, Any]]:
    """Figure 3 and the facts its caption needs.

    The axis runs from the first result before CMVIG to three times ``response_day`` or the
    last response, whichever is later (as Figure 2A): long monitoring of non-responders would
    otherwise squeeze the weeks in which children respond into a corner.

    ``hidden`` is the small-cell plan (cell name -> mark, :mod:`.printed_counts`): the panel
    titles print each group's n through it, and a group in :func:`groups_not_drawn` (whose
    lines or response marks would count a hidden cell) is drawn as its median and
    interquartile band only, without a line or mark per child. Both panels share one style:
    past :data:`MANY_LINES` children in either, faint lines under the band.
    """
    hidden = hidden or {}
    points = trajectories(cohort, viral_loads, lloq)
    skipped = groups_not_drawn(hidden, TRAJECTORY_COUNTS)
    limits = sorted({float(x) for x in points["lloq"]} | {float(lloq)})
    blq_level = np.log10(limits[0]) - BLQ_DROP
    first = points[points["below_lloq"] & (points["day"] > 0)]
    # the response is the cohort's own (first result below the LLOQ after the first dose)
    resp = cohort.loc[cohort["responded"].astype(bool), ["study_number", "days_to_response"]]
    responses = first.merge(resp.rename(columns={"days_to_response": "day"}),
                            on=["study_number", "day"], how="inner")
    top = max(float(points["log10_load"].max()) if len(points) else 0.0,
              np.log10(limits[-1]) + 1)
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
    yticks = np.arange(np.ceil(np.log10(limits[0])), np.floor(ylim[1]) + 0.5)

    drawn = {g: points[in_group(points, g)] for g in GROUPS}
    many = max((p["study_number"].nunique() for p in drawn.values()), default=0) > MANY_LINES
    summarised = [g for g in GROUPS if len(drawn[g]) and (many or g in skipped)]
    own_limits = [g for g in GROUPS if g not in skipped
                  and (~np.isclose(drawn[g]["lloq"], lloq)).any()]
    handles = _legend(lloq, lines=any(g not in skipped for g in GROUPS),
                      band=bool(summarised), own_limits=bool(own_limits))
    rows = 1 if len(handles) <= 4 else 2
    plot_h, top_m, bottom_m, left, gap, right = 2.5, 0.45 + 0.17 * rows, 0.5, 0.75, 0.35, 0.15
    height = top_m + plot_h + bottom_m
    panel_w = (WIDTH - left - gap - right) / 2
    with _STYLE_LOCK, matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, height))
        for i, g in enumerate(GROUPS):
            x0 = left + i * (panel_w + gap)
            ax = _axes(fig, x0, bottom_m, panel_w, plot_h)
            pts = drawn[g]
            _panel(ax, pts, responses[responses["study_number"].isin(pts["study_number"])],
                   COLOURS[g], many, g not in skipped, lloq)
            ax.axhline(np.log10(lloq), color=COLOURS["guide"], linestyle="--", linewidth=0.9,
                       zorder=1)
            ax.axvline(0, color=COLOURS["cmvig"], linewidth=1.0, zorder=1)
            ax.set_xlim(*xlim)
            ax.set_ylim(*ylim)
            n = hidden.get(pc.size(g), format_number(sizes(cohort)[g]))
            ax.set_title(f"{LABELS[g]} infection (n = {n})", loc="left", color=COLOURS[g],
                         fontweight="bold", fontsize=8)
            if g in skipped and len(pts):
                ax.text(0.98, 0.96, "Median and interquartile range only (small-cell control)",
                        transform=ax.transAxes, ha="right", va="top", fontsize=7,
                        color="#444444")
            ax.set_xticks(xticks, [signed_number(t) for t in xticks])
            ax.set_yticks([blq_level, *yticks],
                          ["<LLOQ", *[format_number(t) for t in yticks]])
            ax.set_xlabel("Days since the first CMVIG dose")
            if i == 0:
                ax.set_ylabel("CMV DNA (log10 IU/mL)")
            # the letter on the line of the panel's title, below the legend's row
            _letter(fig, x0 - (0.7 if i == 0 else 0.3), bottom_m + plot_h + 0.24, "AB"[i])
        fig.legend(handles=handles, loc="upper right", ncol=-(-len(handles) // rows),
                   frameon=False, bbox_to_anchor=(1 - right / WIDTH, (height - 0.04) / height),
                   handletextpad=0.4, columnspacing=1.4, handlelength=1.6, borderaxespad=0)
    meta = {"results_drawn": int(sum((p["day"] <= day_max).sum() for p in drawn.values())),
            "axis_end": int(day_max),
            "results_after_axis_end": bool(any((p["day"] > day_max).any()
                                               for p in drawn.values())),
            # never a group left out now: its band is drawn without lines (small-cell control)
            "groups_not_drawn": [],
            "groups_summarised_only": [LABELS[g].lower() for g in skipped if len(drawn[g])],
            "median_band": bool(summarised),
            "many_children": bool(many),
            # the limits of quantification of the samples drawn, and whether a sample's own
            # limit (another assay's) is marked beside it
            "sample_limits": [float(x) for x in limits],
            "own_limits_marked": bool(own_limits),
            "responses_marked": bool(len(responses[responses["study_number"].isin(
                pd.concat([drawn[g]["study_number"] for g in GROUPS if g not in skipped]
                          + [pd.Series(dtype=int)]))]))}
    return fig, meta


def _legend(lloq: float, *, lines: bool, band: bool, own_limits: bool) -> list[Line2D]:
    """The legend's entries for what the panels draw."""
    out = ([Line2D([], [], color="#444444", linewidth=0.9, marker="o", markersize=2.4,
                   label="One child"),
            Line2D([], [], linestyle="none", marker="o", markersize=5,
                   color=COLOURS["response"], markeredgecolor="white", markeredgewidth=0.5,
                   label="Response")] if lines else [])
    if band:
        out.append(Line2D([], [], color="#444444", linewidth=1.6,
                          label="Median (band: interquartile range)"))
    out.append(Line2D([], [], color=COLOURS["guide"], linestyle="--", linewidth=0.9,
                      label=f"LLOQ ({format_measure(lloq)} IU/mL)"))
    if own_limits:
        out.append(Line2D([], [], linestyle="none", marker="_", markersize=5,
                          markeredgewidth=0.9, color=COLOURS["guide"],
                          label="Sample's own LLOQ"))
    out.append(Line2D([], [], color=COLOURS["cmvig"], linewidth=1.0, label="First CMVIG dose"))
    return out


def run_figure3(*, cohort: str, viral_loads: str, response_day: int,
                lloq_iu_ml: float, min_cell_count: int = 0, svg: str, png: str,
                facts: str, estimates: str | None = None) -> list[str]:
    """Step ``figure3``: writes the SVG, PNG and caption facts (JSON).

    Small-cell control follows the plan the estimates step wrote, as Figure 1's does, so the
    three hide the same counts (without it, ``estimates`` is None: see :func:`run_figure1`).
    """
    df, est = _load(cohort, estimates)
    hidden = pc.written_cells(est, min_cell_count)
    loads = pd.read_csv(viral_loads, dtype=str, keep_default_na=False)
    fig, meta = figure3(df, loads, float(lloq_iu_ml), hidden, int(response_day))
    _save(fig, svg, png)
    write_json(meta, facts)
    return [f"figure 3: {g} infection not drawn (small-cell control)"
            for g in meta["groups_not_drawn"]]
