"""Small-cell control: counts below ``min_cell_count`` print as "<N", and enough others with them.

With ``min_cell_count`` = N > 1, every count from 1 to N−1 the manuscript prints (Table 1, the
text, the flow diagram of Figure 1) shows as ``<N`` with its percentage hidden. Hiding that one
cell is not enough when it sits in a sum whose other members are printed: the reader subtracts.
So the counts are modelled as named cells tied by additive constraints (``total = sum(parts)``)
and, until nothing changes, any constraint with exactly one hidden member gets a second one: the
smallest positive member still shown, ties broken by name so a rebuild hides the same cells.

A zero is never hidden (it is not a small cell) and never chosen as the complement: printing
"<5" over a zero would hide nothing, since the other members still pin down the sum. For
additive counts a positive member is always available: a hidden part makes its total positive,
and a hidden total has a positive part.

The rule guards against recovery from one sum at a time. For a two-way table with margins and
at most three columns (Table 1: overall, recurrent, refractory) that is enough: no combination
of its rows and columns pins down a hidden cell either. Wider tables or deep hierarchies can
need more; see ``suppress``.

Every hidden cell is logged (``log_rows``) to ``results/disclosure_log.csv``, whose columns are
``LOG_COLUMNS``; other parts of the pipeline add rows of their own kinds to the same file.

Plain Python on purpose: Snakemake rules and the report import this without pandas.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..core.formatting import EN_DASH

# ``source``: where a hidden cell is printed, as the register names it (``estimates.json#...``,
# ``table1.csv#...``), so that an auditor or a test can find each place.
LOG_COLUMNS = ["kind", "output", "item", "value", "reason", "source", "patient_id"]
SUPPRESSED_CELL = "suppressed cell"
# What a cell hidden only so that a small one cannot be worked out prints as.
COMPLEMENT_MARK = "[c]"
_BELOW = "count below"  # the reason of a cell hidden for being small (Suppressed.reason)


def small_mark(min_cell: int) -> str:
    """What a count below the limit prints as: ``"<5"``."""
    return f"<{min_cell}"


def is_mark(text: str, min_cell: int) -> bool:
    """Whether ``text`` is what a hidden cell prints (``"<5"`` or ``"[c]"``)."""
    return min_cell > 1 and text.strip() in (small_mark(min_cell), COMPLEMENT_MARK)
PATIENTS = "Patients"  # the variable of Table 1's header row, which holds each column's n
_SEP = "|"


@dataclass(frozen=True)
class Constraint:
    """``total`` equals the sum of ``parts``; ``label`` names it in the log."""

    total: str
    parts: tuple[str, ...]
    label: str = ""  # e.g. "Table 1, Sex, recurrent column"

    def describe(self) -> str:
        """The label, or the equation when there is none."""
        return self.label or f"{self.total} = {' + '.join(self.parts) or '0'}"


@dataclass(frozen=True)
class Suppressed:
    """A hidden cell, its true count and why it is hidden."""

    name: str
    value: int
    reason: str  # "count below N" or "complementary: ..." naming the constraint

    def mark(self, min_cell: int) -> str:
        """``"<N"`` for a cell hidden for being small, ``"[c]"`` for one hidden with it."""
        return small_mark(min_cell) if self.reason.startswith(_BELOW) else COMPLEMENT_MARK


def _as_count(name: str, value: object) -> int:
    # operator.index accepts numpy integers (counts often come out of a DataFrame) but not
    # floats, where 2.0 would hint at a computed, possibly non-integer, value.
    try:
        count = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"count {name!r} is not an integer: {value!r}") from None
    if count < 0:
        raise ValueError(f"count {name!r} is negative: {count}")
    return count


def _validate(
    counts: Mapping[str, int], constraints: Sequence[Constraint], min_cell: int
) -> dict[str, int]:
    min_cell = _as_count("min_cell_count", min_cell)
    values = {name: _as_count(name, value) for name, value in counts.items()}
    for c in constraints:
        members = (c.total, *c.parts)
        unknown = [m for m in members if m not in values]
        if unknown:
            raise ValueError(f"constraint {c.describe()!r} names unknown cell(s): "
                             f"{', '.join(map(repr, unknown))}")
        if len(set(members)) != len(members):
            raise ValueError(f"constraint {c.describe()!r} names a cell twice")
        # The reasoning below (a hidden cell is recoverable by subtraction) holds only for
        # sums that hold; a constraint that does not add up is a bug in the caller.
        parts_sum = sum(values[p] for p in c.parts)
        if values[c.total] != parts_sum:
            raise ValueError(f"constraint {c.describe()!r} does not add up: {c.total!r} is "
                             f"{values[c.total]} but its parts sum to {parts_sum}")
    return values


def suppress(
    counts: Mapping[str, int], constraints: Sequence[Constraint], min_cell: int,
    forced: Mapping[str, str] | None = None,
) -> tuple[frozenset[str], list[Suppressed]]:
    """The cells to print as ``<min_cell``, and a log entry for each.

    Primary: every cell with ``1 <= value < min_cell``, and every cell of ``forced`` (name ->
    reason: a count worked out from a cell hidden elsewhere is hidden with it). Complementary,
    repeated until nothing changes: a constraint (its total and parts together) with exactly
    one hidden member gets its smallest positive shown member hidden too, ties broken by name.
    ``min_cell`` 0 or 1 hides nothing. The log lists primary cells by name, then forced ones,
    then complements in the order found.

    Raises ``ValueError`` naming the offender for a negative or non-integer count, a constraint
    naming an unknown cell (or one cell twice), or a constraint whose parts do not sum to its
    total.

    The guarantee is per constraint: no sum has a single hidden positive member. A hidden cell
    can still be pinned down by combining several sums when a table has four or more columns
    (or its equivalent in nested totals); Table 1's three columns cannot (see the module
    docstring).
    """
    values = _validate(counts, constraints, min_cell)
    if min_cell <= 1:
        return frozenset(), []
    forced = {name: why for name, why in (forced or {}).items()
              if name in values and values[name] > 0}
    primary = sorted(name for name, v in values.items() if 0 < v < min_cell)
    hidden = set(primary)
    log = [Suppressed(name, values[name], f"{_BELOW} {min_cell}") for name in primary]
    for name in sorted(set(forced) - hidden):
        hidden.add(name)
        log.append(Suppressed(name, values[name], forced[name]))
    # Table builders repeat shared sums (the header row of each variable); check each once.
    unique = list(dict.fromkeys(constraints))
    changed = True
    while changed:
        changed = False
        for c in unique:
            members = (c.total, *c.parts)
            hit = [m for m in members if m in hidden]
            if len(hit) != 1:
                continue
            candidates = [m for m in members if m not in hidden and values[m] > 0]
            if not candidates:  # cannot happen for sums that hold (validated above)
                continue
            pick = min(candidates, key=lambda m: (values[m], m))
            hidden.add(pick)
            log.append(Suppressed(pick, values[pick],
                                  f"complementary: {c.describe()}, where {hit[0]} is hidden"))
            changed = True
    return frozenset(hidden), log


def shown(value: int, name: str, suppressed: frozenset[str], min_cell: int) -> str:
    """The count as printed: ``"<N"`` when hidden, else with thousands separators.

    A small count that is not in ``suppressed`` raises ``ValueError``: it was never passed
    through ``suppress`` and so would be printed unlogged, or with its complement missing.
    """
    if name in suppressed:
        return small_mark(min_cell)
    if 0 < value < min_cell:
        raise ValueError(f"count {name!r} = {value} is below {min_cell} but was not suppressed; "
                         "pass it through suppress() with its constraints")
    return f"{value:,}"


def count_percent(
    k: int,
    n: int,
    name: str,
    suppressed: frozenset[str],
    min_cell: int,
    percent: Callable[[float], str],
    *,
    denominator: str | None = None,
) -> str:
    """``"k (p%)"``, or ``"<N"`` without a percentage when the cell is hidden.

    ``percent`` formats the fraction (``formatting.format_percent``). An empty denominator
    (``n == 0``) prints an en dash, as Table 1 does. Pass the name of ``n``'s own cell as
    ``denominator``: when that cell is hidden the percentage is dropped too, since a shown
    count beside its percentage gives the hidden n back (6 at 50% means n = 12).
    """
    if k < 0 or n < 0 or k > n:
        raise ValueError(f"count {name!r}: {k} of {n} is not a count within its denominator")
    if name in suppressed:
        return small_mark(min_cell)
    if n == 0:
        return EN_DASH
    count = shown(k, name, suppressed, min_cell)
    if denominator is not None and denominator in suppressed:
        return count
    return f"{count} ({percent(k / n)})"


def below_limit(name: str, hidden: Mapping[str, str]) -> bool:
    """Whether cell ``name`` is hidden as a count below the limit ("<N"), not as a complement.

    A group that small has medians and ranges made of single patients' values."""
    return hidden.get(name, "").startswith("<")


