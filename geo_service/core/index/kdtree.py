"""KD-tree helpers: the transverse Mercator scale correction, the per-filter cache and the tree query."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from numpy.typing import NDArray

from .config import _R_EARTH_M


def tm_scale_correction(xy1: NDArray, xy2: NDArray) -> NDArray:
    """Mean transverse Mercator scale factor along segments ``xy1``-``xy2`` (k0 = 1).

    The point scale of a transverse Mercator with k0 = 1 is about ``1 + x**2 / (2 R**2)`` at
    easting ``x``; averaged along a straight segment (Simpson) it is
    ``1 + (x1**2 + x1*x2 + x2**2) / (6 R**2)``. Divide projected lengths by it to get ground metres.

    Parameters
    ----------
    xy1, xy2 : ndarray
        (..., 2) segment ends in a transverse Mercator with k0 = 1, metres (broadcast).

    Returns
    -------
    ndarray
        The scale factor (dimensionless, >= 1) per segment.
    """
    x1 = xy1[..., 0]
    x2 = xy2[..., 0]
    return 1.0 + (x1 * x1 + x1 * x2 + x2 * x2) / (6.0 * _R_EARTH_M ** 2)


def build_once(cache: dict, key: Any, lock: threading.Lock, build: Callable[[], Any]) -> Any:
    """``cache[key]``, built by ``build()`` on first use under ``lock``.

    Double-checked: reads of an already built entry take no lock, and concurrent first users
    build it once.

    Parameters
    ----------
    cache : dict
        Where built entries live (never holding None: None means "not built").
    key : hashable
        The entry.
    lock : threading.Lock
        Held while building.
    build : callable
        ``build()`` returns the entry.

    Returns
    -------
    object
        The cached entry.
    """
    hit = cache.get(key)
    if hit is not None:
        return hit
    with lock:
        if key not in cache:
            cache[key] = build()
        return cache[key]


__all__ = ["build_once", "tm_scale_correction"]
