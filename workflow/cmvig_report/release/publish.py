"""The check that refuses to leak: staged manuscript files reach ``report/`` only if clean.

The rendering steps write the manuscript (every format) and its companions to
``results/unchecked/``, inside the data-protection boundary. This step reads what identifies a
patient from the cleaned cohort (IDs, every calendar date, the raw causes of death) and the
config (input paths), scans every staged file and every figure SVG with :mod:`.leaks`, and then
either copies the staged files to ``report/`` or stops with one line per hit. On a hit the
staged files are deleted as well, so no half-checked manuscript remains anywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import PipelineError
from ..privacy.leak_terms import Sensitive, manuscript_words, own_text
from ..privacy.leaks import scan_outputs
from .provenance import build_manifest, git_commit
from .report_folder import record_package, settle

DATE_COLUMNS = ("hsct_date", "cmvig_start_date", "last_followup_date", "response_date")


def _dates(values: Iterable[str]) -> set[dt.date]:
    out = set()
    for text in values:
        if text:
            try:
                out.add(dt.date.fromisoformat(text))
            except ValueError:
                continue
    return out


def sensitive_terms(cohort: str | Path, viral_loads: str | Path, input_paths: Sequence[str],
                    vocabulary: Iterable[str], template_files: Sequence[str] = ()
                    ) -> Sensitive:
    """What must not appear in a shareable output, read from the cleaned cohort and samples.

    ``template_files`` give the manuscript's own words: a folder name or free text made only
    of them ("own", "review") cannot be told apart from the prose and is reported instead of
    searched."""
    vocabulary = list(vocabulary)
    ids: set[str] = set()
    dates: set[dt.date] = set()
    free_texts: set[str] = set()
    with open(cohort, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            ids.add(row["patient_id"])
            dates |= _dates(row.get(c, "") for c in DATE_COLUMNS)
            if row.get("cause_of_death"):
                free_texts.add(row["cause_of_death"])
    with open(viral_loads, encoding="utf-8", newline="") as fh:
        # hundreds of thousands of rows and a few thousand distinct dates: collect them first
        rows = csv.reader(fh)
        column = next(rows).index("sample_date")
        dates |= _dates({row[column] for row in rows})
    return Sensitive(patient_ids=frozenset(ids), dates=frozenset(dates),
                     paths=input_path_terms(input_paths),
                     free_texts=frozenset(free_texts), vocabulary=frozenset(vocabulary),
                     words=manuscript_words([*own_text(template_files), *vocabulary]))


def input_path_terms(input_paths: Sequence[str]) -> tuple[str, ...]:
    """The input paths to search for: each as given and resolved."""
    return tuple(p for path in input_paths if path
                 for p in dict.fromkeys([path, str(Path(path).resolve())]))


def check_and_publish(staged: Sequence[str], published: Sequence[str], also_scan: Sequence[str],
                      sensitive: Sensitive) -> list[str]:
    """Scan ``staged`` and ``also_scan`` (the figures); copy ``staged[i]`` to ``published[i]``
    when nothing is found, else delete the staged files and raise one line per hit."""
    hits, unchecked = scan_outputs([*staged, *also_scan], sensitive)
    if hits:
        for path in staged:
            Path(path).unlink(missing_ok=True)
        shown = [str(h) for h in hits[:50]]
        more = [f"... and {len(hits) - 50} more"] if len(hits) > 50 else []
        raise PipelineError(
            f"identifying information found in {len({h.output for h in hits})} shareable "
            f"output(s); nothing was published to report/:\n  " + "\n  ".join(shown + more))
    for src, dest in zip(staged, published, strict=True):
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(dest).with_name(f".{Path(dest).name}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dest)
    return summarise_unchecked(unchecked, also_scan)


def summarise_unchecked(notes: Sequence[str], scanned: Sequence[str]) -> list[str]:
    """One line for the terms that cannot be told apart from ordinary text, grouped by why,
    and one per binary file that is not covered by a scanned source (a PNG whose SVG was
    scanned is)."""
    why: dict[str, list[str]] = {}
    for note in notes:
        if "binary file" in note:
            continue
        # "<kind> '<term>' <reason>: not checked"
        match = re.fullmatch(r"(.*? '.*?') (.*?)(?:: not checked)?", note)
        term, reason = match.groups() if match else (note, "")
        why.setdefault(reason.removeprefix("is ").removeprefix("has "), []).append(term)
    sources = {Path(p).stem for p in scanned}
    binaries = [n for n in notes if "binary file" in n
                and Path(n.split(":", 1)[0]).stem not in sources]
    out = [f"not checkable: {'; '.join(terms)} ({reason})" for reason, terms in why.items()]
    return out + [f"not checked: {n}" for n in binaries]


def run_publish(*, staged: list[str], figures: list[str], cohort: str, clean_viral_loads: str,
                template_files: list[str], input_paths: list[str],
                cause_categories: dict[str, list[str]], published: list[str]) -> list[str]:
    """Step ``publish_submission`` (and the first half of ``publish``): the leak check, then
    the files into ``report/``; notes any file in ``report/`` that this step did not publish."""
    sensitive = sensitive_terms(cohort, clean_viral_loads, input_paths, cause_categories,
                                template_files)
    notes = check_and_publish(staged, published, figures, sensitive)
    return notes + [f"{len(published)} files checked and published; no patient ID, date, "
                    "input path or raw free text found"]


def run_publish_submission(*, staged: list[str], figures: list[str], cohort: str,
                           clean_viral_loads: str, template_files: list[str],
                           input_paths: list[str], cause_categories: dict[str, list[str]],
                           published: list[str], manifest: str, record: str) -> list[str]:
    """Step ``publish_submission``: :func:`run_publish` for the package, then the package
    added to ``report/manifest.json`` and ``record`` (:func:`.report_folder.record_package`)."""
    notes = run_publish(staged=staged, figures=figures, cohort=cohort,
                        clean_viral_loads=clean_viral_loads, template_files=template_files,
                        input_paths=input_paths, cause_categories=cause_categories,
                        published=published)
    return notes + record_package(manifest, published, record)


def run_publish_and_manifest(*, staged: list[str], figures: list[str], cohort: str,
                             clean_viral_loads: str, template_files: list[str],
                             provenance: str, results: list[str],
                             all_template_files: list[str], code_files: list[str],
                             input_paths: list[str], cause_categories: dict[str, list[str]],
                             published: list[str], manifest: str, others: list[str] = (),
                             submission: list[str] = (), owned: list[str] = ()) -> list[str]:
    """Step ``publish``: :func:`run_publish` for the manuscript's files, then
    ``report/manifest.json`` (the checksums of the build, :func:`.provenance.build_manifest`),
    in the same step: it ran right after it as a step of its own. Last, ``report/`` is left
    holding this build's files only (:func:`.report_folder.settle`): these, ``others`` (the
    centres' bundles and the pooled manuscript, published before it), the ``submission``
    package while it is this build's, and the folders ``owned`` by other exports' publish
    steps (each centre's report folder)."""
    notes = run_publish(staged=staged, figures=figures, cohort=cohort,
                        clean_viral_loads=clean_viral_loads, template_files=template_files,
                        input_paths=input_paths, cause_categories=cause_categories,
                        published=published)
    record = build_manifest(json.loads(Path(provenance).read_text(encoding="utf-8")), results,
                            published, all_template_files, code_files, git_commit())
    return notes + settle(record, manifest, published, others, submission, owned=owned)
