"""The one JSON-safe conversion (orjson, a hard dependency).

JSON has no NaN or infinity: every non-finite number becomes ``null``, as do pandas' NA and NaT.
numpy scalars and arrays, sets, tuples, datetimes/dates (ISO 8601) and objects with ``to_dict``
are converted. Whole numbers beyond 64 bits (which orjson cannot write) become their decimal text,
so a stored record holding one is still readable. :func:`dumps` serialises anything :func:`to_jsonable` accepts; :func:`to_jsonable`
gives the plain Python structure (for stores, ``TierResult`` dicts, GeoJSON properties).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
import pandas as pd

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_INT_MIN, _UINT_MAX = -(2**63), 2**64 - 1  # the integers orjson writes


def finite(x: Any) -> float | None:
    """``x`` as a float, or None when it is None, NaN or infinite."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def to_jsonable(v: Any) -> Any:
    """``v`` as plain JSON-ready Python: NaN/inf/NA -> None, numpy unwrapped, containers recursed."""
    if v is None or isinstance(v, (str, bool)):
        return v
    if isinstance(v, int):
        return v if _INT_MIN <= v <= _UINT_MAX else str(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, np.generic):
        return to_jsonable(v.item())
    if isinstance(v, Mapping):
        return {(k if isinstance(k, str) else str(to_jsonable(k))): to_jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [to_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [to_jsonable(x) for x in v.tolist()]
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return v.isoformat()
    if hasattr(v, "to_dict"):
        return to_jsonable(v.to_dict())
    if hasattr(v, "isoformat"):
        return v.isoformat()
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


def _default(o: Any) -> Any:
    out = to_jsonable(o)
    if out is o:
        raise TypeError(f"cannot serialise {type(o).__name__}")
    return out


def dumps(obj: Any) -> bytes:
    """``obj`` as UTF-8 JSON bytes (non-finite numbers -> ``null``, numpy and datetimes converted)."""
    try:  # fast path: orjson writes NaN/inf as null itself; numpy arrays/scalars go through _default
        return orjson.dumps(obj, option=_OPTS, default=_default)
    except TypeError:  # e.g. non-str keys of odd types, numpy in keys: convert all of it first
        return orjson.dumps(to_jsonable(obj), option=_OPTS)


def loads(data: bytes | str) -> Any:
    """Parse JSON bytes or text."""
    return orjson.loads(data)


def dumps_text(obj: Any, *, indent: bool = False) -> str:
    """:func:`dumps` as text (``indent=True``: two-space indentation, for files people read)."""
    opts = _OPTS | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        return orjson.dumps(obj, option=opts, default=_default).decode()
    except TypeError:
        return orjson.dumps(to_jsonable(obj), option=opts).decode()


__all__ = ["dumps", "dumps_text", "finite", "loads", "to_jsonable"]
