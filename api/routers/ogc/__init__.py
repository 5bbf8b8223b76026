"""OGC API routes: Features (Parts 1 and 2) and vector Tiles per dataset, Processes over the job runner.

``router`` holds them all; :func:`api.app.create_app` includes it before the compact dataset routes
(``/v1/datasets/{id}/{layer}/{fid}`` would otherwise take ``/collections/...``).
"""

from __future__ import annotations

from fastapi import APIRouter

from . import features, oas30, processes, tiles

router = APIRouter()
router.include_router(features.router)
router.include_router(tiles.router)
router.include_router(processes.router)
router.include_router(oas30.router)

__all__ = ["router"]
