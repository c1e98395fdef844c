"""A change to the code re-runs what it touches: the code each rule declares, the step runner,
and the code checksums of the provenance record and the manifest.

The end-to-end half (an edit to analysis.py or figure_style.py, then a dry run) shares the build of
tests/test_workflow.py; so does the edit to the statistics below.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from cmvig_report import paths
from cmvig_report.core.step import run, stage_arguments
from cmvig_report.errors import PipelineError
from cmvig_report.release import codebase
from cmvig_report.release.provenance import build_manifest, files_sha256, git_commit

ROOT = Path(__file__).resolve().parents[1]
# The module that holds the Kaplan-Meier landmark, as its dotted key in the package
# (paths.module_file): named once, so a move into a subpackage changes this line only.
KM_MODULE = "stats.survival"


def _rules() -> dict[str, str]:
    """Each rule of workflow/rules/*.smk and the text of its block, the figures' rules (made
    in a loop over paths.FIGURE_NAMES) with their names put in."""
    blocks = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = path.read_text(encoding="utf-8")
        for block in re.split(r"(?m)^(?=rule )", text)[1:]:
            blocks[re.match(r"rule (\w+):", block).group(1)] = block
        for made in re.findall(r"(?ms)^def figure_rule\(figure_name\):\n(.*?)(?=^\S)", text):
            for name in paths.FIGURE_NAMES:
                script = f'"../scripts/{name}.py"'
                blocks[name] = (made.replace("(figure_name)", f'("{name}")')
                                .replace('f"../scripts/{figure_name}.py"', script))
    return blocks


def test_every_rule_runs_its_own_script_and_declares_that_scripts_code():
    rules = _rules()
    assert {"clean_cohort", "estimates", "figure1", "figure2", "figure3", "publish"} <= set(rules)
    for rule, block in rules.items():
        assert f'code=codebase.stage_code("{rule}")' in block, rule
        assert re.search(rf'script:\n\s+"\.\./scripts/{rule}\.py"', block), rule
    scripts = {p.stem for p in (ROOT / paths.SCRIPTS).glob("*.py")}
    assert scripts == set(rules)  # no script without its rule


def test_the_code_of_a_rule_is_its_script_and_the_modules_it_imports():
    def modules(rule: str) -> set[str]:
        return {Path(f).stem for f in codebase.stage_code(rule, ROOT)[1:]}

    assert codebase.stage_code("estimates", ROOT)[0] == "workflow/scripts/estimates.py"
    estimates = modules("estimates")
    # analysis imports survival, table1 and printed_counts, which imports disclosure
    assert {"analysis", "survival", "table1", "printed_counts", "disclosure", "step",
            "__init__"} <= estimates
    assert not {"figure_style", "report", "cohort", "watch"} & estimates
    # each figure's step runs its own module and the shared style, not the other figure's
    assert {"figure1", "figure_style", "figure_flow", "step"} <= modules("figure1")
    assert {"figure2", "figure_style", "survival", "step"} <= modules("figure2")
    assert "figure2" not in modules("figure1") and "figure1" not in modules("figure2")
    for figure in ("figure1", "figure2"):
        assert not {"analysis", "report", "cohort"} & modules(figure)
    # the manuscript's PDF and checklist are imported inside functions: they count too
    assert {"report", "pdf", "checklist", "templating", "register"} <= modules("manuscript")
    assert all((ROOT / f).is_file() for f in codebase.stage_code("manuscript", ROOT))


def test_the_code_of_the_build_is_the_workflow_and_the_modules_it_runs():
    code = codebase.build_code(ROOT)
    assert code == sorted(code)
    assert {"Snakefile", "workflow/rules/common.smk", "workflow/scripts/estimates.py",
            "workflow/schemas/config.schema.yaml", "workflow/cmvig_report/stats/analysis.py",
            "workflow/cmvig_report/core/settings.py",  # imported by common.smk only
            "workflow/cmvig_report/release/codebase.py"} <= set(code)
    for rule in _rules():
        assert set(codebase.stage_code(rule, ROOT)) <= set(code), rule
    # tools beside the build (live preview, synthetic cohorts) are not the build's code
    assert not {f"workflow/cmvig_report/devtools/{m}.py" for m in ("watch", "preview", "synth",
                                                                    "bibtex")
                } & set(code)
    assert not any("/devtools/" in f for f in code)


def _package(root: Path, modules: dict[str, str]) -> Path:
    package = root / paths.PACKAGE
    package.mkdir(parents=True)
    for name, text in {"__init__": "", **modules}.items():
        (package / f"{name}.py").write_text(text, encoding="utf-8")
    return package


def test_imports_are_found_in_every_form_and_followed(tmp_path):
    _package(tmp_path, {
        "a": "from . import b, c\n",
        "b": "from .d import thing\n",
        "c": "def f():\n    from .e import late\n    import cmvig_report.f\n",
        "d": "import json\nthing = 1\n",
        "e": "from cmvig_report import g\nlate = 1\n",
        "f": "", "g": "", "unused": "",
    })
    scripts = tmp_path / paths.SCRIPTS
    scripts.mkdir()
    (scripts / "step_a.py").write_text("from cmvig_report.a import run\nrun(snakemake)\n")
    assert codebase.imported_modules(tmp_path / paths.module_file("a"), tmp_path) == {
        "__init__", "b", "c"}
    assert codebase.stage_code("step_a", tmp_path) == [
        "workflow/scripts/step_a.py",
        *(paths.module_file(m) for m in ("__init__", "a", "b", "c", "d", "e", "f", "g"))]
    # a rule file is not Python, but its one-line imports are read
    rules = tmp_path / "workflow" / "rules"
    rules.mkdir()
    (rules / "x.smk").write_text("from cmvig_report import g\n\nrule x:\n    input: 'a'\n")
    assert codebase.package_code(["workflow/rules/x.smk"], tmp_path) == [
        paths.module_file("__init__"), paths.module_file("g")]
    with pytest.raises(FileNotFoundError, match=r"workflow/scripts/renamed\.py"):
        codebase.stage_code("renamed", tmp_path)


def test_the_code_checksum_follows_every_file_and_can_be_recomputed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _package(tmp_path, {"analysis": "x = 1\n", "figures": "y = 2\n"})
    files = [paths.module_file("figures"), paths.module_file("analysis")]
    before = files_sha256(files)
    assert files_sha256(list(reversed(files))) == before  # a set of files: order-free
    lines = "".join(f"{hashlib.sha256(Path(f).read_bytes()).hexdigest()}  {f}\n"
                    for f in sorted(files))  # what `sha256sum FILES | sha256sum` hashes
    assert before == hashlib.sha256(lines.encode()).hexdigest()
    Path(files[1]).write_text("x = 1\n# a comment\n")
    assert files_sha256(files) != before
    Path(files[1]).write_text("x = 1\n")
    assert files_sha256(files) == before
    assert files_sha256(files[:1]) != before  # a file fewer


def test_the_manifest_records_the_code_by_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _package(tmp_path, {"analysis": "x = 1\n"})
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "text.j2").write_text("{{ x }}\n")
    code = [paths.module_file("__init__"), paths.module_file("analysis")]
    manifest = build_manifest({}, [], [], ["templates/text.j2"], code, "a" * 40)
    assert manifest["code"] == {f: hashlib.sha256(Path(f).read_bytes()).hexdigest()
                                for f in code}
    assert manifest["code_sha256"] == files_sha256(code)
    assert manifest["templates_sha256"] == files_sha256(["templates/text.j2"])
    assert manifest["git_commit"] == "a" * 40
    assert str(tmp_path) not in repr(manifest)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                          cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def test_git_commit_is_head_of_a_checkout_and_none_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # never a repo around tmp
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git_commit(plain) is None
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    assert git_commit(repo) is None  # no commit yet
    (repo / "Snakefile").write_text("# a workflow\n")
    _git(repo, "add", "Snakefile")
    _git(repo, "commit", "-q", "-m", "first")
    assert git_commit(repo) == _git(repo, "rev-parse", "HEAD")
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-bin"))  # git not installed
    assert git_commit(repo) is None


def _fake_snakemake(tmp_path: Path, **overrides) -> SimpleNamespace:
    """What a rule's script receives, as far as the step runner reads it."""
    return SimpleNamespace(**{
        "rule": "estimates",
        "input": {"cohort": "results/cohort.csv", "code": ["workflow/scripts/estimates.py"]},
        "output": {"estimates": "results/estimates.json"},
        "params": {"response_day": 50},
        "wildcards": {"centre": "north"},
        "threads": 2,
        "resources": {"_cores": 2, "_nodes": 1, "mem_mb": 512, "tmpdir": "/tmp"},
        "log": [str(tmp_path / "logs" / "estimates.log")],
        **overrides})


def test_the_runner_passes_wildcards_threads_and_resources_a_stage_names(tmp_path):
    received = {}

    def stage(*, cohort, estimates, response_day, centre, threads, resources):
        received.update(cohort=cohort, estimates=estimates, response_day=response_day,
                        centre=centre, threads=threads, resources=resources)

    run(_fake_snakemake(tmp_path), stage)
    assert received == {"cohort": "results/cohort.csv", "estimates": "results/estimates.json",
                        "response_day": 50, "centre": "north", "threads": 2,
                        "resources": {"mem_mb": 512, "tmpdir": "/tmp"}}
    log = (tmp_path / "logs" / "estimates.log").read_text()
    assert "centre=north" in log and "finished with status 0" in log


def test_the_runner_passes_only_what_a_stage_names(tmp_path):
    def plain(*, cohort, estimates, response_day):
        return ["ran"]

    def by_role(*, estimates, **inputs):  # records every other argument, as provenance does
        return []

    smk = _fake_snakemake(tmp_path)
    assert stage_arguments(smk, plain) == {"cohort": "results/cohort.csv",
                                           "estimates": "results/estimates.json",
                                           "response_day": 50}
    assert set(stage_arguments(smk, by_role)) == {"cohort", "estimates", "response_day"}
    run(smk, plain)  # no TypeError: nothing it does not name, and no `code`


def test_a_wildcard_named_like_an_input_is_refused(tmp_path):
    def stage(*, cohort, estimates, response_day):
        return []

    smk = _fake_snakemake(tmp_path, wildcards={"cohort": "north"})
    with pytest.raises(ValueError, match="'cohort' twice"):
        stage_arguments(smk, stage)


def test_a_stage_error_ends_the_step_with_status_1(tmp_path, capsys):
    def stage(*, cohort, estimates, response_day):
        raise PipelineError("results/cohort.csv: no patients")

    with pytest.raises(SystemExit) as stopped:
        run(_fake_snakemake(tmp_path), stage)
    assert stopped.value.code == 1
    assert "error in step 'estimates':\nresults/cohort.csv: no patients" in capsys.readouterr().err


def test_imports_in_subpackages_are_followed_with_every_package_init(tmp_path):
    """A module moved into a subpackage is still part of the code of the steps that import it,
    whichever way it is imported, and so is the ``__init__`` of each package on the way."""
    package = _package(tmp_path, {"io": "", "unused": ""})
    for folder, modules in {
        "stats": {"__init__": "", "km": "from ..io import read\nfrom .greenwood import var\n",
                  "greenwood": "", "unused": ""},
        "stats/deep": {"__init__": "from ... import io\n", "leaf": ""},
        "render": {"__init__": "from .pdf import x\n", "pdf": ""},
    }.items():
        (package / folder).mkdir()
        for name, text in modules.items():
            (package / folder / f"{name}.py").write_text(text, encoding="utf-8")
    scripts = tmp_path / paths.SCRIPTS
    scripts.mkdir()
    (scripts / "step_km.py").write_text("from cmvig_report.stats.km import fit\n")
    (scripts / "step_leaf.py").write_text("import cmvig_report.stats.deep.leaf\n")
    (scripts / "step_render.py").write_text("from cmvig_report import render\n")
    assert codebase.stage_code("step_km", tmp_path) == [
        "workflow/scripts/step_km.py",
        *sorted(paths.module_file(m) for m in (
            "__init__", "io", "stats.__init__", "stats.km", "stats.greenwood"))]
    assert codebase.stage_code("step_leaf", tmp_path)[1:] == sorted(paths.module_file(m) for m in (
        "__init__", "io", "stats.__init__", "stats.deep.__init__", "stats.deep.leaf"))
    # a subpackage imported by name brings its __init__ and what that imports
    assert codebase.stage_code("step_render", tmp_path)[1:] == sorted(
        paths.module_file(m) for m in ("__init__", "render.__init__", "render.pdf"))
    assert paths.module_file("stats.km") == "workflow/cmvig_report/stats/km.py"
    assert all((tmp_path / f).is_file() for f in codebase.stage_code("step_leaf", tmp_path))


def test_the_statistics_module_is_part_of_the_estimates_code():
    km = paths.module_file(KM_MODULE)
    assert "def km_landmark(" in (ROOT / km).read_text(encoding="utf-8")
    assert km in codebase.stage_code("estimates", ROOT)
    assert km not in codebase.stage_code("clean_cohort", ROOT)


@pytest.mark.e2e
def test_editing_the_statistics_reruns_the_estimates_and_what_follows(shipped_clone):
    from test_workflow import RENDER_RULES, _scheduled

    path = shipped_clone / paths.module_file(KM_MODULE)
    path.write_text(path.read_text(encoding="utf-8") + "\n# a developer's edit\n",
                    encoding="utf-8")
    scheduled = _scheduled(shipped_clone)
    # the estimates, the figure drawn from the curves, and every renderer below them
    assert {"estimates", "figure2"} | RENDER_RULES <= scheduled
    assert "clean_cohort" not in scheduled  # the cleaning does not run the statistics
