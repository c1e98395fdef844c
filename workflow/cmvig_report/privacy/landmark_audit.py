"""The counts behind the landmark estimates and Figure 2's risk tables, audited with the rest.

The tooltips, the register and Supplementary Table S1 print each landmark's n, at risk,
events and censored; the tables under Figure 2 print the number at risk at each tick. These
counts are tied to each other and to the text's counts by relations a reader knows:

- at each day of a curve: n = at risk + events + censored (+ not yet entered, with delayed
  entry), and n is the group's size;
- events and censored only grow from one day to the next;
- the groups add up to all patients, day by day (the primary response curve);
- crude responders by day D (text, Figure 1) are the response curve's events by day D; the
  curve censored at the last PCR shares its events with the primary one; the deaths from HSCT
  with and without delayed entry are the same deaths; a curve's events never exceed the
  responders (or deaths) of the whole follow-up.

:func:`audit_landmarks` puts them into one :class:`.disclosure_audit.Model` with the
catalogue's counts (already secured by the plan) and hides further landmark or risk-table
counts until no hidden count can be narrowed (:func:`.disclosure_audit.secure`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..data.groups import GROUPS, group_of_curve, of_group
from . import disclosure as dc
from . import disclosure_audit as da
from . import printed_counts as pc
from .printed_counts import Plan, by_day
from .secondary_suppression import secure

RISK_TABLE_OUTPUT = "Figure 2 (table under the panel)"


def risk_cell(curve: str, tick: int) -> str:
    """The name of the number at risk at ``tick`` under a Figure 2 curve."""
    return f"figure2#{curve}.at_risk@{int(tick)}"


def _block_curve(path: str) -> tuple[str, str] | None:
    """(curve, events family) of a landmark block of estimates.json, None when unknown.

    Blocks on one curve share their counts day by day; blocks of one events family count the
    same events (the censoring differs)."""
    if path == "response" or path.startswith("sensitivity.response_by_day["):
        return "response_overall", "response_overall"
    for g in GROUPS:
        if path == f"response_by_type.{g}":
            return f"response_{g}", f"response_{g}"
    return {"sensitivity.response_censor_last_pcr": ("response_last_pcr", "response_overall"),
            "sensitivity.response_confirmed": ("response_confirmed", "response_confirmed"),
            "os_from_cmvig": ("os_from_cmvig", "os_from_cmvig"),
            "os_from_hsct": ("os_from_hsct", "os_from_hsct"),
            "sensitivity.os_from_hsct_delayed_entry": ("os_delayed", "os_from_hsct")}.get(path)


class _Points:
    """Cells of (curve, day): named after the block printing them, or generated."""

    def __init__(self) -> None:
        self.names: dict[tuple[str, int, str], str] = {}

    def name(self, curve: str, day: int, key: str) -> str:
        return self.names.setdefault((curve, day, key), f"{curve}@{day}.{key}")


def _curve_counts(cohort: pd.DataFrame, curve: str, day: int,
                  response: pd.DataFrame | None = None) -> dict[str, int] | None:
    """at_risk / events / censored (and, with competing events, competing) of ``curve`` at
    ``day`` (the definitions of ``survival.at_risk_table``), for the curves the risk tables and
    group sums need. ``response``: the response curves' children and times when they are not
    the cohort's own (an own study's primary endpoint, with its ``code``)."""
    group = group_of_curve(curve)
    is_response = curve.startswith("response_") and curve.removeprefix("response_") in (
        *GROUPS, "overall")
    frame = response if is_response and response is not None else cohort
    d = of_group(frame, group)
    if is_response:
        t, e = d["days_to_response_or_censoring"].astype(float), d["responded"].astype(bool)
    elif curve == "os_from_cmvig":
        t, e = d["os_from_cmvig_days"].astype(float), d["died"].astype(bool)
    else:
        return None
    events = int((e & (t <= day)).sum())
    out = {"n": len(d), "events": events}
    if is_response and "code" in d.columns:  # a death (or new therapy) competes
        out["competing"] = int((d["code"].ge(2) & (t <= day)).sum())
        out["censored"] = int((d["code"].eq(0) & (t <= day)).sum())
    else:
        out["censored"] = int((~e & (t <= day)).sum())
    out["at_risk"] = len(d) - sum(v for k, v in out.items() if k != "n")
    return out


def build_model(cohort: pd.DataFrame, estimates: Mapping[str, Any], plan: Plan,
                marks: Mapping[str, str], ticks: Mapping[str, Sequence[int]],
                response: pd.DataFrame | None = None) -> tuple[da.Model, _Points]:
    """The catalogue's model with every landmark block and risk-table count added.

    ``marks``: landmark counts already hidden (estimates key -> mark); ``ticks``: the ticks of
    each Figure 2 curve (``response_recurrent``, ``response_refractory``, ``os_from_cmvig``);
    ``response``: see :func:`_curve_counts`.
    """
    cells, sums, _, where = pc.catalogue(cohort, int(estimates["settings"]["response_day"]),
                                         estimates.get("data_quality"))
    model = da.catalogue_model(cells, sums, plan.hidden, plan.min_cell, printed=where)
    points = _Points()
    days: dict[str, set[int]] = {}
    blocks = pc._landmark_blocks(estimates)
    for path, block in blocks:
        where = _block_curve(path)
        keys = [k for k in pc.LANDMARK_COUNTS if isinstance(block.get(k), int)]
        for k in keys:
            name = f"{path}.{k}"
            model.values[name] = int(block[k])
            model.printed.add(name)
            if name in marks:
                model.hidden[name] = marks[name]
            point = (where[0], int(block["day"]), k) if where is not None else None
            if point in points.names:  # two blocks read one curve on one day
                model.add(da.same(points.names[point], name, f"{path}: {k}, same curve and day"))
            elif point is not None and k != "n":
                points.names[point] = name
        parts = [f"{path}.{k}" for k in keys if k != "n"]
        if "n" in keys and sum(block[k] for k in keys if k != "n") == block["n"]:
            model.add(da.total_of(f"{path}.n", parts, f"{path}: n = " + " + ".join(
                k for k in keys if k != "n")))
        if where is not None:
            days.setdefault(where[0], set()).add(int(block["day"]))
            # (an own study's response blocks may count the evaluable children only)
            if "n" in keys and block["n"] == model.values.get(pc.size(group_of_curve(where[0]))):
                model.add(da.same(f"{path}.n", pc.size(group_of_curve(where[0])),
                                  f"{path}: n is the group's size"))
    for curve, ts in ticks.items():
        days.setdefault(curve, set()).update(int(t) for t in ts)
    # the overall response curve at every day a group's is read, so the groups can add up
    group_days = set().union(*(days.get(f"response_{g}", set()) for g in GROUPS))
    for curve in ("response_overall", *(f"response_{g}" for g in GROUPS)):
        days.setdefault(curve, set()).update(group_days | days.get("response_overall", set()))
    _add_curves(model, points, cohort, days, response)
    _add_links(model, points, estimates, days)
    for curve, ts in ticks.items():
        for t in ts:
            name = points.name(curve, int(t), "at_risk")
            model.printed.add(name)
    return model, points


def _add_curves(model: da.Model, points: _Points, cohort: pd.DataFrame,
                days: Mapping[str, set[int]], response: pd.DataFrame | None = None) -> None:
    for curve, ds in days.items():
        ordered = sorted(ds)
        for day in ordered:
            counts = _curve_counts(cohort, curve, day, response)
            if counts is None:
                continue
            names = {k: points.name(curve, day, k) for k in counts if k != "n"}
            for k, name in names.items():
                model.values.setdefault(name, counts[k])
            size = pc.size(group_of_curve(curve))
            if counts["n"] != model.values.get(size):  # the evaluable children only
                size = points.name(curve, 0, "n")
                model.values.setdefault(size, counts["n"])
            model.add(da.total_of(size, names.values(),
                                  f"{curve} at day {day}: n = " + " + ".join(names)))
        for key in ("events", "competing", "censored"):
            for a, b in zip(ordered, ordered[1:], strict=False):
                ca, cb = points.name(curve, a, key), points.name(curve, b, key)
                if ca in model.values and cb in model.values:
                    model.add(da.at_most(ca, cb, f"{curve}: {key} by day {a} <= by day {b}"))


def _add_links(model: da.Model, points: _Points, estimates: Mapping[str, Any],
               days: Mapping[str, set[int]]) -> None:
    response_day = int(estimates["settings"]["response_day"])
    yes_by, _ = by_day(response_day)
    for day in days.get("response_overall", set()):
        for key in ("at_risk", "events", "censored"):
            names = [points.name(f"response_{g}", day, key) for g in ("overall", *GROUPS)]
            if all(n in model.values for n in names):
                model.add(da.total_of(names[0], names[1:],
                                      f"response by day {day}: {key}, groups add up"))
    for g in ("overall", *GROUPS):
        curve = f"response_{g}"
        crude = pc.cell(yes_by, g)
        events = points.name(curve, response_day, "events")
        # (equal unless an own study's endpoint censors or leaves out some responders)
        if (events in model.values and crude in model.values
                and model.values[events] == model.values[crude]):
            model.add(da.same(events, crude, f"crude responders by day {response_day} "
                                             f"({g}) = the curve's events"))
        for day in days.get(curve, set()):
            name = points.name(curve, day, "events")
            if name in model.values:
                model.add(da.at_most(name, pc.cell(pc.RESPONDERS, g),
                                     f"{curve}: events by day {day} <= responders"))
    # curves that count the same events, or a subset of them, on the same day
    pairs = (("response_last_pcr", "response_overall", "same"),
             ("response_confirmed", "response_overall", "at_most"),
             ("os_delayed", "os_from_hsct", "same"))
    for a, b, how in pairs:
        for day in days.get(a, set()) & days.get(b, set()):
            ea, eb = points.name(a, day, "events"), points.name(b, day, "events")
            if ea in model.values and eb in model.values:
                rel = da.same if how == "same" else da.at_most
                model.add(rel(ea, eb, f"{a} and {b}: events by day {day}"))
    for curve in ("os_from_cmvig", "os_from_hsct", "os_delayed"):
        for day in days.get(curve, set()):
            name = points.name(curve, day, "events")
            if name in model.values:
                model.add(da.at_most(name, pc.cell(pc.DIED), f"{curve}: deaths by day {day}"))


def audit_landmarks(cohort: pd.DataFrame, estimates: Mapping[str, Any], plan: Plan,
                    marks: Mapping[str, str], ticks: Mapping[str, Sequence[int]],
                    response: pd.DataFrame | None = None
                    ) -> tuple[dict[str, str], dict[str, dict[str, str]], list[dict]]:
    """Secure the landmark counts and Figure 2's numbers at risk with the text's counts.

    Returns (estimates key -> mark for landmark counts, curve -> {tick: mark} for the risk
    tables, log rows). A risk-table count below the limit is hidden ("<N") before the audit;
    the audit hides further landmark and risk-table counts only: the text's counts were
    secured by the plan, which the figures share.
    """
    if plan.min_cell <= 1:
        return dict(marks), {}, []
    model, points = build_model(cohort, estimates, plan, marks, ticks, response)
    names: dict[str, list[str]] = {}  # model cell -> the risk-table places printing it
    for curve, ts in ticks.items():
        for t in ts:
            names.setdefault(points.name(curve, int(t), "at_risk"), []).append(
                risk_cell(curve, t))
    log: list[dict] = []
    for cell, reps in names.items():
        value = model.values.get(cell, 0)
        if 0 < value < plan.min_cell and cell not in model.hidden:
            model.hidden[cell] = dc.small_mark(plan.min_cell)
            log += _log(reps, value, f"count below {plan.min_cell}")
    # the text's counts were secured by the plan, which the figures share: not hidden here
    allowed = {c for c in model.printed if c.count("|") != 2}
    for cell, why in secure(model, allowed, relabel=allowed):
        log += _log(names.get(cell, [f"estimates.json#{cell}"]), model.values[cell], why)
    out_marks = {k: v for k, v in model.hidden.items() if k.count("|") != 2 and "@" not in k}
    tables: dict[str, dict[str, str]] = {}
    for cell, reps in names.items():
        if cell in model.hidden:
            for rep in reps:
                curve, tick = rep.removeprefix("figure2#").split(".at_risk@")
                tables.setdefault(curve, {})[tick] = model.hidden[cell]
    return dict(sorted(out_marks.items())), tables, log


def _log(sources: list[str], value: int, reason: str) -> list[dict]:
    return [{"kind": dc.SUPPRESSED_CELL, "output": RISK_TABLE_OUTPUT
             if s.startswith("figure2#") else "tooltips; register; Table S1",
             "item": s.removeprefix("estimates.json#"), "value": value, "reason": reason,
             "source": s, "patient_id": ""} for s in sources]
