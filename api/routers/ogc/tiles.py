"""OGC API - Tiles: Mapbox Vector Tiles in WebMercatorQuad of villages, stations, zones and coverage.

- ``/v1/datasets/{id}/tiles``: the dataset's vector tilesets (one, WebMercatorQuad);
- ``/v1/datasets/{id}/tiles/WebMercatorQuad``: its description (layers, zoom levels, bounds);
- ``/v1/datasets/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}``: one tile holding a layer per tileable
  collection the caller may read (``villages``, ``stations``, ``zones``, ``coverage``);
- the same under ``/collections/{cid}/tiles...`` for one collection.

Tiles are encoded by the ``mapbox-vector-tile`` package (extent 4096, 64 px buffer; polygons
simplified to a pixel and clipped) and kept in an in-memory LRU keyed by the collections' tags
(dataset version and result job), so a new version or run is never served from an old tile. An
empty tile answers 204. List properties are joined with ``;`` (MVT has no list values). Below zoom
:data:`DETAIL_ZOOM` a feature carries only the properties a map styles and labels by
(:data:`OVERVIEW_PROPERTIES`; below :data:`OVERVIEW_ZOOM` only :data:`FAR_PROPERTIES`), so the tiles
of a whole province stay small and quick to encode.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Annotated, Any

import mapbox_vector_tile
import numpy as np
import shapely
from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from pyproj import Transformer
from starlette.responses import Response

from geo_service.core.jsonsafe import to_jsonable
from geo_service.core.store import Store

from ...auth import Principal, viewer
from ...cache import DatasetEntry
from ...deps import dataset_entry, get_store, public_url
from ...encoding import FastJSONResponse
from ...problems import ProblemError
from ...schemas import ProblemDetail
from . import layers as L
from .features import CollectionId

router = APIRouter(prefix="/v1/datasets", tags=["OGC API - Tiles"])
_ERR = {k: {"model": ProblemDetail} for k in (400, 401, 403, 404)}
MVT = "application/vnd.mapbox-vector-tile"
TILEABLE = ("villages", "stations", "zones", "coverage")
EXTENT, BUFFER_PX, MAX_ZOOM = 4096, 64, 20
#: below this zoom tiles carry only these properties (besides ``id``): a province in a few tiles
DETAIL_ZOOM, OVERVIEW_ZOOM = 10, 8
OVERVIEW_PROPERTIES = {"villages": ("name", "township_id"), "stations": ("name", "kind"),
                       "zones": ("name", "station_id"), "coverage": ("name", "nearest_station_id", "nearest_m")}
#: below :data:`OVERVIEW_ZOOM` (a province in a tile or two) fewer still
FAR_PROPERTIES = {"villages": (), "stations": ("name",), "zones": ("name",), "coverage": ("nearest_m",)}
WEB_MERCATOR_HALF = 20037508.342789244  # metres, half the side of the WebMercatorQuad square
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
_TO_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


class TileCache:
    """A thread-safe LRU of encoded tiles (bytes), at most ``max_bytes`` in all."""

    def __init__(self, max_bytes: int = 64 << 20):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            v = self._items.get(key)
            if v is not None:
                self._items.move_to_end(key)
            return v

    def put(self, key: tuple, value: bytes) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)


CACHE = TileCache()


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """WebMercatorQuad tile (zoom ``z``, column ``x``, row ``y`` from the top) in EPSG:3857 metres."""
    side = 2 * WEB_MERCATOR_HALF / (1 << z)
    minx = -WEB_MERCATOR_HALF + x * side
    maxy = WEB_MERCATOR_HALF - y * side
    return minx, maxy - side, minx + side, maxy


def _mercator(lay: L.Layer, entry: DatasetEntry, personal: bool) -> dict[str, Any]:
    """The layer's geometries in EPSG:3857 with an STRtree, and its properties as tile values."""
    def build(_ds):
        geoms = lay.frame.geometry.to_numpy()
        ok = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
        merc = np.full(len(geoms), None, dtype=object)
        if ok.any():
            merc[ok] = shapely.transform(geoms[ok], lambda c: np.column_stack(_TO_3857.transform(c[:, 0], c[:, 1])))
        idx = np.flatnonzero(ok)
        return {"geoms": merc, "idx": idx, "tree": shapely.STRtree(merc[idx]) if len(idx) else None}
    return entry.memo(f"ogc:merc:{lay.name}:{lay.tag}:{personal}", build, max_items=48)


def _value(v: Any) -> Any:
    if isinstance(v, (list, tuple, np.ndarray)):
        return ";".join(str(x) for x in v)
    v = to_jsonable(v)
    return v if isinstance(v, (str, int, float, bool)) else None


