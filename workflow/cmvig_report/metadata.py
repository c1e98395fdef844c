"""Checks of ``templates/metadata.yaml`` before anything is rendered.

A journal returns a submission without its declarations, so a required field left empty stops
the build naming the field. An ORCID iD must be a real one (its last character is an ISO 7064
MOD 11-2 check digit) or be left out: a placeholder printed as if it were real is worse than
none. Author contributions use the CRediT roles.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import PipelineError

# Dotted paths of the fields a submission cannot go without.
REQUIRED = (
    "title", "short_title", "authors", "affiliations", "keywords",
    "setting.description", "setting.centres",
    "ethics.committee", "ethics.approval", "ethics.consent",
    "funding", "conflicts", "data_availability",
)
# The CRediT (Contributor Roles Taxonomy) roles, as journals ask for them.
CREDIT_ROLES = (
    "Conceptualization", "Data curation", "Formal analysis", "Funding acquisition",
    "Investigation", "Methodology", "Project administration", "Resources", "Software",
    "Supervision", "Validation", "Visualization", "Writing – original draft",
    "Writing – review & editing",
)
ORCID = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")


def for_cohort(meta: dict[str, Any], shipped: bool) -> dict[str, Any]:
    """The metadata that applies: with the shipped synthetic cohort, the ``shipped_cohort``
    fields replace (mapping by mapping) those at the top level."""
    out = {k: v for k, v in meta.items() if k != "shipped_cohort"}
    if shipped:
        for key, value in (meta.get("shipped_cohort") or {}).items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return out


def orcid_is_valid(orcid: str) -> bool:
    """Whether ``orcid`` is well formed and its check digit (ISO 7064 MOD 11-2) is right."""
    if not ORCID.match(orcid):
        return False
    digits = orcid.replace("-", "")
    total = 0
    for ch in digits[:-1]:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    return digits[-1] == ("X" if check == 10 else str(check))


def _get(meta: dict[str, Any], dotted: str) -> Any:
    node: Any = meta
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value) or (
        isinstance(value, str) and not value.strip())


def _fold(role: str) -> str:
    return " ".join(role.replace("-", "–").replace("&", "and").casefold().split())


def validate_metadata(meta: dict[str, Any], where: str = "templates/metadata.yaml") -> None:
    """Raise PipelineError listing every empty required field, bad ORCID and unknown role."""
    problems = [f"required field {field!r} is empty" for field in REQUIRED
                if _empty(_get(meta, field))]
    roles = {_fold(r): r for r in CREDIT_ROLES}
    affiliation_ids = {a.get("id") for a in meta.get("affiliations") or [] if isinstance(a, dict)}
    for i, author in enumerate(meta.get("authors") or [], start=1):
        if not isinstance(author, dict) or _empty(author.get("name")):
            problems.append(f"authors[{i}]: required field 'name' is empty")
            continue
        name = author["name"]
        orcid = str(author.get("orcid") or "").strip()
        if orcid and not orcid_is_valid(orcid):
            problems.append(f"authors[{i}] ({name}): orcid {orcid!r} is not a valid ORCID iD "
                            "(wrong form or check digit); leave it empty to print none")
        if _empty(author.get("contributions")):
            problems.append(f"authors[{i}] ({name}): required field 'contributions' is empty "
                            "(CRediT roles)")
        for role in author.get("contributions") or []:
            if _fold(str(role)) not in roles:
                problems.append(f"authors[{i}] ({name}): contribution {role!r} is not a CRediT "
                                f"role ({', '.join(CREDIT_ROLES)})")
        for aff in author.get("affiliations") or []:
            if aff not in affiliation_ids:
                problems.append(f"authors[{i}] ({name}): affiliation {aff!r} is not an id "
                                "under 'affiliations'")
    if problems:
        raise PipelineError(f"{where}: " + "; ".join(problems) if len(problems) == 1 else
                            f"{where}: {len(problems)} problems\n  " + "\n  ".join(problems))


def credit_label(role: str) -> str:
    """A role as the taxonomy spells it, whatever case or dash the metadata used."""
    return {_fold(r): r for r in CREDIT_ROLES}.get(_fold(role), role)
