"""Last-mile coverage of villages: summary by threshold and the ranked gap list."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query

from geo_service.core import coverage as cov

from ..auth import Principal, viewer
from ..cache import DatasetEntry
from ..deps import dataset_entry
from ..encoding import FastJSONResponse
from ..problems import ProblemError
from ..results import records
from ..schemas import ProblemDetail

router = APIRouter(prefix="/v1/datasets", tags=["coverage"])
_ERR = {k: {"model": ProblemDetail} for k in (400, 401, 403, 404, 422)}


def _floats(text: str | None, field: str) -> list[float] | None:
    if text is None:
        return None
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        vals = []
    if not vals or len(vals) > 20 or not all(np.isfinite(v) and v > 0 for v in vals):
        raise ProblemError(422, f"{field} must be 1-20 positive numbers separated by commas, got '{text}'",
                           code="invalid-parameters",
                           errors=[{"in": "query", "field": field, "message": "bad list", "code": "bad_list"}])
    return vals


def compute_coverage(entry: DatasetEntry, *, mode: str, thresholds: list[float] | None, kinds: list[str] | None,
                     sector: str | None, gap_threshold: float | None, gap_limit: int) -> dict:
    """Summary (:func:`geo_service.core.coverage.coverage_summary`) and gaps (:func:`find_gaps`) of one
    dataset version, memoised on the cache entry per parameter set."""
    key = ("coverage", mode, tuple(thresholds or ()), tuple(kinds or ()), sector, gap_threshold)

    def build(ds):
        net = entry.network if mode == "road" and len(ds.roads) else None
        kw = {"thresholds_m": thresholds} if mode == "straight" else {"thresholds_s": thresholds}
        kw = {k: v for k, v in kw.items() if v is not None}
        summary = cov.coverage_summary(ds, mode=mode, network=net, kinds=kinds, index=entry.station_index, **kw)
        gkw = {"threshold_m": gap_threshold} if mode == "straight" else {"threshold_s": gap_threshold}
        gaps = cov.find_gaps(ds, mode=mode, network=net, kinds=kinds, sector=sector,
                             index=entry.station_index, **{k: v for k, v in gkw.items() if v is not None})
        gaps = gaps.assign(lon=gaps.geometry.x.round(6), lat=gaps.geometry.y.round(6))
        # no reachable station: find_gaps says inf; JSON has no inf, the API says null
        return summary, records(gaps.drop(columns="geometry").replace([np.inf, -np.inf], np.nan))

    summary, gaps = entry.memo(repr(key), build)  # InvalidQuery: 422 (api.problems.ERROR_TABLE)
    return {"dataset_id": entry.info.id, "dataset_version": entry.info.version,
            "weight": summary.get("weight"), "summary": summary,
            "gaps": {"count": len(gaps), "villages": gaps[:gap_limit]}}


@router.get("/{dataset_id}/coverage", response_class=FastJSONResponse, summary="Coverage summary and gaps",
            responses=_ERR)
def coverage(
    entry: DatasetEntry = Depends(dataset_entry), _: Principal = Depends(viewer),
    mode: Annotated[Literal["straight", "road"], Query(description="straight-line metres or road seconds")]
    = "straight",
    thresholds: Annotated[str | None, Query(max_length=200, description="comma-separated thresholds: metres "
                                            "(straight) or seconds (road); default 5000,10000,20000 or "
                                            "900,1800,3600")] = None,
    kind: Annotated[list[str] | None, Query(max_length=8, description="count only these station kinds")] = None,
    sector: Annotated[str | None, Query(max_length=50, description="gaps for this sector only")] = None,
    gap_threshold: Annotated[float | None, Query(gt=0, le=1e7, description="gap threshold, m or s "
                                                 "(default 10000 m / 1800 s)")] = None,
    gap_limit: Annotated[int, Query(ge=0, le=100_000, description="most gap villages listed")] = 1000,
):
    """Population-weighted coverage per threshold (total, county, township, sector) and the villages
    beyond ``gap_threshold``, most populous first."""
    if mode == "road" and not len(entry.ds.roads):
        raise ProblemError(422, f"dataset '{entry.info.id}' has no roads; use mode=straight",
                           code="invalid-query", errors=[{"in": "query", "field": "mode", "message": "no roads",
                                                          "code": "no_roads"}])
    kinds = [k.strip() for item in (kind or []) for k in item.split(",") if k.strip()] or None
    body = compute_coverage(entry, mode=mode, thresholds=_floats(thresholds, "thresholds"), kinds=kinds,
                            sector=sector, gap_threshold=gap_threshold, gap_limit=gap_limit)
    return FastJSONResponse(body, headers={"ETag": entry.info.etag})