def describe_cell(name: str) -> str:
    """A reader's description of a cell named by ``cell_name``; other names are kept as is.

    ``"Sex|Female|recurrent"`` -> ``"Sex: Female (recurrent)"``;
    ``"Patients||overall"`` -> ``"Patients (overall)"``.
    """
    if name.count(_SEP) != 2:
        return name
    variable, level, group = cell_parts(name)
    return f"{variable}: {level} ({group})" if level else f"{variable} ({group})"


def log_rows(
    suppressed: list[Suppressed], where: str, describe: Callable[[str], str] | None = None
) -> list[dict]:
    """Rows for ``results/disclosure_log.csv`` (columns ``LOG_COLUMNS``), one per hidden cell.

    ``where`` is the output the cells appear in ("Table 1", "text", "Figure 1"); ``describe``
    turns a cell name into the log's ``item`` (default ``describe_cell``).
    """
    describe = describe or describe_cell
    return [{"kind": SUPPRESSED_CELL, "output": where, "item": describe(s.name),
             "value": s.value, "reason": s.reason, "source": "", "patient_id": ""}
            for s in suppressed]


def _check_piece(kind: str, piece: str) -> None:
    # A separator inside a piece would let two different cells share one name.
    if not piece or _SEP in piece:
        raise ValueError(f"{kind} {piece!r} must be non-empty and must not contain {_SEP!r}")


