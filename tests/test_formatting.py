"""Number formatting: the single place every printed number goes through."""

from __future__ import annotations

import pytest

from cmvig_report.core.formatting import (
    EN_DASH,
    FILTERS,
    format_ci,
    format_days,
    format_measure,
    format_median_and_range,
    format_median_range,
    format_month,
    format_number,
    format_p,
    format_percent,
    format_percent_ci,
    format_value,
    plural,
)


def test_percent_rounds_half_up_and_handles_missing():
    assert format_percent(0.667) == "67%"
    assert format_percent(0.666667) == "67%"
    assert format_percent(0.125) == "13%"  # half up, not Python's half to even
    assert format_percent(0.005) == "1%"
    assert format_percent(0.0) == "0%" and format_percent(1.0) == "100%"
    assert format_percent(None) == "not estimable"
    assert format_percent(float("nan")) == "not estimable"
    assert format_percent(0.8667, 1) == "86.7%"
    # 29 of 200 is 14.5%: the float 100 * 0.145 is 14.4999..., the printed value is not
    assert format_percent(29 / 200) == "15%"
    assert format_ci(29 / 200, 0.5) == "15\u201350"


def test_percent_with_interval_uses_an_en_dash():
    block = {"estimate": 0.666667, "ci_lower": 0.436, "ci_upper": 0.878454}
    assert format_percent_ci(block) == "67% (95% CI 44\u201388)"
    assert EN_DASH == "\u2013" and "-" not in format_percent_ci(block)
    assert format_percent_ci({"estimate": 1.0, "ci_lower": None, "ci_upper": None}) == (
        "100% (95% CI not estimable)")
    assert format_percent_ci({"estimate": None}) == "not estimable"
    assert format_percent_ci(None) == "not estimable"
    assert format_ci(0.5, None) == "not estimable"
    assert format_ci(0.383804, 0.881759) == "38\u201388"


@pytest.mark.parametrize(("p", "text"), [
    (0.436903, "p = 0.44"), (0.04, "p = 0.04"), (0.0449, "p = 0.04"), (0.12, "p = 0.12"),
    (0.05, "p = 0.05"), (0.004, "p = 0.004"), (0.001, "p = 0.001"), (0.0096, "p = 0.01"),
    (0.00099, "p < 0.001"), (0.0, "p < 0.001"), (0.999, "p > 0.99"), (1.0, "p > 0.99"),
    (None, "not estimable"), (float("nan"), "not estimable"),
])
def test_p_values(p, text):
    assert format_p(p) == text


def test_counts_medians_days_months():
    assert format_number(50000) == "50,000"
    assert format_number(None) == "not estimable"
    assert format_measure(137.0) == "137" and format_measure(137.5) == "137.5"
    assert format_median_range({"median": 70.0, "min": 38, "max": 110}) == "70 (38\u2013110)"
    assert format_median_range({"median": 34, "min": 12, "max": 98}) == "34 (12\u201398)"
    assert format_median_range({"median": 3.5, "min": 3, "max": 7}) == "3.5 (3\u20137)"
    assert format_median_range({"median": 8.9, "min": 0.8, "max": 16.8}, 1) == (
        "8.9 (0.8\u201316.8)")
    assert format_median_range({"median": None}) == "not estimable"
    assert format_median_and_range({"median": 8.9, "min": 0.8, "max": 16.8}, 1, "years") == (
        "8.9 years (range 0.8\u201316.8)")
    assert format_days(1) == "1 day" and format_days(760) == "760 days"
    assert format_days(None) == "not estimable"
    assert format_month("2018-07-23") == "July 2018"
    assert plural(1, "child", "children") == "1 child"
    assert plural(4, "child", "children") == "4 children"
    assert plural(0, "death") == "0 deaths"


def test_config_values_read_naturally():
    assert format_value(["html", "pdf"]) == "html, pdf"
    assert format_value(True) == "yes" and format_value(None) == EN_DASH
    assert format_value(137.0) == "137"


def test_nothing_prints_nan_and_every_filter_is_registered():
    for name in ("percent", "percent_ci", "ci", "pvalue", "number", "median_range", "days",
                 "plural", "month", "measure", "value", "median_and_range"):
        assert name in FILTERS
    nan = float("nan")
    outputs = [format_percent(nan), format_p(nan), format_number(nan), format_days(nan),
               format_measure(nan), format_percent_ci({"estimate": nan}),
               format_median_range({"median": nan, "min": 1, "max": 2})]
    assert all("nan" not in o.lower() for o in outputs)
