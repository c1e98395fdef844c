"""Small-cell control on every channel: no shareable file prints a hidden count's true value.

Two builds with ``min_cell_count=5``: the shipped cohort (with the number appendix), then a
generated cohort with many small cells and the optional clinical columns, compared with the
first (``compare_with``), so that the changes appendix and ``changes.csv`` are exercised too.
For every cell the internal disclosure log says is hidden, each shareable output is searched
where that cell is printed:

- the HTML: every element carrying the cell's ``data-source``, its text and its attributes;
- ``numbers.csv`` and ``changes.csv``: every row of that source;
- the PDF, the Quarto source and the DOCX: the same sentence, found by the words before the
  number that the register records (``context``), read independently of the pipeline;
- the figures' SVG text: no count of 1..N-1 in a count's position ("n = 2", "Died: 3").

Nothing here lists templates, sections or columns: a new template, sentence or column falls
under the same checks.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader

from cmvig_report.core.io import copy_project
from cmvig_report.devtools.synth import main as synth_main
from cmvig_report.render.register import ALLOWED

ROOT = Path(__file__).resolve().parents[1]
MIN_CELL = 5
MARKS = (f"<{MIN_CELL}", "[c]")
NUMBER = re.compile(r"(?<![\w.,])\d+(?:,\d{3})*(?![\w])")

pytestmark = pytest.mark.e2e


def _build(repo: Path, *config: str) -> None:
    run = subprocess.run(["snakemake", "--cores", "2", "--config", f"min_cell_count={MIN_CELL}",
                          "number_appendix=true", *config], cwd=repo, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def _snapshot(repo: Path, dest: Path) -> dict[str, Path]:
    shutil.copytree(repo / "report", dest / "report")
    shutil.copytree(repo / "results", dest / "results")
    return {"report": dest / "report", "results": dest / "results"}


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("small_cells")
    repo = copy_project(ROOT, tmp / "repo")
    _build(repo)
    shipped = _snapshot(repo, tmp / "shipped")
    # with the contract's optional clinical columns, made as a user would (the command line)
    assert synth_main(["--n", "40", "--seed", "11", "--clinical", "--out",
                       str(tmp / "export")]) == 0
    _build(repo, f"patients={tmp / 'export/patients.csv'}",
           f"viral_loads={tmp / 'export/viral_loads.csv'}", f"compare_with={shipped['results']}")
    generated = _snapshot(repo, tmp / "generated")
    return {"shipped": shipped, "generated": generated}


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _hidden(results: Path) -> dict[str, str]:
    """source -> true value, for every hidden cell printed somewhere (the internal log)."""
    out = {}
    for row in _csv(results / "disclosure_log.csv"):
        if row["kind"] == "suppressed cell":
            for source in filter(None, row["source"].split("; ")):
                out[source] = row["value"]
    return out


def _numbers(text: str) -> list[str]:
    # "Table 1", "Figure 2" and "95%" are labels, not counts
    return [t.replace(",", "") for t in NUMBER.findall(ALLOWED.sub(" ", text))]


class _Elements(HTMLParser):
    """Every element with a data-source: (source, its text, its other attribute values)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[str], list[str]]] = []
        self._open: list[list[str] | None] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-source" in a:
            text: list[str] = []
            self.found.append((a["data-source"], text,
                               [v or "" for k, v in attrs if k != "data-source"]))
            self._open.append(text)
        elif tag not in ("br", "img", "meta", "link", "input", "hr", "col"):
            self._open.append(None)

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for text in self._open:
            if text is not None:
                text.append(data)


