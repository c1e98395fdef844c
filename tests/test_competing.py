"""Competing risks and the clinician's response endpoints against R (tests/fixtures/r_competing).

The planted cohort goes through the pipeline's own cohort stage and endpoints; every option of
``new_therapy_after_cmvig`` (with and without a baseline threshold) is compared with R: the
Aalen–Johansen estimate with ``survfit``'s multi-state ``pstate`` and ``cmprsk::cuminc``, its
variance and log(−log) interval with ``cuminc``, one minus Kaplan–Meier with ``survfit``, and
Gray's test with ``cuminc``'s ``Tests``. R is not needed: the CSVs are committed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cmvig_report.data import endpoints
from cmvig_report.data.cohort import clean_cohort
from cmvig_report.data.endpoints import EndpointSettings
from cmvig_report.stats import competing, risk_tables, survival
from cmvig_report.stats.analysis import compute_estimates

FIXTURES = Path(__file__).parent / "fixtures" / "r_competing"
TOL = 1e-9


@pytest.fixture(scope="module")
def cleaned():
    result = clean_cohort(FIXTURES / "patients.csv", FIXTURES / "viral_loads.csv", 137.0)
    return result.cohort, result.viral_loads


def _reference() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "r_reference.csv", na_values="NA")


def _frame(cleaned, option: str, threshold: float, group: str) -> pd.DataFrame:
    cohort, vl = cleaned
    ends = endpoints.response_endpoints(cohort, vl, EndpointSettings(threshold, 0, 0, option))
    frame = ends["primary"]
    if group != "all":
        frame = frame[cohort.loc[frame.index, "infection_type"].eq(group)]
    return frame


def _close(got: float | None, want: float) -> None:
    if math.isnan(want):
        assert got is None or math.isnan(got)
    else:
        assert got == pytest.approx(want, abs=TOL)


@pytest.mark.parametrize("option", endpoints.NEW_THERAPY_OPTIONS)
@pytest.mark.parametrize("threshold", [0, 175])
def test_cumulative_incidence_and_interval_match_r(cleaned, option, threshold):
    ref = _reference()
    rows = ref[(ref["option"] == option) & (ref["min_baseline"] == threshold)]
    assert len(rows) == 15
    for row in rows.itertuples():
        frame = _frame(cleaned, option, threshold, row.group)
        assert len(frame) == row.n
        f, var = competing.cif_at(frame["time"], frame["code"], row.day)
        _close(f, row.aj_survfit)   # survival's multi-state Aalen–Johansen
        if math.isnan(row.aj_cuminc):
            # cmprsk's timepoints gives NA past a group's last time; that time is an event
            # (nobody is left at risk), so survfit carries the estimate on
            last = frame["time"] == frame["time"].max()
            assert row.day > frame["time"].max() and not frame.loc[last, "code"].eq(0).any()
            continue
        _close(f, row.aj_cuminc)    # cmprsk
        _close(var, row.aj_var)
        limits = risk_tables.loglog_limits(f, var)
        _close(None if limits is None else limits[0], row.aj_lower)
        _close(None if limits is None else limits[1], row.aj_upper)


@pytest.mark.parametrize("option", endpoints.NEW_THERAPY_OPTIONS)
@pytest.mark.parametrize("threshold", [0, 175])
def test_one_minus_km_matches_r(cleaned, option, threshold):
    ref = _reference()
    rows = ref[(ref["option"] == option) & (ref["min_baseline"] == threshold)]
    for row in rows.itertuples():
        frame = _frame(cleaned, option, threshold, row.group)
        curve = survival.km_curve(frame["time"], frame["code"].eq(endpoints.RESPONSE))
        pos = int(np.searchsorted(curve["time"], row.day, side="right")) - 1
        s = float(curve["survival"].iloc[pos])
        _close(1 - s, row.km_estimate)
        if not math.isnan(row.km_lower):
            _close(1 - float(curve["ci_upper"].iloc[pos]), row.km_lower)
            _close(1 - float(curve["ci_lower"].iloc[pos]), row.km_upper)


def test_gray_test_matches_cmprsk(cleaned):
    cohort, _ = cleaned
    gray = pd.read_csv(FIXTURES / "r_gray.csv")
    assert len(gray) == 6
    for row in gray.itertuples():
        frame = _frame(cleaned, row.option, row.min_baseline, "all")
        stat, p = competing.gray_statistic(frame["time"], frame["code"],
                                           cohort.loc[frame.index, "infection_type"])
        assert stat == pytest.approx(row.stat, abs=TOL)
        assert p == pytest.approx(row.p, abs=TOL)


def test_own_study_estimates_report_the_r_cumulative_incidence(cleaned):
    cohort, vl = cleaned
    ref = _reference()
    for option in endpoints.NEW_THERAPY_OPTIONS:
        est = compute_estimates(cohort, response_day=50, os_cmvig_day=100, os_hsct_day=365,
                                lloq_iu_ml=137, sensitivity_days=[28, 50], study="own",
                                endpoint_settings=EndpointSettings(new_therapy=option),
                                viral_loads=vl)
        row = ref[(ref["option"] == option) & (ref["min_baseline"] == 0)
                  & (ref["group"] == "all") & (ref["day"] == 50)].iloc[0]
        assert est["response"]["estimate"] == pytest.approx(row.aj_survfit, abs=1e-6)
        assert est["response"]["ci_lower"] == pytest.approx(row.aj_lower, abs=1e-6)
        assert est["response"]["ci_upper"] == pytest.approx(row.aj_upper, abs=1e-6)
        assert est["sensitivity"]["response_one_minus_km"]["estimate"] == pytest.approx(
            row.km_estimate, abs=1e-6)
        assert est["estimand"]["response"] == endpoints.CUMULATIVE_INCIDENCE


@pytest.mark.parametrize("option", ["ignore", "censor"])
def test_secondary_aalen_johansen_equals_the_primary_incidence(cleaned, option):
    # One Aalen-Johansen implementation: with no new therapy competing and every child
    # evaluable (no baseline threshold) the secondary block (death competing) and the own
    # study's primary cumulative incidence are the same estimate, with the same cmprsk variance
    # and interval, for the whole series and at every landmark; and R's (r_reference.csv).
    cohort, vl = cleaned
    est = compute_estimates(cohort, response_day=50, os_cmvig_day=100, os_hsct_day=365,
                            lloq_iu_ml=137, sensitivity_days=[28, 50], study="own",
                            endpoint_settings=EndpointSettings(new_therapy=option),
                            viral_loads=vl)
    assert est["response_evaluable"]["not_evaluable"] == 0
    primary, secondary = est["response"], est["response_competing_risk"]
    keys = ("day", "estimate", "ci_lower", "ci_upper", "ci_method", "reason")
    assert {k: secondary[k] for k in keys} == {k: primary[k] for k in keys}
    assert primary["ci_lower"] < primary["estimate"] < primary["ci_upper"]
    row = _reference().query("option == @option and min_baseline == 0 and group == 'all' "
                             "and day == 50").iloc[0]
    assert secondary["ci_lower"] == pytest.approx(row.aj_lower, abs=1e-6)
    assert secondary["ci_upper"] == pytest.approx(row.aj_upper, abs=1e-6)


# Planted cases (make_cohort.py): (time, code) of each child under each option.
PLANTED = {
    "ignore": {"K03": (30, 1), "K04": (20, 1), "K05": (25, 1), "K06": (200, 0),
               "K07": (60, 2), "K15": (42, 1), "K18": (120, 2)},
    "censor": {"K03": (15, 0), "K04": (20, 1), "K05": (25, 1), "K06": (40, 0),
               "K07": (35, 0), "K15": (7, 0), "K18": (100, 0)},
    "compete": {"K03": (15, 3), "K04": (20, 1), "K05": (25, 1), "K06": (40, 3),
                "K07": (35, 3), "K15": (7, 3), "K18": (100, 3)},
}


@pytest.mark.parametrize("option", endpoints.NEW_THERAPY_OPTIONS)
def test_new_therapy_planted_cases(cleaned, option):
    cohort, vl = cleaned
    frame = endpoints.response_endpoints(cohort, vl, EndpointSettings(new_therapy=option))
    ids = cohort.loc[frame["primary"].index, "patient_id"]
    got = dict(zip(ids, zip(frame["primary"]["time"], frame["primary"]["code"],
                            strict=True), strict=True))
    for pid, want in PLANTED[option].items():
        assert got[pid] == want, pid


def test_baseline_threshold_leaves_out_and_counts_the_non_evaluable(cleaned):
    cohort, _ = cleaned
    reason = endpoints.evaluability(cohort, 175)
    by_id = dict(zip(cohort["patient_id"], reason, strict=True))
    assert by_id["K13"] == endpoints.BELOW_BASELINE       # 150 IU/mL at the start
    assert by_id["K14"] == endpoints.NO_BASELINE          # no sample in the window
    assert sum(r != "" for r in reason) == 2
    counts = endpoints.baseline_counts(cohort, EndpointSettings(min_baseline_iu_ml=175))
    assert (counts["evaluable"], counts["not_evaluable"]) == (len(cohort) - 2, 2)
    assert endpoints.evaluability(cohort, 0).eq("").all()


def test_new_therapy_date_is_validated(tmp_path):
    from cmvig_report.errors import DataError

    p = pd.read_csv(FIXTURES / "patients.csv", dtype=str, keep_default_na=False)
    p.loc[p["patient_id"] == "K03", "new_anticmv_therapy_date"] = "2022-12-01"
    p.loc[p["patient_id"] == "K04", "new_anticmv_therapy_date"] = "2023-13-01"
    p.loc[p["patient_id"] == "K06", "new_anticmv_therapy"] = ""
    p.loc[p["patient_id"] == "K09", "new_anticmv_therapy_date"] = "2030-01-01"
    p.to_csv(tmp_path / "patients.csv", index=False)
    with pytest.raises(DataError) as err:
        clean_cohort(tmp_path / "patients.csv", FIXTURES / "viral_loads.csv", 137.0)
    found = {(x.patient_id, x.column, x.value) for x in err.value.problems}
    assert found == {("K03", "new_anticmv_therapy_date", "2022-12-01"),
                     ("K04", "new_anticmv_therapy_date", "2023-13-01"),
                     ("K06", "new_anticmv_therapy", ""),
                     ("K09", "new_anticmv_therapy_date", "2030-01-01"),
                     ("K09", "new_anticmv_therapy", "")}  # a date without the drugs
    rows = {x.patient_id: x.row for x in err.value.problems}
    assert rows["K03"] == 4  # header is row 1


def test_one_column_without_the_other_is_refused(tmp_path):
    from cmvig_report.errors import DataError

    p = pd.read_csv(FIXTURES / "patients.csv", dtype=str, keep_default_na=False)
    p.drop(columns="new_anticmv_therapy_date").to_csv(tmp_path / "patients.csv", index=False)
    with pytest.raises(DataError) as err:
        clean_cohort(tmp_path / "patients.csv", FIXTURES / "viral_loads.csv", 137.0)
    assert [x.column for x in err.value.problems] == ["new_anticmv_therapy_date"]


def test_own_study_manuscript_reports_the_r_cumulative_incidence(cleaned, tmp_path):
    """Rendered as an own study, the abstract and Results name the estimand and print R's
    Aalen–Johansen estimate and interval; Table S1 has the 1 − KM row; the Methods cite Gray."""
    import re

    from report_fixtures import FIGURE2_AXES, make_project, stage_args

    from cmvig_report.core.formatting import format_percent_ci
    from cmvig_report.render.report import run_qmd, run_render

    cohort, vl = cleaned
    est = compute_estimates(cohort, response_day=50, os_cmvig_day=100, os_hsct_day=365,
                            lloq_iu_ml=137, sensitivity_days=[28, 50],
                            study_period=("2023-01/2023-01", "config"), study="own",
                            endpoint_settings=EndpointSettings(new_therapy="compete"),
                            viral_loads=vl)
    row = _reference().query("option == 'compete' and min_baseline == 0 and group == 'all' "
                             "and day == 50").iloc[0]
    printed = format_percent_ci({"estimate": row.aj_survfit, "ci_lower": row.aj_lower,
                                 "ci_upper": row.aj_upper})
    facts = {"at_risk_ticks": [0, 50, 100], "at_risk_ticks_response": [0, 25, 50],
             "censor_marks_shown": {"response": True, "overall_survival": True},
             "censor_marks_omitted": [], "risk_table_rows": ["at_risk", "events", "censored"],
             "response_estimand": "cumulative incidence", "competing_marks_shown": True,
             **FIGURE2_AXES}
    kwargs = make_project(tmp_path, cohort, estimates_patch=est, study="own",
                          figure2_meta=facts)
    html = kwargs["_project"] / "report" / "m.html"
    run_render(**stage_args(kwargs), html=str(html), pdf=None)
    text = " ".join(re.sub(r"<style>.*?</style>|<[^>]+>", " ",
                           re.sub(r"</?span\b[^>]*>", "", html.read_text()), flags=re.S).split())
    abstract = text.split("Abstract", 1)[1].split("Keywords", 1)[0]
    estimand = ("cumulative incidence of response, with death before response or a new "
                "anti-CMV therapy as a competing event")
    # the abstract's Methods name the estimand, its Results print R's estimate
    assert f"{estimand}, was estimated by the Aalen–Johansen method" in abstract
    assert ("By day 50 after the first CMVIG dose the cumulative incidence of response was "
            f"{printed}") in abstract
    assert "probability of response" not in text.lower()
    results = text.split("Results", 2)[2]
    assert f"{estimand}, was {printed} by day 50 overall" in results
    assert "Gray&#39;s test" in results or "Gray's test" in results
    assert "Supplementary Table S1 sets every sensitivity estimate" in results
    assert "percentage points" not in text
    s1 = text.split("Supplementary Table S1.", 1)[1]
    km = est["sensitivity"]["response_one_minus_km"]
    assert f"Response, one minus Kaplan–Meier 50 {format_percent_ci(km)}" in s1
    assert "Survival from HSCT, conditional" in s1
    assert "Gray RJ" in text or "Gray, R" in text or "Gray R" in text  # the reference list
    qmd = kwargs["_project"] / "report" / "m.qmd"
    from report_fixtures import qmd_args

    run_qmd(**qmd_args(kwargs), qmd=str(qmd))
    assert f"| Response, one minus Kaplan–Meier | 50 | {format_percent_ci(km)} |" in \
        qmd.read_text()


def test_synth_clinical_new_therapy_passes_the_cohort_stage(tmp_path):
    from cmvig_report.core.io import read_clean_cohort, write_csv
    from cmvig_report.devtools.synth import generate_cohort

    patients, loads = generate_cohort(400, 2, clinical=True)
    patients.to_csv(tmp_path / "p.csv", index=False)
    loads.to_csv(tmp_path / "v.csv", index=False)
    result = clean_cohort(tmp_path / "p.csv", tmp_path / "v.csv", 137.0)
    write_csv(result.cohort, tmp_path / "cohort.csv")
    back = read_clean_cohort(tmp_path / "cohort.csv")
    days = endpoints.new_therapy_day(back)
    given = patients["new_anticmv_therapy_date"].ne("")
    assert given.any() and int(days.notna().sum()) == int(given.sum())
    assert (days.dropna() >= 7).all()
    assert (days.dropna() <= back.loc[days.notna(), "os_from_cmvig_days"]).all()
    # some start before a response, so that censor and compete change the estimate
    before = days.notna() & back["days_to_response"].notna() & (days < back["days_to_response"])
    assert before.fillna(False).any()


def test_figure_2a_of_an_own_study_marks_deaths_apart_from_censorings(cleaned):
    """Panel A draws each group's cumulative incidence (R's, from km_curves.csv) with a band,
    a cross at each competing event and a tick at each censoring, never a tick at a death."""
    from matplotlib.collections import PolyCollection

    from cmvig_report.figures.figure2 import figure2
    from cmvig_report.stats.analysis import km_curves

    cohort, vl = cleaned
    settings = EndpointSettings()
    est = compute_estimates(cohort, response_day=50, os_cmvig_day=100, os_hsct_day=365,
                            lloq_iu_ml=137, sensitivity_days=[50], study="own",
                            endpoint_settings=settings, viral_loads=vl)
    curves = km_curves(cohort, "own", settings, vl)
    ref = _reference().query("option == 'ignore' and min_baseline == 0 and day == 50")
    for g in ("recurrent", "refractory"):
        part = curves[curves["curve"] == f"response_{g}"]
        s = part.loc[part["time"] <= 50, "survival"].iloc[-1]
        assert 1 - s == pytest.approx(ref.query("group == @g").aj_survfit.iloc[0], abs=1e-6)
    fig, meta = figure2(cohort, est, curves)
    assert meta["response_estimand"] == "cumulative incidence" and meta["competing_marks_shown"]
    ax = fig.axes[0]
    crosses = {float(x) for line in ax.get_lines() if line.get_marker() == "x"
               for x in line.get_xdata()}
    ticks = {float(x) for line in ax.get_lines() if line.get_marker() == "|"
             for x in line.get_xdata()}
    ends = endpoints.response_endpoints(cohort, vl, settings)["primary"]
    deaths = set(ends.loc[ends["code"].eq(endpoints.DEATH), "time"].astype(float))
    censored = set(ends.loc[ends["code"].eq(endpoints.CENSORED), "time"].astype(float))
    shown = max(meta["at_risk_ticks_response"])
    assert crosses == {t for t in deaths if t <= shown}
    assert ticks == {t for t in censored if t <= shown}
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2  # one band per group


def test_an_incidence_a_rounding_error_below_one_has_no_interval_instead_of_overflowing():
    from cmvig_report.stats.risk_tables import loglog_limits
    assert loglog_limits(1 - 1e-16, 0.0278) is None
    assert loglog_limits(1e-16, 0.0278) is None
    lower, upper = loglog_limits(0.5, 0.01)
    assert lower < 0.5 < upper
