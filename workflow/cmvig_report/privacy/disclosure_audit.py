"""The audit after the small-cell plan: what can an outsider prove about each hidden count?

:func:`.disclosure.suppress` makes sure that no single sum has one hidden member. Several
channels together can still give a count away: a tooltip's "<5 censored" beside the text's
"16 of 40 responded by day 50" and the tooltip's own "40 patients, 20 at risk" (censored =
40 − 20 − 16), or an at-risk count the risk table prints beside a tooltip that hides it.

Here every printed count is a cell of one :class:`Model`, with the linear relations an outsider
knows (a landmark's n = at risk + events + censored, the groups add up to the total, crude
responders by day D = the events of the response curve by day D, a cumulative count never
falls, ...). What the outsider sees of a cell is its printed value, or for a hidden one its
mark: "<N" says 1..N−1, "[c]" says at least 1 (a zero is never hidden); a count nobody prints
is only known to be >= 0. For each hidden cell, :func:`bounds` minimises and maximises it over
everything published (``scipy.optimize.linprog``; integrality relaxed, which can only widen
the interval, never hide an exact recovery of an integer that the relaxation pins down).

A hidden cell whose true value is 1..N−1 is *exposed* when that interval is narrower than
:func:`protection` (N): :func:`.secondary_suppression.secure` then hides the cheapest
printed count that restores the width, or stops the build naming the chain of printed values
that reveal it when no allowed count can.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .disclosure import small_mark

EQ, LE = "==", "<="
CHUNK = 16  # cells per solver call: fewer calls, each still small
MAX_CHAIN = 8  # printed values named in a build error: enough to follow the subtraction


@dataclass(frozen=True)
class Relation:
    """``sum(coef * cell) == 0`` (``kind`` EQ) or ``<= 0`` (LE); ``label`` names it."""

    terms: tuple[tuple[str, int], ...]
    kind: str = EQ
    label: str = ""

    def cells(self) -> tuple[str, ...]:
        """The cells it ties."""
        return tuple(c for c, _ in self.terms)


def total_of(total: str, parts: Iterable[str], label: str = "") -> Relation:
    """``total = sum(parts)``."""
    return Relation(((total, 1), *((p, -1) for p in parts)), EQ, label)


def same(a: str, b: str, label: str = "") -> Relation:
    """``a = b`` (one count printed in two places under two names)."""
    return Relation(((a, 1), (b, -1)), EQ, label)


def at_most(small: str, big: str, label: str = "") -> Relation:
    """``small <= big`` (a cumulative count by an earlier day, a part of a total)."""
    return Relation(((small, 1), (big, -1)), LE, label)


@dataclass
class Model:
    """True values of the cells (internal), what is printed and the relations between them.

    ``printed``: cells a shareable output prints, as a value or (``hidden``: cell -> mark) as
    a mark. A cell in ``values`` but not printed is an unknown an outsider knows only as >= 0.
    """

    min_cell: int
    values: dict[str, int] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    printed: set[str] = field(default_factory=set)
    hidden: dict[str, str] = field(default_factory=dict)
    # Once a zero is printed as "[c]" (a last resort of :func:`secure`), no "[c]" can be
    # read as at least one.
    zeros_hidden: bool = False

    def add(self, relation: Relation) -> None:
        """Add a relation; it must hold for the true values (a wrong one is a bug)."""
        total = sum(k * self.values[c] for c, k in relation.terms)
        if total != 0 if relation.kind == EQ else total > 0:
            raise ValueError(f"relation {relation.label or relation.terms!r} does not hold")
        self.relations.append(relation)

    def extend(self, values: Mapping[str, int], relations: Iterable[Relation] = (),
               hidden: Mapping[str, str] | None = None) -> None:
        """Add a printed source's counts (all printed; ``hidden``: those printed as a mark)
        and the relations tying them to the rest, e.g. a claims register's counts, each
        ``same`` as the cell it restates."""
        self.values.update(values)
        self.printed.update(values)
        self.hidden.update(hidden or {})
        for r in relations:
            self.add(r)

    def known(self, cell: str) -> bool:
        """Whether an outsider reads the cell's value."""
        return cell in self.printed and cell not in self.hidden

    def published_bounds(self, cell: str) -> tuple[float, float | None]:
        """What the cell's own printing says: its value, its mark's range, or >= 0."""
        if self.known(cell):
            return float(self.values[cell]), float(self.values[cell])
        if cell not in self.printed:
            return 0.0, None
        mark = self.hidden.get(cell)
        if mark == small_mark(self.min_cell):
            return 1.0, float(self.min_cell - 1)
        if mark is not None:  # "[c]": hidden, and hidden cells are zero only as a last resort
            return (0.0 if self.zeros_hidden else 1.0), None
        return 0.0, None


