"""Small-cell control: primary and complementary suppression, printing and the log."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from cmvig_report.core.formatting import EN_DASH, format_percent
from cmvig_report.privacy.disclosure import (
    LOG_COLUMNS,
    Constraint,
    Suppressed,
    cell_name,
    count_percent,
    describe_cell,
    group_size_name,
    log_rows,
    shown,
    suppress,
    table_constraints,
    table_source,
)


def test_a_column_small_part_and_its_complement():
    # N = 5, column 8 = 6 + 2: 2 is below 5; 6 = 8 - 2 would give it back, so 6 goes too.
    counts = {"n": 8, "female": 6, "male": 2}
    hidden, log = suppress(counts, [Constraint("n", ("female", "male"), "Sex column")], 5)
    assert hidden == {"female", "male"}
    assert log == [
        Suppressed("male", 2, "count below 5"),
        Suppressed("female", 6, "complementary: Sex column, where male is hidden"),
    ]


def test_b_two_small_parts_protect_each_other():
    # overall 7 = recurrent 3 + refractory 4: both primary; 7 alone cannot split them.
    counts = {"overall": 7, "refractory": 4, "recurrent": 3}
    hidden, log = suppress(counts, [Constraint("overall", ("recurrent", "refractory"))], 5)
    assert hidden == {"recurrent", "refractory"}
    # primary cells are logged by name, whatever order the counts came in
    assert log == [Suppressed("recurrent", 3, "count below 5"),
                   Suppressed("refractory", 4, "count below 5")]


def test_c_the_other_group_of_a_row_is_the_complement():
    # overall 9 = 6 + 3: 3 primary, then 6 (smaller than 9), the only other group of the row.
    counts = {"overall": 9, "recurrent": 6, "refractory": 3}
    row = Constraint("overall", ("recurrent", "refractory"), "Table 1, Sex, Female row")
    hidden, log = suppress(counts, [row], 5)
    assert hidden == {"recurrent", "refractory"}
    assert log[1] == Suppressed(
        "recurrent", 6, "complementary: Table 1, Sex, Female row, where refractory is hidden")


def test_d_cascade_across_a_row_and_columns():
    # N = 5, one variable with levels A and B:
    #              overall  rec  ref
    #   Patients        25   10   15
    #   A               12    3*   9
    #   B               13    7    6
    # Primary: A|rec = 3. Constraints in table_constraints order (rows, columns, header):
    #   row A:      12 = 3* + 9        -> hide 9 (A|ref; smaller than 12)
    #   row B:      13 = 7 + 6         -> nothing hidden yet
    #   column ov:  25 = 12 + 13       -> nothing hidden
    #   column rec: 10 = 3* + 7        -> hide 7 (B|rec; smaller than 10)
    #   column ref: 15 = 9* + 6        -> hide 6 (B|ref, cascading from row A)
    #   header:     25 = 10 + 15       -> nothing hidden
    # Second pass: row B 13 = 7* + 6* and every other sum has 0 or 2 hidden: done. The four
    # hidden cells form a rectangle; every margin stays printed.
    grid = {("A", "overall"): 12, ("A", "rec"): 3, ("A", "ref"): 9,
            ("B", "overall"): 13, ("B", "rec"): 7, ("B", "ref"): 6}
    counts = {cell_name("X", lvl, g): v for (lvl, g), v in grid.items()}
    counts |= {group_size_name("overall"): 25, group_size_name("rec"): 10,
               group_size_name("ref"): 15}
    hidden, log = suppress(counts, table_constraints("X", ["A", "B"], ["rec", "ref"]), 5)
    assert hidden == {"X|A|rec", "X|A|ref", "X|B|rec", "X|B|ref"}
    assert [(s.name, s.value) for s in log] == [
        ("X|A|rec", 3), ("X|A|ref", 9), ("X|B|rec", 7), ("X|B|ref", 6)]
    assert log[3].reason == "complementary: Table 1, X, ref column, where X|A|ref is hidden"


def test_e_zeros_are_never_hidden_nor_chosen_as_complement():
    # N = 5. Column 8 = 0 + 3 + 5: 3 primary; the zero is the smallest member but hides
    # nothing, so the complement is 5. A zero below N is not a small cell.
    counts = {"n": 8, "a": 0, "b": 3, "c": 5}
    hidden, _ = suppress(counts, [Constraint("n", ("a", "b", "c"))], 5)
    assert hidden == {"b", "c"}
    # Only the total is left positive: row 8 = x 6 + y 2 hides y, then x; the column
    # 6 = x 6 + z 0 has nothing positive among its parts, so its total is hidden.
    counts = {"row": 8, "x": 6, "y": 2, "col": 6, "z": 0}
    constraints = [Constraint("row", ("x", "y")), Constraint("col", ("x", "z"))]
    hidden, log = suppress(counts, constraints, 5)
    assert hidden == {"y", "x", "col"}
    assert [s.name for s in log] == ["y", "x", "col"]


def test_ties_are_broken_by_name():
    # "ba" comes first among the parts, "ab" first by name: the name decides.
    counts = {"n": 10, "x": 2, "ba": 4, "ab": 4}
    hidden, log = suppress(counts, [Constraint("n", ("x", "ba", "ab"))], 3)
    assert hidden == {"x", "ab"}
    assert log[-1].name == "ab"


def test_a_sum_repeated_by_several_variables_logs_each_cell_once():
    counts = {"n": 8, "x": 6, "y": 2}
    twice = [Constraint("n", ("x", "y"), "header")] * 2
    _, log = suppress(counts, twice, 5)
    assert [s.name for s in log] == ["y", "x"]


@pytest.mark.parametrize("min_cell", [0, 1])
def test_f_off_or_one_suppresses_nothing(min_cell):
    counts = {"n": 3, "a": 1, "b": 2}
    hidden, log = suppress(counts, [Constraint("n", ("a", "b"))], min_cell)
    assert hidden == frozenset() and log == []
    assert shown(1, "a", hidden, min_cell) == "1"


def test_g_bad_input_raises_naming_the_offender():
    with pytest.raises(ValueError, match="unknown cell.*'ghost'"):
        suppress({"n": 3, "a": 3}, [Constraint("n", ("a", "ghost"))], 5)
    with pytest.raises(ValueError, match="'a' is negative: -1"):
        suppress({"n": 3, "a": -1}, [], 5)
    with pytest.raises(ValueError, match="'a' is not an integer"):
        suppress({"a": 2.0}, [], 5)
    with pytest.raises(ValueError, match="'Sex column' does not add up: 'n' is 9"):
        suppress({"n": 9, "a": 3, "b": 4}, [Constraint("n", ("a", "b"), "Sex column")], 5)
    with pytest.raises(ValueError, match="names a cell twice"):
        suppress({"n": 6, "a": 3}, [Constraint("n", ("a", "a"))], 5)
    with pytest.raises(ValueError, match="'min_cell_count' is negative"):
        suppress({}, [], -1)


def test_integer_like_counts_are_accepted():
    class NumpyLikeInt:  # numpy integers implement __index__ but are not int
        def __init__(self, v: int) -> None:
            self.v = v

        def __index__(self) -> int:
            return self.v

    hidden, log = suppress({"n": NumpyLikeInt(9), "a": NumpyLikeInt(2), "b": 7},
                           [Constraint("n", ("a", "b"))], 5)
    assert hidden == {"a", "b"} and log[0] == Suppressed("a", 2, "count below 5")


def test_h_count_percent_hides_the_percentage():
    hidden = frozenset({"small", "n_ref"})
    assert count_percent(3, 12, "small", hidden, 5, format_percent) == "<5"
    assert count_percent(6, 12, "big", hidden, 5, format_percent) == "6 (50%)"
    assert count_percent(1234, 10000, "many", hidden, 5, format_percent) == "1,234 (12%)"
    assert count_percent(0, 12, "none", hidden, 5, format_percent) == "0 (0%)"
    assert count_percent(0, 0, "empty", hidden, 5, format_percent) == EN_DASH
    # 6 at 50% would give back a hidden n of 12
    assert count_percent(6, 12, "big", hidden, 5, format_percent, denominator="n_ref") == "6"
    with pytest.raises(ValueError, match="'big': 13 of 12"):
        count_percent(13, 12, "big", hidden, 5, format_percent)


def test_shown_prints_hidden_cells_as_below_n_and_refuses_unregistered_small_counts():
    hidden = frozenset({"a"})
    assert shown(3, "a", hidden, 5) == "<5"
    assert shown(12345, "b", hidden, 5) == "12,345"
    assert shown(0, "z", hidden, 5) == "0"
    with pytest.raises(ValueError, match="'c' = 2 is below 5 but was not suppressed"):
        shown(2, "c", hidden, 5)


def test_log_rows():
    log = [Suppressed("Sex|Male|refractory", 2, "count below 5"),
           Suppressed("Patients||refractory", 9, "complementary: header row, where x is hidden")]
    rows = log_rows(log, "Table 1")
    assert all(list(r) == LOG_COLUMNS for r in rows)
    assert rows == [
        {"kind": "suppressed cell", "output": "Table 1", "item": "Sex: Male (refractory)",
         "value": 2, "reason": "count below 5", "source": "", "patient_id": ""},
        {"kind": "suppressed cell", "output": "Table 1", "item": "Patients (refractory)",
         "value": 9, "reason": "complementary: header row, where x is hidden", "source": "",
         "patient_id": ""},
    ]
    assert table_source("Sex|Male|refractory") == "table1.csv#Sex: Male/refractory"
    assert table_source("Patients||overall") == "table1.csv#Patients/overall"


def test_forced_cells_are_hidden_with_their_complements():
    # 8 events are part of a total hidden elsewhere: hidden although not small, and the
    # block's own sum then needs a second hidden member (the smallest positive: censored)
    counts = {"n": 23, "at_risk": 9, "events": 8, "censored": 6}
    hidden, log = suppress(counts, [Constraint("n", ("at_risk", "events", "censored"))], 5,
                           forced={"events": "derived: part of a hidden count"})
    assert hidden == {"events", "censored"}
    assert [(s.name, s.reason.split(":")[0]) for s in log] == [
        ("events", "derived"), ("censored", "complementary")]
    # a forced zero is nothing to hide
    hidden, _ = suppress({"n": 9, "a": 9, "b": 0}, [Constraint("n", ("a", "b"))], 5,
                         forced={"b": "derived"})
    assert hidden == frozenset()
    flow = log_rows([Suppressed("excluded_no_consent", 3, "count below 5")], "Figure 1",
                    describe={"excluded_no_consent": "Excluded: no consent"}.get)
    assert flow[0]["item"] == "Excluded: no consent" and flow[0]["output"] == "Figure 1"
    assert describe_cell("plain name") == "plain name"


def test_table_constraints_single_choice_and_multi_select():
    single = table_constraints("Sex", ["Female", "Male"], ["recurrent", "refractory"])
    assert [(c.total, c.parts) for c in single] == [
        ("Sex|Female|overall", ("Sex|Female|recurrent", "Sex|Female|refractory")),
        ("Sex|Male|overall", ("Sex|Male|recurrent", "Sex|Male|refractory")),
        ("Patients||overall", ("Sex|Female|overall", "Sex|Male|overall")),
        ("Patients||recurrent", ("Sex|Female|recurrent", "Sex|Male|recurrent")),
        ("Patients||refractory", ("Sex|Female|refractory", "Sex|Male|refractory")),
        ("Patients||overall", ("Patients||recurrent", "Patients||refractory")),
    ]
    assert single[3].label == "Table 1, Sex, recurrent column"
    assert single[-1].label == "Table 1, Patients, header row"
    multi = table_constraints("Antivirals", ["Foscarnet", "Ganciclovir"],
                              ["recurrent", "refractory"], single_choice=False)
    assert [c.total for c in multi] == [
        "Antivirals|Foscarnet|overall", "Antivirals|Ganciclovir|overall", "Patients||overall"]
    with pytest.raises(ValueError, match="'a|b'"):
        table_constraints("Sex", ["a|b"], ["recurrent"])
    with pytest.raises(ValueError, match="distinct"):
        table_constraints("Sex", ["F", "F"], ["recurrent"])


def _random_table(rng: random.Random, groups: list[str]):
    """Counts of a random small cohort for three variables, one of them multi-select."""
    patients = [(rng.choice(groups), rng.choice("FM"), rng.choice("abcde"[:rng.randint(2, 5)]),
                 {d for d in "xyz" if rng.random() < 0.4})
                for _ in range(rng.randint(1, 30))]
    columns = ["overall", *groups]

    def member(p, col):
        return col == "overall" or p[0] == col

    counts = {group_size_name(c): sum(member(p, c) for p in patients) for c in columns}
    constraints: list[Constraint] = []
    for var, key, multi in (("Sex", 1, False), ("Diagnosis", 2, False), ("Drugs", 3, True)):
        levels = sorted({d for p in patients for d in p[3]} if multi else
                        {p[key] for p in patients})
        for lvl in levels:
            for c in columns:
                counts[cell_name(var, lvl, c)] = sum(
                    member(p, c) and (lvl in p[key] if multi else p[key] == lvl)
                    for p in patients)
        if levels:
            constraints += table_constraints(var, levels, groups, single_choice=not multi)
    return counts, constraints


def test_i_no_sum_gives_back_a_single_hidden_cell():
    rng = random.Random(20240611)
    complements = 0
    for _ in range(400):
        counts, constraints = _random_table(rng, ["recurrent", "refractory"])
        n = rng.choice([2, 3, 5, 10, 11])
        hidden, log = suppress(counts, constraints, n)
        for c in constraints:
            members = (c.total, *c.parts)
            lone = [m for m in members if m in hidden]
            assert not (len(lone) == 1 and counts[lone[0]] > 0), (c, counts, hidden)
        assert {name for name, v in counts.items() if 0 < v < n} <= hidden
        assert all(counts[name] > 0 for name in hidden)
        assert sorted(s.name for s in log) == sorted(hidden)  # each cell logged once
        assert all(s.value == counts[s.name] for s in log)
        complements += sum(s.reason.startswith("complementary") for s in log)
    assert complements > 100  # the tables exercise the complementary rule, not just primary


def _pinned_down(constraints: list[Constraint], hidden: frozenset[str]) -> list[str]:
    """Hidden cells whose value follows from the printed ones by any combination of the sums.

    Gauss-Jordan elimination over the hidden cells; a pivot cell is determined when its
    reduced row has no free cell in it.
    """
    cells = sorted(hidden)
    col = {c: i for i, c in enumerate(cells)}
    rows = []
    for c in constraints:
        row = [Fraction(0)] * len(cells)
        for name, sign in ((c.total, 1), *((p, -1) for p in c.parts)):
            if name in col:
                row[col[name]] += sign
        if any(row):
            rows.append(row)
    pivots: list[int] = []
    for j in range(len(cells)):
        k = next((i for i in range(len(pivots), len(rows)) if rows[i][j]), None)
        if k is None:
            continue
        r = len(pivots)
        rows[r], rows[k] = rows[k], rows[r]
        rows[r] = [x / rows[r][j] for x in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][j]:
                f = rows[i][j]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append(j)
    free = set(range(len(cells))) - set(pivots)
    return [cells[j] for r, j in enumerate(pivots) if not any(rows[r][f] for f in free)]


def test_table1_shape_hides_cells_from_combined_sums_too():
    # With three columns, no row/column combination (across variables sharing the header)
    # pins down a hidden cell: the guarantee the module docstring states for Table 1.
    rng = random.Random(7)
    for _ in range(150):
        counts, constraints = _random_table(rng, ["recurrent", "refractory"])
        hidden, _ = suppress(counts, constraints, rng.choice([3, 5, 10]))
        assert _pinned_down(constraints, hidden) == []


def test_pinned_down_sees_recovery_by_combining_sums():
    # t1 = a + b and t2 = a + b + c with a, b, c hidden: each sum has two hidden members, yet
    # c = t2 - t1. The per-sum rule does not see this; the checker above must.
    constraints = [Constraint("t1", ("a", "b")), Constraint("t2", ("a", "b", "c"))]
    assert _pinned_down(constraints, frozenset({"a", "b", "c"})) == ["c"]
