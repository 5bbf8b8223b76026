"""One entry point for the print-ready static maps: :func:`render` draws ``coverage``, ``gaps`` or
``assignment`` as PNG, PDF or SVG bytes (see :mod:`maps.static_render` for the page conventions).

Offline: no tiles are drawn (tiles would need a server the county intranet may not reach, and a
print should not depend on one); the boundaries, townships' names and the data give the context.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from geo_service.core.errors import InvalidParameter

from .static_render import FONT_PATH, FORMATS, PageSize, figure_context, page_size, save
from .static_assignment import assignment_figure
from .static_coverage import coverage_figure
from .static_gaps import gaps_figure

KINDS = ("coverage", "gaps", "assignment")


@dataclass
class Rendered:
    """The bytes of one static map, its media type, the legend's figures and the time taken (s)."""

    data: bytes
    media_type: str
    counts: dict[str, Any]
    pixels: tuple[int, int]
    seconds: float


def render(kind: str, ds, *, fmt: str = "png", size: PageSize | None = None, lang: str = "zh",
           result: Any = None, gap_result: Any = None, threshold_m: float | None = None,
           source: str | None = None, cjk_font=FONT_PATH) -> Rendered:
    """Draw map ``kind`` of ``ds`` as ``fmt`` (png, pdf, svg) on ``size`` (default A4 landscape,
    300 dpi). ``result``: the run for ``assignment``; ``gap_result``: the proposal for ``gaps``
    (required: a ``solvers.gaps.close_gaps`` result or its dict);
    ``threshold_m`` is the gap threshold of the coverage map too. ``source``: the source line."""
    if kind not in KINDS:
        raise InvalidParameter("kind", f"kind must be one of {', '.join(KINDS)}, got {kind!r}", "literal_error",
                               ctx={"expected": ", ".join(KINDS)})
    if fmt not in FORMATS:
        raise InvalidParameter("fmt", f"format must be one of {', '.join(FORMATS)}, got {fmt!r}", "literal_error",
                               ctx={"expected": ", ".join(FORMATS)})
    size = size or page_size()
    t0 = time.perf_counter()
    with figure_context(cjk_font):
        if kind == "coverage":
            sm = coverage_figure(ds, lang=lang, gap_threshold=threshold_m, size=size, source=source)
        elif kind == "gaps":
            if gap_result is None:  # maps never import solvers (layers): the caller solves
                raise ValueError("kind='gaps' needs gap_result (e.g. solvers.gaps.close_gaps(ds, threshold_m))")
            sm = gaps_figure(ds, gap_result, threshold_m=threshold_m, lang=lang, size=size, source=source)
        else:
            sm = assignment_figure(ds, result, lang=lang, size=size, source=source)
        data = save(sm.fig, fmt, metadata_title=sm.title)
    return Rendered(data, FORMATS[fmt], sm.counts, size.pixels, time.perf_counter() - t0)
