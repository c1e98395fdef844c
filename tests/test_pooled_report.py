"""The pooled manuscript (HTML and PDF) from pooled estimates: what it says about the centres,
and about a centre whose small counts were suppressed in its bundle."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from html import unescape
from pathlib import Path

from pypdf import PdfReader
from r_pooled import CONFIG, DAYS, ROOT, shipped_bundles

from cmvig_report import __version__, paths
from cmvig_report.centres import federated
from cmvig_report.centres.pooled_report import run_pooled_manuscript
from cmvig_report.core.formatting import format_percent_ci
from cmvig_report.core.io import write_json
from cmvig_report.data.cohort import clean_cohort
from cmvig_report.stats import survival

TEMPLATES = [str(ROOT / f) for f in paths.template_files("pooled", ROOT)]
REFERENCE_DOC = str(ROOT / "templates" / "reference.docx")
# the study's bibliography and journal, as the rule passes them (settings.citation_files)
CITATIONS = {"bibliography": str(ROOT / "templates" / "references.bib"),
             "journal": str(ROOT / "templates" / "journals" / f"{CONFIG['journal']}.yaml")}


def _manuscript(bundles: list[dict], out: Path, response_day: int = DAYS["response"],
                templates: list[str] = TEMPLATES) -> tuple[str, str, bytes]:
    """The pooled manuscript of ``bundles``: the HTML's text as a reader sees it (no markup),
    the PDF's text, the PDF's bytes."""
    out.mkdir(parents=True, exist_ok=True)
    est = federated.pooled_estimates(bundles, response_day=response_day,
                                     os_cmvig_day=DAYS["os_from_cmvig"],
                                     os_hsct_day=DAYS["os_from_hsct"])
    write_json(est, out / "estimates.json")
    federated.forest_plot(est["centres"]["response_by_centre"], est["response"],
                          str(out / "forest.svg"), str(out / "forest.png"))
    run_pooled_manuscript(estimates=str(out / "estimates.json"), forest=str(out / "forest.svg"),
                          forest_png=str(out / "forest.png"), template_files=templates,
                          html=str(out / "manuscript.html"), pdf=str(out / "manuscript.pdf"),
                          docx=str(out / "manuscript.docx"), numbers=str(out / "numbers.csv"),
                          reference_doc=[REFERENCE_DOC], **CITATIONS)
    pdf = (out / "manuscript.pdf").read_bytes()
    text = " ".join(" ".join(page.extract_text().split())
                    for page in PdfReader(out / "manuscript.pdf").pages)
    text = text.replace("\u2010 ", "")  # a word hyphenated at a line's end
    return _visible((out / "manuscript.html").read_text(encoding="utf-8")), text, pdf


def _visible(html: str) -> str:
    """The text of the HTML's body, without its markup (the register's spans)."""
    body = html.split("<body", 1)[1].split(">", 1)[1]
    return unescape(re.sub(r"<[^>]+>", "", body))


def _smallest_group(bundles: list[dict]) -> tuple[int, str, str]:
    sizes = [(int(federated._tables([b], "response", [g])["entered"].sum()), b["centre"], g)
             for b in bundles for g in federated.GROUPS]
    return min(sizes)


def test_a_centre_with_small_counts_is_suppressed_in_its_bundle_and_the_pooled_text_says_so(
        tmp_path):
    size, centre, group = _smallest_group(shipped_bundles())
    limit = size + 1  # only that centre's group falls below the limit
    bundles = [{**federated.build_bundle(b, unit="day", response_day=DAYS["response"],
                                         min_cell_count=limit, freeze_sha256={}),
                "centre": name} for name, b in _cohorts().items()]
    withheld = {b["centre"]: b["suppressed_groups"] for b in bundles if b["suppressed_groups"]}
    assert withheld == {centre: [group]}
    html, text, _ = _manuscript(bundles, tmp_path)
    number = sorted(b["centre"] for b in bundles).index(centre) + 1
    sentence = (f"Centre {number} withheld its {group} infections (fewer than {limit} "
                "children): these children are not in the pooled estimates")
    assert "Small counts were suppressed" in text
    assert sentence in " ".join(html.split()) and sentence in text
    assert f"Centre {number} ({group} withheld)" in text


def test_without_suppression_the_pooled_pdf_describes_the_federated_design_and_no_withholding(
        tmp_path):
    bundles = shipped_bundles()
    html, text, pdf = _manuscript(bundles, tmp_path / "a")
    assert "withheld" not in text and "suppressed" not in text
    assert "federated" in text and "stratified by centre" in text
    assert f"{len(bundles)} transplant centres contributed" in text
    assert f"the same pipeline (cmvig-report {__version__}) on its own export" in text
    assert all(f"Centre {k}" in text for k in range(1, len(bundles) + 1))
    assert not any(b["centre"] in text.lower() for b in bundles)  # numbered, never named
    assert pdf.startswith(b"%PDF")
    assert _manuscript(bundles, tmp_path / "b")[2] == pdf  # same estimates, same bytes
    for name in ("manuscript.docx", "manuscript.html", "numbers.csv"):
        made = [(tmp_path / k / name).read_bytes() for k in ("a", "b")]
        assert made[0] == made[1]
    with zipfile.ZipFile(tmp_path / "a" / "manuscript.docx") as zf:
        body = unescape(re.sub(r"<[^>]+>", "", zf.read("word/document.xml").decode("utf-8")))
        assert any(n.startswith("word/media/") for n in zf.namelist())  # the forest plot
    body = " ".join(body.split())
    assert "stratified by centre" in body and "Centre 1" in body


def _cohorts() -> dict:
    """The shipped centres' cleaned cohorts, by name."""
    with open(ROOT / "config" / "centres.tsv", newline="", encoding="utf-8") as fh:
        sheet = list(csv.DictReader(fh, delimiter="\t"))
    return {row["centre"]: clean_cohort(ROOT / row["patients"], ROOT / row["viral_loads"],
                                        float(row["lloq_iu_ml"] or CONFIG["lloq_iu_ml"])).cohort
            for row in sheet}


