"""The two groups the report compares: recurrent and refractory CMV infection.

A child belongs to the group its export's ``infection_type`` names (the cohort step checks the
value is one of :data:`GROUPS`). The order here is the order of every table column, figure
panel, flow-diagram arm and estimates block; the labels are the printed names. Every module that
splits the cohort by infection type does it through this module.
"""

from __future__ import annotations

import pandas as pd

# The export's values, in the order printed (recurrent first).
GROUPS = ("recurrent", "refractory")
# The whole cohort, then each group: Table 1's columns and the printed counts' columns.
OVERALL = "overall"
COLUMNS = (OVERALL, *GROUPS)
# The printed name of each group (a panel title, a flow-diagram arm).
LABELS = {"recurrent": "Recurrent", "refractory": "Refractory"}


def in_group(cohort: pd.DataFrame, group: str) -> pd.Series:
    """Whether each child is in ``group`` (``overall``: every child)."""
    if group == OVERALL:
        return pd.Series(True, index=cohort.index)
    return cohort["infection_type"] == group


def of_group(cohort: pd.DataFrame, group: str) -> pd.DataFrame:
    """The children of ``group`` (``overall``: the whole cohort)."""
    return cohort if group == OVERALL else cohort[in_group(cohort, group)]


def by_group(cohort: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The children of each group, in :data:`GROUPS` order."""
    return {g: of_group(cohort, g) for g in GROUPS}


def by_column(cohort: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The whole cohort and each group, in :data:`COLUMNS` order."""
    return {g: of_group(cohort, g) for g in COLUMNS}


def sizes(cohort: pd.DataFrame) -> dict[str, int]:
    """The number of children in each group."""
    return {g: int(in_group(cohort, g).sum()) for g in GROUPS}


def group_of_curve(curve: str) -> str:
    """The group a curve's name ends with (``response_refractory``), else ``overall``."""
    return next((g for g in GROUPS if curve.endswith(g)), OVERALL)


def order(groups: pd.Series) -> pd.Series:
    """Each value's place in :data:`GROUPS` (for sorting children recurrent first)."""
    return groups.map({g: i for i, g in enumerate(GROUPS)})
