"""The response endpoints a clinician sets (endpoints.py), on planted children worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from cmvig_report.data import endpoints
from cmvig_report.data.endpoints import CENSORED, DEATH, NEW_THERAPY, RESPONSE, EndpointSettings

BELOW, UP = True, False


def _cohort(rows: list[dict]) -> pd.DataFrame:
    base = {"infection_type": "recurrent", "cmvig_start_date": "2023-01-01",
            "last_pcr_day": pd.NA, "viral_load_at_cmvig": 5000.0}
    c = pd.DataFrame([{**base, **r} for r in rows])
    c["died"] = c["died"].astype(bool)
    c["days_to_response"] = c["days_to_response"].astype("Int64")
    c["last_pcr_day"] = c["last_pcr_day"].astype("Int64")
    return c


def _samples(cohort: pd.DataFrame, series: dict[str, list[tuple[int, bool]]]) -> pd.DataFrame:
    rows = [{"patient_id": pid, "days_since_cmvig": d, "below_lloq": b}
            for pid in cohort["patient_id"] for d, b in series.get(pid, [])]
    return pd.DataFrame(rows, columns=["patient_id", "days_since_cmvig", "below_lloq"])


SERIES = {
    # below 7 and 10 (3 days apart), up 14, below 21 and 35 (14 days apart)
    "A": [(0, UP), (7, BELOW), (10, BELOW), (14, UP), (21, BELOW), (35, BELOW)],
    # below 7, up 20, below 30, nothing after (followed to 100)
    "B": [(0, UP), (7, BELOW), (20, UP), (30, BELOW)],
    # below 40 and 41: followed only to day 50
    "C": [(0, UP), (40, BELOW), (41, BELOW)],
    # below on day 0 only then up: day 0 never counts
    "D": [(0, BELOW), (7, UP)],
}


@pytest.fixture()
def planted():
    c = _cohort([
        {"patient_id": "A", "days_to_response": 7, "os_from_cmvig_days": 200, "died": False},
        {"patient_id": "B", "days_to_response": 7, "os_from_cmvig_days": 100, "died": False},
        {"patient_id": "C", "days_to_response": 40, "os_from_cmvig_days": 50, "died": True},
        {"patient_id": "D", "days_to_response": None, "os_from_cmvig_days": 60, "died": True},
    ])
    return c, _samples(c, SERIES)


def _by_id(cohort, series) -> dict:
    return dict(zip(cohort["patient_id"], series, strict=True))


def test_confirmation_spacing(planted):
    c, vl = planted
    # no spacing: the next sample confirms (A on 7, C on 40); B's below results never pair
    got = _by_id(c, endpoints.confirmed_response_day(c, vl, 0))
    assert (got["A"], got["C"]) == (7, 40) and pd.isna(got["B"]) and pd.isna(got["D"])
    # 7 days: A's 7/10 pair is too close and 14 is quantifiable: confirmed from 21 (35 - 21)
    got = _by_id(c, endpoints.confirmed_response_day(c, vl, 7))
    assert got["A"] == 21 and pd.isna(got["C"])
    # 15 days: nothing qualifies
    assert endpoints.confirmed_response_day(c, vl, 15).isna().all()


def test_sustained_response(planted):
    c, vl = planted
    got = _by_id(c, endpoints.sustained_response_day(c, vl, 14))
    # A: 7 is followed by a quantifiable 14 (within 14 days), 10 too; 21 holds (35 below)
    # B: 7 rebounds on 20 (13 days later); 30 holds to day 44, followed to 100
    # C: 40 would need follow-up to day 54, but it ends on 50: not sustained
    assert (got["A"], got["B"]) == (21, 30) and pd.isna(got["C"]) and pd.isna(got["D"])
    # with 12 days B's rebound on day 20 is 13 days after 7: that response holds
    assert _by_id(c, endpoints.sustained_response_day(c, vl, 12))["B"] == 7


def test_sustained_times_end_as_a_non_responder(planted):
    c, vl = planted
    ends = endpoints.response_endpoints(c, vl, EndpointSettings(sustained_days=14))
    got = _by_id(c, zip(ends["sustained"]["time"], ends["sustained"]["code"], strict=True))
    assert got == {"A": (21, RESPONSE), "B": (30, RESPONSE), "C": (50, DEATH),
                   "D": (60, DEATH)}


def test_defaults_change_nothing(planted):
    c, vl = planted
    ends = endpoints.response_endpoints(c, vl, EndpointSettings())
    assert "sustained" not in ends
    got = _by_id(c, zip(ends["primary"]["time"], ends["primary"]["code"], strict=True))
    assert got == {"A": (7, RESPONSE), "B": (7, RESPONSE), "C": (40, RESPONSE),
                   "D": (60, DEATH)}


def test_new_therapy_options_by_hand():
    c = _cohort([
        # new therapy on day 10, response on 20: before the response
        {"patient_id": "E", "days_to_response": 20, "os_from_cmvig_days": 90, "died": False,
         "new_anticmv_therapy_date": "2023-01-11"},
        # new therapy on the response day: the response stands
        {"patient_id": "F", "days_to_response": 20, "os_from_cmvig_days": 90, "died": False,
         "new_anticmv_therapy_date": "2023-01-21"},
        # no response, new therapy day 30, death day 45
        {"patient_id": "G", "days_to_response": None, "os_from_cmvig_days": 45, "died": True,
         "new_anticmv_therapy_date": "2023-01-31"},
        {"patient_id": "H", "days_to_response": None, "os_from_cmvig_days": 45, "died": False,
         "new_anticmv_therapy_date": ""},
    ])
    want = {
        "ignore": {"E": (20, RESPONSE), "F": (20, RESPONSE), "G": (45, DEATH),
                   "H": (45, CENSORED)},
        "censor": {"E": (10, CENSORED), "F": (20, RESPONSE), "G": (30, CENSORED),
                   "H": (45, CENSORED)},
        "compete": {"E": (10, NEW_THERAPY), "F": (20, RESPONSE), "G": (30, NEW_THERAPY),
                    "H": (45, CENSORED)},
    }
    for option, expected in want.items():
        frame = endpoints.end_times(c["days_to_response"], c, option)
        assert _by_id(c, zip(frame["time"], frame["code"], strict=True)) == expected, option


def test_settings_refuse_an_unknown_option():
    with pytest.raises(ValueError, match="new_therapy_after_cmvig"):
        EndpointSettings(new_therapy="drop")
    assert EndpointSettings.from_config({}) == EndpointSettings()