def encode_layer(lay: L.Layer, merc: dict[str, Any], z: int, x: int, y: int) -> dict[str, Any] | None:
    """The MVT layer dict of ``lay`` in tile z/x/y (tile coordinates), or None when nothing falls in it."""
    if merc["tree"] is None:
        return None
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    scale = EXTENT / (maxx - minx)
    pad = BUFFER_PX / scale
    hits = merc["tree"].query(shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad))
    if not len(hits):
        return None
    rows = merc["idx"][np.sort(hits)]
    geoms = merc["geoms"][rows]
    if lay.geometry_type != "Point":
        geoms = shapely.simplify(geoms, 1.0 / scale, preserve_topology=True)
        geoms = shapely.clip_by_rect(geoms, minx - pad, miny - pad, maxx + pad, maxy + pad)
    local = shapely.transform(geoms, lambda c: np.column_stack([(c[:, 0] - minx) * scale, (c[:, 1] - miny) * scale]))
    frame = lay.frame
    ids = frame["id"].to_numpy(dtype=object)[rows]
    keep = lay.properties
    if z < DETAIL_ZOOM:
        keep = (OVERVIEW_PROPERTIES if z >= OVERVIEW_ZOOM else FAR_PROPERTIES).get(lay.name, lay.properties)
    cols = {c: frame[c].to_numpy(dtype=object)[rows] for c in keep if c in lay.properties}
    feats = []
    for k, g in enumerate(local):
        if g is None or g.is_empty:
            continue
        props = {"id": str(ids[k])}
        for c, vals in cols.items():
            v = _value(vals[k])
            if v is not None:
                props[c] = v
        feats.append({"geometry": g, "properties": props})
    return {"name": lay.name, "features": feats} if feats else None


def _check_tile(z: int, x: int, y: int) -> None:
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise ProblemError(404, f"no tile {z}/{y}/{x}: at zoom {z} rows and columns run 0..{n - 1}",
                           code="tile-not-found", field="tileRow" if not 0 <= y < n else "tileCol")


def render_tile(entry: DatasetEntry, store: Store, who: Principal, names: list[str], z: int, x: int, y: int
                ) -> bytes:
    """The MVT bytes of tile z/x/y with a layer per name in ``names`` the caller may read (cached)."""
    _check_tile(z, x, y)
    lays = [lay for lay in (L.layer(entry, store, n, who) for n in names) if lay is not None]
    key = (entry.info.id, who.sees_personal, z, x, y, tuple((lay.name, lay.tag) for lay in lays))
    data = CACHE.get(key)
    if data is None:
        encoded = [e for e in (encode_layer(lay, _mercator(lay, entry, who.sees_personal), z, x, y) for lay in lays)
                   if e is not None]
        data = mapbox_vector_tile.encode(encoded, default_options={"extents": EXTENT}) if encoded else b""
        CACHE.put(key, data)
    return data


def _tile_response(data: bytes) -> Response:
    if not data:
        return Response(status_code=204, headers={"Cache-Control": "no-cache"})
    return Response(data, media_type=MVT, headers={"Cache-Control": "no-cache"})


Z = Annotated[int, Path(ge=0, le=MAX_ZOOM, description="zoom level (tile matrix)")]
Row = Annotated[int, Path(ge=0, description="tile row, from the top")]
Col = Annotated[int, Path(ge=0, description="tile column, from the west")]


