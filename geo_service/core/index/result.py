"""The answer of a nearest-station query (:class:`NearestResult`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray


@dataclass(frozen=True)
class NearestResult:
    """Answer to a nearest-station query of ``n`` points with ``k`` neighbours each.

    Arrays are shaped ``(n, k)``, nearest first. Where fewer than ``k`` stations match the filter
    (or lie within ``max_distance_m``) the missing slots hold ``station_index == -1``,
    ``station_id is None`` and ``distance_m == inf``.
    """

    station_index: NDArray[np.int64]  #: row in the index's station table, -1 when none
    station_id: NDArray[np.object_]  #: station ids (str), None when none
    distance_m: NDArray[np.float64]  #: ground distance in metres, inf when none
    stations: pd.DataFrame  #: the index's station table (id, name, kind, sectors, lon, lat)
    #: (n,) True where the point lies more than :data:`OUTSIDE_MARGIN_M` outside the indexed area
    #: (None for metric queries)
    outside_dataset: NDArray[np.bool_] | None = None

    @property
    def found(self) -> NDArray[np.bool_]:
        """(n, k) mask of slots that hold a station."""
        return self.station_index >= 0

    def to_frame(self) -> pd.DataFrame:
        """Long table, one row per found neighbour: point (query row), rank (1 = nearest), id,
        name, kind, distance_m (metres)."""
        pt, rk = np.nonzero(self.found)
        si = self.station_index[pt, rk]
        st = self.stations
        return pd.DataFrame({
            "point": pt.astype(np.int64), "rank": (rk + 1).astype(np.int64),
            "id": st["id"].to_numpy()[si], "name": st["name"].to_numpy()[si],
            "kind": st["kind"].to_numpy()[si], "distance_m": self.distance_m[pt, rk],
        })

    def records(self) -> list[list[dict[str, Any]]]:
        """Per query point, its neighbours as JSON-ready dicts (id, name, kind, distance_m)."""
        st = self.stations
        ids, names, kinds = (st[c].to_numpy() for c in ("id", "name", "kind"))
        out = []
        for row_i, row_d in zip(self.station_index.tolist(), self.distance_m.tolist()):
            out.append([{"id": ids[i], "name": names[i], "kind": kinds[i], "distance_m": d}
                        for i, d in zip(row_i, row_d) if i >= 0])
        return out


__all__ = ["NearestResult"]
