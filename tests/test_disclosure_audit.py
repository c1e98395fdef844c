"""The audit after the small-cell plan: no hidden count can be worked out from what is printed.

The leaks of issue 27 are rebuilt here from cohorts whose counts are known by construction:
each channel passed the one-sum rule on its own, together they gave a hidden count away.
"""

from __future__ import annotations

import pytest
from cohort_factory import make_cohort

from cmvig_report.errors import PipelineError
from cmvig_report.figures.figure2 import figure2
from cmvig_report.figures.figure_axes import figure2_ticks, risk_table_curves
from cmvig_report.privacy import disclosure as dc
from cmvig_report.privacy import disclosure_audit as da
from cmvig_report.privacy import printed_counts as pc
from cmvig_report.privacy.landmark_audit import audit_landmarks, build_model
from cmvig_report.privacy.secondary_suppression import secure
from cmvig_report.stats.analysis import compute_estimates

DAYS = {"response_day": 50, "os_cmvig_day": 365, "os_hsct_day": 365, "lloq_iu_ml": 137}


def _model(values: dict[str, int], hidden: dict[str, str], sums, min_cell: int = 5):
    return da.catalogue_model(values, [dc.Constraint(t, p) for t, p in sums], hidden, min_cell)


def test_two_small_parts_of_a_printed_total_are_pinned_down_and_secured():
    # "<5" + "<5" = 8: both are 4. The one-sum rule is satisfied (two hidden members).
    values = {"total": 8, "a": 4, "b": 4, "n": 30, "rest": 22}
    model = _model(values, {"a": "<5", "b": "<5"}, [("total", ("a", "b")),
                                                    ("n", ("total", "rest"))])
    assert da.bounds(model, "a") == (4.0, 4.0)
    found = da.exposures(model)
    assert [(e.cell, e.low, e.high) for e in found] == [("a", 4, 4), ("b", 4, 4)]
    assert "total = 8" in str(found[0])
    # hiding the total alone is not enough (n - rest gives it back): both go
    added = secure(model)
    assert sorted(c for c, _ in added) == ["rest", "total"]
    assert da.exposures(model) == []
    low, high = da.bounds(model, "a")
    assert high - low >= da.protection(5)


def test_the_audit_stops_the_build_naming_the_chain_when_nothing_may_be_hidden():
    values = {"total": 8, "a": 4, "b": 4}
    model = _model(values, {"a": "<5", "b": "<5"}, [("total", ("a", "b"))])
    with pytest.raises(PipelineError, match=r"hidden count a can be worked out as exactly 4 "
                                            r"from .*total = 8"):
        secure(model, allowed=[])


def test_the_plan_secures_a_drug_given_to_four_children_of_each_type():
    # 8 children had maribavir, 4 of each type: the old plan printed "8", "<5" and "<5"
    rows = [{"type": t, "response": 20, "fu": 400,
             "drugs": "ganciclovir;maribavir" if i < 4 else "ganciclovir"}
            for t in ("recurrent", "refractory") for i in range(20)]
    cohort = make_cohort(rows)
    cells, sums, _, where = pc.catalogue(cohort, 50)
    old, _ = dc.suppress(cells, sums, 5)
    old_model = da.catalogue_model(cells, sums, {c: "<5" if cells[c] < 5 else "[c]" for c in old},
                                   5, printed=where)
    drug = pc.drug_cell("maribavir", "recurrent")
    assert da.bounds(old_model, drug) == (4.0, 4.0)
    plan = pc.disclosure_plan(cohort, 50, 5)
    model = da.catalogue_model(cells, sums, plan.hidden, 5, printed=where)
    assert da.exposures(model) == []
    assert pc.drug_cell("maribavir", "overall") in plan.hidden
    assert pc.size("overall") not in plan.hidden  # the number of children stays printed
    reasons = [row["reason"] for row in plan.log if row["item"].startswith(
        "Antivirals before CMVIG: Maribavir (overall)")]
    assert reasons and reasons[0].startswith("secondary:")


def _issue_cohort():
    """40 children: 16 responded by day 50, 4 were censored before it, 20 still at risk."""
    kinds = ["recurrent", "refractory"]
    rows = [{"type": kinds[i % 2], "response": 10 + i, "fu": 400} for i in range(16)]
    rows += [{"type": kinds[i % 2], "fu": 20 + i} for i in range(4)]
    rows += [{"type": kinds[i % 2], "fu": 300 + i, "died": i < 6} for i in range(20)]
    return make_cohort(rows)


