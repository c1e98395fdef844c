"""The figure captions say what the figures leave out, in words chosen from their facts."""

from __future__ import annotations

import re

from cohort_factory import abstract_like_cohort
from report_fixtures import FIGURE1_SMALL_CELLS, FIGURE3_STYLE, make_project
from test_report import _html_text, _render

FIGURE1 = {"timeline_rows_shown": 15, "timeline_rows_total": 15, "timeline_subset_rule": None,
           "timeline_groups_not_drawn": [], "timeline_axis_end": 800,
           "timeline_bars_cut": True, "timeline_cut_days_printed": True}
FIGURE3 = {"results_drawn": 120, "groups_not_drawn": [], "responses_marked": True,
           "axis_end": 150, "results_after_axis_end": False}


def _caption(tmp_path, name: str, **metas) -> str:
    """The caption of the one figure whose facts are given, as a reader sees it."""
    kwargs = make_project(tmp_path / name, abstract_like_cohort(), **metas)
    html = _render(kwargs, pdf=False)[0]
    figure = next(iter(metas)).removesuffix("_meta")
    caption = re.search(rf'<figcaption id="{figure}">(.*?)</figcaption>', html.read_text(),
                        flags=re.S)
    assert caption is not None
    out = tmp_path / f"{name}.html"
    out.write_text(caption.group(1))
    return _html_text(out)


def test_figure1_caption_names_the_markers_left_out_and_pooled_rows(tmp_path):
    plain = _caption(tmp_path, "plain", figure1_meta={**FIGURE1, **FIGURE1_SMALL_CELLS})
    assert "so that every death is drawn" in plain
    assert "leaves out" not in plain and "alike" not in plain
    meta = {**FIGURE1, **FIGURE1_SMALL_CELLS, "timeline_types_pooled": True,
            "timeline_marks_left_out": {"all": ["death"]}}
    text = _caption(tmp_path, "pooled", figure1_meta=meta)
    assert "draws the children of both types of infection alike" in text
    assert ("panel B leaves out the death and last follow-up markers of all children, whose "
            "counts it hides.") in text
    meta = {**meta, "timeline_types_pooled": False,
            "timeline_marks_left_out": {"recurrent": ["response", "death"],
                                        "refractory": ["death"]}}
    text = _caption(tmp_path, "groups", figure1_meta=meta)
    assert ("leaves out the response and death and last follow-up markers of children with "
            "recurrent infection; the death and last follow-up markers of children with "
            "refractory infection, whose counts it hides.") in text


def test_figure3_caption_describes_the_band_and_the_samples_own_limits(tmp_path):
    plain = _caption(tmp_path, "plain", figure3_meta={**FIGURE3, **FIGURE3_STYLE})
    assert "A line joins the results of one child" in plain
    assert "median" not in plain and "own limit" not in plain
    meta = {**FIGURE3, **FIGURE3_STYLE, "median_band": True, "many_children": True,
            "sample_limits": [137.0, 500.0], "own_limits_marked": True}
    text = _caption(tmp_path, "many", figure3_meta=meta)
    assert "A faint line joins the results of one child" in text
    assert "has its own limit marked by a short grey dash" in text
    assert "A thick line gives the median of the children's loads week by week" in text
    meta = {**meta, "groups_summarised_only": ["recurrent", "refractory"],
            "responses_marked": False, "own_limits_marked": False}
    text = _caption(tmp_path, "summary", figure3_meta=meta)
    assert "line joins" not in text and "green dot" not in text
    assert ("For the children with a recurrent or refractory infection only the median and "
            "interquartile range are drawn") in text