def _check_build(build: dict[str, Path]) -> int:
    """Assert that no hidden value is printed where its cell is; return the places checked."""
    hidden = _hidden(build["results"])
    assert hidden, "the cohort should have hidden cells"
    checked = 0

    parser = _Elements()
    parser.feed((build["report"] / "manuscript.html").read_text(encoding="utf-8"))
    for source, text_parts, attributes in parser.found:
        if source not in hidden:
            continue
        text = " ".join("".join(text_parts).split())
        assert any(m in text for m in MARKS), (source, text)
        assert hidden[source] not in _numbers(text), (source, text)
        for value in attributes:
            assert hidden[source] not in _numbers(value), (source, value)
        checked += 1

    register = _csv(build["report"] / "numbers.csv")
    for row in register:
        if row["source"] in hidden:
            assert row["suppressed"] == "yes" and row["value"] == "" and row["n"] == "", row
            assert hidden[row["source"]] not in _numbers(row["text"]), row
            checked += 1
        if row["suppressed"] == "yes":
            assert any(m in row["text"] for m in MARKS), row
        # and the other way round, whichever file the count came from: a mark printed is a
        # hidden count, whose value the register does not give
        if any(re.search(rf"(?<![\w<]){re.escape(m)}(?![\w])", row["text"]) for m in MARKS):
            assert row["suppressed"] == "yes" and row["value"] == "", row

    # the claims register prints each value a word was chosen from, hidden ones as marks
    for row in _csv(build["report"] / "claims.csv"):
        if row["source"] in hidden:
            assert row["suppressed"] == "yes" and row["value"] == "", row
            assert row["text"] in MARKS and hidden[row["source"]] not in _numbers(row["text"])
            checked += 1
        else:
            assert row["suppressed"] == "no" and row["text"] == row["value"], row

    changes = build["report"] / "changes.csv"
    if changes.exists():
        for row in _csv(changes):
            if row["source"] in hidden:
                # printed as its mark, or no longer printed (a withheld estimate's sentence)
                assert any(m in row["now"] for m in MARKS) or row["now"] == "(absent)", row
                assert hidden[row["source"]] not in _numbers(row["now"]), row
                checked += 1

    # The same sentences in the other formats: the words before the number, then the number.
    texts = _other_formats(build["report"])
    confirmed = dict.fromkeys(texts, 0)
    for row in register:
        context = row["context"].replace("\u2026", "").split()
        if row["suppressed"] != "yes" or " / " in row["context"] or len(context) < 3:
            continue
        lead = re.escape(" ".join(context[-5:]))
        for name, text in texts.items():
            for m in re.finditer(lead + r"\s*\(?\s*([^\s,;.)]+)", text):
                assert m.group(1) != hidden.get(row["source"]), (name, m.group(0))
                confirmed[name] += m.group(1).startswith(MARKS)
    # the search found the hidden counts' places in every format
    assert all(confirmed.values()), confirmed
    checked += sum(confirmed.values())

    for svg in sorted((build["results"] / "figures").glob("*.svg")):
        for text in re.findall(r"<text[^>]*>(.*?)</text>", svg.read_text(), re.S):
            text = text.replace("&lt;", "<").replace("\u00a0", " ")
            for count in re.findall(r"(?:n = |: |[a-z] )(\d+)(?![\d.,\u2013(]| \()", text):
                assert not 0 < int(count) < MIN_CELL, (svg.name, text)
    return checked


def _other_formats(report: Path) -> dict[str, str]:
    """The text of the PDF, the Quarto source and the DOCX, whitespace made single."""
    pdf = " ".join(p.extract_text() for p in PdfReader(report / "manuscript.pdf").pages)
    qmd = (report / "manuscript.qmd").read_text(encoding="utf-8")
    # the front matter holds JSON strings (the abstract): "\u003c5" is "<5"
    qmd = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), qmd)
    qmd = re.sub(r"\\(.)", r"\1", qmd)
    qmd = re.sub(r"[*_]", "", qmd)
    with zipfile.ZipFile(report / "manuscript.docx") as z:
        xml = z.read("word/document.xml").decode("utf-8")
    docx = re.sub(r"<w:p[ >].*?</w:p>",
                  lambda m: re.sub(r"<[^>]+>", "", m.group(0)) + "\n", xml, flags=re.S)
    docx = re.sub(r"<[^>]+>", "", docx).replace("&lt;", "<").replace("&amp;", "&")
    out = {"pdf": pdf, "qmd": qmd, "docx": docx}
    return {k: " ".join(v.split()) for k, v in out.items()}


def test_no_hidden_value_on_any_channel_shipped(builds):
    assert _check_build(builds["shipped"]) > 20


