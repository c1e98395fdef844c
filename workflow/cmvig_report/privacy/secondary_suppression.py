"""Secondary suppression: hide further printed counts until the audit finds none exposed.

:func:`secure` works on a :class:`.disclosure_audit.Model`; hiding a count only widens what an
outsider can prove, so each exposed count is fixed once, by the cheapest change that works:
one printed count (smallest first), a run of them, a "<N" printed as "[c]", or a zero printed
as "[c]"; when none is allowed, the build stops naming the chain of printed values.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import PipelineError
from . import disclosure_audit as da
from .disclosure import COMPLEMENT_MARK, small_mark


def secure(model: da.Model, allowed: Iterable[str] | None = None,
           reason: str = "secondary", relabel: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Hide printed counts until no hidden small count is exposed; returns (cell, reason).

    For each exposed cell in turn, the printed counts linked to it (``allowed`` only, when
    given) are tried smallest first; the first whose hiding restores the width is hidden as
    "[c]". When none does on its own, the one that widens the interval most is hidden and the
    search goes on. Hiding a count only widens what an outsider can prove, so one pass over
    the exposed cells is enough. When no printed count helps (two "<3" that add up to a
    "<3" total are both 1: the marks alone give them away), a cell of ``relabel`` printed as
    "<N" is printed as "[c]" instead, which does not say it is small. Raises
    :class:`PipelineError` naming the chain of printed values when nothing allowed widens it.
    """
    allowed_set = None if allowed is None else set(allowed)
    added: list[tuple[str, str]] = []
    need = da.protection(model.min_cell) - 1e-6
    for found in da.exposures(model):
        low, high = da.bounds(model, found.cell)  # an earlier fix may have widened it already
        while high - low < need:
            worst = da.Exposure(found.cell, found.value, low, high, da._chain(model, found.cell))
            candidates = sorted((c for c in _linked(model, worst.cell)
                                 if model.known(c) and model.values[c] > 0
                                 and (allowed_set is None or c in allowed_set)),
                                key=lambda c: (model.values[c], c))
            best, best_span = None, (low, high)
            spans = da._trials(model, worst.cell, [{c: _mark(model, c)} for c in candidates])
            for c, span in zip(candidates, spans, strict=True):
                if span[1] - span[0] > best_span[1] - best_span[0] + 1e-6:
                    best, best_span = c, span
                if span[1] - span[0] >= need:
                    break
            if best is None:  # no single count is enough: hide several, then keep the needed
                best, best_span = _several(model, worst.cell, allowed_set, need)
            if best is None:  # the marks themselves say too much: say less
                small = small_mark(model.min_cell)
                marked = [c for c in da._component(model, worst.cell)[0]
                          if c in relabel and model.hidden.get(c) == small]
                spans = da._trials(model, worst.cell, [{c: COMPLEMENT_MARK} for c in marked])
                for c, span in zip(marked, spans, strict=True):
                    if span[1] - span[0] > best_span[1] - best_span[0] + 1e-6:
                        best, best_span = c, span
                if best is None and marked:  # needed, with more hidden next round
                    first = worst.cell if worst.cell in marked else marked[0]
                    best, best_span = first, spans[marked.index(first)]
                relabelled = f"printed as {COMPLEMENT_MARK}, not {small}"
                if best is None:  # last resort: a zero printed as "[c]" (a group of two at N = 3)
                    best, best_span = _zero(model, worst.cell, allowed_set)
                    relabelled = f"a zero printed as {COMPLEMENT_MARK}"
                if best is not None:
                    model.hidden[best] = COMPLEMENT_MARK
                    added.append((best, f"{reason}: {relabelled}, so that {worst.cell} "
                                        "cannot be worked out"))
                    low, high = best_span
                    continue
            if best is None:
                raise PipelineError(
                    f"small-cell control: {worst}; no count that may be hidden further "
                    "widens it. Leave one of these out of the templates or raise "
                    "min_cell_count.")
            for cell in best.split("\n"):
                model.hidden[cell] = _mark(model, cell)
                added.append((cell, f"{reason}: {worst.cell} could be worked out from "
                                    f"{', '.join(worst.chain)}"))
            low, high = best_span
    return added


def _several(model: da.Model, cell: str, allowed: set[str] | None, need: float
             ) -> tuple[str | None, tuple[float, float]]:
    """The shortest run of printed counts, smallest first, whose hiding protects ``cell``.

    The run is drawn from every printed count that hiding the others links to ``cell``;
    its length is found by bisection (hiding more only widens). Returns the cells joined by
    newlines and the interval, or None when hiding all of them is not enough."""
    saved = dict(model.hidden)
    pool: list[str] = []
    while True:  # hiding a count can link more
        more = [c for c in _linked(model, cell) if model.known(c) and model.values[c] > 0
                and (allowed is None or c in allowed)]
        if not more:
            break
        pool += more
        model.hidden.update({c: _mark(model, c) for c in more})
    model.hidden.clear()
    model.hidden.update(saved)
    pool.sort(key=lambda c: (model.values[c], c))

    def span_of(k: int) -> tuple[float, float]:
        return da._trials(model, cell, [{c: _mark(model, c) for c in pool[:k]}])[0]

    full = span_of(len(pool))
    if not pool or full[1] - full[0] < need:
        return None, full
    lo, hi, best = 0, len(pool), full
    while hi - lo > 1:
        mid = (lo + hi) // 2
        span = span_of(mid)
        if span[1] - span[0] >= need:
            hi, best = mid, span
        else:
            lo = mid
    chosen = pool[:hi]
    for c in reversed(chosen[:-1]):  # show again what the run does not need, largest first
        rest = [x for x in chosen if x != c]
        span = da._trials(model, cell, [{x: _mark(model, x) for x in rest}])[0]
        if span[1] - span[0] >= need:
            chosen, best = rest, span
    return "\n".join(chosen), best


def _zero(model: da.Model, cell: str, allowed: set[str] | None
          ) -> tuple[str | None, tuple[float, float]]:
    """The first printed zero linked to ``cell`` whose hiding widens it (then no "[c]" is
    read as at least one: ``zeros_hidden``), or None, the model unchanged."""
    def zero(c: str) -> bool:
        return model.known(c) and model.values[c] == 0 and (allowed is None or c in allowed)

    # a linked zero first; any zero will do, since then no "[c]" is read as at least one
    linked = set(_linked(model, cell))
    zeros = sorted(c for c in linked if zero(c))
    zeros += sorted(c for c in model.printed if c not in linked and zero(c))[:1]
    low, high = da.bounds(model, cell)
    before, model.zeros_hidden = model.zeros_hidden, True
    spans = da._trials(model, cell, [{c: COMPLEMENT_MARK} for c in zeros])
    for c, span in zip(zeros, spans, strict=True):
        if span[1] - span[0] > high - low + 1e-6:
            return c, span
    model.zeros_hidden = before
    return None, (low, high)


def _linked(model: da.Model, cell: str) -> list[str]:
    cells, _ = da._component(model, cell)
    return [c for c in cells if c != cell]


def _mark(model: da.Model, cell: str) -> str:
    value = model.values[cell]
    return small_mark(model.min_cell) if 0 < value < model.min_cell else COMPLEMENT_MARK