def _plan(cohort):
    plan = pc.disclosure_plan(cohort, 50, 5)
    est = compute_estimates(cohort, **DAYS, sensitivity_days=[50, 100],
                            hidden=plan.estimate_keys, min_cell_count=5)
    marks, _ = pc.landmark_plan(est, plan)
    return plan, est, marks, risk_table_curves(figure2_ticks(cohort, est))


def test_issue_27_tooltip_and_text_no_longer_give_the_censored_count_away():
    cohort = _issue_cohort()
    plan, est, marks, ticks = _plan(cohort)
    block = est["response"]
    assert (block["n"], block["at_risk"], block["events"], block["censored"]) == (40, 20, 16, 4)
    assert est["crude_response"]["responders"] == 16
    assert pc.cell(pc.by_day(50)[0]) not in plan.hidden  # "16 of 40" is printed
    # the one-sum plan of the tooltip: "40 patients, 20 still at risk, [c] events, <5 censored"
    assert marks["response.censored"] == "<5" and marks["response.events"] == "[c]"
    assert "response.at_risk" not in marks
    before, _ = build_model(cohort, est, plan, marks, ticks)
    assert da.bounds(before, "response.censored") == (4.0, 4.0)  # 40 - 20 - 16
    after_marks, tables, log = audit_landmarks(cohort, est, plan, marks, ticks)
    assert after_marks["response.at_risk"] == "[c]"
    after, _ = build_model(cohort, est, plan, after_marks, ticks)
    for cell in ("response.censored", "response_by_type.recurrent.censored",
                 "response_by_type.refractory.censored"):
        after.hidden.update({k: v for k, v in _risk_marks(tables, after).items()})
        low, high = da.bounds(after, cell)
        assert high - low >= da.protection(5), cell
    assert {row["source"] for row in log} >= {"estimates.json#response.at_risk"}
    assert all(row["kind"] == dc.SUPPRESSED_CELL for row in log)


def _risk_marks(tables, model) -> dict[str, str]:
    # the risk tables' marks on the model's own cells
    out = {}
    for curve, marks in tables.items():
        for tick, mark in marks.items():
            name = next((n for n in model.values if n == f"{curve}@{tick}.at_risk"), None)
            if name:
                out[name] = mark
    return out


def test_issue_27_censored_at_last_pcr_events_are_the_primary_events():
    # as above, but 6 of the children still at risk had their last PCR on day 30: censored
    # there in the sensitivity analysis, whose counts (14 at risk, 16 events, 10 censored)
    # are all shown by the one-sum rule
    kinds = ["recurrent", "refractory"]
    rows = [{"type": kinds[i % 2], "response": 10 + i, "fu": 400} for i in range(16)]
    rows += [{"type": kinds[i % 2], "fu": 20 + i} for i in range(4)]
    rows += [{"type": kinds[i % 2], "fu": 300 + i, "died": i < 6,
              "last_pcr": 30 if i < 6 else 300 + i} for i in range(20)]
    cohort = make_cohort(rows)
    plan, est, marks, ticks = _plan(cohort)
    sens = est["sensitivity"]["response_censor_last_pcr"]
    assert (sens["at_risk"], sens["events"], sens["censored"]) == (14, 16, 10)
    assert sens["events"] == est["response"]["events"]
    # even with the crude count hidden, the sensitivity tooltip printed the events outright
    plan.hidden[pc.cell(pc.by_day(50)[0])] = "[c]"
    model, _ = build_model(cohort, est, plan, marks, ticks)
    assert "sensitivity.response_censor_last_pcr.events" not in model.hidden
    assert marks["response.events"] == "[c]"
    assert da.bounds(model, "response.events") == (16.0, 16.0)
    assert da.bounds(model, "response.censored")[1] - da.bounds(
        model, "response.censored")[0] < da.protection(5)
    after_marks, tables, _ = audit_landmarks(cohort, est, plan, marks, ticks)
    after, _ = build_model(cohort, est, plan, after_marks, ticks)
    after.hidden.update(_risk_marks(tables, after))
    assert da.exposures(after) == []


