"""Print-ready static maps over HTTP: ``GET /v1/datasets/{id}/maps/{kind}.png`` (``.pdf``, ``.svg``).

Same access rule as the HTML maps (role ``viewer``); ``assignment`` draws a finished run (``job``,
default the latest successful one; 404 before any run). The page is A4 landscape at 300 dpi
unless ``paper``/``orientation`` or ``width_mm``/``height_mm`` and ``dpi`` say otherwise;
a page beyond the memory budget (width x height x dpi², :data:`maps.static_render.MAX_PIXELS`)
is refused with 422 naming it. Each image is drawn once per dataset version and parameters
(cached with the dataset) and served with ``Cache-Control: no-cache``; an SVG also carries a
Content-Security-Policy that lets it load and run nothing (:data:`SVG_CSP`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from geo_service.core.glossary import word
from geo_service.core.store import Store
from maps.locations import located_dataset
from maps.static_maps import render
from maps.static_render import page_size, source_text
from solvers.gaps import close_gaps

from . import privacy
from .auth import Principal, viewer
from .cache import DatasetEntry
from .deps import dataset_entry, finished_run, get_store
from .problems import ProblemError

router = APIRouter(tags=["web page and maps"])
# matplotlib's SVG styles every path with a style attribute (fill, stroke), which only
# 'unsafe-inline' allows (hashes cover <style> blocks, not attributes). That is harmless here: the
# document may run and load nothing (default-src 'none', no script-src), and its text is paths.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


@router.get("/v1/datasets/{dataset_id}/maps/{kind}.{fmt}",
            summary="A print-ready static map (PNG, PDF or SVG): coverage, gaps or assignment (viewer)",
            responses={200: {"content": {"image/png": {}, "application/pdf": {}, "image/svg+xml": {}}},
                       422: {"description": "bad parameters, or a page beyond the pixel budget"}})
def static_map(kind: Literal["coverage", "gaps", "assignment"], fmt: Literal["png", "pdf", "svg"],
               entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
               who: Principal = Depends(viewer),
               lang: Annotated[Literal["zh", "en"], Query()] = "zh",
               paper: Annotated[Literal["a5", "a4", "a3", "a2"], Query(description="paper size")] = "a4",
               orientation: Annotated[Literal["landscape", "portrait"], Query()] = "landscape",
               width_mm: Annotated[float | None, Query(ge=50, le=1200, description="custom width (mm), "
                                                       "with height_mm; overrides paper")] = None,
               height_mm: Annotated[float | None, Query(ge=50, le=1200)] = None,
               dpi: Annotated[int, Query(ge=50, le=600, description="dots per inch")] = 300,
               threshold_m: Annotated[float | None, Query(gt=0, le=200000, description="gap threshold (m)")] = None,
               job: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                                description="assignment: the job (default: latest successful)")] = None):
    """The map drawn with matplotlib and the bundled CJK font; offline (no tiles)."""
    # InvalidParameter naming the argument (dpi for the pixel budget): 422 (api.problems)
    size = page_size(paper, orientation=orientation, width_mm=width_mm, height_mm=height_mm, dpi=dpi)
    did = entry.info.id
    result, rec_id = None, None
    if kind == "assignment":
        rec = finished_run(store, did, job)
        if rec is None:
            raise ProblemError(404, f"dataset '{did}' has no finished optimisation run yet",
                               code="no-result", dataset_id=did)
        result, rec_id = rec.result, rec.id
    info = entry.info
    source = source_text(entry.ds.name or did, dataset_id=did, version=info.version, date=info.updated_at, lang=lang,
                         extra=f"{word('api_source_job', lang)} {rec_id[:8]}" if rec_id else "")
    key = (f"static:{kind}:{fmt}:{lang}:{size.width_mm:g}x{size.height_mm:g}@{size.dpi}:{threshold_m}:{rec_id}"
           f":{privacy.homes(who)}")

    def build(ds):
        ds = privacy.dataset_view(ds, who)  # members' homes: planner and admin only
        gap_result = None
        if kind == "gaps":
            gap_result = close_gaps(located_dataset(ds), threshold_m=threshold_m or 10000.0)
        return render(kind, ds, fmt=fmt, size=size, lang=lang, result=result, gap_result=gap_result,
                      threshold_m=threshold_m, source=source)

    try:
        out = entry.memo(key, build, max_items=16)
    except ImportError:
        raise ProblemError(503, "static maps need matplotlib (and solvers for gaps)", code="unavailable") from None
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
               "Content-Disposition": f'inline; filename="{did}-{kind}.{fmt}"'}
    if fmt == "svg":
        headers["Content-Security-Policy"] = SVG_CSP
    return Response(out.data, media_type=out.media_type, headers=headers)
