"""Properties of the manuscript's words over generated cohorts (hypothesis).

Cohorts come from the synthetic generator, cleaned as an export is: 5 to 120 children, with and
without the contract's optional clinical columns, with empty cells in them, one or two assay
limits, ``min_cell_count`` 0, 3, 5 or 11, reported as the replication or as an own study. For
each, the HTML manuscript is rendered (no PDF) and:

- the templates read no key the results do not hold (a render that raises fails the test);
- no sentence contradicts Table 1: nothing is called "not recorded" that Table 1 shows, and no
  field is said to be complete when Table 1 has a "not recorded" row;
- a word about the data holds: "most" only when the lower 95% limit is above one half;
- every limit of quantification the response rule used is named in the abstract.

The number of examples is the hypothesis profile's (tests/conftest.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from report_fixtures import make_project, stage_args

from cmvig_report.core.formatting import format_measure
from cmvig_report.core.io import read_clean_cohort, write_csv
from cmvig_report.data.clinical import CLINICAL_FACTS
from cmvig_report.data.cohort import clean_cohort
from cmvig_report.devtools.synth import generate_cohort, write_cohort
from cmvig_report.render.report import run_render
from cmvig_report.stats.table1 import MISSING_LEVEL

LLOQ = 137.0
OWN_LIMIT = 35.0


@st.composite
def cases(draw) -> dict:
    return {"n": draw(st.integers(5, 120)), "seed": draw(st.integers(0, 2**16)),
            "clinical": draw(st.booleans()), "empty_share": draw(st.sampled_from([0, 0.1, 0.4])),
            "two_limits": draw(st.booleans()), "min_cell": draw(st.sampled_from([0, 3, 5, 11])),
            "study": draw(st.sampled_from(["own", "replication"]))}


def _cohort(case: dict, folder: Path) -> tuple[pd.DataFrame, pd.Series]:
    patients, loads = generate_cohort(case["n"], case["seed"], clinical=case["clinical"])
    rng = np.random.default_rng(case["seed"])
    if case["clinical"] and case["empty_share"]:
        for column in CLINICAL_FACTS:
            if column in patients and column != "cmvig_dose":  # the dose comes with its unit
                blank = rng.random(len(patients)) < case["empty_share"]
                patients.loc[blank, column] = ""
        if "infusion_reaction_grade" in patients:  # a grade only with a reaction
            patients.loc[patients["infusion_reaction"] != "yes", "infusion_reaction_grade"] = ""
    if case["two_limits"]:
        loads["lloq_iu_ml"] = np.where(np.arange(len(loads)) % 3 == 0, str(OWN_LIMIT), "")
    p, v = write_cohort(patients, loads, folder / "export")
    result = clean_cohort(p, v, LLOQ)
    write_csv(result.cohort, folder / "cohort.csv")
    return read_clean_cohort(folder / "cohort.csv"), result.viral_loads["lloq_iu_ml"]


def _text(kwargs: dict) -> str:
    html = kwargs["_project"] / "report" / "m.html"
    run_render(**stage_args(kwargs), html=str(html), pdf=None)
    text = re.sub(r"</?span\b[^>]*>", "", html.read_text())
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", text, flags=re.S)
    return " ".join(text.split()).replace("&#39;", "'")


@given(cases())
def test_every_word_about_the_data_agrees_with_the_estimates_and_table1(case):
    with TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cohort, sample_lloqs = _cohort(case, folder)
        kwargs = make_project(folder / "p", cohort, study=case["study"],
                              sample_lloqs=sample_lloqs, min_cell_count=case["min_cell"])
        text = _text(kwargs)  # raises on a key the results do not hold
        est = kwargs["_estimates"]
        table = pd.read_csv(kwargs["table1"], dtype=str, keep_default_na=False)

    shown = set(table["variable"])
    # a fact in Table 1 is never called not recorded
    if "Resistance genotyping" in shown:
        assert "resistance testing is not recorded" not in text.lower()
    for column in est["clinical"]["recorded"]:
        assert column in CLINICAL_FACTS
    # no field said complete beside a "not recorded" row
    if (table["level"] == MISSING_LEVEL).any():
        assert "No patient field was missing" not in text
    # "most" only when the interval is above one half, "fewer than half" when below it
    response = est["response"]
    if re.search(r"\b[Mm]ost (of the )?children\b", text):
        assert response["ci_lower"] is not None and response["ci_lower"] > 0.5, \
            (response, case)
    if re.search(r"\b[Ff]ewer than half of the children\b", text):
        assert response["ci_upper"] is not None and response["ci_upper"] < 0.5, \
            (response, case)
    # each limit the response rule used is named in the abstract, with its unit
    abstract = text.split("Abstract", 1)[1].split("Keywords", 1)[0]
    for limit in est["lloq"]["limits"]:
        assert f"{format_measure(limit['value'])} IU/mL" in abstract, (limit, case)
    assert (len(est["lloq"]["limits"]) == 2) == case["two_limits"]
