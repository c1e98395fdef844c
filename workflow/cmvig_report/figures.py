"""Stage 3: the paper's two figures, drawn from the cleaned cohort and the estimates.

Figure 1: (A) cohort flow with counts, (B) per-patient timeline from HSCT.
Figure 2: (A) cumulative response by infection type, (B) overall survival after CMVIG, each
with a KMunicate-style table (at risk, events, censored) under the plot.

Only the object-oriented matplotlib API is used (no pyplot state), with the Agg canvas. Output
is byte-identical across runs: fixed SVG hash salt, no dates or software tags in metadata.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from . import survival  # noqa: E402
from .analysis import km_curves  # noqa: E402
from .formatting import format_median_range, format_number, format_p  # noqa: E402
from .io import atomic_write_bytes, read_clean_cohort, write_json  # noqa: E402

MM = 1 / 25.4
WIDTH = 180 * MM
# Okabe & Ito colour-blind-safe palette.
COLOURS = {"recurrent": "#0072B2", "refractory": "#D55E00", "overall": "#000000",
           "response": "#009E73", "cmvig": "#CC79A7", "death": "#000000", "band": "#999999"}
GROUPS = ("recurrent", "refractory")
LABELS = {"recurrent": "Recurrent", "refractory": "Refractory"}
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8,
    "xtick.labelsize": 7.5, "ytick.labelsize": 7.5, "legend.fontsize": 7.5,
    "axes.spines.top": False, "axes.spines.right": False, "axes.linewidth": 0.7,
    "svg.fonttype": "none", "svg.hashsalt": "cmvig-report", "path.simplify": False,
}


def render_bytes(fig: Figure) -> tuple[bytes, bytes]:
    """SVG and 300 dpi PNG bytes; the style must be active at save time (svg.fonttype)."""
    FigureCanvasAgg(fig)
    with matplotlib.rc_context(STYLE):
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


# ------------------------------------------------------------------ Figure 1


def flow_counts(cohort: pd.DataFrame, response_day: int) -> dict[str, dict[str, Any]]:
    """The numbers in every box of the flow diagram, per infection type."""
    out: dict[str, dict[str, Any]] = {}
    for g in GROUPS:
        d = cohort[cohort["infection_type"] == g]
        drugs = d["prior_antivirals"].str.split(";").explode()
        drugs = drugs[drugs.fillna("") != ""].value_counts()
        top = sorted(drugs.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
        by_day = d["responded"] & (d["days_to_response"].fillna(response_day + 1) <= response_day)
        out[g] = {
            "n": len(d),
            "antivirals": _median_range_block(d["n_prior_antivirals"]),
            "top_drugs": top,
            "doses": _median_range_block(d["cmvig_doses"]),
            "responded": int(by_day.sum()), "not_responded": int((~by_day).sum()),
            "alive": int((~d["died"]).sum()), "cmv_deaths": int(d["cmv_death"].sum()),
            "other_deaths": int((d["died"] & ~d["cmv_death"]).sum()),
        }
    return out


def _median_range_block(values: pd.Series) -> dict[str, Any] | None:
    if values.empty:
        return None
    return {"median": float(values.median()), "min": float(values.min()),
            "max": float(values.max())}


def _box(ax, x: float, y: float, w: float, h: float, text: str, colour: str) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0.004,rounding_size=0.012",
                                linewidth=0.8, edgecolor=colour, facecolor="white"))
    ax.text(x, y, text, ha="center", va="center", fontsize=7.5, linespacing=1.35)


def _arrow(ax, x0: float, y0: float, x1: float, y1: float) -> None:
    ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=7,
                                 linewidth=0.7, color="#444444", shrinkA=0, shrinkB=0))


def _draw_flow(ax, cohort: pd.DataFrame, response_day: int) -> None:
    counts = flow_counts(cohort, response_day)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    rows = [0.93, 0.76, 0.58, 0.41, 0.26, 0.09]
    h = 0.12
    _box(ax, 0.5, rows[0], 0.46, h,
         f"Children given CMVIG after HSCT\nn = {format_number(len(cohort))}", "#444444")
    for g, x in zip(GROUPS, (0.27, 0.73), strict=True):
        c, col = counts[g], COLOURS[g]
        _arrow(ax, 0.5, rows[0] - h / 2, x, rows[1] + h / 2)
        drugs = ", ".join(f"{name} {format_number(k)}" for name, k in c["top_drugs"]) or "none"
        texts = [
            f"{LABELS[g]} CMV infection\nn = {format_number(c['n'])}",
            "Antivirals before CMVIG, number per patient:\n"
            f"median {format_median_range(c['antivirals'])}\nmost used: {drugs}",
            f"CMVIG infusions per patient:\nmedian {format_median_range(c['doses'])}",
            f"Response by day {response_day}: {format_number(c['responded'])}\n"
            f"No response by day {response_day}: {format_number(c['not_responded'])}",
            f"At last follow-up: alive {format_number(c['alive'])}\n"
            f"dead {format_number(c['cmv_deaths'] + c['other_deaths'])} "
            f"(CMV-related {format_number(c['cmv_deaths'])}, "
            f"other {format_number(c['other_deaths'])})",
        ]
        for i, text in enumerate(texts):
            hh = h * (1.25 if i == 1 else 1)
            _box(ax, x, rows[i + 1], 0.44, hh, text, col)
            if i:
                prev_h = h * (1.25 if i - 1 == 1 else 1)
                _arrow(ax, x, rows[i] - prev_h / 2, x, rows[i + 1] + hh / 2)


def timeline_subset(cohort: pd.DataFrame, max_rows: int) -> tuple[pd.DataFrame, str | None]:
    """At most ``max_rows`` patients, evenly spaced in patient_id order when there are more."""
    ordered = cohort.sort_values("patient_id", kind="stable")
    if len(ordered) <= max_rows:
        return ordered, None
    idx = np.unique(np.linspace(0, len(ordered) - 1, max_rows).round().astype(int))
    rule = "evenly spaced in patient_id order"
    return ordered.iloc[idx], rule


def _draw_timeline(ax, shown: pd.DataFrame, rule: str | None, total: int) -> None:
    d = shown.assign(order=shown["infection_type"].map({g: i for i, g in enumerate(GROUPS)}))
    d = d.sort_values(["order", "os_from_hsct_days", "patient_id"],
                      ascending=[True, False, True], kind="stable").reset_index(drop=True)
    y = np.arange(len(d))[::-1]
    for g in GROUPS:
        m = (d["infection_type"] == g).to_numpy()
        ax.barh(y[m], d["os_from_hsct_days"][m], height=0.55, color=COLOURS[g], alpha=0.85,
                linewidth=0, label=f"{LABELS[g]} (bar: HSCT to last follow-up)")
    ax.scatter(d["days_hsct_to_cmvig"], y, marker="v", s=16, color=COLOURS["cmvig"],
               edgecolor="white", linewidth=0.4, zorder=3, label="CMVIG start")
    r = d["responded"].to_numpy()
    resp_day = d["days_hsct_to_cmvig"] + d["days_to_response"].fillna(0).astype(float)
    ax.scatter(resp_day[r], y[r], marker="o", s=14, color=COLOURS["response"],
               edgecolor="white", linewidth=0.4, zorder=3, label="Response")
    dead = d["died"].to_numpy()
    ax.scatter(d["os_from_hsct_days"][dead], y[dead], marker="X", s=22, color=COLOURS["death"],
               linewidth=0, zorder=3, label="Death")
    ax.scatter(d["os_from_hsct_days"][~dead], y[~dead], marker=">", s=12, color="#666666",
               linewidth=0, zorder=3, label="Alive at last follow-up")
    ax.set_yticks(y, d["patient_id"], fontsize=7)  # 7 pt is the print minimum, at any N
    ax.set_ylim(-0.8, len(d) - 0.2)
    ax.set_xlim(0, None)
    ax.set_xlabel("Days since HSCT")
    ax.tick_params(axis="y", length=0)
    # In figure coordinates, under the axis label, whatever the number of rows.
    ax.figure.legend(*ax.get_legend_handles_labels(), loc="lower center",
                     bbox_to_anchor=(0.5, 0.005), ncol=3, frameon=False, handletextpad=0.4,
                     columnspacing=1.2)
    if rule:
        ax.set_title(f"Showing {len(d)} of {format_number(total)} patients ({rule})",
                     fontsize=7.5, loc="right", color="#444444")


def figure1(cohort: pd.DataFrame, response_day: int, max_rows: int = 40) -> tuple[Figure,
                                                                                 dict[str, Any]]:
    """Figure 1 and the facts its caption needs."""
    shown, rule = timeline_subset(cohort, max_rows)
    with matplotlib.rc_context(STYLE):
        timeline_h = 1.6 + 0.13 * len(shown)
        flow_h = 4.4
        fig = Figure(figsize=(WIDTH, flow_h + timeline_h))
        top = 1 - 0.02
        split = timeline_h / (flow_h + timeline_h)
        ax_a = fig.add_axes((0.02, split + 0.01, 0.96, top - split - 0.01))
        bottom = 1.05 / (flow_h + timeline_h)  # room for tick labels, axis label, legend
        ax_b = fig.add_axes((0.1, bottom, 0.87, split - bottom - 0.35 / (flow_h + timeline_h)))
        _draw_flow(ax_a, cohort, response_day)
        _draw_timeline(ax_b, shown, rule, len(cohort))
        fig.text(0.01, top, "A", fontsize=11, fontweight="bold", va="top")
        fig.text(0.01, split - 0.005, "B", fontsize=11, fontweight="bold", va="top")
    meta = {"timeline_rows_shown": len(shown), "timeline_rows_total": len(cohort),
            "timeline_subset_rule": rule}
    return fig, meta


def run_figure1(cohort: str, estimates: str, max_rows: int, svg_out: str, png_out: str,
                meta_out: str) -> list[str]:
    """CLI entry for Figure 1."""
    df, est = _load(cohort, estimates)
    fig, meta = figure1(df, int(est["response"]["day"]), max_rows)
    _save(fig, svg_out, png_out)
    write_json(meta, meta_out)
    return []


# ------------------------------------------------------------------ Figure 2


def nice_ticks(xmax: float, target: int = 7) -> np.ndarray:
    """Round tick positions from 0 to at least ``xmax``, about ``target`` of them."""
    xmax = max(float(xmax), 1.0)
    raw = xmax / target
    step = min((s * 10**k for k in range(0, 5) for s in (1, 2, 2.5, 5) if s * 10**k >= raw),
               default=raw)
    return np.arange(0, np.ceil(xmax / step) * step + step / 2, step)


def figure2_at_risk(durations: Any, events: Any, ticks: Any) -> pd.DataFrame:
    """The at-risk table drawn under a Figure 2 panel (one function, checked by tests)."""
    return survival.at_risk_table(durations, events, ticks)


def _censor_marks(ax, curve: pd.DataFrame, times: np.ndarray, colour: str, flip: bool,
                  xmax: float) -> None:
    # One mark per distinct time: with thousands of patients, repeated marks only bloat the SVG.
    times = np.unique(times[times <= xmax])
    if len(times) == 0:
        return
    pos = np.searchsorted(curve["time"].to_numpy(), times, side="right") - 1
    y = curve["survival"].to_numpy()[pos]
    ax.plot(times, 100 * (1 - y if flip else y), linestyle="none", marker="|", markersize=6,
            markeredgewidth=0.9, color=colour)


def _risk_table(ax, groups: list[tuple[str, str, pd.DataFrame]], ticks: np.ndarray) -> None:
    ax.set_xlim(ticks[0], ticks[-1])
    n_rows = 3 * len(groups)
    ax.set_ylim(n_rows - 0.5, -0.5 - 0.9)
    ax.axis("off")
    ax.text(-0.045, -1.0, "Number", transform=ax.get_yaxis_transform(), ha="right",
            va="center", fontsize=7.5, fontweight="bold")
    for gi, (label, colour, table) in enumerate(groups):
        for ri, (col, name) in enumerate((("at_risk", "at risk"), ("events", "events"),
                                          ("censored", "censored"))):
            yy = 3 * gi + ri
            text = f"{label}: {name}" if label else name.capitalize()
            ax.text(-0.045, yy, text, transform=ax.get_yaxis_transform(), ha="right",
                    va="center", fontsize=7, color=colour)
            for tick, value in zip(ticks, table[col], strict=True):
                ax.text(tick, yy, format_number(value), ha="center", va="center", fontsize=7,
                        color=colour)


def _panel_limits(durations: pd.Series, landmark: int) -> np.ndarray:
    longest = float(durations.max()) if len(durations) else float(landmark)
    return nice_ticks(max(min(longest, 3 * landmark), landmark), target=6)


def _curve(curves: pd.DataFrame, name: str) -> pd.DataFrame:
    return curves[curves["curve"] == name].reset_index(drop=True)


def figure2(cohort: pd.DataFrame, estimates: dict[str, Any],
            curves: pd.DataFrame | None = None) -> tuple[Figure, dict[str, Any]]:
    """Figure 2 and the facts its caption needs (curves from :func:`km_curves`)."""
    if curves is None:
        curves = km_curves(cohort)
    response_day = int(estimates["response"]["day"])
    os_day = int(estimates["os_from_cmvig"]["day"])
    ticks_a = _panel_limits(cohort["days_to_response_or_censoring"], response_day)
    ticks_b = _panel_limits(cohort["os_from_cmvig_days"], os_day)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, 8.2))
        gs = fig.add_gridspec(4, 1, height_ratios=[3.0, 1.35, 3.0, 0.75], hspace=0.35,
                              left=0.2, right=0.97, top=0.97, bottom=0.03)
        ax_a, tab_a, ax_b, tab_b = (fig.add_subplot(gs[i]) for i in range(4))

        groups = []
        for g in GROUPS:
            d = cohort[cohort["infection_type"] == g]
            t, e = d["days_to_response_or_censoring"], d["responded"]
            if len(d):
                curve = _curve(curves, f"response_{g}")
                ax_a.step(curve["time"], 100 * (1 - curve["survival"]), where="post",
                          color=COLOURS[g], linewidth=1.4,
                          label=f"{LABELS[g]} (n = {format_number(len(d))})")
                _censor_marks(ax_a, curve, t[~e].to_numpy(dtype=float), COLOURS[g], True,
                              ticks_a[-1])
            groups.append((LABELS[g], COLOURS[g], figure2_at_risk(t, e, ticks_a)))
        ax_a.axvline(response_day, color="#555555", linestyle=":", linewidth=0.9)
        ax_a.text(response_day, 101, f" Day {response_day}", fontsize=7, va="bottom",
                  color="#555555")
        p = estimates.get("logrank_p")
        ax_a.text(0.98, 0.06, f"Log-rank {format_p(p)}" if p is not None
                  else "Log-rank test not estimable", transform=ax_a.transAxes, ha="right",
                  fontsize=7.5)
        ax_a.set_ylabel("Cumulative response (%)")
        ax_a.legend(loc="upper left", frameon=False)
        _risk_table(tab_a, groups, ticks_a)

        t, e = cohort["os_from_cmvig_days"], cohort["died"]
        if len(cohort):
            curve = _curve(curves, "os_from_cmvig")
            ax_b.fill_between(curve["time"], 100 * curve["ci_lower"], 100 * curve["ci_upper"],
                              step="post", color=COLOURS["band"], alpha=0.25, linewidth=0,
                              label="95% CI (log-log)")
            ax_b.step(curve["time"], 100 * curve["survival"], where="post", color="black",
                      linewidth=1.4, label=f"All patients (n = {format_number(len(cohort))})")
            _censor_marks(ax_b, curve, t[~e].to_numpy(dtype=float), "black", False,
                          ticks_b[-1])
        ax_b.axvline(os_day, color="#555555", linestyle=":", linewidth=0.9)
        ax_b.text(os_day, 101, f" Day {os_day}", fontsize=7, va="bottom", color="#555555")
        ax_b.set_ylabel("Overall survival (%)")
        ax_b.legend(loc="lower left", frameon=False)
        _risk_table(tab_b, [("", "black", figure2_at_risk(t, e, ticks_b))], ticks_b)

        for ax, ticks in ((ax_a, ticks_a), (ax_b, ticks_b)):
            ax.set_xlim(ticks[0], ticks[-1])
            ax.set_xticks(ticks)
            ax.set_ylim(0, 100)
            ax.set_yticks(range(0, 101, 20))
            ax.set_xlabel("Days since CMVIG start")
        fig.text(0.01, 0.985, "A", fontsize=11, fontweight="bold", va="top")
        fig.text(0.01, ax_b.get_position().y1 + 0.015, "B", fontsize=11, fontweight="bold",
                 va="top")
    meta = {"at_risk_ticks_response": [int(x) for x in ticks_a],
            "at_risk_ticks": [int(x) for x in ticks_b]}
    return fig, meta


def run_figure2(cohort: str, estimates: str, curves: str, svg_out: str, png_out: str,
                meta_out: str) -> list[str]:
    """CLI entry for Figure 2."""
    df, est = _load(cohort, estimates)
    fig, meta = figure2(df, est, pd.read_csv(curves))
    _save(fig, svg_out, png_out)
    write_json(meta, meta_out)
    return []
