"""The leak check of the files a multi-centre build shares: a centre's bundle, and the pooled
manuscript (HTML and PDF), on a centre whose export carries identifying patient IDs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from r_pooled import CONFIG

from cmvig_report import paths
from cmvig_report.centres import federated
from cmvig_report.centres.pooled_report import run_pooled_manuscript, run_publish_pooled
from cmvig_report.data.cohort import run_cohort
from cmvig_report.devtools.synth import generate_cohort, write_cohort
from cmvig_report.errors import PipelineError
from cmvig_report.render.pdf import html_to_pdf
from cmvig_report.render.quarto import html_to_docx

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = [str(ROOT / f) for f in paths.template_files("pooled", ROOT)]
CAUSES = CONFIG["cause_of_death_categories"]
FORMATS = ("html", "pdf", "docx", "csv")  # the manuscript in each format, and numbers.csv


@pytest.fixture(scope="module")
def centre(tmp_path_factory) -> dict[str, Path]:
    """One centre whose export uses hospital record numbers as patient IDs, cleaned, with its
    bundle staged: every file of the centre's part of the DAG."""
    root = tmp_path_factory.mktemp("centre")
    patients, viral_loads = generate_cohort(40, 21)
    mrn = {pid: f"MRN{4711000 + k}" for k, pid in enumerate(patients["patient_id"])}
    patients["patient_id"] = patients["patient_id"].map(mrn)
    viral_loads["patient_id"] = viral_loads["patient_id"].map(mrn)
    exports = write_cohort(patients, viral_loads, root / "data" / "hospital-a")
    f = {"patients": exports[0], "viral_loads": exports[1], "root": root,
         **{k: root / "results" / name for k, name in (
             ("cohort", "cohort.csv"), ("clean_viral_loads", "viral_loads.csv"),
             ("cleaning_log", "cleaning_log.csv"), ("data_quality", "data_quality.csv"),
             ("study_number_map", "study_numbers.csv"))}}
    run_cohort(patients=str(f["patients"]), viral_loads=str(f["viral_loads"]), sheet=0,
               lloq=CONFIG["lloq_iu_ml"], cause_categories=CAUSES, study_period="",
               cohort=str(f["cohort"]), clean_viral_loads=str(f["clean_viral_loads"]),
               cleaning_log=str(f["cleaning_log"]), data_quality=str(f["data_quality"]),
               study_number_map=str(f["study_number_map"]))
    f["staged"] = root / "unchecked" / "hospital-a" / "aggregate.json"
    f["staged"].parent.mkdir(parents=True)
    federated.stage_bundle(cohort=str(f["cohort"]), patients=str(f["patients"]),
                           viral_loads=str(f["viral_loads"]), centre="hospital-a", unit="day",
                           response_day=CONFIG["response_day"], min_cell_count=0,
                           staged=str(f["staged"]))
    f["ids"] = list(mrn.values())
    return f


def _publish_bundle(centre: dict, staged: Path, published: Path) -> list[str]:
    return federated.publish_bundle(
        staged=str(staged), cohort=str(centre["cohort"]),
        clean_viral_loads=str(centre["clean_viral_loads"]),
        input_paths=[str(centre["patients"]), str(centre["viral_loads"])],
        cause_categories=CAUSES, published=str(published))


def test_a_bundle_of_an_identifying_export_passes_the_leak_check(centre, tmp_path):
    published = tmp_path / "report" / "hospital-a" / "aggregate.json"
    _publish_bundle(centre, centre["staged"], published)
    text = published.read_text(encoding="utf-8")
    assert text == centre["staged"].read_text(encoding="utf-8")
    assert not any(pid in text for pid in centre["ids"])


@pytest.mark.parametrize("planted", ["id", "date", "path"])
def test_a_bundle_with_an_id_a_date_or_a_path_is_refused(centre, tmp_path, planted):
    bundle = json.loads(centre["staged"].read_text(encoding="utf-8"))
    a_date = re.search(r"\d{4}-\d{2}-\d{2}", centre["cohort"].read_text(encoding="utf-8"))
    value = {"id": centre["ids"][0], "date": a_date.group(0),
             "path": str(centre["patients"])}[planted]
    bundle["software"]["note"] = value
    staged = tmp_path / "staged" / "aggregate.json"
    staged.parent.mkdir()
    staged.write_text(json.dumps(bundle), encoding="utf-8")
    published = tmp_path / "report" / "aggregate.json"
    with pytest.raises(PipelineError):
        _publish_bundle(centre, staged, published)
    assert not published.exists()


