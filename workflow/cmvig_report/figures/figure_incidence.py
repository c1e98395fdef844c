"""Figure 2A for an own study: cumulative incidence of response, with deaths before response
(and a competing new therapy) marked apart from censorings, and a 95% band on each curve.

The curves themselves come from ``results/km_curves.csv`` (estimands.incidence_curves); this
module rebuilds each child's time and code from the cohort (the same endpoints.py rules the
analysis used, read from ``estimates.json#estimand``) for the marks and the table under the plot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..data import endpoints

# The table under panel A: the four counts add up to the group's size at every tick.
ROWS = (("at_risk", "At risk"), ("events", "Responses"), ("competing", "Competing"),
        ("censored", "Censored"))
DEATH_MARKER = "x"


def incidence_table(durations: Any, codes: Any, ticks: Any) -> pd.DataFrame:
    """At risk (time > tick) and cumulative responses, competing events and censorings
    (time <= tick) at each tick."""
    d = np.asarray(durations, dtype=float)
    c = np.asarray(codes, dtype=int)
    ticks = np.asarray(ticks, dtype=float)

    def upto(mask: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.sort(d[mask]), ticks, side="right").astype(int)

    return pd.DataFrame({"tick": ticks.astype(int), "at_risk": (d[None, :] > ticks[:, None]
                                                                ).sum(axis=1).astype(int),
                         "events": upto(c == endpoints.RESPONSE),
                         "competing": upto(c >= endpoints.DEATH),
                         "censored": upto(c == endpoints.CENSORED)})


def draw_band(ax: Axes, curve: pd.DataFrame, colour: str) -> Any:
    """The 95% band of a response curve (stored as 1 − F), drawn as F."""
    return ax.fill_between(curve["time"], 100 * (1 - curve["ci_upper"]),
                           100 * (1 - curve["ci_lower"]), step="post", color=colour,
                           alpha=0.18, linewidth=0)


def competing_marks(ax: Axes, curve: pd.DataFrame, durations: pd.Series, codes: pd.Series,
                    colour: str, xmax: float) -> bool:
    """A cross on the curve at each distinct time of a competing event; True if any."""
    times = np.unique(durations.to_numpy(dtype=float)[codes.to_numpy() >= endpoints.DEATH])
    times = times[times <= xmax]
    if not len(times):
        return False
    pos = np.searchsorted(curve["time"].to_numpy(), times, side="right") - 1
    y = 100 * (1 - curve["survival"].to_numpy()[pos])
    ax.plot(times, y, linestyle="none", marker=DEATH_MARKER, markersize=4.5,
            markeredgewidth=1.0, color=colour, zorder=3)
    return True


def gray_label(estimates: dict[str, Any]) -> str:
    """The legend title of panel A: Gray's test beside the cause-specific log-rank."""
    from ..core.formatting import format_p

    gray, lr = estimates.get("gray_test") or {}, estimates.get("logrank") or {}
    parts = [f"Gray's test {format_p(gray['p'])}" if gray.get("p") is not None
             else "Gray's test: not estimable",
             f"cause-specific log-rank {format_p(lr['p'])}" if lr.get("p") is not None
             else "log-rank: not estimable"]
    return "Exploratory " + "; ".join(parts)


def legend_extras(estimates: dict[str, Any], marked: bool) -> list[Any]:
    """Legend entries of panel A beyond the curves: the band, and the competing-event mark."""
    compete = (estimates.get("estimand") or {}).get("new_therapy") == "compete"
    out: list[Any] = [Patch(color="#999999", alpha=0.35, linewidth=0, label="95% CI")]
    if marked:
        out.append(Line2D([], [], linestyle="none", marker=DEATH_MARKER, markersize=4.5,
                          color="#444444", label="Death or new therapy before response"
                          if compete else "Death before response"))
    return out
