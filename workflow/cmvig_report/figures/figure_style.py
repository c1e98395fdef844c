"""The figures' shared style: size, palette, fonts, and rendering to SVG and PNG.

Only the object-oriented matplotlib API is used (no pyplot state, safe in threads), with the Agg
canvas. Layout is computed in inches, so the figures are 180 mm wide and every font stays >= 7 pt
in print. Output is byte-identical across runs: fixed SVG hash salt, no dates or software tags.
"""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_hex, to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..core.io import atomic_write_bytes, read_clean_cohort  # noqa: E402

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


def _load(cohort: str, estimates: str | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    # no estimates: a figure that reads them for the small-cell plan only, without one
    est = json.loads(Path(estimates).read_text(encoding="utf-8")) if estimates else {}
    return read_clean_cohort(cohort), est


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