@pytest.fixture()
def pooled_manuscript(centre, tmp_path) -> dict[str, Path]:
    """The pooled manuscript of the centre's bundle, staged (HTML, PDF, DOCX and its
    register of printed numbers)."""
    bundle = tmp_path / "received" / "hospital-a" / "aggregate.json"
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(centre["staged"].read_bytes())
    out = {k: tmp_path / "unchecked" / (f"manuscript.{k}" if k != "csv" else "numbers.csv")
           for k in FORMATS}
    federated.run_pooled(bundles=[str(bundle)], response_day=CONFIG["response_day"],
                         os_cmvig_day=CONFIG["os_cmvig_day"], os_hsct_day=CONFIG["os_hsct_day"],
                         estimates=str(tmp_path / "estimates.json"),
                         forest=str(tmp_path / "forest.svg"),
                         forest_png=str(tmp_path / "forest.png"))
    run_pooled_manuscript(estimates=str(tmp_path / "estimates.json"),
                          forest=str(tmp_path / "forest.svg"),
                          forest_png=str(tmp_path / "forest.png"), template_files=TEMPLATES,
                          html=str(out["html"]), pdf=str(out["pdf"]), docx=str(out["docx"]),
                          numbers=str(out["csv"]),
                          bibliography=str(ROOT / "templates" / "references.bib"),
                          journal=str(ROOT / paths.JOURNALS / f"{CONFIG['journal']}.yaml"))
    return out


def _publish_pooled(centre: dict, staged: dict, report: Path) -> list[Path]:
    published = [report / staged[k].name for k in FORMATS]
    run_publish_pooled(staged=[str(staged[k]) for k in FORMATS],
                       cohorts=[str(centre["cohort"])],
                       clean_viral_loads=[str(centre["clean_viral_loads"])],
                       template_files=TEMPLATES,
                       input_paths=[str(centre["patients"]), str(centre["viral_loads"])],
                       cause_categories=CAUSES, published=[str(p) for p in published])
    return published


def test_the_pooled_manuscript_passes_and_is_published_in_both_formats(
        centre, pooled_manuscript, tmp_path):
    published = _publish_pooled(centre, pooled_manuscript, tmp_path / "report")
    assert [p.read_bytes() for p in published] == [
        pooled_manuscript[k].read_bytes() for k in FORMATS]


@pytest.mark.parametrize("where", FORMATS)
def test_a_patient_id_in_any_format_of_the_pooled_manuscript_stops_publishing_all(
        centre, pooled_manuscript, tmp_path, where):
    html = pooled_manuscript["html"].read_text(encoding="utf-8")
    # inside <main>, where the manuscript's text is (pandoc reads no further)
    leaky = html.replace("</main>", f"<p>{centre['ids'][3]}</p></main>")
    if where == "html":
        pooled_manuscript["html"].write_text(leaky, encoding="utf-8")
    elif where == "pdf":  # only the PDF carries it: the check reads the PDF's text
        pdf, _, _ = html_to_pdf(leaky, tmp_path, tmp_path)
        pooled_manuscript["pdf"].write_bytes(pdf)
    elif where == "docx":
        html_to_docx(leaky, str(pooled_manuscript["docx"]), tmp_path, None)
    else:  # the register of printed numbers
        with pooled_manuscript["csv"].open("a", encoding="utf-8") as fh:
            fh.write(f"Results,,{centre['ids'][3]},estimates.json#n_patients,,,,\n")
    report = tmp_path / "report"
    with pytest.raises(PipelineError, match=centre["ids"][3]):
        _publish_pooled(centre, pooled_manuscript, report)
    assert not report.exists()
    assert not any(pooled_manuscript[k].exists() for k in FORMATS)


def test_an_input_in_a_folder_the_register_names_does_not_stop_the_pooled_manuscript(
        centre, pooled_manuscript, tmp_path):
    # the register's tooltips name config/config.yaml; the centres' sheet is config/centres.tsv:
    # with the single manuscript's words among its own (the rule's template_files), "config" is
    # prose, as it is for the single manuscript
    from cmvig_report.core import settings

    html = pooled_manuscript["html"].read_text(encoding="utf-8")
    assert "config/config.yaml" in html
    published = [tmp_path / "report" / pooled_manuscript[k].name for k in FORMATS]
    own = sorted({*TEMPLATES, *(str(ROOT / f) for f in settings.own_text_files(CONFIG, root=ROOT))})
    run_publish_pooled(staged=[str(pooled_manuscript[k]) for k in FORMATS],
                       cohorts=[str(centre["cohort"])],
                       clean_viral_loads=[str(centre["clean_viral_loads"])],
                       template_files=own, input_paths=["config/centres.tsv"],
                       cause_categories=CAUSES, published=[str(p) for p in published])
    assert all(p.is_file() for p in published)
