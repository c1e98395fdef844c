"""The leak check rules out blocks of lines at once: findings deep in a long file (a figure's
path data) are still found, every one, in document order and at their own lines."""

from __future__ import annotations

import datetime as dt

from cmvig_report.privacy.leak_terms import Sensitive
from cmvig_report.privacy.leaks import scan_outputs

DATES = frozenset({dt.date(2019, 3, 7), dt.date(2020, 11, 30)})


def _path_data(n: int) -> list[str]:
    # coordinates whose digits hold the input years (…2019, 2020.…) without forming a date
    return [f"L {120 + i % 7}.19{2019 + i % 2} 2020.{i:06d} " for i in range(n)]


def test_findings_in_a_long_svg_are_all_found_in_order(tmp_path):
    lines = _path_data(1000)
    planted = {
        5: '<text>P00042</text>',
        399: "sampled 2019-03-07",
        400: "7 March 2019",
        401: "30/11/2020",
        777: "<tspan>P000</tspan><tspan>42</tspan>",  # joined by removing inline tags
        999: "Nov 30, 2020",
    }
    for i, text in planted.items():
        lines[i] = text
    svg = tmp_path / "figure.svg"
    svg.write_text("\n".join(lines) + "\n", encoding="utf-8")

    hits, _ = scan_outputs([svg], Sensitive(patient_ids=frozenset({"P00042"}), dates=DATES))

    assert [(h.where, h.kind, h.found) for h in hits] == [
        ("line 6", "patient_id", "P00042"),
        ("line 400", "date", "2019-03-07"),
        ("line 401", "date", "7 March 2019"),
        ("line 402", "date", "30/11/2020"),
        ("line 778", "patient_id", "P00042"),
        ("line 1000", "date", "Nov 30, 2020"),
    ]


def test_long_file_without_findings_has_none(tmp_path):
    svg = tmp_path / "figure.svg"
    svg.write_text("\n".join(_path_data(2000)) + "\n", encoding="utf-8")
    hits, _ = scan_outputs([svg], Sensitive(patient_ids=frozenset({"P00042"}), dates=DATES))
    assert hits == []
