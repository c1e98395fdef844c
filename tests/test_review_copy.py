"""The submission's review copy as an editorial office checks it: line and page numbers, line
spacing, table columns, placeholders, figure order, the title's numbers, a/an.

The package is made as the pipeline makes it (run_submission on a project of report_fixtures),
once for the module; nothing here needs LibreOffice or the network.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import yaml
from cohort_factory import abstract_like_cohort
from pypdf import PdfReader
from report_fixtures import ROOT, make_project, stage_args

from cmvig_report import paths
from cmvig_report.errors import PipelineError
from cmvig_report.journals.editorial import (
    figure_order_problem,
    indefinite_article,
    invented_metadata,
    title_numbers,
    with_article,
)
from cmvig_report.journals.journal import load_profile, running_title_notes, unchecked_warning
from cmvig_report.journals.submission import run_submission
from cmvig_report.privacy.leak_text import pdf_chunks
from cmvig_report.render.docx_review import column_widths, review_layout, word_width
from cmvig_report.render.quarto import pandoc_docx
from cmvig_report.render.report import run_render

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
NS = {"w": W[1:-1]}
REFERENCE = ROOT / "templates" / "reference.docx"
BMT = "bone-marrow-transplantation"
OUTPUTS = ("manuscript_pdf", "manuscript_docx", "table1_docx", "supplementary_pdf",
           "supplementary_docx", "checklist_pdf", "title_page", "cover_letter")


def _submission_args(kwargs: dict, out: Path, journal: str) -> dict:
    project = kwargs["_project"]
    profile = load_profile(project / paths.JOURNALS / f"{journal}.yaml")
    # the submission rule's params are flat (it makes the renderers' settings itself)
    args = {k: v for k, v in kwargs.items() if not k.startswith("_")}
    args.pop("line_numbers")
    args["journal"] = str(project / paths.JOURNALS / f"{journal}.yaml")
    args["template_files"] = [str(project / f) for f in paths.manuscript_templates(project)
                              + paths.template_files("qmd", project)
                              + paths.template_files("submission", project)]
    args["figures_png"] = [p.replace(".svg", ".png") for p in args["figures"]]
    args["reference_doc"] = [str(project / "templates" / "reference.docx")]
    names = {"manuscript_pdf": "manuscript.pdf", "manuscript_docx": "manuscript.docx",
             "table1_docx": "table1.docx", "supplementary_pdf": "supplementary.pdf",
             "supplementary_docx": "supplementary.docx", "checklist_pdf": "checklist.pdf",
             "title_page": "title_page.docx", "cover_letter": "cover_letter.docx"}
    args.update({k: str(out / v) for k, v in names.items()})
    args["figure_files"] = [str(out / n) for n in
                            paths.submission_figures(paths.figure_format(profile))]
    args["manifest"] = str(out / "MANIFEST.txt")
    return args


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """The BMT package of the replication (double spacing, line numbers, figures apart)."""
    tmp = tmp_path_factory.mktemp("package")
    kwargs = make_project(tmp, abstract_like_cohort())
    out = tmp / "out"
    args = _submission_args(kwargs, out, BMT)
    notes = run_submission(**args)
    return {"args": args, "notes": notes, "kwargs": kwargs, "out": out}


def _xml(docx: str | Path, name: str) -> ET.Element:
    with zipfile.ZipFile(docx) as z:
        return ET.fromstring(z.read(name))


# --------------------------------------------------------------------------------------------
# The DOCX


def test_review_docx_numbers_lines_and_pages_with_the_profiles_spacing(package):
    docx = package["args"]["manuscript_docx"]
    document = _xml(docx, "word/document.xml")
    sect = document.find("w:body/w:sectPr", NS)
    ln = sect.find("w:lnNumType", NS)
    assert ln is not None, "no w:lnNumType: the review copy has no line numbers"
    assert (ln.get(f"{W}countBy"), ln.get(f"{W}restart")) == ("1", "continuous")
    # the schema's order: lnNumType after the page size and margins
    children = [c.tag.removeprefix(W) for c in sect]
    assert children.index("lnNumType") > children.index("pgMar")
    footer_ref = sect.find("w:footerReference", NS)
    assert footer_ref is not None and children[0] == "footerReference"
    rel_id = footer_ref.get("{http://schemas.openxmlformats.org/officeDocument/2006/"
                            "relationships}id")
    rels = _xml(docx, "word/_rels/document.xml.rels")
    target = next(r.get("Target") for r in rels if r.get("Id") == rel_id)
    footer = _xml(docx, f"word/{target}")
    assert [t.text.strip() for t in footer.iter(f"{W}instrText")] == ["PAGE"]
    with zipfile.ZipFile(docx) as z:
        assert f"/word/{target}" in z.read("[Content_Types].xml").decode()
    # double spacing (the BMT profile's line_spacing: 2) in the defaults and the body styles
    profile = load_profile(package["args"]["journal"])
    assert profile["review_copy"]["line_spacing"] == 2
    styles = _xml(docx, "word/styles.xml")
    default = styles.find("w:docDefaults/w:pPrDefault/w:pPr/w:spacing", NS)
    assert (default.get(f"{W}line"), default.get(f"{W}lineRule")) == ("480", "auto")
    for style_id in ("BodyText", "FirstParagraph", "Abstract"):
        style = next(s for s in styles.findall("w:style", NS)
                     if s.get(f"{W}styleId") == style_id)
        assert style.find("w:pPr/w:spacing", NS).get(f"{W}line") == "480", style_id


def test_docx_layout_follows_the_spacing_and_is_deterministic(tmp_path):
    source = tmp_path / "m.md"
    source.write_text("# Title\n\nSome text.\n\n| a | b |\n|:-|:---------------|\n"
                      "| unpublishable | x |\n")
    docs = []
    for name in ("one", "two"):
        docx = tmp_path / f"{name}.docx"
        pandoc_docx(source, docx, str(REFERENCE))
        review_layout(docx, line_numbers=True, line_spacing=1.5)
        docs.append(docx.read_bytes())
    assert docs[0] == docs[1]
    styles = _xml(tmp_path / "one.docx", "word/styles.xml")
    assert styles.find("w:docDefaults/w:pPrDefault/w:pPr/w:spacing", NS).get(
        f"{W}line") == "360"
    with zipfile.ZipFile(tmp_path / "one.docx") as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert z.namelist()[0] == "[Content_Types].xml"


def test_no_docx_column_is_narrower_than_its_longest_word(tmp_path):
    """Pandoc gives the first column 1/17 of the width (the dashes); 'unpublishable' breaks
    there unless the column is widened to it."""
    source = tmp_path / "t.md"
    source.write_text("| Input | SHA-256 |\n|:-|:----------------|\n"
                      "| unpublishable file | abc |\n\n: A caption.\n")
    docx = tmp_path / "t.docx"
    pandoc_docx(source, docx, str(REFERENCE))
    grid = [int(c.get(f"{W}w")) for c in _xml(docx, "word/document.xml").iter(f"{W}gridCol")]
    table = next(st for st in _xml(docx, "word/styles.xml").findall("w:style", NS)
                 if st.get(f"{W}styleId") == "Table")
    size = int(table.find("w:rPr/w:sz", NS).get(f"{W}val"))
    margins = sum(int(table.find(f"w:tblPr/w:tblCellMar/w:{side}", NS).get(f"{W}w"))
                  for side in ("left", "right"))
    need = word_width("unpublishable", size) + margins
    assert grid[0] / sum(grid) * 9070 < need, "the fixture must start too narrow"
    review_layout(docx, line_numbers=False, line_spacing=1)
    grid = [int(c.get(f"{W}w")) for c in _xml(docx, "word/document.xml").iter(f"{W}gridCol")]
    assert sum(grid) == 9070 and grid[0] >= need


def test_column_widths_keep_proportions_beyond_each_need():
    assert column_widths([1, 1], [0, 0], 1000) == [500, 500]
    widths = column_widths([1, 9], [400, 100], 1000)
    assert widths[0] == 400 and sum(widths) == 1000
    assert column_widths([1, 1], [900, 900], 1000) == [500, 500]  # too wide: by need


def test_package_has_the_supplement_apart_and_the_review_copy_without_it(package):
    args = package["args"]
    main = "".join(page.extract_text() for page in PdfReader(args["manuscript_pdf"]).pages)
    supplement = "".join(p.extract_text() for p in PdfReader(args["supplementary_pdf"]).pages)
    assert "Supplementary Table S1." in supplement and "Appendix A. Replication check" in \
        supplement
    assert "Appendix A." not in main and "What differs from the primary analysis" not in main
    document = _xml(args["supplementary_docx"], "word/document.xml")
    assert any("Supplementary Table S1." in "".join(t.text or "" for t in p.iter(f"{W}t"))
               for p in document.iter(f"{W}p"))
    # the appendix cites the original study through the bibliography, as the text does
    assert "Front Pediatr. 2023" not in supplement.replace("\n", " ")


# --------------------------------------------------------------------------------------------
# The PDF


def _margin_numbers(page) -> list[tuple[int, float]]:
    found: list[tuple[int, float]] = []

    def visit(text, cm, tm, font, size):
        x = tm[4] * cm[0] + cm[4]
        if text.strip().isdigit() and x < 60:  # points from the left edge: the margin
            found.append((int(text.strip()), tm[5] * cm[3] + cm[5]))

    page.extract_text(visitor_text=visit)
    return found


def test_review_pdf_numbers_lines_in_the_margin_on_every_page(package):
    reader = PdfReader(package["args"]["manuscript_pdf"])
    numbers = []
    for i, page in enumerate(reader.pages):
        on_page = _margin_numbers(page)
        assert on_page, f"page {i + 1} has no line numbers in its margin"
        # top to bottom, one more at each line
        assert [n for n, _ in sorted(on_page, key=lambda t: -t[1])] == sorted(
            n for n, _ in on_page)
        numbers += sorted(n for n, _ in on_page)
    assert numbers == list(range(1, len(numbers) + 1)), "lines are numbered continuously"
    assert len(numbers) > 10 * len(reader.pages) // 2  # lines, not paragraphs


def test_leak_check_still_reads_the_body_text_of_the_numbered_pdf(package):
    """A phrase broken over two numbered lines is read whole by the leak check (pdftotext
    reads each margin number between the lines it numbers)."""
    path = package["args"]["manuscript_pdf"]
    chunks = " ".join(" ".join(text.split()) for _, text in pdf_chunks(path))
    phrases = []
    for page in PdfReader(path).pages[1:3]:
        lines = [line.split() for line in page.extract_text().splitlines()]
        for one, two in zip(lines, lines[1:], strict=False):
            if (len(one) > 6 and len(two) > 6 and one[-1][-1].isalpha()
                    and not one[-1].endswith(("-", "\u2010"))):
                phrases.append(" ".join(one[-2:] + two[:2]))
    assert len(phrases) > 10
    missing = [p for p in phrases if p not in chunks]
    assert not missing, f"the leak check does not read {missing[:3]}"


# --------------------------------------------------------------------------------------------
# Placeholders and stand-ins under strict_metadata


def test_the_package_lists_placeholders_with_file_and_field(package):
    notes = "\n".join(package["notes"])
    assert "templates/submission/cover_letter.md.j2, field 'DATE'" in notes
    assert "field 'authors[0].name': 'A. Author' looks like a stand-in" in notes
    assert "field 'authors[0].email': 'a.author@example.org'" in notes
    assert "field 'affiliations[0].name': 'Replication team'" in notes


@pytest.mark.parametrize("kind", ["cover letter", "title page", "author", "affiliation",
                                  "address"])
def test_strict_package_stops_on_each_placeholder_kind_naming_file_and_field(
        package, tmp_path, kind):
    kwargs = package["kwargs"]
    project = tmp_path / "project"
    shutil.copytree(kwargs["_project"], project)
    metadata = project / paths.METADATA["replication"]
    meta = yaml.safe_load(metadata.read_text())
    real = {"name": "Maria Lopez", "email": "m.lopez@hospital.es"}
    meta["authors"] = [{**a, **real} for a in meta["authors"]]
    meta["affiliations"] = [{"id": 1, "name": "Paediatric HSCT Unit, Hospital Sant Joan"}]
    cover = project / "templates" / "submission" / "cover_letter.md.j2"
    lines = [line for line in cover.read_text().splitlines()
             if not line.startswith("[")]  # the letter's own placeholders taken out
    cover.write_text("\n".join(lines).replace("Dear [EDITOR: the name of the editor-in-chief "
                                              "or handling editor],", "Dear Editor,") + "\n")
    expected = {
        "cover letter": ("templates/submission/cover_letter.md.j2", "'SIGNATURE'"),
        "title page": ("templates/submission/title_page.md.j2", "'ORCID'"),
        "author": (paths.METADATA["replication"], "'authors[0].name'"),
        "affiliation": (paths.METADATA["replication"], "'affiliations[0].name'"),
        "address": (paths.METADATA["replication"], "'authors[0].email'"),
    }[kind]
    if kind == "cover letter":
        cover.write_text(cover.read_text() + "\n[SIGNATURE: sign here]\n")
    elif kind == "title page":
        page = project / "templates" / "submission" / "title_page.md.j2"
        page.write_text(page.read_text() + "\n[ORCID: add each author's ORCID iD]\n")
    elif kind == "author":
        meta["authors"][0]["name"] = "Author One"
    elif kind == "affiliation":
        meta["affiliations"][0]["name"] = "Replication team"
    else:
        meta["authors"][0]["email"] = "first@example.com"
    metadata.write_text(yaml.safe_dump(meta, allow_unicode=True))
    moved = {k: str(v).replace(str(kwargs["_project"]), str(project))
             if isinstance(v, str) else v for k, v in kwargs.items()}
    moved["_project"] = project
    moved["figures"] = [p.replace(str(kwargs["_project"]), str(project))
                        for p in kwargs["figures"]]
    moved["figure_facts"] = [p.replace(str(kwargs["_project"]), str(project))
                             for p in kwargs["figure_facts"]]
    out = tmp_path / "out"
    args = _submission_args(moved, out, BMT)
    with pytest.raises(PipelineError, match="strict_metadata: true") as error:
        run_submission(**{**args, "strict_metadata": True})
    message = str(error.value)
    file, field = expected
    assert any(file in line and f"field {field}" in line
               for line in message.splitlines()), message
    assert not [p for p in out.glob("*") if p.is_file()], "no partial package"


def test_invented_metadata_and_a_real_one():
    fake = {"authors": [{"name": "A. Author", "email": "a.author@example.org"},
                        {"name": "Author Two", "email": ""}, {"name": "Jane Doe"}],
            "affiliations": [{"id": 1, "name": "Replication team"}]}
    assert [f for f, _ in invented_metadata(fake)] == [
        "authors[0].name", "authors[0].email", "authors[1].name", "authors[2].name",
        "affiliations[0].name"]
    real = {"authors": [{"name": "Ana Authorsen", "email": "ana@example.es"}],
            "affiliations": [{"id": 1, "name": "Hospital Universitari Vall d'Hebron"}]}
    assert invented_metadata(real) == []


# --------------------------------------------------------------------------------------------
# Title numbers, running title, figure order, a/an


def test_a_number_in_the_title_the_data_contradict_is_reported():
    meta = {"title": "CMV hyperimmune globulin in 40 children after HSCT",
            "short_title": "CMVIG in forty paediatric patients"}
    assert title_numbers(meta, 40) == []
    lines = title_numbers(meta, 46)
    assert lines == [
        "field 'title' says '40 children', but the data have 46 patients "
        "(estimates.json#n_patients)",
        "field 'short_title' says 'forty paediatric patients', but the data have 46 patients "
        "(estimates.json#n_patients)"]
    assert title_numbers({"title": "Forty-six children given CMVIG"}, 46) == []
    assert title_numbers({"title": "Fifteen children given CMVIG"}, 14)
    assert title_numbers({"title": "A 10-year series of 12 children"}, 12) == []


def test_title_number_stops_the_strict_render(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    meta = yaml.safe_load(kwargs["_metadata"].read_text())
    n = kwargs["_estimates"]["n_patients"]
    meta["title"] = f"CMV hyperimmune globulin in {n + 25} children after HSCT"
    kwargs["_metadata"].write_text(yaml.safe_dump(meta, allow_unicode=True))
    notes = run_render(**stage_args(kwargs), html=str(tmp_path / "m.html"))
    assert any(f"'{n + 25} children'" in note and note.startswith("warning:") for note in notes)
    with pytest.raises(PipelineError, match=rf"field 'title' says '{n + 25} children', but the "
                                            rf"data have {n} patients"):
        run_render(**stage_args(kwargs, strict_metadata=True),
                   html=str(tmp_path / "strict.html"))


def test_running_title_word_limit_comes_from_the_profile():
    profile = load_profile(ROOT / paths.JOURNALS / "frontiers-in-pediatrics.yaml")
    assert profile["running_title"]["word_limit"] == 5
    seven = "CMVIG salvage therapy after paediatric HSCT (replication)"
    assert running_title_notes(seven, profile, False) == [
        "warning: the running title has 7 words, over the limit of 5 (Frontiers in "
        "Pediatrics): shorten short_title in the study's metadata"]
    with pytest.raises(PipelineError, match="running title has 7 words"):
        running_title_notes(seven, profile, True)
    shipped = yaml.safe_load((ROOT / paths.METADATA["replication"]).read_text())
    assert running_title_notes(shipped["short_title"], profile, True) == []


def test_figure_order_check_names_the_first_citation_out_of_order():
    good = ("<body><p>Patients (Table 1, Figure 1). Response (Figure 2A); survival (Figure 2B)."
            " Loads (Figure 3).</p><figure><figcaption>Figure 3. Loads.</figcaption></figure>"
            "</body>")
    assert figure_order_problem(good) is None
    bad = "<body><p>Patients (Figure 1). Loads (Figure 3). Response (Figure 2A).</p></body>"
    problem = figure_order_problem(bad)
    assert problem.startswith("Figure 3 is cited before Figure 2") and "Loads (Figure 3" in \
        problem


def test_a_template_citing_figure_3_first_fails_the_review_copy(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    text = kwargs["_templates"] / "text.j2"
    source = text.read_text()
    assert "follow-up. The probability of response" in source
    text.write_text(source.replace("follow-up. The probability of response",
                                   "follow-up (Figure 3). The probability of response", 1))
    notes = run_render(**stage_args(kwargs), html=str(tmp_path / "draft.html"))
    assert any(n.startswith("warning: Figure 3 is cited before Figure 2") for n in notes)
    with pytest.raises(PipelineError, match=r"Figure 3 is cited before Figure 2 \('….*"
                                            r"follow-up \(Figure 3"):
        run_render(**stage_args(kwargs, review_copy=True), html=str(tmp_path / "review.html"))


def test_shipped_templates_cite_figures_in_order(tmp_path):
    kwargs = make_project(tmp_path, abstract_like_cohort())
    html = tmp_path / "m.html"
    run_render(**stage_args(kwargs, review_copy=True), html=str(html))
    assert figure_order_problem(html.read_text()) is None


@pytest.mark.parametrize(("phrase", "article"), [
    ("Article", "an"), ("Original Article", "an"), ("Brief Research Report", "a"),
    ("unstructured", "an"), ("structured", "a"), ("HSCT", "an"), ("CMV", "a"),
    ("unit", "a"), ("European", "a"), ("hour", "an"), ("one-year", "a"), ("8-year", "an"),
    ("X-ray", "an"), ("Update", "an")])
def test_a_or_an_by_the_sound_of_the_next_word(phrase, article):
    assert indefinite_article(phrase) == article
    assert with_article(phrase) == f"{article} {phrase}"


def test_cover_letter_and_checklist_speak_the_profiles_grammar(package):
    with zipfile.ZipFile(package["args"]["cover_letter"]) as z:
        letter = re.sub(r"<[^>]+>", "", z.read("word/document.xml").decode())
    assert "as an Article in" in letter and "as a Article" not in letter
    text = "".join(p.extract_text() for p in PdfReader(package["args"]["checklist_pdf"]).pages)
    assert "An unstructured abstract" in " ".join(text.split())
    assert "A structured abstract" not in text


# --------------------------------------------------------------------------------------------
# Profiles


def test_each_profile_field_has_a_source_or_the_build_says_it_is_unchecked():
    bmt = unchecked_warning(ROOT / paths.JOURNALS / f"{BMT}.yaml")
    assert bmt and "is not checked against the journal's instructions" in bmt
    frontiers = load_profile(ROOT / paths.JOURNALS / "frontiers-in-pediatrics.yaml")
    for field, source in frontiers["sources"].items():
        assert source["url"].startswith("http") and source["section"], field
    assert "running_title.word_limit" in frontiers["sources"]
    assert frontiers["figures"]["embedded_in_manuscript"] is False
    assert frontiers["supplementary"]["in_manuscript"] is False
    assert unchecked_warning(ROOT / paths.JOURNALS / "frontiers-in-pediatrics.yaml").endswith(
        "3 of 15 fields not checked against the journal's instructions (review_copy, "
        "figures.format, figures.dpi): re-check them before submitting")
    tid = load_profile(ROOT / paths.JOURNALS / "transplant-infectious-disease.yaml")
    assert tid["name"] == "Transplant Infectious Disease"


def test_a_source_without_its_section_is_refused(tmp_path):
    profile = yaml.safe_load((ROOT / paths.JOURNALS / "frontiers-in-pediatrics.yaml")
                             .read_text())
    profile["sources"]["displays"] = {"url": "https://example.org/guide"}
    path = tmp_path / "j.yaml"
    path.write_text(yaml.safe_dump(profile))
    with pytest.raises(PipelineError, match=r"j\.yaml: sources must map fields .* to a url "
                                            r"and a section"):
        load_profile(path)
