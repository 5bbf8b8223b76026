"""Optional third-party extras, each behind one named switch.

Checked with :func:`importlib.util.find_spec`, so asking costs nothing; the module itself is imported
only where it is used (``numba`` adds about 0.6 s and ``distributed`` about 1.2 s to start-up).

- :data:`HAVE_NUMBA`: the ``fast`` extra (``pip install geo-service[fast]``), compiled loops for the
  large-batch grids and the Lagrangian's inner step; numpy does the same without it. Set
  ``GEO_SERVICE_NO_NUMBA=1`` to turn it off where it is installed.
- :data:`HAVE_DISTRIBUTED`: Dask ``distributed`` for :func:`geo_service.app.batch.run_batch` (a
  dependency of the service; the switch keeps a slimmed install that drops it working).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.util import find_spec
from typing import TypeVar, cast

HAVE_NUMBA: bool = find_spec("numba") is not None and os.environ.get("GEO_SERVICE_NO_NUMBA", "") != "1"
HAVE_DISTRIBUTED: bool = find_spec("distributed") is not None

F = TypeVar("F", bound=Callable)


def njit(fn: F) -> F:
    """``numba.njit(cache=True, nogil=True)(fn)`` with :data:`HAVE_NUMBA`, else ``fn`` unchanged."""
    if not HAVE_NUMBA:
        return fn
    import numba  # only with the extra, and only when a compiled loop is defined (about 0.6 s)

    return cast(F, numba.njit(cache=True, nogil=True)(fn))  # a Dispatcher, called like fn


def require_distributed(what: str = "batch runs") -> None:
    """Raise ImportError naming the extra when Dask ``distributed`` is not installed.

    Parameters
    ----------
    what : str
        What needs it, for the message.
    """
    if not HAVE_DISTRIBUTED:
        raise ImportError(f"{what} need Dask distributed: pip install dask distributed")


__all__ = ["HAVE_DISTRIBUTED", "HAVE_NUMBA", "njit", "require_distributed"]