def _estimates_with(counts: dict[str, dict[str, int | str]], min_cell: int = 3) -> dict:
    """Pooled estimates holding only what Table 2 reads, pooled from two hand-made bundles."""
    bundles = [{"centre": c, "table1_counts": cells} for c, cells in sorted(counts.items())]
    return {"table1_counts": federated.pooled_table1(bundles),
            "centres": {"names": sorted(counts),
                        "min_cell_count": {c: min_cell for c in counts}}}


def test_table2_sums_the_centres_and_withholds_a_characteristic_whole():
    from cmvig_report.centres.pooled_report import characteristics

    def centre(female: tuple[int | str, int, int], male: tuple[int, int, int],
               alive: tuple[int, int, int]) -> dict[str, int | str]:
        """One centre's Table 1 cells (overall, recurrent, refractory); the column n are the
        boys and girls of the two groups, whatever is printed."""
        girls = (4, 6) if female[0] == "<5" else female[1:]
        n = {"recurrent": girls[0] + male[1], "refractory": girls[1] + male[2]}
        n["overall"] = n["recurrent"] + n["refractory"]
        cells: dict[str, int | str] = {}
        for g, f, m, a in zip(("overall", "recurrent", "refractory"), female, male, alive,
                              strict=True):
            cells[f"Patients||{g}"] = n[g]
            cells[f"Sex|Female|{g}"], cells[f"Sex|Male|{g}"] = f, m
            cells[f"Deaths|alive|{g}"] = a
        cells["Viral load at CMVIG start|quantifiable|overall"] = alive[0]  # all children only
        return cells

    # centre a: 4 + 6 girls, 5 + 5 boys; centre b: 3 + 4 girls, 6 + 7 boys (no hidden cell)
    est = _estimates_with({"a": centre((10, 4, 6), (10, 5, 5), (12, 6, 6)),
                           "b": centre((7, 3, 4), (13, 6, 7), (15, 7, 8))})
    table = characteristics(est)
    assert table["n"] == [40, 18, 22]
    sex = next(r for r in table["rows"] if r["variable"] == "Sex")
    assert not sex["withheld"]
    assert [c["category"] for c in sex["categories"]] == ["Female", "Male"]
    female = sex["categories"][0]["cells"]
    assert [c["n"] for c in female] == [17, 7, 10]
    assert female[0]["fraction"] == 17 / 40 and female[2]["fraction"] == 10 / 22
    # a cell Table 1 counts for all children only is blank in the group columns
    load = next(r for r in table["rows"] if r["variable"] == "Viral load at CMVIG start")
    assert [c["n"] for c in load["categories"][0]["cells"]] == [27, None, None]

    # centre b hides its girls: Sex goes whole (Male beside the column n would give
    # Female back), naming centre 2; Deaths stays
    hidden = _estimates_with({"a": centre((10, 4, 6), (10, 5, 5), (12, 6, 6)),
                              "b": centre(("<5", 4, 6), (13, 6, 7), (15, 7, 8))})
    rows = {r["variable"]: r for r in characteristics(hidden)["rows"]}
    assert rows["Sex"]["withheld"] and rows["Sex"]["hidden_in"] == [2]
    assert rows["Sex"]["categories"] == []
    assert not rows["Deaths"]["withheld"]

    # no centre hides anything, but a pooled count (1 + 1 recurrent children alive) is below
    # the limit: the whole characteristic goes
    small = _estimates_with({"a": centre((10, 4, 6), (10, 5, 5), (12, 1, 11)),
                             "b": centre((7, 3, 4), (13, 6, 7), (15, 1, 14))}, min_cell=3)
    rows = {r["variable"]: r for r in characteristics(small)["rows"]}
    assert rows["Deaths"]["withheld"] and rows["Deaths"]["hidden_in"] == []


