"""Table 1: baseline characteristics, overall and by infection type.

Continuous variables are median (range) and categorical ones n (%), as a clinical journal expects
for a series this small. The ``tableone`` package was considered and not used: it takes ~1.6 s to
import (with statsmodels) against a 4 s budget for a full build, prints ranges as ``[min,max]``,
and has no multi-select variable for the antivirals a patient received before CMVIG (several per
patient). The table here is a few group-bys.
"""

from __future__ import annotations

import html

import pandas as pd

COLUMNS = (("overall", None), ("recurrent", "recurrent"), ("refractory", "refractory"))
# (column in cohort.csv, row label, kind, decimals for continuous values)
VARIABLES = (
    ("age_at_hsct", "Age at HSCT, years", "continuous", 1),
    ("sex", "Sex", "categorical", 0),
    ("diagnosis", "Underlying disease", "categorical", 0),
    ("donor_type", "Donor type", "categorical", 0),
    ("graft_source", "Graft source", "categorical", 0),
    ("cmv_serostatus", "CMV serostatus (donor/recipient)", "categorical", 0),
    ("prior_antivirals", "Antivirals before CMVIG", "multi", 0),
    ("n_prior_antivirals", "Number of antivirals before CMVIG", "continuous", 0),
    ("cmvig_doses", "CMVIG doses", "continuous", 0),
    ("days_hsct_to_cmvig", "Days from HSCT to CMVIG", "continuous", 0),
)
SEX_LABELS = {"F": "Female", "M": "Male"}
EN_DASH = "\u2013"


def fmt_number(x: float, decimals: int) -> str:
    """A median or range limit: whole numbers stay whole, others get ``decimals`` places."""
    if float(x).is_integer() and decimals == 0:
        return str(int(x))
    return f"{x:.{max(decimals, 1)}f}"


def fmt_median_range(values: pd.Series, decimals: int = 0) -> str:
    """``median (min–max)``; a dash for an empty group."""
    if values.empty:
        return EN_DASH
    return (f"{fmt_number(values.median(), decimals)} "
            f"({fmt_number(values.min(), decimals)}{EN_DASH}{fmt_number(values.max(), decimals)})")


def fmt_count(k: int, n: int) -> str:
    """``k (p%)`` with a whole percent of the column's n."""
    if n == 0:
        return EN_DASH
    # Half up, as readers expect (Python's round() would print 62.5 as 62).
    return f"{k} ({int(100 * k / n + 0.5)}%)"


def _groups(cohort: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {name: cohort if value is None else cohort[cohort["infection_type"] == value]
            for name, value in COLUMNS}


def _levels(series: pd.Series) -> list[str]:
    counts = series.value_counts()
    return sorted(counts.index, key=lambda lvl: (-counts[lvl], str(lvl)))


def build_table1(cohort: pd.DataFrame) -> pd.DataFrame:
    """Tidy Table 1: one row per variable level, formatted strings per column."""
    groups = _groups(cohort)
    rows = [{"variable": "Patients", "level": "", **{g: str(len(d)) for g, d in groups.items()}}]
    for col, label, kind, decimals in VARIABLES:
        if kind == "continuous":
            rows.append({"variable": label, "level": "median (range)",
                         **{g: fmt_median_range(d[col], decimals) for g, d in groups.items()}})
            continue
        if kind == "multi":
            exploded = {g: d[col].fillna("").str.split(";").explode().str.strip()
                        for g, d in groups.items()}
            exploded = {g: s[s != ""] for g, s in exploded.items()}
            levels = _levels(exploded["overall"])
        else:
            values = cohort[col].replace("", "not recorded")
            levels = _levels(values)
            exploded = {g: d[col].replace("", "not recorded") for g, d in groups.items()}
        for lvl in levels:
            shown = SEX_LABELS.get(lvl, lvl) if col == "sex" else lvl
            shown = shown[:1].upper() + shown[1:] if kind == "multi" else shown
            rows.append({"variable": label, "level": shown,
                         **{g: fmt_count(int((exploded[g] == lvl).sum()), len(groups[g]))
                            for g in groups}})
    return pd.DataFrame(rows, columns=["variable", "level", *groups])


def table1_html(table: pd.DataFrame) -> str:
    """An escaped HTML fragment of the table; the template adds the caption and styling."""
    head = table.iloc[0]
    e = html.escape
    out = ['<table class="table1">', "<thead>", "<tr><th>Characteristic</th>"]
    for g, _ in COLUMNS:
        out.append(f'<th>{e(g.capitalize())}<br><span class="n">n = {e(head[g])}</span></th>')
    out += ["</tr>", "</thead>", "<tbody>"]
    previous = None
    ncol = len(COLUMNS) + 1
    for _, row in table.iloc[1:].iterrows():
        if row["level"] == "median (range)":
            cells = "".join(f"<td>{e(row[g])}</td>" for g, _ in COLUMNS)
            out.append(f'<tr class="variable"><th scope="row">{e(row["variable"])}, '
                       f"median (range)</th>{cells}</tr>")
            previous = None
            continue
        if row["variable"] != previous:
            out.append(f'<tr class="variable"><th scope="row" colspan="{ncol}">'
                       f'{e(row["variable"])}, n (%)</th></tr>')
            previous = row["variable"]
        cells = "".join(f"<td>{e(row[g])}</td>" for g, _ in COLUMNS)
        out.append(f'<tr class="level"><th scope="row">{e(row["level"])}</th>{cells}</tr>')
    out += ["</tbody>", "</table>"]
    return "\n".join(out) + "\n"
