"""The settings a manuscript rendering takes from the config, as one object.

The rules keep a flat ``params`` dict (:func:`.settings.render_params`,
:func:`.settings.manuscript_params`, the submission rule's own); :func:`from_params` is the one
function that turns it into a :class:`RenderSettings`, which the renderers
(:func:`.report.run_render`, :func:`.report.run_qmd`), the submission package and the live
preview pass around. Imports nothing heavy: the Snakefile's modules read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class RenderSettings:
    """How the manuscript is rendered (the files it reads are separate arguments)."""

    # the replication's appendix and published values (config ``study: replication``)
    replication: bool = False
    line_numbers: bool = False
    # a number typed into a template, or a metadata placeholder, stops the render
    strict_numbers: bool = False
    strict_metadata: bool = False
    # the register of printed numbers as an appendix
    number_appendix: bool = False
    # a previous build's results/ folder: the changes since that data freeze
    compare_with: str = ""
    # a CSL style name or .csl file overriding the journal profile's
    citation_style: str = ""
    # the journal's review copy (line numbers, spacing, figures as the profile says)
    review_copy: bool = False


NAMES = frozenset(f.name for f in fields(RenderSettings))


def from_params(params: Mapping[str, Any]) -> tuple[RenderSettings, dict[str, Any]]:
    """The :class:`RenderSettings` of a rule's flat keyword arguments, and the arguments that
    are not settings (its inputs, outputs and other params)."""
    chosen = {k: v for k, v in params.items() if k in NAMES}
    rest = {k: v for k, v in params.items() if k not in NAMES}
    return RenderSettings(**chosen), rest


def with_settings(stage: Callable[..., list[str]]) -> Callable[..., list[str]]:
    """``stage`` (which takes ``settings=``) called with a rule's flat arguments, as a rule's
    script runs it (:func:`.step.run`)."""

    def call(**kwargs: Any) -> list[str]:
        settings, rest = from_params(kwargs)
        return stage(settings=settings, **rest)

    call.__name__, call.__doc__ = stage.__name__, stage.__doc__
    return call