def test_no_hidden_value_on_any_channel_generated_with_changes(builds):
    assert _check_build(builds["generated"]) > 20
    assert (builds["generated"]["report"] / "changes.csv").exists()


def test_replication_table_is_left_out_under_small_cell_control(builds):
    html = (builds["shipped"]["report"] / "manuscript.html").read_text(encoding="utf-8")
    assert "Replication check" not in html
    assert "Where each number comes from" in html  # the number appendix is there


def test_changes_never_print_more_than_either_manuscript(builds):
    old = {(r["section"], r["source"]): r["text"]
           for r in _csv(builds["shipped"]["report"] / "numbers.csv")}
    new = {(r["section"], r["source"]): r["text"]
           for r in _csv(builds["generated"]["report"] / "numbers.csv")}
    rows = _csv(builds["generated"]["report"] / "changes.csv")
    assert rows
    for row in rows:
        key = (row["section"].replace("Appendix: ", ""), row["source"])
        if row["before"] != "(absent)" and not row["section"].startswith("Appendix"):
            assert row["before"] == old[key], row
        if row["now"] != "(absent)" and not row["section"].startswith("Appendix"):
            assert row["now"] == new[key], row


def test_landmark_counts_behind_a_hidden_count_are_hidden(builds):
    # the shipped cohort hides its deaths: the events behind each survival estimate go with them
    # (as "<5", or as "[c]" where the audit found that "<5" itself says too much)
    est = (builds["shipped"]["results"] / "estimates.json").read_text()
    assert re.search(r'"deaths\.total": "(<5|\[c\])"', est)
    assert re.search(r'"os_from_hsct\.events": "(<5|\[c\])"', est)
    titles = re.findall(r'title="([^"]*)"',
                        (builds["shipped"]["report"] / "manuscript.html").read_text())
    # and so does the estimate, which times n would be the deaths: its tooltip has no counts
    assert re.search(r'"os_from_hsct\.estimate": "\[c\]"', est)
    survival = [t for t in titles if t.startswith("Kaplan-Meier; log-log 95% CI")]
    assert survival and all(t.endswith("; hidden by small-cell control") or "&lt;5 events" in t
                            or "[c] events" in t for t in survival)


CLINICAL_ROWS = ("CMVIG product", "CMVIG dose unit", "CMVIG dose, U/kg", "CMVIG dose, mg/kg",
                 "Days between CMVIG doses", "Antivirals at the first CMVIG dose",
                 "CMV disease at the first CMVIG dose", "Acute GVHD grade at the first CMVIG dose",
                 "Systemic steroids at the first CMVIG dose", "Resistance genotyping",
                 "Conditioning intensity", "Serotherapy", "T-cell depletion",
                 "CMV prevention strategy", "Chronic GVHD at the first CMVIG dose",
                 "Lymphocytes at the first CMVIG dose", "Earlier CMV episodes",
                 "Peak CMV DNA before CMVIG")


def test_an_export_with_the_clinical_columns_shows_them_in_table1(builds):
    generated, shipped = builds["generated"]["report"], builds["shipped"]["report"]
    html = (generated / "manuscript.html").read_text(encoding="utf-8")
    table = html[html.index('<table class="table1">'):html.index("</table>")]
    pdf = " ".join(" ".join(p.extract_text() for p in
                            PdfReader(generated / "manuscript.pdf").pages).split())
    for label in CLINICAL_ROWS:
        assert f">{label}, " in table, label
        assert label in pdf, label
    text = " ".join(re.sub("<[^>]+>", " ", html).split())
    assert "The export also recorded the CMVIG product" in text
    assert "Table 1 also gives the clinical details" in text
    # the shipped cohort records none of them: no rows, one Limitations sentence instead
    shipped_html = (shipped / "manuscript.html").read_text(encoding="utf-8")
    assert not any(f">{label}, " in shipped_html for label in CLINICAL_ROWS)
    shipped_text = " ".join(re.sub("<[^>]+>", " ", shipped_html).split())
    assert "The export did not record the CMVIG product" in shipped_text
    assert "Every child also received antivirals" not in shipped_text