def test_a_centre_without_a_response_by_the_landmark_keeps_its_exact_bound_and_is_named(
        tmp_path):
    # A landmark the day before one centre's first response and after the others' first ones.
    bundles = shipped_bundles()
    tables = {b["centre"]: federated._tables([b], "response", federated.GROUPS) for b in bundles}
    first = {name: int(t.loc[t["events"] > 0, "time"].min()) for name, t in tables.items()}
    late = max(first, key=first.get)
    day = first[late] - 1
    assert sum(f <= day for f in first.values()) >= 2
    html, _, _ = _manuscript(bundles, tmp_path, response_day=day)
    est = federated.pooled_estimates(bundles, response_day=day,
                                     os_cmvig_day=DAYS["os_from_cmvig"],
                                     os_hsct_day=DAYS["os_from_hsct"])
    het = est["centres"]["heterogeneity"]
    assert het["left_out"] == {late: federated.NO_EVENT_BY_LANDMARK}
    assert het["centres_used"] == len(bundles) - 1 and het["q"] is not None
    block = est["centres"]["response_by_centre"][late]
    assert block["ci_method"] == survival.EXACT_ZERO_EVENTS
    number = federated.centre_numbers(first)[late]
    flat = " ".join(html.split())
    assert format_percent_ci(block) in flat  # its row of the per-centre table
    assert ("Left out of this comparison, having no finite value on that scale: "
            f"Centre {number} (no response by day {day}).") in flat
    # the pooled cumulative incidence is printed with its interval
    aj = est["response_competing_risk"]
    assert aj["ci_lower"] is not None
    assert f"{format_percent_ci(aj)} with death as a competing event" in flat


def _copy_templates(dest: Path) -> list[str]:
    """The pooled manuscript's templates, copied under ``dest`` (their folder layout kept)."""
    files = []
    for name in paths.template_files("pooled", ROOT):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name).read_bytes())
        files.append(str(target))
    return files


