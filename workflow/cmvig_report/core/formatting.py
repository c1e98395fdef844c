"""Every number a reader sees is formatted here: manuscript filters and figure labels alike.

Rounding is half up (0.125 -> 13%), as readers and journals expect; Python's ``round`` rounds
half to even. A missing estimate (``None``) prints as "not estimable", never "nan".
"""

from __future__ import annotations

import math
from collections.abc import Callable
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


def format_fixed(x: float, decimals: int = 0) -> str:
    """``x`` rounded half up to ``decimals`` places, without thousands separators (table cells)."""
    value = round_half_up(x, decimals)
    return f"{value:.{decimals}f}" if decimals else str(int(value))


def _in_percent(fraction: float) -> float:
    # Scale the decimal the reader sees, not the binary float: 100 * 0.145 is 14.499999999999998
    # in floating point and would round to 14%, where 29 of 200 is 14.5%, printed 15%.
    return float(Decimal(repr(float(fraction))).scaleb(2))


def format_percent(x: float | None, decimals: int = 0) -> str:
    """A fraction as a percentage: 0.667 -> "67%"."""
    if _missing(x):
        return NOT_ESTIMABLE
    return f"{format_fixed(_in_percent(x), decimals)}%"


def format_points(x: float | None, decimals: int = 0) -> str:
    """A difference of two fractions in percentage points: 0.1 -> "10 percentage points"."""
    if _missing(x):
        return NOT_ESTIMABLE
    return f"{format_fixed(_in_percent(x), decimals)} percentage points"


def format_ci(lower: float | None, upper: float | None, decimals: int = 0) -> str:
    """Interval limits in percent without the sign: "44–88"."""
    if _missing(lower) or _missing(upper):
        return NOT_ESTIMABLE
    return (f"{format_fixed(_in_percent(lower), decimals)}{EN_DASH}"
            f"{format_fixed(_in_percent(upper), decimals)}")


def format_percent_ci(block: dict[str, Any] | None, decimals: int = 0) -> str:
    """A landmark block as "67% (95% CI 44–88)"."""
    if not block or _missing(block.get("estimate")):
        return NOT_ESTIMABLE
    est = format_percent(block["estimate"], decimals)
    if _missing(block.get("ci_lower")) or _missing(block.get("ci_upper")):
        return f"{est} (95% CI not estimable)"
    if str(block.get("ci_method", "")).startswith("exact"):
        # No event by the landmark: one exact one-sided limit, labelled as such.
        if block["estimate"] == 0:
            limit = format_percent(block["ci_upper"], decimals)
            return f"{est} (exact one-sided 97.5% upper limit {limit})"
        limit = format_percent(block["ci_lower"], decimals)
        return f"{est} (exact one-sided 97.5% lower limit {limit})"
    return f"{est} (95% CI {format_ci(block['ci_lower'], block['ci_upper'], decimals)})"


def format_p(p: float | None) -> str:
    """A p value as journals print it: "p = 0.44", "p = 0.004", "p < 0.001"."""
    if _missing(p):
        return NOT_ESTIMABLE
    if p < 0.001:
        return "p < 0.001"
    text = format_fixed(p, 3)
    if float(text) >= 0.01:  # two decimals from 0.01 up, judged on the rounded value
        text = format_fixed(p, 2)
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
    return f"{float(x):,.6f}".rstrip("0")


def _median_parts(block: dict[str, Any], decimals: int,
                  number: Callable[[float, int], str]) -> tuple[str, str, str]:
    med = block["median"]
    # a median of an even number of whole values can end in .5: show it rather than round
    med_decimals = decimals if decimals or float(med).is_integer() else 1
    return (number(med, med_decimals), number(block["min"], decimals),
            number(block["max"], decimals))


def format_median_range(block: dict[str, Any] | None, decimals: int = 0,
                        number: Callable[[float, int], str] = format_number) -> str:
    """A ``{median, min, max}`` block as "70 (38–110)" (``number`` prints each value)."""
    if not block or _missing(block.get("median")):
        return NOT_ESTIMABLE
    med, low, high = _median_parts(block, decimals, number)
    return f"{med} ({low}{EN_DASH}{high})"


def format_median_iqr(block: dict[str, Any] | None, decimals: int = 1) -> str:
    """A ``{median, q1, q3}`` block as "4.2 (3.6–5.1)": median (interquartile range)."""
    if not block or _missing(block.get("median")):
        return NOT_ESTIMABLE
    return (f"{format_number(block['median'], decimals)} "
            f"({format_number(block['q1'], decimals)}{EN_DASH}"
            f"{format_number(block['q3'], decimals)})")


def format_log10_median_iqr(block: dict[str, Any] | None) -> str:
    """A viral-load block ``{median, q1, q3}`` (log10 IU/mL) in running text:
    "4.2 log10 IU/mL (IQR 3.6–5.1)"."""
    if not block or _missing(block.get("median")):
        return NOT_ESTIMABLE
    return (f"{format_number(block['median'], 1)} log10 IU/mL "
            f"(IQR {format_number(block['q1'], 1)}{EN_DASH}{format_number(block['q3'], 1)})")


def format_median_and_range(block: dict[str, Any] | None, decimals: int = 0,
                            unit: str = "") -> str:
    """A ``{median, min, max}`` block in running text: "8.9 years (range 0.8–16.8)"."""
    if not block or _missing(block.get("median")):
        return NOT_ESTIMABLE
    med, low, high = _median_parts(block, decimals, format_number)
    unit = f" {unit}" if unit else ""
    return f"{med}{unit} (range {low}{EN_DASH}{high})"


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
    """An ISO date or month as month and year: "2018-07-23" or "2018-07" -> "July 2018"."""
    if not iso_date:
        return NOT_ESTIMABLE
    year, month = iso_date[:4], int(iso_date[5:7])
    return f"{MONTHS[month - 1]} {year}"


def format_period(block: dict[str, Any] | None) -> str:
    """A ``{first, last}`` block of ``YYYY-MM`` months: "July 2018 – December 2021"."""
    if not block or not block.get("first") or not block.get("last"):
        return NOT_ESTIMABLE
    return f"{format_month(block['first'])} {EN_DASH} {format_month(block['last'])}"


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
    "period": format_period,
    "percent": format_percent,
    "ci": format_ci,
    "percent_ci": format_percent_ci,
    "points": format_points,
    "pvalue": format_p,
    "number": format_number,
    "measure": format_measure,
    "median_range": format_median_range,
    "median_and_range": format_median_and_range,
    "median_iqr": format_median_iqr,
    "log10_median_iqr": format_log10_median_iqr,
    "days": format_days,
    "plural": plural,
    "value": format_value,
}
