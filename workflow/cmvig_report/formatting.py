"""Every number a reader sees is formatted here: manuscript filters and figure labels alike.

Rounding is half up (0.125 -> 13%), as readers and journals expect; Python's ``round`` rounds
half to even. A missing estimate (``None``) prints as "not estimable", never "nan".
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

EN_DASH = "\u2013"
NOT_ESTIMABLE = "not estimable"


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def round_half_up(x: float, decimals: int = 0) -> float:
    """Round half away from zero, on the decimal value the reader sees."""
    q = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP))


def _fixed(x: float, decimals: int) -> str:
    value = round_half_up(x, decimals)
    return f"{value:.{decimals}f}" if decimals else str(int(value))


def format_percent(x: float | None, decimals: int = 0) -> str:
    """A fraction as a percentage: 0.667 -> "67%"."""
    if _missing(x):
        return NOT_ESTIMABLE
    return f"{_fixed(100 * x, decimals)}%"


def format_ci(lower: float | None, upper: float | None, decimals: int = 0) -> str:
    """Interval limits in percent without the sign: "44–88"."""
    if _missing(lower) or _missing(upper):
        return NOT_ESTIMABLE
    return f"{_fixed(100 * lower, decimals)}{EN_DASH}{_fixed(100 * upper, decimals)}"


def format_percent_ci(block: dict[str, Any] | None, decimals: int = 0) -> str:
    """A landmark block as "67% (95% CI: 44–88)"."""
    if not block or _missing(block.get("estimate")):
        return NOT_ESTIMABLE
    est = format_percent(block["estimate"], decimals)
    if _missing(block.get("ci_lower")) or _missing(block.get("ci_upper")):
        return f"{est} (95% CI not estimable)"
    return f"{est} (95% CI: {format_ci(block['ci_lower'], block['ci_upper'], decimals)})"


def format_p(p: float | None) -> str:
    """A p value as journals print it: "p = 0.44", "p = 0.004", "p < 0.001"."""
    if _missing(p):
        return NOT_ESTIMABLE
    if p < 0.001:
        return "p < 0.001"
    decimals = 3 if p < 0.01 else 2
    text = _fixed(p, decimals)
    if text == "0.010":  # 0.0095 <= p < 0.01 rounds up into the two-decimal range
        text = "0.01"
    if text == "1.00":
        return "p > 0.99"
    return f"p = {text}"


def format_number(x: float | None, decimals: int = 0) -> str:
    """A count or measurement; whole numbers get thousands separators: 50000 -> "50,000"."""
    if _missing(x):
        return NOT_ESTIMABLE
    if decimals == 0:
        return f"{int(round_half_up(x)):,}"
    return f"{round_half_up(x, decimals):,.{decimals}f}"


def format_measure(x: float | None) -> str:
    """A measured quantity with only the decimals it has: 137.0 -> "137", 137.5 -> "137.5",
    1500 -> "1,500" (for settings such as the LLOQ, which a user may give with decimals)."""
    if _missing(x):
        return NOT_ESTIMABLE
    if float(x).is_integer():
        return format_number(x)
    text = f"{float(x):,.6f}".rstrip("0")
    return text


def format_median_range(block: dict[str, Any] | None, decimals: int = 0) -> str:
    """A ``{median, min, max}`` block as "70 (38–110)"."""
    if not block or _missing(block.get("median")):
        return NOT_ESTIMABLE
    med = block["median"]
    # a median of an even number of whole values can end in .5: show it rather than round
    med_decimals = decimals if decimals or float(med).is_integer() else 1
    return (f"{format_number(med, med_decimals)} ({format_number(block['min'], decimals)}"
            f"{EN_DASH}{format_number(block['max'], decimals)})")


def format_median_and_range(block: dict[str, Any] | None, decimals: int = 0,
                            unit: str = "") -> str:
    """A ``{median, min, max}`` block in running text: "8.9 years (range 0.8–16.8)"."""
    if not block or _missing(block.get("median")):
        return NOT_ESTIMABLE
    med = block["median"]
    med_decimals = decimals if decimals or float(med).is_integer() else 1
    unit = f" {unit}" if unit else ""
    low, high = format_number(block["min"], decimals), format_number(block["max"], decimals)
    return f"{format_number(med, med_decimals)}{unit} (range {low}{EN_DASH}{high})"


def format_days(x: float | None) -> str:
    """A number of days: "1 day", "760 days"."""
    if _missing(x):
        return NOT_ESTIMABLE
    return f"{format_number(x)} day{'' if int(x) == 1 else 's'}"


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """ "1 death", "4 deaths", "0 deaths"."""
    word = singular if n == 1 else (plural_form or singular + "s")
    return f"{format_number(n)} {word}"


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def format_month(iso_date: str | None) -> str:
    """An ISO date as month and year: "2018-07-23" -> "July 2018"."""
    if not iso_date:
        return NOT_ESTIMABLE
    year, month = iso_date[:4], int(iso_date[5:7])
    return f"{MONTHS[month - 1]} {year}"


def format_value(value: Any) -> str:
    """A config or metadata value as a reader expects it: lists joined by commas, booleans as
    yes/no, a missing value as a dash, whole floats without ".0"."""
    if value is None:
        return EN_DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in value.items())
    return str(value)


FILTERS = {
    "month": format_month,
    "percent": format_percent,
    "ci": format_ci,
    "percent_ci": format_percent_ci,
    "pvalue": format_p,
    "number": format_number,
    "measure": format_measure,
    "median_range": format_median_range,
    "median_and_range": format_median_and_range,
    "days": format_days,
    "plural": plural,
    "value": format_value,
}
