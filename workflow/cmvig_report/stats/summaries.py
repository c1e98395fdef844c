"""How a continuous variable is summarised: median with range, or median with quartiles.

The one definition Table 1, the estimates (``estimates.json``) and the flow diagram's boxes use;
how a block is printed is :mod:`.formatting`'s (``format_median_range``, ``format_median_iqr``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def median_range(values: pd.Series) -> dict[str, float] | None:
    """``{median, min, max}`` of ``values`` as floats; None when there are none. Missing values
    are the caller's to leave out."""
    if values.empty:
        return None
    return {"median": float(values.median()), "min": float(values.min()),
            "max": float(values.max())}


def log10_quartiles(values: pd.Series) -> dict[str, float] | None:
    """Median and quartiles (linear interpolation, R's type 7) of log10 values; None when
    there are none."""
    if values.empty:
        return None
    q1, median, q3 = np.quantile(values.to_numpy(dtype=float), [0.25, 0.5, 0.75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3)}
