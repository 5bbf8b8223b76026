"""Fast JSON in and out (orjson when installed, the standard library otherwise).

numpy arrays and scalars serialise natively with orjson; NaN and infinities become ``null``
(JSON has no NaN), so responses are always valid JSON. :func:`dumps_stdlib` is the same
contract without orjson (also inside numpy arrays and numpy scalars).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from starlette.responses import Response

try:  # orjson: several times faster on large batches; optional
    import orjson

    _OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS

    def dumps(obj: Any) -> bytes:
        """Serialise ``obj`` to UTF-8 JSON bytes."""
        return orjson.dumps(obj, option=_OPTS, default=_default)

    def loads(data: bytes | str) -> Any:
        """Parse JSON bytes/str."""
        return orjson.loads(data)

    HAVE_ORJSON = True
except ImportError:  # pragma: no cover - exercised where orjson is absent
    orjson = None

    def dumps(obj: Any) -> bytes:
        return dumps_stdlib(obj)

    def loads(data: bytes | str) -> Any:
        return json.loads(data)

    HAVE_ORJSON = False


def dumps_stdlib(obj: Any) -> bytes:
    """:func:`dumps` with the standard library only (NaN and infinities -> ``null``)."""
    return json.dumps(_clean(obj), ensure_ascii=False, default=lambda o: _clean(_default(o)),
                      allow_nan=False).encode()


def _default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        v = o.item()
        return None if isinstance(v, float) and not math.isfinite(v) else v
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    raise TypeError(f"cannot serialise {type(o).__name__}")


def _clean(o: Any) -> Any:  # stdlib path only: NaN -> null
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, np.floating):
        v = float(o)
        return v if math.isfinite(v) else None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


class FastJSONResponse(Response):
    """``application/json`` response serialised with :func:`dumps`."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


class GeoJSONResponse(FastJSONResponse):
    """RFC 7946 GeoJSON: ``application/geo+json``."""

    media_type = "application/geo+json"