def protection(min_cell: int) -> int:
    """How wide the interval an outsider can prove for a small hidden count must stay.

    "<N" itself says 1..N−1 (width N − 2); at least half of that width is kept, and never
    less than 1 (two possible values), so that no count is pinned down or nearly so.
    """
    return max(1, (min_cell - 1) // 2)


def _index(model: Model) -> dict[str, list[Relation]]:
    # relations by cell, rebuilt only when a relation was added
    cached = model.__dict__.get("_by_cell")
    if cached is None or cached[0] != len(model.relations):
        by_cell: dict[str, list[Relation]] = {}
        for r in model.relations:
            for c in r.cells():
                by_cell.setdefault(c, []).append(r)
        model.__dict__["_by_cell"] = cached = (len(model.relations), by_cell)
    return cached[1]


def _component(model: Model, cell: str) -> tuple[list[str], list[Relation]]:
    """The cells (nearest first) and relations linked to ``cell`` through unknown cells.

    A known cell is a constant: it ends the search, which keeps each program small.
    """
    by_cell = _index(model)
    order, seen, todo, rels = [cell], {cell}, [cell], {}
    while todo:
        current = todo.pop(0)
        for r in by_cell.get(current, []):
            rels[id(r)] = r
            for c in r.cells():
                if c not in seen:
                    seen.add(c)
                    order.append(c)
                    if not model.known(c):
                        todo.append(c)
    return order, list(rels.values())


def bounds(model: Model, cell: str) -> tuple[float, float]:
    """The narrowest interval for ``cell`` an outsider can prove (LP relaxation)."""
    return bounds_many(model, [cell])[cell]


def bounds_many(model: Model, cells: Iterable[str]) -> dict[str, tuple[float, float]]:
    """:func:`bounds` of several cells, a few solver calls per group of linked cells."""
    out: dict[str, tuple[float, float]] = {}
    todo = sorted(set(cells))
    while todo:
        names, relations = _component(model, todo[0])
        inside = set(names)
        group = [c for c in todo if c in inside]
        todo = [c for c in todo if c not in inside]
        spans = _solve(model, names, relations, [(c, {}) for c in group])
        out.update(zip(group, spans, strict=True))
    return out


def _trials(model: Model, cell: str, extras: list[dict[str, str]]) -> list[tuple[float, float]]:
    """The interval of ``cell`` if each of ``extras`` (cell -> mark) were hidden as well."""
    saved = dict(model.hidden)
    for extra in extras:
        model.hidden.update(extra)
    names, relations = _component(model, cell)  # the widest: every extra hidden at once
    model.hidden.clear()
    model.hidden.update(saved)
    return _solve(model, names, relations, [(cell, extra) for extra in extras])


def _solve(model: Model, names: list[str], relations: list[Relation],
           queries: list[tuple[str, Mapping[str, str]]]) -> list[tuple[float, float]]:
    """Min and max of each query's cell, the query's extra cells hidden, over ``relations``.

    One program holds a copy of the relations per query and direction (block-diagonal): the
    copies share nothing, so the optimum of their sum is each copy's optimum and one solver
    call answers :data:`CHUNK` queries. Counts are capped far above any true value, so that
    an unbounded copy does not make the whole program unbounded; a maximum at the cap is
    reported as infinite.
    """
    from scipy.optimize import linprog
    from scipy.sparse import block_diag, csr_matrix

    cap = 10.0 * (max(model.values.values(), default=0) + model.min_cell + 1)
    index = {c: i for i, c in enumerate(names)}
    m = len(names)

    def matrix(rows: list[Relation]) -> csr_matrix:
        a = np.zeros((len(rows), m))
        for i, r in enumerate(rows):
            for c, k in r.terms:
                a[i, index[c]] += k
        return csr_matrix(a)

    eq = [r for r in relations if r.kind == EQ]
    le = [r for r in relations if r.kind == LE]
    a_eq1, a_ub1 = (matrix(eq) if eq else None), (matrix(le) if le else None)
    out: list[tuple[float, float]] = []
    for start in range(0, len(queries), CHUNK):
        chunk = queries[start:start + CHUNK]
        copies = 2 * len(chunk)
        box, cost = [], np.zeros(m * copies)
        for j, (cell, extra) in enumerate(chunk):
            one = [_published(model, c, extra, cap) for c in names]
            box += one + one
            cost[2 * j * m + index[cell]] = 1.0  # minimise
            cost[(2 * j + 1) * m + index[cell]] = -1.0  # maximise
        a_eq = block_diag([a_eq1] * copies, format="csr") if eq else None
        a_ub = block_diag([a_ub1] * copies, format="csr") if le else None
        res = linprog(cost, A_ub=a_ub, b_ub=None if a_ub is None else np.zeros(a_ub.shape[0]),
                      A_eq=a_eq, b_eq=None if a_eq is None else np.zeros(a_eq.shape[0]),
                      bounds=box, method="highs")
        if res.status != 0:
            raise ValueError(f"the published counts around {chunk[0][0]!r} are inconsistent "
                             f"({res.message})")
        for j, (cell, _) in enumerate(chunk):
            low = float(res.x[2 * j * m + index[cell]])
            high = float(res.x[(2 * j + 1) * m + index[cell]])
            out.append((round(low, 6), float("inf") if high >= cap - 1e-6 else round(high, 6)))
    return out


def _published(model: Model, cell: str, extra: Mapping[str, str], cap: float
               ) -> tuple[float, float]:
    if cell in extra:
        saved = model.hidden.get(cell)
        model.hidden[cell] = extra[cell]
        low, high = model.published_bounds(cell)
        if saved is None:
            del model.hidden[cell]
        else:
            model.hidden[cell] = saved
    else:
        low, high = model.published_bounds(cell)
    return low, cap if high is None else high


@dataclass(frozen=True)
class Exposure:
    """A hidden small count an outsider can narrow to ``[low, high]``."""

    cell: str
    value: int
    low: float
    high: float
    chain: tuple[str, ...]  # the printed values (and marks) it is worked out from

    def __str__(self) -> str:
        span = (f"exactly {self.low:g}" if self.high - self.low < 0.5
                else f"between {self.low:g} and {self.high:g}")
        return (f"hidden count {self.cell} can be worked out as {span} from "
                + ", ".join(self.chain))


def _chain(model: Model, cell: str) -> tuple[str, ...]:
    names, _ = _component(model, cell)
    named = [f"{c} = {model.values[c] if model.known(c) else model.hidden[c]}"
             for c in names[1:] if model.known(c) or (c in model.hidden and c in model.printed)]
    return tuple(named[:MAX_CHAIN]) + (("...",) if len(named) > MAX_CHAIN else ())


def exposures(model: Model, cells: Iterable[str] | None = None) -> list[Exposure]:
    """Hidden cells of true value 1..N−1 narrowed below :func:`protection`, by name."""
    if model.min_cell <= 1:
        return []
    need = protection(model.min_cell)
    small = [c for c in sorted(cells if cells is not None else model.hidden)
             if c in model.hidden and 0 < model.values.get(c, 0) < model.min_cell]
    out = []
    for cell, (low, high) in sorted(bounds_many(model, small).items()):
        if high - low < need - 1e-6:
            out.append(Exposure(cell, model.values[cell], low, high, _chain(model, cell)))
    return out


def catalogue_model(cells: Mapping[str, int], sums: Iterable, hidden: Mapping[str, str],
                    min_cell: int, printed: Iterable[str] | None = None) -> Model:
    """The model of the counts :mod:`.printed_counts` catalogues; ``printed``: the cells some
    output prints (default all), the others being counts a reader can only work out."""
    # a key of the text with no count (no boys at all) prints nothing to audit
    model = Model(min_cell, dict(cells), [], set(cells).intersection(cells if printed is None
                                                                      else printed),
                  dict(hidden), zeros_hidden=any(cells.get(c) == 0 for c in hidden))
    for s in dict.fromkeys(sums):
        model.add(total_of(s.total, s.parts, s.describe()))
    return model