def _tileset(request: Request, entry: DatasetEntry, names: list[str], base: str, lays: list[L.Layer]) -> dict:
    bounds = [lay.bounds for lay in lays if lay.bounds is not None]
    box = [min(b[0] for b in bounds), min(b[1] for b in bounds), max(b[2] for b in bounds),
           max(b[3] for b in bounds)] if bounds else None
    doc = {"title": entry.ds.name or entry.info.id, "dataType": "vector", "crs": TMS_URI.replace(
        "tilematrixset/OGC/1.0/WebMercatorQuad", "crs/EPSG/0/3857"), "tileMatrixSetURI": TMS_URI,
        "links": [{"href": f"{base}/tiles/WebMercatorQuad", "rel": "self", "type": "application/json"},
                  {"href": TMS_URI, "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                   "type": "application/json"},
                  {"href": f"{base}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}", "rel": "item",
                   "type": MVT, "templated": True}],
        "layers": [{"id": lay.name, "title": lay.title("zh"), "dataType": "vector",
                    "geometryDimension": 0 if lay.geometry_type == "Point" else 2, "minTileMatrix": "0",
                    "maxTileMatrix": str(MAX_ZOOM)} for lay in lays],
        "tileMatrixSetLimits": []}
    if box:
        doc["boundingBox"] = {"lowerLeft": box[:2], "upperRight": box[2:],
                              "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}
    return doc


def _lays(entry, store, who, names):
    return [lay for lay in (L.layer(entry, store, n, who) for n in names) if lay is not None]


def _collection_names(entry, store, who, cid: str | None) -> list[str]:
    if cid is None:
        return [n for n in TILEABLE if n in L.available(entry, store, who)]
    if cid not in TILEABLE or L.layer(entry, store, cid, who) is None:
        raise ProblemError(404, f"collection '{cid}' has no vector tiles (tiles: {', '.join(TILEABLE)})",
                           code="collection-not-found", collection=cid)
    return [cid]


def _base(request: Request, entry: DatasetEntry, cid: str | None) -> str:
    path = f"/v1/datasets/{entry.info.id}" + (f"/collections/{cid}" if cid else "")
    return public_url(request, path)


def _tilesets(request: Request, entry: DatasetEntry, store: Store, who: Principal, cid: str | None):
    names = _collection_names(entry, store, who, cid)
    base = _base(request, entry, cid)
    return FastJSONResponse({"tilesets": [{
        "title": entry.ds.name or entry.info.id, "dataType": "vector", "tileMatrixSetURI": TMS_URI,
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "links": [{"href": f"{base}/tiles/WebMercatorQuad", "rel": "self", "type": "application/json"},
                  {"href": TMS_URI, "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"}],
        "layers": names}], "links": [{"href": f"{base}/tiles", "rel": "self", "type": "application/json"}]})


async def _tile(entry: DatasetEntry, store: Store, who: Principal, cid: str | None, z: int, y: int, x: int):
    names = await run_in_threadpool(_collection_names, entry, store, who, cid)
    return _tile_response(await run_in_threadpool(render_tile, entry, store, who, names, z, x, y))


_TILE = {**_ERR, 200: {"content": {MVT: {}}}, 204: {"description": "empty tile"}}


@router.get("/{dataset_id}/tiles", summary="Vector tilesets of the dataset's layers", responses=_ERR)
def dataset_tilesets(request: Request, entry: DatasetEntry = Depends(dataset_entry),
                     store: Store = Depends(get_store), who: Principal = Depends(viewer)):
    return _tilesets(request, entry, store, who, None)


@router.get("/{dataset_id}/tiles/WebMercatorQuad", summary="The dataset's WebMercatorQuad vector tileset",
            responses=_ERR)
def dataset_tileset(request: Request, entry: DatasetEntry = Depends(dataset_entry),
                    store: Store = Depends(get_store), who: Principal = Depends(viewer)):
    names = _collection_names(entry, store, who, None)
    return FastJSONResponse(_tileset(request, entry, names, _base(request, entry, None),
                                     _lays(entry, store, who, names)))


@router.get("/{dataset_id}/tiles/WebMercatorQuad/{z}/{y}/{x}", summary="One vector tile (every tileable layer)",
            responses=_TILE)
async def dataset_tile(z: Z, y: Row, x: Col, entry: DatasetEntry = Depends(dataset_entry),
                       store: Store = Depends(get_store), who: Principal = Depends(viewer)):
    return await _tile(entry, store, who, None, z, y, x)


@router.get("/{dataset_id}/collections/{collection_id}/tiles", summary="Vector tilesets of one collection",
            responses=_ERR)
def collection_tilesets(request: Request, collection_id: CollectionId, entry: DatasetEntry = Depends(dataset_entry),
                        store: Store = Depends(get_store), who: Principal = Depends(viewer)):
    return _tilesets(request, entry, store, who, collection_id)


@router.get("/{dataset_id}/collections/{collection_id}/tiles/WebMercatorQuad",
            summary="One collection's WebMercatorQuad vector tileset", responses=_ERR)
def collection_tileset(request: Request, collection_id: CollectionId, entry: DatasetEntry = Depends(dataset_entry),
                       store: Store = Depends(get_store), who: Principal = Depends(viewer)):
    names = _collection_names(entry, store, who, collection_id)
    return FastJSONResponse(_tileset(request, entry, names, _base(request, entry, collection_id),
                                     _lays(entry, store, who, names)))


@router.get("/{dataset_id}/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{y}/{x}",
            summary="One vector tile of one collection", responses=_TILE)
async def collection_tile(collection_id: CollectionId, z: Z, y: Row, x: Col,
                          entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
                          who: Principal = Depends(viewer)):
    return await _tile(entry, store, who, collection_id, z, y, x)


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The WebMercatorQuad column and row holding (``lon``, ``lat``) at zoom ``z``."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = math.radians(max(min(lat, 85.0511), -85.0511))
    y = int((1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


__all__ = ["CACHE", "MVT", "TILEABLE", "encode_layer", "lonlat_to_tile", "render_tile", "router", "tile_bounds"]
