"""Argument checks of the nearest-station queries, shared with :mod:`geo_service.core.network`.

Each check returns the argument in canonical form or raises :class:`InvalidQuery` (a
:class:`ValueError`) naming the field, the row of a batch and the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..domain import SECTORS, STATION_KINDS, canonical_sector, canonical_station_kind
from .config import MAX_BATCH


class InvalidQuery(ValueError):
    """A query argument is wrong; ``field``, ``index`` (row of a batch) and ``value`` say which.

    The API maps it to an RFC 9457 problem+json response (HTTP 422).
    """

    def __init__(self, message: str, *, field: str, index: int | None = None, value: Any = None,
                 code: str = "invalid", ctx: dict[str, Any] | None = None):
        self.field = field
        self.index = index
        self.value = value
        self.code = code
        self.ctx = dict(ctx or {})
        where = f"{field}[{index}]" if index is not None else field
        super().__init__(f"{where}: {message}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description: message, field, index, value (as a string), ``code`` and
        ``ctx`` (what the glossary words the reason from, ``glossary.REASONS``)."""
        out = {"message": str(self), "field": self.field, "index": self.index,
               "value": None if self.value is None else str(self.value), "code": self.code}
        return {**out, "ctx": self.ctx} if self.ctx else out


# --- argument checking (shared with geo_service.core.network) ------------------------------------------

