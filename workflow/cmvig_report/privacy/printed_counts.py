"""Every count of patients that the shareable outputs print, and the sums that tie them.

Small-cell control (config ``min_cell_count``) must see Table 1, the text and Figure 1 together:
the same quantity appears in several of them (a group's n is Table 1's header, a sentence of the
abstract and a box of the flow diagram), and a count hidden in one place must not be printed, or
worked out from a total, in another. So each quantity has one cell name (``disclosure.cell_name``,
shared with Table 1), and :func:`disclosure_plan` hides cells over the union of their sums.
Counts a reader can work out without their being printed (the children alive, those who never
responded, those without a given drug) are cells too, so a small one is protected like the rest.

Kaplan–Meier estimates, their intervals and the numbers at risk under Figure 2 are not cells:
every step of a curve is an event, so the curve itself shows them (docs/disclosure.md). An
estimate that would give a hidden count back is withheld with it (:mod:`.printed_estimates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..data.clinical import antivirals_given, clinical_record, reaction_grades
from ..data.endpoints import responded_by
from ..data.groups import COLUMNS, GROUPS, by_column
from ..stats.table1 import CLINICAL_VARIABLES, DOSE_UNIT_LABEL, MISSING_LEVEL, categorical_counts
from . import disclosure as dc


def _name(variable: str, level: str, group: str = "overall") -> str:
    return dc.cell_name(variable, level, group)


def size(group: str) -> str:
    """The cell of a column's n (Table 1's header, ``infection_type`` in estimates.json)."""
    return dc.group_size_name(group)


ANTIVIRALS = "Antivirals before CMVIG"  # Table 1's label of the multi-select variable
# Cells of the text, by quantity; per group where Figure 1 prints them by group.
RESPONDERS = ("Responders (any time)", "yes")
NON_RESPONDERS = ("Responders (any time)", "no")
REACTION = ("Infusion-related adverse event", "yes")
NO_REACTION = ("Infusion-related adverse event", "no")
DIED = ("Deaths", "all causes")
ALIVE = ("Deaths", "alive")
CMV_DEATH = ("Deaths", "CMV-related")
OTHER_DEATH = ("Deaths", "other causes")
# The claims' counts of antivirals before or at the first dose (claims.py, clinical.py).
ANTIVIRAL_GIVEN = ("Antiviral before or at CMVIG", "given")
ANTIVIRAL_NONE = ("Antiviral before or at CMVIG", "none")
ANTIVIRAL_UNKNOWN = ("Antiviral before or at CMVIG", MISSING_LEVEL)
QUANTIFIABLE = ("Viral load at CMVIG start", "quantifiable")
NOT_QUANTIFIABLE = ("Viral load at CMVIG start", "not quantifiable")
# The counts behind a Kaplan-Meier landmark (estimates.json blocks with these keys).
LANDMARK_COUNTS = ("n", "at_risk", "events", "competing", "censored", "not_yet_entered")


def cell(quantity: tuple[str, str], group: str = "overall") -> str:
    """The cell name of a quantity of the text (``DIED``, ``ALIVE``, ...) in one group."""
    return _name(*quantity, group)


def drug_cell(drug: str, group: str) -> str:
    """The Table 1 cell of an antiviral (as the cohort spells it) in one group."""
    return _name(ANTIVIRALS, drug[:1].upper() + drug[1:], group)


def by_day(day: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """The cells of responded / not responded by the landmark ``day`` (crude counts)."""
    label = f"Response by day {day}"
    return (label, "yes"), (label, "no")


@dataclass
class Plan:
    """What to hide: cell name -> the mark printed instead, the estimates.json keys that
    print a hidden cell, and the log rows."""

    min_cell: int
    hidden: dict[str, str] = field(default_factory=dict)
    estimate_keys: dict[str, str] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)


def _sum(cells: dict[str, int], constraints: list[dc.Constraint], total: str,
         parts: dict[str, int], label: str) -> None:
    cells.update(parts)
    constraints.append(dc.Constraint(total, tuple(parts), label))


def catalogue(cohort: pd.DataFrame, response_day: int,
              data_quality: Mapping[str, int] | None = None
              ) -> tuple[dict[str, int], list[dc.Constraint], dict[str, str], dict[str, str]]:
    """All printed counts: (cells, sums, estimates key -> cell, cell -> where it is printed)."""
    c = cohort
    groups = by_column(c)
    cells: dict[str, int] = {size(g): len(d) for g, d in groups.items()}
    # a column's n heads Table 1 and a box of the flow diagram
    where: dict[str, str] = {size(g): "Table 1; Figure 1" for g in COLUMNS}
    sums: list[dc.Constraint] = []
    _sum(cells, sums, size("overall"), {size(g): len(groups[g]) for g in GROUPS},
         "patients = recurrent + refractory")

    for var in categorical_counts(c):
        for level in var.levels:
            row = {_name(var.label, level, g): var.counts[g][level] for g in GROUPS}
            _sum(cells, sums, _name(var.label, level), row, f"Table 1, {var.label}, {level}")
            cells[_name(var.label, level)] = var.counts["overall"][level]
            for g in COLUMNS:
                where[_name(var.label, level, g)] = "Table 1"
                if var.multi:  # a patient has the drug or not: the "not" is known
                    without = _name(var.label, f"not {level}", g)
                    _sum(cells, sums, size(g), {_name(var.label, level, g):
                                                var.counts[g][level],
                                                without: len(groups[g]) - var.counts[g][level]},
                         f"Table 1, {var.label}, {level} or not ({g})")
        if not var.multi:
            for g in COLUMNS:
                _sum(cells, sums, size(g), {_name(var.label, lvl, g): var.counts[g][lvl]
                                            for lvl in var.levels},
                     f"Table 1, {var.label}, {g} column")

    yes_by, no_by = by_day(response_day)
    by_then = responded_by(c, response_day)
    dead = c["died"].astype(bool)
    flags = {
        RESPONDERS: c["responded"].astype(bool), NON_RESPONDERS: ~c["responded"].astype(bool),
        REACTION: c["infusion_reaction"].eq("yes"), NO_REACTION: c["infusion_reaction"].ne("yes"),
        DIED: dead, ALIVE: ~dead, yes_by: by_then,
        no_by: ~by_then,
        CMV_DEATH: dead & c["cmv_death"].astype(bool),
        OTHER_DEATH: dead & ~c["cmv_death"].astype(bool),
    }
    counts = {q: {g: int(f[groups[g].index].sum()) for g in COLUMNS} for q, f in flags.items()}
    for q in flags:
        _sum(cells, sums, _name(*q), {_name(*q, g): counts[q][g] for g in GROUPS},
             f"{q[0]}: {q[1]}, overall = recurrent + refractory")
        cells[_name(*q)] = counts[q]["overall"]
    for g in COLUMNS:
        for yes, no in ((RESPONDERS, NON_RESPONDERS), (REACTION, NO_REACTION), (DIED, ALIVE),
                        (yes_by, no_by)):
            _sum(cells, sums, size(g), {_name(*yes, g): counts[yes][g],
                                        _name(*no, g): counts[no][g]}, f"{yes[0]} ({g})")
        _sum(cells, sums, _name(*DIED, g), {_name(*CMV_DEATH, g): counts[CMV_DEATH][g],
                                            _name(*OTHER_DEATH, g): counts[OTHER_DEATH][g]},
             f"deaths by relation to CMV ({g})")
        for q in (yes_by, no_by, ALIVE, DIED, CMV_DEATH, OTHER_DEATH):
            where[_name(*q, g)] = "Figure 1" if g != "overall" else "text; Figure 1"

    quantifiable = c["viral_load_at_cmvig"].notna()
    _sum(cells, sums, size("overall"), {_name(*QUANTIFIABLE): int(quantifiable.sum()),
                                        _name(*NOT_QUANTIFIABLE): int((~quantifiable).sum())},
         "viral load at CMVIG start quantifiable or not")
    where[_name(*QUANTIFIABLE)] = "text"

    clinical_keys = _clinical_cells(c, cells, sums)

    deaths = c[dead]
    causes = deaths["cause_of_death_category"].value_counts()
    _sum(cells, sums, _name(*DIED), {_name("Cause of death", str(k)): int(v)
                                     for k, v in causes.items()}, "deaths by cause")
    cmv_causes = deaths.loc[deaths["cmv_death"].astype(bool),
                            "cause_of_death_category"].value_counts()
    _sum(cells, sums, _name(*CMV_DEATH), {_name("CMV-related cause of death", str(k)): int(v)
                                          for k, v in cmv_causes.items()},
         "CMV-related deaths by cause")
    grades = reaction_grades(c).get("grades", {})
    if grades:
        _sum(cells, sums, _name(*REACTION), {_name("Infusion reaction grade", g): k
                                             for g, k in grades.items()},
             "infusion reactions by CTCAE grade")
    for check, k in (data_quality or {}).items():
        _sum(cells, sums, size("overall"), {_name("Data quality", check): int(k),
                                            _name("Data quality", f"not {check}"): len(c) - k},
             f"data quality check {check}")

    keys = {
        "n_patients": size("overall"),
        **{f"infection_type.{g}": size(g) for g in GROUPS},
        "n_responders": _name(*RESPONDERS),
        **{f"response_by_type.{g}.responders": _name(*RESPONDERS, g) for g in GROUPS},
        "infusion_reactions": _name(*REACTION),
        "infusion_reaction_rate.reactions": _name(*REACTION),
        "infusion_reaction_rate.n": size("overall"),
        "deaths.total": _name(*DIED), "deaths.cmv_related": _name(*CMV_DEATH),
        "deaths.other": _name(*OTHER_DEATH),
        **{f"deaths.causes.{k}": _name("Cause of death", str(k)) for k in causes.index},
        **{f"deaths.cmv_related_causes.{k}": _name("CMV-related cause of death", str(k))
           for k in cmv_causes.index},
        "sex.F": _name("Sex", "Female"), "sex.M": _name("Sex", "Male"),
        "crude_response.responders": _name(*yes_by), "crude_response.n": size("overall"),
        "viral_load_at_cmvig.n": _name(*QUANTIFIABLE),
        "viral_load_at_cmvig.log10.n": _name(*QUANTIFIABLE),
        **{f"infusion_reaction_rate.grades.{g}": _name("Infusion reaction grade", g)
           for g in grades},
        **{f"data_quality.{k}": _name("Data quality", k) for k in (data_quality or {})},
    }
    for cell in keys.values():
        where[cell] = _join(where.get(cell), "text")
    # The claims' counts print in the text but are no Table 1 counts: a centre's bundle, which
    # carries the printed counts (``where``), leaves them out (``disclosure_plan`` logs them).
    keys.update(clinical_keys)
    return cells, sums, keys, where


def _clinical_cells(c: pd.DataFrame, cells: dict[str, int], sums: list[dc.Constraint]
                    ) -> dict[str, str]:
    """The counts the claims read about the optional clinical facts (estimates key -> cell):
    children with an antiviral before or at the first dose (none, not recorded), and for each
    fact recorded the children without a value: Table 1's "not recorded" cell where it has
    one, a cell of its own (with its complement) where it has not (doses, multi-select)."""
    treated, unknown = antivirals_given(c)
    _sum(cells, sums, size("overall"), {_name(*ANTIVIRAL_GIVEN): int(treated.sum()),
                                        _name(*ANTIVIRAL_NONE): int((~treated & ~unknown).sum()),
                                        _name(*ANTIVIRAL_UNKNOWN): int(unknown.sum())},
         "antiviral before or at CMVIG: given, none, not recorded")
    keys = {"clinical.antivirals_given.children": _name(*ANTIVIRAL_GIVEN),
            "clinical.antivirals_given.not_recorded": _name(*ANTIVIRAL_UNKNOWN),
            "clinical.antivirals_given.n": size("overall")}
    labels = {col: label for col, label, *_ in CLINICAL_VARIABLES}
    for col, k in clinical_record(c)["missing"].items():
        missing = _name(labels[col], MISSING_LEVEL)
        if missing not in cells:
            _sum(cells, sums, size("overall"), {missing: k, _name(labels[col], "recorded"):
                                                len(c) - k}, f"{labels[col]} recorded or not")
        keys[f"clinical.missing.{col}"] = missing
    return keys


def _join(existing: str | None, more: str) -> str:
    parts = [p for p in (existing or "").split("; ") if p]
    return "; ".join(dict.fromkeys([*parts, more]))


def written_cells(estimates: Mapping[str, Any], min_cell: int) -> dict[str, str]:
    """The plan's hidden cells (cell name -> mark) as the estimates step wrote them
    (``estimates.json#disclosure.cells``), for the figure steps: the plan is made once, and
    Figures 1 and 3 hide the same counts as Table 1 and the text. ``min_cell`` is the figure
    step's own setting, which must be the one the estimates were planned with."""
    from ..errors import PipelineError

    if int(min_cell) <= 1:  # no small-cell control: nothing planned (disclosure_plan)
        return {}
    disclosure = estimates.get("disclosure") or {}
    planned = int(disclosure.get("min_cell_count") or 0)
    if planned != int(min_cell):
        raise PipelineError(f"estimates.json was planned with min_cell_count {planned}, the "
                            f"figure step has {int(min_cell)}: run the estimates step again")
    return dict(disclosure.get("cells") or {})


def disclosure_plan(cohort: pd.DataFrame, response_day: int, min_cell: int,
                    data_quality: Mapping[str, int] | None = None) -> Plan:
    """Which printed counts to hide for ``min_cell`` (0 = none), over all outputs at once."""
    plan = Plan(int(min_cell))
    if plan.min_cell <= 1:
        return plan
    cells, sums, keys, where = catalogue(cohort, response_day, data_quality)
    _, log = dc.suppress(cells, sums, plan.min_cell)
    marks = {s.name: s.mark(plan.min_cell) for s in log}
    # The rule above looks at one sum at a time; the audit looks at all of them together
    # (two "<5" that add up to a printed 8 are both 4) and hides further counts until no
    # hidden one can be narrowed (disclosure_audit).
    from .disclosure_audit import catalogue_model
    from .secondary_suppression import secure

    model = catalogue_model(cells, sums, marks, plan.min_cell, printed=where)
    # a "<N" that other outputs read as "a few children" (a group's size, the number of
    # quantifiable loads, a dose unit's children) keeps its mark
    keep = {size(g) for g in COLUMNS} | {_name(*QUANTIFIABLE)}
    relabel = [c for c in marks if c not in keep and not c.startswith(DOSE_UNIT_LABEL)]
    # the number of children is what every percentage is read against: never hidden here
    allowed = [c for c in cells if c != size("overall")]
    for name, why in secure(model, allowed, relabel=relabel):
        if name in marks:  # printed as "[c]" instead of "<N"
            log = [dc.Suppressed(s.name, s.value, why) if s.name == name else s for s in log]
        else:
            log.append(dc.Suppressed(name, cells[name], why))
        marks[name] = model.hidden[name]
    plan.hidden = dict(sorted(marks.items()))
    plan.estimate_keys = {key: plan.hidden[cell] for key, cell in keys.items()
                          if cell in plan.hidden}
    # Cells nobody prints (the "not" side of a sum) are hidden for the sums' sake; the log
    # says where each one would have shown.
    sources: dict[str, list[str]] = {}
    for key, cell in keys.items():
        sources.setdefault(cell, []).append(f"estimates.json#{key}")
    unprinted = "not printed (worked out from a total)"
    plan.log = [{**row, "output": where.get(s.name)
                 or ("text; claims.csv" if s.name in sources else unprinted),
                 "source": "; ".join(sorted(
                     sources.get(s.name, []) + ([dc.table_source(s.name)]
                                                if "Table 1" in where.get(s.name, "") else [])))}
                for s, row in zip(log, dc.log_rows(log, ""), strict=True)]
    return plan



def _landmark_blocks(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    # Every block of estimates.json that carries the counts behind a landmark estimate.
    if isinstance(node, dict):
        if "at_risk" in node and "events" in node:
            return [(path, node)]
        return [found for k, v in node.items() if k not in ("disclosure", "settings")
                for found in _landmark_blocks(v, f"{path}.{k}" if path else str(k))]
    if isinstance(node, list):
        return [found for i, v in enumerate(node)
                for found in _landmark_blocks(v, f"{path}[{i}]")]
    return []


def _derived_from(path: str) -> tuple[str, str]:
    """(estimates key of the block's n, estimates key its events are counted in)."""
    group = next((g for g in GROUPS if path == f"response_by_type.{g}"), "overall")
    size_key = f"infection_type.{group}" if group != "overall" else "n_patients"
    last = path.rsplit(".", 1)[-1]
    if last.startswith("os_"):
        return size_key, "deaths.total"
    events_key = (f"response_by_type.{group}.responders" if group != "overall"
                  else "n_responders")
    return size_key, events_key


def landmark_plan(estimates: Mapping[str, Any], plan: Plan) -> tuple[dict[str, str], list[dict]]:
    """Small-cell control for the counts behind each landmark (n, at risk, events, censored).

    Tooltips, the register and Supplementary Table S1 print them. Within a block they add up
    (n = at risk + events + censored [+ not yet entered]), so each block is its own sum for
    :func:`disclosure.suppress`; a block's n is hidden with its group's size, and its events
    with the count they are part of (deaths for survival, responders for response), because a
    reader who sees "3 events" beside "<5 children died" has the hidden count back. Returns
    estimates key -> mark, and log rows.
    """
    if plan.min_cell <= 1:
        return {}, []
    hidden = plan.estimate_keys
    marks: dict[str, str] = {}
    log: list[dict] = []
    for path, block in _landmark_blocks(estimates):
        size_key, events_key = _derived_from(path)
        counts = {k: block[k] for k in LANDMARK_COUNTS if isinstance(block.get(k), int)}
        forced: dict[str, str] = {}
        if size_key in hidden:
            forced = {k: f"derived: the group size ({size_key}) is hidden" for k in counts}
        elif events_key in hidden and "events" in counts:
            forced["events"] = f"derived: part of a hidden count ({events_key})"
        parts = tuple(k for k in counts if k != "n")
        sums = ([dc.Constraint("n", parts, f"{path}: n = {' + '.join(parts)}")]
                if "n" in counts and sum(counts[k] for k in parts) == counts["n"] else [])
        shut, rows = dc.suppress(counts, sums, plan.min_cell, forced)
        if shut and not sums:  # counts that do not add up: no complement can be chosen
            shut = frozenset(k for k, v in counts.items() if v > 0)
            rows = [dc.Suppressed(k, counts[k], "hidden with the other counts of its block")
                    for k in sorted(shut)]
        for s in rows:
            marks[f"{path}.{s.name}"] = s.mark(plan.min_cell)
            log.append({"kind": dc.SUPPRESSED_CELL, "output": "tooltips; register; Table S1",
                        "item": f"{path}: {s.name} at day {block.get('day')}",
                        "value": s.value, "reason": s.reason,
                        "source": f"estimates.json#{path}.{s.name}", "patient_id": ""})
    return marks, log
