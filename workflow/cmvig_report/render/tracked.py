"""Values that remember where they came from: the file and key of each number the templates
print, and the block it sits in (for the method and the numbers behind it).

Every file the templates read (estimates.json, table1.csv, provenance.json, the figures'
caption facts, published.yaml, metadata.yaml) reaches them through :func:`track`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Tracked:
    """Mixin: a value that knows the file and key it came from (``_source``) and the block
    (dict) it sits in (``_block``), for the method and the numbers behind it.

    The names start with an underscore because Jinja looks attributes up before keys: a
    result with a key ``source`` (the study period has one) must still read as its value.
    """

    _source: str
    _block: Mapping[str, Any] | None


class _TrackedScalar(Tracked):
    """Builds a tracked number or string: the value, its source and its block."""

    def __new__(cls, value: Any, source: str, block: Mapping[str, Any] | None = None):
        obj = super().__new__(cls, value)  # type: ignore[call-arg]
        obj._source, obj._block = source, block
        return obj


class TrackedInt(_TrackedScalar, int):
    """An int with a source."""


class TrackedFloat(_TrackedScalar, float):
    """A float with a source."""


class TrackedStr(_TrackedScalar, str):
    """A string with a source (a version, a Table 1 cell, a reference)."""


class TrackedDict(dict, Tracked):
    """A mapping whose values are tracked; a landmark block is printed whole by percent_ci."""


class TrackedList(list, Tracked):
    """A list whose items are tracked."""


def track(obj: Any, source: str, block: Mapping[str, Any] | None = None) -> Any:
    """``obj`` (parsed JSON or YAML) with every number and string tracked under ``source``.

    Keys are joined with dots and list items get ``[i]``: ``estimates.json#response.estimate``,
    ``metadata.yaml#authors[0].orcid``. Booleans and None are left as they are.
    """
    sep = "#" if "#" not in source else "."
    if isinstance(obj, dict):
        out = TrackedDict()
        out._source, out._block = source, block
        inner = obj if _is_block(obj) else block
        for key, value in obj.items():
            out[key] = track(value, f"{source}{sep}{key}", inner)
        if inner is obj:  # values point at the tracked block (for method and n)
            for value in out.values():
                if isinstance(value, Tracked) and not isinstance(value, TrackedDict):
                    value._block = out
        return out
    if isinstance(obj, list):
        out_list = TrackedList(track(v, f"{source}[{i}]", block) for i, v in enumerate(obj))
        out_list._source, out_list._block = source, block
        return out_list
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return TrackedInt(obj, source, block)
    if isinstance(obj, float):
        return TrackedFloat(obj, source, block)
    if isinstance(obj, str):
        return TrackedStr(obj, source, block)
    return obj


def _is_block(obj: Mapping[str, Any]) -> bool:
    return "estimate" in obj or "method" in obj or "median" in obj or "days" in obj


def plain(value: Any) -> Any:
    """The untracked value (for the formatters, which compare types)."""
    if isinstance(value, TrackedDict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, TrackedList):
        return [plain(v) for v in value]
    if isinstance(value, TrackedInt):
        return int(value)
    if isinstance(value, TrackedFloat):
        return float(value)
    if isinstance(value, TrackedStr):
        return str(value)
    return value