def test_issue_27_figure2a_prints_the_tooltips_mark_at_the_landmark():
    cohort = _issue_cohort()
    plan, est, marks, ticks = _plan(cohort)
    after_marks, tables, _ = audit_landmarks(cohort, est, plan, marks, ticks)
    est["disclosure"]["hidden"] = {**plan.estimate_keys, **after_marks}
    est["disclosure"]["risk_tables"] = tables
    for g in ("recurrent", "refractory"):
        assert tables[f"response_{g}"]["50"] == "[c]"
    fig, meta = figure2(cohort, est)
    table = fig.axes[1]
    column = meta["at_risk_ticks_response"].index(50)
    at_50 = [t.get_text() for t in table.texts if t.get_position()[0] == 50]
    assert at_50 == ["[c]", "[c]"], column
    # the true numbers at risk (10 and 10) are printed nowhere in the table
    assert "10" not in {t.get_text() for t in table.texts}


def test_another_printed_source_joins_the_audit():
    # a claims register restating the total ("8 children") keeps both parts pinned, unless it
    # prints the total through the same mark
    values = {"total": 8, "a": 4, "b": 4, "n": 30, "rest": 22}
    model = _model(values, {"a": "<5", "b": "<5", "total": "[c]", "rest": "[c]"},
                   [("total", ("a", "b")), ("n", ("total", "rest"))])
    assert da.exposures(model) == []
    model.extend({"claims#total": 8}, [da.same("claims#total", "total")])
    assert [e.cell for e in da.exposures(model)] == ["a", "b"]
    secure(model)
    assert model.hidden["claims#total"] == "[c]" and da.exposures(model) == []


def test_the_estimates_step_writes_the_audited_plan_and_logs_it(tmp_path):
    import csv
    import json

    from cmvig_report.stats.analysis import run_analysis

    cohort_csv, quality = tmp_path / "cohort.csv", tmp_path / "dq.csv"
    _issue_cohort().to_csv(cohort_csv, index=False)
    quality.write_text("patient_id,check,detail\n")
    out = {n: tmp_path / n for n in ("e.json", "t.csv", "c.csv", "d.csv")}
    run_analysis(cohort=str(cohort_csv), data_quality=str(quality), response_day=50,
                 os_cmvig_day=365, os_hsct_day=365, lloq=137.0, sensitivity_days=[50, 100],
                 study_period=("", "data"), min_cell_count=5, estimates=str(out["e.json"]),
                 table1=str(out["t.csv"]), curves=str(out["c.csv"]),
                 disclosure_log=str(out["d.csv"]))
    est = json.loads(out["e.json"].read_text())
    disclosure = est["disclosure"]
    assert disclosure["hidden"]["response.at_risk"] == "[c]"
    assert disclosure["risk_tables"]["response_recurrent"]["50"] == "[c]"
    with open(out["d.csv"], encoding="utf-8", newline="") as fh:
        log = list(csv.DictReader(fh))
    rows = {r["source"]: r for r in log}
    assert rows["estimates.json#response.at_risk"]["value"] == "20"
    assert rows["estimates.json#response.at_risk"]["reason"].startswith("secondary: ")
    assert rows["figure2#response_recurrent.at_risk@50"]["value"] == "10"
    # the plan by cell name, which the figure steps read instead of planning again
    plan = pc.disclosure_plan(_issue_cohort(), 50, 5, {})
    assert plan.hidden and disclosure["cells"] == plan.hidden
    assert pc.written_cells(est, 5) == plan.hidden
    with pytest.raises(PipelineError, match="min_cell_count 5"):
        pc.written_cells(est, 3)


def test_the_crude_response_of_an_own_study_endpoint_is_hidden_when_small():
    """An own study's crude response may count the evaluable children only, apart from the
    plan's cells: a small count, or a small remainder beside a printed total, is hidden."""
    from cmvig_report.stats.analysis import endpoint_counts_plan

    def plan(responders: int, n: int, hidden: dict | None = None) -> dict:
        est = {"crude_response": {"responders": responders, "n": n},
               "disclosure": {"hidden": dict(hidden or {})}}
        return endpoint_counts_plan(est, 5)

    assert plan(3, 40) == {"crude_response.responders": "<5"}
    assert plan(37, 40) == {"crude_response.responders": "[c]"}  # 3 without a response
    assert plan(20, 40) == {}
    assert plan(3, 40, {"crude_response.responders": "<5"}) == {}  # the plan's own mark stays
    est = {"crude_response": {"responders": 3, "n": 40}, "disclosure": {"hidden": {}}}
    assert endpoint_counts_plan(est, 0) == {}
