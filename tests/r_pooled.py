"""The R ``survival`` reference for the pooled estimates (tests/fixtures/r_pooled): readers and
the comparison of an ``estimates.json`` with it, shared by test_pooled_r.py and test_centres.py."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cmvig_report.centres import federated
from cmvig_report.data.cohort import clean_cohort
from cmvig_report.stats import survival

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "r_pooled"
# landmarks in estimates.json are rounded to survival.DECIMALS places
LANDMARK_TOLERANCE = 0.5 * 10 ** -survival.DECIMALS + 1e-12
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
DAYS = {"response": CONFIG["response_day"], "os_from_cmvig": CONFIG["os_cmvig_day"],
        "os_from_hsct": CONFIG["os_hsct_day"]}


def shipped_bundles(unit: str = "day") -> list[dict]:
    """The shipped centres' bundles, made as the pipeline makes them (config defaults)."""
    with open(ROOT / "config" / "centres.tsv", newline="", encoding="utf-8") as fh:
        sheet = list(csv.DictReader(fh, delimiter="\t"))
    bundles = []
    for row in sheet:
        cohort = clean_cohort(ROOT / row["patients"], ROOT / row["viral_loads"],
                              float(row["lloq_iu_ml"] or CONFIG["lloq_iu_ml"])).cohort
        bundle = federated.build_bundle(cohort, unit=unit, response_day=DAYS["response"],
                                        min_cell_count=0, freeze_sha256={})
        bundles.append({**bundle, "centre": row["centre"]})
    return sorted(bundles, key=lambda b: b["centre"])


def r_curves() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "r_curves.csv", na_values="NA")


def r_at(analysis: str, day: float, centre: str = "all", group: str = "all") -> pd.Series:
    """R's curve at ``day`` (the last reported time at or before it)."""
    curve = r_curves().query("analysis == @analysis and centre == @centre "
                             "and infection_type == @group")
    before = curve[curve["time"] <= day]
    assert len(before), f"R has no time <= {day} for {analysis}"
    return before.iloc[-1]


def r_logrank(test: str) -> pd.Series:
    return pd.read_csv(FIXTURES / "r_logrank.csv").set_index("test").loc[test]


def _check_landmark(block: dict, analysis: str, day: int, *, one_minus: bool = False,
                    centre: str = "all", group: str = "all") -> None:
    row = r_at(analysis, day, centre, group)
    flip = (lambda x: 1 - x) if one_minus else (lambda x: x)
    assert block["estimate"] == pytest.approx(flip(row["estimate"]), abs=LANDMARK_TOLERANCE)
    lo, hi = (flip(row["upper"]), flip(row["lower"])) if one_minus else (row["lower"],
                                                                         row["upper"])
    assert block["ci_lower"] == pytest.approx(lo, abs=LANDMARK_TOLERANCE)
    assert block["ci_upper"] == pytest.approx(hi, abs=LANDMARK_TOLERANCE)


def check_estimates_against_r(est: dict) -> None:
    """Every estimate of ``estimates.json`` that R computes, at the stated tolerance."""
    day = DAYS["response"]
    _check_landmark(est["response"], "response_km", day, one_minus=True)
    for g in federated.GROUPS:
        _check_landmark(est["response_by_type"][g], "response_km", day, one_minus=True,
                        group=g)
    for centre, block in est["centres"]["response_by_centre"].items():
        _check_landmark(block, "response_km", day, one_minus=True, centre=centre)
    _check_landmark(est["response_competing_risk"], "response_aj", day)
    _check_landmark(est["os_from_cmvig"], "os_from_cmvig", DAYS["os_from_cmvig"])
    _check_landmark(est["os_from_hsct"], "os_from_hsct", DAYS["os_from_hsct"])
    _check_landmark(est["sensitivity"]["os_from_hsct_delayed_entry"],
                    "os_from_hsct_delayed_entry", DAYS["os_from_hsct"])
    stratified = r_logrank("stratified_by_centre")
    assert est["logrank"]["strata"] == len(est["centres"]["names"])
    assert est["logrank"]["statistic"] == pytest.approx(stratified["statistic"],
                                                        abs=LANDMARK_TOLERANCE)
    assert est["logrank"]["p"] == pytest.approx(stratified["p"], abs=LANDMARK_TOLERANCE)