def table_source(name: str, table: str = "table1.csv") -> str:
    """Where a table cell named by ``cell_name`` is printed, as the register names it:
    ``"Sex|Female|recurrent"`` -> ``"table1.csv#Sex: Female/recurrent"``."""
    variable, level, group = cell_parts(name)
    return f"{table}#{variable}: {level}/{group}" if level else f"{table}#{variable}/{group}"


def cell_name(variable: str, level: str, group: str) -> str:
    """The name of one table cell: ``"Sex|Female|recurrent"``."""
    return f"{variable}{_SEP}{level}{_SEP}{group}"


def cell_parts(name: str) -> tuple[str, str, str]:
    """The variable, level and group of a cell named by ``cell_name`` (level empty for a
    column's n)."""
    variable, level, group = name.split(_SEP)
    return variable, level, group


def group_size_name(group: str) -> str:
    """The name of a column's n in the header row: ``"Patients||recurrent"``."""
    return f"{PATIENTS}{_SEP}{_SEP}{group}"


def table_constraints(
    variable: str,
    levels: Sequence[str],
    groups: Sequence[str],
    overall: str = "overall",
    single_choice: bool = True,
    *,
    table: str = "Table 1",
) -> list[Constraint]:
    """The sums a categorical variable's rows of a table obey, for ``suppress``.

    Cells are named ``cell_name(variable, level, column)`` and column sizes
    ``group_size_name(column)``. Each level row: overall = sum of the groups. For a
    single-choice variable also each column (overall included): n = sum of the levels; not for
    a multi-select one (antivirals received), where a patient counts under several levels.
    Last, the header row: overall n = sum of the groups' n (``suppress`` checks a repeated
    sum once, so calling this per variable and concatenating is fine).
    """
    _check_piece("variable", variable)
    for piece in levels:
        _check_piece("level", piece)
    for piece in (overall, *groups):
        _check_piece("group", piece)
    if len(set(levels)) != len(levels) or len({overall, *groups}) != len(groups) + 1:
        raise ValueError(f"{variable!r}: levels and columns must each be distinct")
    out = [Constraint(cell_name(variable, level, overall),
                      tuple(cell_name(variable, level, g) for g in groups),
                      f"{table}, {variable}, {level} row")
           for level in levels]
    if single_choice:
        out += [Constraint(group_size_name(col),
                           tuple(cell_name(variable, level, col) for level in levels),
                           f"{table}, {variable}, {col} column")
                for col in (overall, *groups)]
    out.append(Constraint(group_size_name(overall), tuple(group_size_name(g) for g in groups),
                          f"{table}, {PATIENTS}, header row"))
    return out