def test_the_pooled_html_and_pdf_are_styled_by_the_single_manuscripts_stylesheet(tmp_path):
    bundles = shipped_bundles()
    files = _copy_templates(tmp_path / "project")
    style = tmp_path / "project" / "templates" / "style.css"
    assert str(style) in files  # an input of the rule: an edit re-renders
    _manuscript(bundles, tmp_path / "before", templates=files)
    before = (tmp_path / "before" / "manuscript.html").read_text(encoding="utf-8")
    # the page of the HTML is style.css, whole, and nothing else
    css = re.findall(r"<style>\n(.*?)</style>", before, flags=re.S)
    assert css == [style.read_text(encoding="utf-8") + "\n"]

    style.write_text(style.read_text(encoding="utf-8")
                     + "h2 { color: #D55E00; } /* an edit */\n", encoding="utf-8")
    _manuscript(bundles, tmp_path / "after", templates=files)
    after = (tmp_path / "after" / "manuscript.html").read_text(encoding="utf-8")
    assert "h2 { color: #D55E00; } /* an edit */" in after and "#D55E00; } /*" not in before
    assert ((tmp_path / "after" / "manuscript.pdf").read_bytes()
            != (tmp_path / "before" / "manuscript.pdf").read_bytes())


def _numbers(out: Path) -> list[dict[str, str]]:
    with open(out / "numbers.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _expand(citation: str) -> list[int]:
    """The reference numbers of a numeric citation: "(2–4)" -> [2, 3, 4], "(7,8)" -> [7, 8]."""
    numbers = []
    for part in re.findall(r"\d+(?:\u2013\d+)?", citation):
        first, _, last = part.partition("\u2013")
        numbers += range(int(first), int(last or first) + 1)
    return numbers


def test_each_citation_of_the_pooled_methods_resolves_to_its_entry_in_the_reference_list(
        tmp_path):
    html, text, _ = _manuscript(shipped_bundles(), tmp_path)
    rows = _numbers(tmp_path)
    entries = {r["source"].split("#")[1]: r["text"] for r in rows
               if r["section"] == "References"}
    cited = [r for r in rows if r["source"].startswith("references#")
             and r["section"] != "References"]
    keys = [k for r in cited for k in r["source"].split("#")[1].split(",")]
    # the methods rest on the estimators' sources, from templates/references.bib
    assert {"kaplanmeier1958", "aalen1978", "mantel1966", "ljungman2017",
            "panesso2023"} <= set(keys)
    assert set(entries) == set(keys)  # every entry cited, every citation listed
    for row in cited:  # "(2–4)" points at the entries numbered 2, 3 and 4: its own keys
        listed = [next(k for k, e in entries.items() if e.startswith(f"{n}. "))
                  for n in _expand(row["text"])]
        assert listed == row["source"].split("#")[1].split(",")
    assert "Kaplan EL, Meier P. Nonparametric estimation from incomplete observations" in (
        entries["kaplanmeier1958"])
    kaplan = next(r["text"] for r in cited if r["source"] == "references#kaplanmeier1958")
    assert f"Kaplan\u2013Meier estimate {kaplan}" in " ".join(html.split())
    assert "References" in text and "Nonparametric estimation from incomplete" in text


def test_the_pooled_register_lists_every_printed_number_with_its_estimates_key(tmp_path):
    from cmvig_report.centres.pooled_report import value_of
    from cmvig_report.core.formatting import format_number, format_p, format_percent
    from cmvig_report.render.register_html import untracked_numbers

    bundles = shipped_bundles()
    _manuscript(bundles, tmp_path)
    raw = (tmp_path / "manuscript.html").read_text(encoding="utf-8")
    assert untracked_numbers(raw) == []  # every number printed is in the register
    rows = _numbers(tmp_path)
    spans = re.findall(r'<span class="num[^"]*" data-source="([^"]*)"[^>]*>([^<]*)</span>', raw)
    assert [(unescape(s), unescape(t)) for s, t in spans] == [
        (r["source"], r["text"]) for r in rows]
    est = json.loads((tmp_path / "estimates.json").read_text(encoding="utf-8"))
    names = sorted(b["centre"] for b in bundles)
    n_centres = len(names)

    def value(key: str):
        """The value of ``key`` in estimates.json, a centre's number read as its name."""
        if key.startswith("table1_counts."):
            cell, _, field = key[len("table1_counts."):].rpartition(".")
            return est["table1_counts"][cell][field]
        node = est
        for part in key.replace("[", ".").replace("]", "").split("."):
            if isinstance(node, list):
                node = node[int(part)]
                continue
            if part not in node and part.isdigit():
                part = names[int(part) - 1]  # Centre k: the k-th name in alphabetical order
            node = node[part]
        return node

    checked = 0
    for row in rows:
        if not row["source"].startswith("estimates.json#"):
            continue
        key = row["source"].split("#", 1)[1]
        if not key.endswith("|*") and not key.startswith("centres.names["):
            assert value_of(est, row["source"]) == (  # the module's reader of the keys
                value(key) if " / " not in key else value(key.split(" / ")[0])
                / value(key.split(" / ")[1]))
        if key.startswith("table1_counts.") and key.endswith("|*"):  # a label of Table 2
            *_, label = key[len("table1_counts."):-2].split("|")
            assert row["text"] == label and any(c.startswith(key[14:-1]) for c in
                                                est["table1_counts"])
        elif key.startswith("centres.names["):  # "Centre 2": the second name's position
            position = int(key[len("centres.names["):-1])
            assert row["text"] == str(position + 1) and position < n_centres
        elif " / " in key:  # a Table 2 share: count over the column's n
            part, whole = (value(k) for k in key.split(" / "))
            assert row["text"] == format_percent(part / whole)
        elif isinstance(value(key), dict):  # a landmark estimate with its interval
            assert row["text"] == format_percent_ci(value(key))
        elif key.endswith(".p"):
            assert row["text"] == format_p(value(key))
        elif key.endswith(".i2"):
            assert row["text"] == format_percent(value(key))
        elif key == "centres.software[0]":
            assert row["text"] == value(key) == __version__
        elif key.endswith(".q"):
            assert row["text"] == format_number(value(key), 2)
        else:
            assert row["text"] == format_number(value(key))
        checked += 1
    assert checked > 100
    by_source = {r["source"]: r["text"] for r in rows}
    assert by_source["estimates.json#n_patients"] == str(
        sum(federated._tables([b], "response", federated.GROUPS)["entered"].sum()
            for b in bundles))
    # the names are never printed, not even as keys of the register
    flat = (tmp_path / "numbers.csv").read_text(encoding="utf-8").lower() + raw.lower()
    assert not any(f"response_by_centre.{name}" in flat for name in names)


def test_the_counts_behind_each_landmark_print_under_small_cell_control(tmp_path):
    # the tooltips and numbers.csv print the numbers at risk, events and censored behind each
    # estimate: a count below the centres' limit prints as its mark, as in the single manuscript
    size, _, _ = _smallest_group(shipped_bundles())
    limit = size + 1
    bundles = [{**federated.build_bundle(b, unit="day", response_day=DAYS["response"],
                                         min_cell_count=limit, freeze_sha256={}),
                "centre": name} for name, b in _cohorts().items()]
    _manuscript(bundles, tmp_path)
    raw = unescape((tmp_path / "manuscript.html").read_text(encoding="utf-8"))
    details = re.findall(r"At day \d+: (\S+) patients, (\S+) still at risk, (\S+) events, "
                         r"(\S+) censored", raw)
    counts = [c for d in details for c in d]
    assert f"<{limit}" in counts  # the shipped centres have small counts at the landmarks
    assert all(c in (f"<{limit}", "[c]") or int(c) == 0 or int(c) >= limit for c in counts)
    for row in _numbers(tmp_path):
        assert row["n"] in ("", f"<{limit}", "[c]") or not 0 < int(row["n"]) < limit
