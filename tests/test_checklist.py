"""The reporting checklist: an item is reported only when the sentence or data that answers it
is in the manuscript, and the section column names sections, not captions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cmvig_report.errors import PipelineError
from cmvig_report.journals.checklist import build, outline

ROOT = Path(__file__).resolve().parents[1]

HTML = """
<section><h2 id="introduction">Introduction</h2>
  <p>Background. <span data-checklist="objectives">The objectives were <span
  data-source="estimates.json#x">50</span> things.</span></p></section>
<section><h2 id="discussion">Discussion</h2>
  <h3 id="limitations">Limitations</h3>
  <p>Small. <span data-checklist="generalisability"></span></p></section>
<figure><figcaption id="figure1"><span class="label">Figure 1.</span> Enrolment and treatment, a
  long caption that must not be printed as the section.</figcaption></figure>
"""


def _items(*items: dict) -> dict:
    return {"items": list(items)}


def test_outline_names_sections_and_reads_marks_through_nested_spans():
    names, marks = outline(HTML)
    assert names == {"introduction": "Introduction", "discussion": "Discussion",
                     "limitations": "Limitations (Discussion)", "figure1": "Figure 1"}
    assert marks["objectives"] == "The objectives were 50 things."
    assert marks["generalisability"] == ""


def test_item_is_reported_only_when_its_mark_holds_text():
    rows = build(_items(
        {"item": "3", "description": "Objectives.", "section": "introduction",
         "requires": "objectives", "satisfied_by": "The objectives sentence."},
        {"item": "21", "description": "Generalisability.", "section": "limitations",
         "requires": "generalisability", "satisfied_by": "The sentence on generalisability."},
        {"item": "13c", "description": "Flow diagram.", "section": "figure1",
         "satisfied_by": "Figure 1A."},
        {"item": "8", "description": "Measurement.", "status": "not reported",
         "note": "The assay is not in the export."},
        {"item": "6b", "description": "Matching.", "status": "not applicable",
         "note": "Not matched."},
        {"item": "22", "description": "Funding.", "section": "funding",
         "requires": "funding", "satisfied_by": "The funding statement."},
    ), {"introduction": 2, "limitations": 6, "figure1": 9}, HTML)
    by = {r["item"]: r for r in rows}
    assert (by["3"]["status"], by["3"]["section"], by["3"]["page"]) == (
        "reported", "Introduction", "2")
    # the heading is there but the sentence is empty: not reported, saying what is missing
    assert by["21"]["status"] == "not reported" and by["21"]["section"] == ""
    assert by["21"]["note"] == "absent from this manuscript: The sentence on generalisability."
    # a caption is named by its label, never quoted whole
    assert by["13c"]["section"] == "Figure 1" and by["13c"]["status"] == "reported"
    assert (by["8"]["status"], by["8"]["note"]) == ("not reported",
                                                    "The assay is not in the export.")
    assert by["6b"]["status"] == "not applicable"
    assert by["22"]["status"] == "not reported"
    assert by["22"]["note"] == "no heading with id 'funding' in this manuscript"


def test_an_item_must_say_what_satisfies_it_or_why_it_is_not_reported():
    with pytest.raises(PipelineError, match="item 7: a reported item needs 'satisfied_by'"):
        build(_items({"item": "7", "description": "x", "section": "introduction"}), {}, HTML)
    with pytest.raises(PipelineError, match="item 8: without a section, give 'status'"):
        build(_items({"item": "8", "description": "x", "note": "why"}), {}, HTML)


def test_shipped_list_states_what_answers_each_item():
    items = yaml.safe_load((ROOT / "templates" / "checklist.yaml").read_text())["items"]
    for item in items:
        if item.get("section"):
            assert item.get("satisfied_by"), item["item"]
        else:
            assert item["status"] in ("not reported", "not applicable") and item["note"]
    # items the manuscript does not answer are not claimed
    unanswered = {str(i["item"]) for i in items if not i.get("section")}
    assert {"8", "13a", "13b"} <= unanswered
