"""Figure 1A: the cohort flow diagram, laid out in inches from the text it has to hold.

Every box is sized from its own text, measured with the font's outlines (dpi-independent), and
long lines are wrapped at word boundaries, so no count or drug name overflows a box at any N.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.textpath import TextToPath

from ..core.formatting import format_median_range, format_number, format_percent
from ..data.clinical import treatment_drugs
from ..data.endpoints import responded_by
from ..data.groups import GROUPS, LABELS, of_group
from ..privacy import printed_counts as pc
from ..privacy.disclosure import below_limit
from ..stats.summaries import median_range

FONT = "DejaVu Sans"
SIZE = 7.5  # points; the print minimum is 7
LINESPACING = 1.3
PAD = 0.06  # inches between the text and the box edge
GAP = 0.17  # inches between rows, room for an arrow
TOP_DRUGS = 3
NBSP = "\u00a0"

_MEASURE = TextToPath()


@dataclass
class Box:
    """One box in inches: centre x, top y, width, height, wrapped text, edge and fill colours."""

    x: float
    top: float
    w: float
    h: float
    text: str
    edge: str
    fill: str


def flow_counts(cohort: pd.DataFrame, response_day: int) -> dict[str, dict[str, Any]]:
    """The numbers in every box of the flow diagram, per infection type."""
    out: dict[str, dict[str, Any]] = {}
    for g in GROUPS:
        d = of_group(cohort, g)
        # treatment antivirals only, as Table 1 counts them (letermovir is prophylaxis)
        drugs = treatment_drugs(d["prior_antivirals"]).str.split(";").explode().str.strip()
        drugs = drugs[drugs != ""].value_counts()
        # ties broken by name so the box text does not depend on row order
        top = sorted(drugs.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_DRUGS]
        by_day = responded_by(d, response_day)
        out[g] = {
            "n": len(d),
            "antivirals": median_range(d["n_prior_antivirals"]),
            "top_drugs": [(str(name), int(k)) for name, k in top],
            "doses": median_range(d["cmvig_doses"]),
            "responded": int(by_day.sum()), "not_responded": int((~by_day).sum()),
            "alive": int((~d["died"]).sum()), "cmv_deaths": int(d["cmv_death"].sum()),
            "other_deaths": int((d["died"] & ~d["cmv_death"]).sum()),
        }
    return out


def _shown(k: int, cell: str, hidden: Mapping[str, str]) -> str:
    return hidden.get(cell, format_number(k))


def _count_pct(k: int, n: int, cell: str, size: str, hidden: Mapping[str, str]) -> str:
    # a percentage of an empty group means nothing, and one of a hidden count or of a hidden
    # group size would give it back: print the count alone
    if n == 0 or cell in hidden or size in hidden:
        return _shown(k, cell, hidden)
    return f"{format_number(k)} ({format_percent(k / n)})"


def _unit(text: str) -> str:
    # no-break spaces: a number is never wrapped away from its label ("other causes 3,334")
    return text.replace(" ", NBSP)


def _group_texts(c: dict[str, Any], g: str, label: str, response_day: int,
                 hidden: Mapping[str, str]) -> list[str]:
    n, size = c["n"], pc.size(g)
    drugs = ", ".join(_unit(f"{name} {_shown(k, pc.drug_cell(name, g), hidden)}")
                      for name, k in c["top_drugs"])
    dead = c["cmv_deaths"] + c["other_deaths"]
    cmv = _unit(f"CMV-related {_shown(c['cmv_deaths'], pc.cell(pc.CMV_DEATH, g), hidden)}")
    other = _unit(f"other causes {_shown(c['other_deaths'], pc.cell(pc.OTHER_DEATH, g), hidden)}")
    yes, no = pc.by_day(response_day)
    few = below_limit(size, hidden)
    antivirals = hidden[size] if few else format_median_range(c["antivirals"])
    doses = hidden[size] if few else format_median_range(c["doses"])
    return [
        f"{label} CMV infection " + _unit(f"(n = {_shown(n, size, hidden)})"),
        "Antivirals before CMVIG\n"
        f"drugs per patient, median (range): {_unit(antivirals)}\n"
        f"most used: {drugs or 'none'}",
        f"CMVIG infusions per patient, median (range): {_unit(doses)}",
        f"Response by day {response_day}: "
        f"{_unit(_count_pct(c['responded'], n, pc.cell(yes, g), size, hidden))}\n"
        f"No response by day {response_day}: "
        f"{_unit(_count_pct(c['not_responded'], n, pc.cell(no, g), size, hidden))}",
        f"Alive at last follow-up: "
        f"{_unit(_count_pct(c['alive'], n, pc.cell(pc.ALIVE, g), size, hidden))}\n"
        f"Died: {_unit(_count_pct(dead, n, pc.cell(pc.DIED, g), size, hidden))}; {cmv}, {other}",
    ]


def text_width(text: str, size: float = SIZE, weight: str = "normal") -> float:
    """Width in inches of one line of ``text`` in DejaVu Sans, from the glyph outlines."""
    prop = FontProperties(family=FONT, size=size, weight=weight)
    return _MEASURE.get_text_width_height_descent(text, prop, ismath=False)[0] / 72


def wrap_to_width(text: str, width_in: float) -> str:
    """Wrap each line of ``text`` at spaces so that it fits ``width_in`` inches at 7.5 pt."""
    out: list[str] = []
    for line in text.split("\n"):
        current = ""
        for word in _fit_words(line.split(" "), width_in):
            trial = f"{current} {word}" if current else word
            if current and text_width(trial) > width_in:
                out.append(current)
                current = word
            else:
                current = trial
        out.append(current)
    return "\n".join(out)


def _fit_words(words: list[str], width_in: float) -> list[str]:
    """Split any single word wider than the box (a very long drug name) into pieces that fit."""
    out: list[str] = []
    for word in words:
        while len(word) > 1 and text_width(word) > width_in:
            cut = max(k for k in range(1, len(word)) if k == 1 or text_width(word[:k]) <= width_in)
            out.append(word[:cut])
            word = word[cut:]
        out.append(word)
    return out


def _height(text: str) -> float:
    return (text.count("\n") * LINESPACING + 1.15) * SIZE / 72 + 2 * PAD


def layout_flow(cohort: pd.DataFrame, response_day: int, width: float,
                hidden: Mapping[str, str] | None = None) -> tuple[list[list[Box]], float]:
    """Rows of boxes (top row first) and the total height in inches for a panel ``width`` wide.

    Boxes of one row share a height, so the two arms stay aligned whatever their text.
    ``hidden`` (small-cell control: cell name -> mark) replaces the counts it names.
    """
    hidden = hidden or {}
    counts = flow_counts(cohort, response_day)
    col_w = 0.47 * width
    centres = {"recurrent": 0.25 * width, "refractory": 0.75 * width}
    # a safety margin: Agg's hinted glyphs can be a little wider than the outlines measured
    inner = col_w - 2 * PAD - 0.06
    top_text = wrap_to_width(
        "Children given CMVIG after HSCT "
        + _unit(f"(n = {_shown(len(cohort), pc.size('overall'), hidden)})"),
        inner)
    rows_text = list(zip(*(_group_texts(counts[g], g, LABELS[g], response_day, hidden)
                           for g in GROUPS), strict=True))
    colours = {"recurrent": "#0072B2", "refractory": "#D55E00"}
    tints = {"recurrent": "#E5F1F8", "refractory": "#FAEBE0"}
    rows: list[list[Box]] = []
    y = 0.0
    top_w = min(col_w, max(text_width(s) for s in top_text.split("\n")) + 2 * PAD + 0.4)
    rows.append([Box(0.5 * width, y, top_w, _height(top_text), top_text, "#444444", "white")])
    y -= rows[0][0].h + GAP * 1.4  # the branch needs a little more room
    for i, texts in enumerate(rows_text):
        # An arm with no patients stops at its "n = 0" box: boxes of medians that are
        # "not estimable" and counts of 0 would only be noise.
        wrapped = {g: wrap_to_width(t, inner) for g, t in zip(GROUPS, texts, strict=True)
                   if i == 0 or counts[g]["n"] > 0}
        if not wrapped:
            break
        h = max(_height(t) for t in wrapped.values())
        rows.append([Box(centres[g], y, col_w, h, t, colours[g], tints[g] if i == 0 else "white")
                     for g, t in wrapped.items()])
        y -= h + GAP
    return rows, -(y + GAP)


def _arrow(ax: Axes, x0: float, y0: float, x1: float, y1: float) -> None:
    # drawn above the boxes (zorder) so the head touching a box edge is never hidden
    ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=7,
                                 linewidth=0.7, color="#444444", shrinkA=0, shrinkB=0,
                                 zorder=3))


def draw_flow(ax: Axes, rows: list[list[Box]], height: float, width: float) -> None:
    """Draw ``rows`` from :func:`layout_flow` on ``ax``, whose data units are inches."""
    ax.set_xlim(0, width)
    ax.set_ylim(-height, 0)
    ax.axis("off")
    for row in rows:
        for b in row:
            ax.add_patch(FancyBboxPatch((b.x - b.w / 2, b.top - b.h), b.w, b.h,
                                        boxstyle="round,pad=0,rounding_size=0.05",
                                        linewidth=0.8, edgecolor=b.edge, facecolor=b.fill,
                                        zorder=1, clip_on=False))
            # parse_math off: drug names are user data and may contain "$"
            ax.text(b.x, b.top - b.h / 2, b.text, ha="center", va="center", fontsize=SIZE,
                    linespacing=LINESPACING, zorder=2, parse_math=False)
    head = rows[0][0]
    y0, y1 = head.top - head.h, rows[1][0].top
    mid = (y0 + y1) / 2
    # the branch: down from the cohort box, across, then an arrow into each arm
    ax.add_line(Line2D([head.x, head.x], [y0, mid], color="#444444", linewidth=0.7))
    ax.add_line(Line2D([rows[1][0].x, rows[1][-1].x], [mid, mid], color="#444444",
                       linewidth=0.7))
    for b in rows[1]:
        _arrow(ax, b.x, mid, b.x, y1)
    for upper, lower in zip(rows[1:], rows[2:], strict=False):
        # boxes of one arm share their centre x; an empty arm has no boxes below its first
        for a in upper:
            for b in (b for b in lower if b.x == a.x):
                _arrow(ax, a.x, a.top - a.h, b.x, b.top)
