"""JSON responses of the API, serialised by the one JSON-safe conversion (:mod:`geo_service.core.jsonsafe`).

numpy arrays and scalars serialise natively with orjson; NaN and infinities become ``null``
(JSON has no NaN), so responses are always valid JSON.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from geo_service.core.jsonsafe import dumps, loads

__all__ = ["FastJSONResponse", "GeoJSONResponse", "dumps", "loads"]


class FastJSONResponse(Response):
    """``application/json`` response serialised with :func:`geo_service.core.jsonsafe.dumps`."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


class GeoJSONResponse(FastJSONResponse):
    """RFC 7946 GeoJSON: ``application/geo+json``."""

    media_type = "application/geo+json"
