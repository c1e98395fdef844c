"""The axes of the figures: round ticks, and Figure 2's panels reaching every event.

Apart from the figures' modules (no matplotlib here) because the estimates step needs Figure 2's
ticks too: it plans the numbers at risk printed under them with the other counts
(:mod:`.landmark_audit`), and must not be rebuilt when a figure's style changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..data.groups import GROUPS


def nice_ticks(xmax: float, target: int = 7) -> np.ndarray:
    """Round tick positions from 0 to at least ``xmax``, about ``target`` of them."""
    xmax = max(float(xmax), 1.0)
    raw = xmax / target
    step = min((s * 10**k for k in range(0, 6) for s in (1, 2, 2.5, 5) if s * 10**k >= raw),
               default=raw)
    return np.arange(0, np.ceil(xmax / step) * step + step / 2, step)


def last_event_within(durations: pd.Series, events: pd.Series, horizon: float) -> float:
    """The time of the last event at or before ``horizon`` (0 when there is none)."""
    t = durations.to_numpy(dtype=float)[events.to_numpy(dtype=bool)]
    t = t[t <= horizon]
    return float(t.max()) if len(t) else 0.0


def panel_ticks(durations: pd.Series, events: pd.Series, landmark: int,
                horizon: float = float("inf")) -> np.ndarray:
    """Ticks of a Figure 2 panel: up to three times its landmark, and past that far enough to
    show every event up to ``horizon`` (by default every event of the curve).

    The tail past three landmarks holds few patients and little to read, but an event hidden
    past the axis would be an event the figure does not show (and its caption would have to
    count it): every event is on the axis, with the number at risk under it.
    """
    longest = float(durations.max()) if len(durations) else float(landmark)
    return nice_ticks(max(min(longest, 3 * landmark), landmark,
                          last_event_within(durations, events, horizon)), target=6)


def figure2_ticks(cohort: pd.DataFrame, estimates: dict[str, Any],
                  response: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """The ticks of Figure 2's panels (``response``, ``overall_survival``), which the risk
    tables print the number at risk under; the analysis plans those counts with the same.
    ``response``: panel A's children and times when they are not the cohort's own (an own
    study's primary endpoint, :func:`endpoints.response_frame`)."""
    settings = estimates.get("settings", {})
    response_day = int(settings.get("response_day", estimates["response"]["day"]))
    os_day = int(settings.get("os_cmvig_day", estimates["os_from_cmvig"]["day"]))
    panel_a = cohort if response is None else response
    return {"response": panel_ticks(panel_a["days_to_response_or_censoring"],
                                    panel_a["responded"], response_day),
            "overall_survival": panel_ticks(cohort["os_from_cmvig_days"], cohort["died"],
                                            os_day)}


def risk_table_curves(ticks: dict[str, np.ndarray]) -> dict[str, list[int]]:
    """The ticks of each curve whose number at risk Figure 2 prints (for the audit)."""
    return {**{f"response_{g}": [int(t) for t in ticks["response"]] for g in GROUPS},
            "os_from_cmvig": [int(t) for t in ticks["overall_survival"]]}


def events_beyond(durations: pd.Series, events: pd.Series, xmax: float) -> int:
    """How many events of a curve lie past the axis end (none, with :func:`panel_ticks`)."""
    t = durations.to_numpy(dtype=float)[events.to_numpy(dtype=bool)]
    return int((t > xmax).sum())
