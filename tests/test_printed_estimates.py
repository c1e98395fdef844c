"""The rule that withholds a printed estimate with the counts it would give back."""

from __future__ import annotations

from cmvig_report.privacy.printed_estimates import estimate_marks


def _block(events: int, censored: int, n: int = 20, day: int = 50) -> dict:
    return {"day": day, "estimate": events / n, "ci_lower": 0.1, "ci_upper": 0.9, "n": n,
            "at_risk": n - events - censored, "events": events, "censored": censored}


def test_an_estimate_goes_with_a_hidden_count_of_its_block():
    est = {"os_from_cmvig": _block(3, 0)}
    marks, log = estimate_marks(est, {"os_from_cmvig.events": "<5"}, 5)
    assert marks == {f"os_from_cmvig{k}": "[c]"
                     for k in ("", ".estimate", ".ci_lower", ".ci_upper")}
    assert {r["source"] for r in log} == {"estimates.json#os_from_cmvig; "
                                          "estimates.json#os_from_cmvig.estimate",
                                          "estimates.json#os_from_cmvig.ci_lower",
                                          "estimates.json#os_from_cmvig.ci_upper"}
    assert all(r["reason"].startswith("withheld: ") for r in log)


def test_without_censoring_a_fully_printed_block_keeps_its_estimate():
    # events / n of printed counts says nothing more, whatever else of the family is hidden
    est = {"response": _block(10, 0), "sensitivity": {"response_by_day": [_block(3, 0, day=28)]}}
    hidden = {"sensitivity.response_by_day[0].events": "<5"}
    marks, _ = estimate_marks(est, hidden, 5)
    assert "response" not in marks and "sensitivity.response_by_day[0].estimate" in marks


def test_with_censoring_an_estimate_goes_with_any_hidden_count_of_its_family():
    est = {"response": _block(10, 2), "os_from_cmvig": _block(4, 3),
           "response_competing_risk": {"day": 50, "estimate": 0.5}}
    marks, _ = estimate_marks(est, {"crude_response.responders": "[c]"}, 5)
    assert {"response", "response_competing_risk"} <= set(marks)
    assert "os_from_cmvig" not in marks  # survival counts are all printed


def test_a_hidden_safety_count_withholds_its_proportion_only():
    est = {"response": _block(10, 2),
           "infusion_reaction_rate": {"reactions": 3, "n": 20, "proportion": 0.15,
                                      "ci_lower": 0.03, "ci_upper": 0.38}}
    marks, _ = estimate_marks(est, {"infusion_reaction_rate.reactions": "<5"}, 5)
    assert set(marks) == {"infusion_reaction_rate", "infusion_reaction_rate.proportion",
                          "infusion_reaction_rate.ci_lower", "infusion_reaction_rate.ci_upper"}


def test_nothing_is_withheld_without_small_cell_control():
    est = {"os_from_cmvig": _block(3, 0)}
    assert estimate_marks(est, {"os_from_cmvig.events": "<5"}, 0) == ({}, [])
    assert estimate_marks(est, {}, 5) == ({}, [])