def check_points(lon: ArrayLike, lat: ArrayLike, max_batch: int = MAX_BATCH
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate WGS-84 points and return them as float arrays.

    Parameters
    ----------
    lon, lat : array_like
        Scalars or 1-d arrays of the same length, WGS-84 degrees.
    max_batch : int
        Most points accepted.

    Returns
    -------
    tuple of ndarray
        (n,) float64 longitudes and latitudes, degrees.

    Raises
    ------
    InvalidQuery
        (a ValueError) naming the field and first bad row: values that are not numbers, shapes
        that differ or are not 1-d, an empty batch, more than ``max_batch`` points, a value that
        is not finite, lon outside -180..180 or lat outside -90..90 degrees.
    """
    try:
        x = np.atleast_1d(np.asarray(lon, dtype=float))
    except (TypeError, ValueError) as e:
        raise InvalidQuery(f"longitudes must be numbers ({e})", field="lon", code="float_parsing") from None
    try:
        y = np.atleast_1d(np.asarray(lat, dtype=float))
    except (TypeError, ValueError) as e:
        raise InvalidQuery(f"latitudes must be numbers ({e})", field="lat", code="float_parsing") from None
    if x.ndim != 1 or y.ndim != 1:
        raise InvalidQuery("lon and lat must be scalars or 1-d arrays", field="lon", code="bad_shape")
    if x.shape != y.shape:
        raise InvalidQuery(f"got {len(x)} longitudes but {len(y)} latitudes", field="lat", code="length_mismatch",
                           ctx={"n_lon": len(x), "n_lat": len(y)})
    if len(x) == 0:
        raise InvalidQuery("empty batch: give at least one point", field="lon", code="empty_batch")
    if len(x) > max_batch:
        raise InvalidQuery(f"batch of {len(x)} points exceeds the limit of {max_batch}", field="lon",
                           code="batch_too_large", ctx={"n": len(x), "limit": max_batch})
    for name, v, lo, hi in (("lon", x, -180.0, 180.0), ("lat", y, -90.0, 90.0)):
        if v.min() >= lo and v.max() <= hi:  # all good (NaN fails these): no temporary arrays
            continue
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidQuery(f"{v[i]} is not a finite number", field=name, index=i, value=v[i],
                               code="finite_number")
        bad = (v < lo) | (v > hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidQuery(f"{v[i]} is outside {lo:g}..{hi:g} degrees", field=name, index=i,
                               value=v[i], code="between", ctx={"lo": f"{lo:g}", "hi": f"{hi:g}"})
    return x, y


def check_kinds(kinds: str | Iterable[str] | None) -> frozenset[str] | None:
    """Canonical station kinds.

    Parameters
    ----------
    kinds : str, iterable of str or None
        A kind or kinds, English or Chinese aliases accepted (``工作室``); None means every kind.

    Returns
    -------
    frozenset of str or None
        Canonical kinds (:data:`geo_service.core.domain.STATION_KINDS`), or None.

    Raises
    ------
    InvalidQuery
        (a ValueError, field ``kinds``) for an unknown kind or an empty list.
    """
    if kinds is None:
        return None
    items = [kinds] if isinstance(kinds, str) else list(kinds)
    out = set()
    for v in items:
        k = canonical_station_kind(v)
        if k is None:
            raise InvalidQuery(f"unknown station kind '{v}' (expected one of {', '.join(STATION_KINDS)})",
                               field="kinds", value=v, code="literal_error",
                               ctx={"expected": ", ".join(STATION_KINDS)})
        out.add(k)
    if not out:
        raise InvalidQuery("empty list of kinds: give at least one, or none to mean every kind",
                           field="kinds", value=[], code="empty_kinds")
    return frozenset(out)


def check_sector(sector: str | None) -> str | None:
    """Canonical sector (界别) name.

    Parameters
    ----------
    sector : str or None
        A sector name, aliases accepted; None means no sector filter.

    Returns
    -------
    str or None
        The canonical name (:data:`geo_service.core.domain.SECTORS`), or None.

    Raises
    ------
    InvalidQuery
        (a ValueError, field ``sector``) for an unknown sector.
    """
    if sector is None:
        return None
    s = canonical_sector(sector)
    if s is None:
        raise InvalidQuery(f"unknown sector '{sector}' (expected one of {', '.join(SECTORS)})",
                           field="sector", value=sector, code="literal_error", ctx={"expected": ", ".join(SECTORS)})
    return s


def check_k(k: int) -> int:
    """The number of neighbours asked for, checked.

    Parameters
    ----------
    k : int
        Neighbours per point.

    Returns
    -------
    int
        ``k`` as an int >= 1.

    Raises
    ------
    InvalidQuery
        (a ValueError, field ``k``) when ``k`` is not a whole number >= 1.
    """
    try:
        ki = int(k)
    except (TypeError, ValueError):
        raise InvalidQuery(f"k must be an integer >= 1, got {k!r}", field="k", value=k, code="int_at_least",
                           ctx={"ge": 1}) from None
    if ki != k or ki < 1:
        raise InvalidQuery(f"k must be an integer >= 1, got {k!r}", field="k", value=k, code="int_at_least",
                           ctx={"ge": 1})
    return ki


def check_max_distance(max_distance_m: float | None) -> float | None:
    """A maximum distance, checked.

    Parameters
    ----------
    max_distance_m : float or None
        Metres; None means no cut.

    Returns
    -------
    float or None
        The distance in metres (finite, >= 0), or None.

    Raises
    ------
    InvalidQuery
        (a ValueError, field ``max_distance_m``) for a value that is not a number, not finite
        or negative.
    """
    if max_distance_m is None:
        return None
    try:
        d = float(max_distance_m)
    except (TypeError, ValueError):
        raise InvalidQuery("must be a number of metres", field="max_distance_m",
                           value=max_distance_m, code="float_parsing") from None
    if not np.isfinite(d) or d < 0:
        raise InvalidQuery("must be a finite number of metres >= 0", field="max_distance_m",
                           value=max_distance_m, code="greater_than_equal", ctx={"ge": 0})
    return d


def station_mask(kinds_col: Sequence[str], sectors_col: Sequence[Sequence[str]],
                 kinds: frozenset[str] | None, sector: str | None) -> NDArray[np.bool_]:
    """Which stations match a kind and sector filter.

    Parameters
    ----------
    kinds_col : sequence of str
        Each station's canonical kind.
    sectors_col : sequence of sequence of str
        Each station's sectors hosted (None or empty: none).
    kinds : frozenset of str or None
        Canonical kinds to keep (from :func:`check_kinds`); None keeps every kind.
    sector : str or None
        Canonical sector the station must host (from :func:`check_sector`); None: any.

    Returns
    -------
    ndarray of bool
        (n,) True for the stations that match.
    """
    n = len(kinds_col)
    m = np.ones(n, dtype=bool)
    if kinds is not None:
        m &= np.fromiter((k in kinds for k in kinds_col), dtype=bool, count=n)
    if sector is not None:
        m &= np.fromiter((sector in (s or ()) for s in sectors_col), dtype=bool, count=n)
    return m


__all__ = ["InvalidQuery", "check_k", "check_kinds", "check_max_distance", "check_points", "check_sector",
           "station_mask"]
