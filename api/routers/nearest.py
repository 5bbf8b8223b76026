"""Nearest-station lookups: one point (GET) and batches of up to 1,000,000 points (POST).

The hot path: the dataset version's ``StationIndex``/``RoadNetwork`` live in the in-memory cache
(:mod:`api.cache`), so a request costs a KD-tree query and no database round trip. Batches are
parsed with orjson into numpy arrays and answered column-wise (``format=columns``) or as one
row per (point, rank) (``format=rows``); both are encoded from numpy arrays in one pass.
"""

from __future__ import annotations

import gc
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from geo_service.core import glossary as G
from geo_service.core.index import check_points
from geo_service.core.store import check_dataset_id

from .. import batch_format
from ..auth import Principal, nearest_access, principal
from ..cache import DatasetCache, DatasetEntry
from ..bodies import read_json_budgeted
from ..deps import checked_dataset_id, dataset_entry, get_cache
from ..encoding import FastJSONResponse, dumps, loads
from ..problems import ProblemError, parameter_item
from ..schemas import NearestBatchResponse, NearestResponse, ProblemDetail

router = APIRouter(prefix="/v1/datasets", tags=["nearest"])
_ERR = {k: {"model": ProblemDetail} for k in (400, 401, 403, 404, 413, 422)}

Mode = Literal["straight", "road"]
KindQ = Annotated[list[str] | None, Query(max_length=8, description="station kind(s): station_comprehensive, "
                                          "station_sector, studio, contact_point (aliases accepted; repeat "
                                          "or comma-separate)")]
SectorQ = Annotated[str | None, Query(max_length=50, description="only stations hosting this sector (界别)")]
MaxDistQ = Annotated[float | None, Query(gt=0, le=1e7, description="drop stations farther than this (m)")]


def _kinds(kind: list[str] | None) -> list[str] | None:
    if not kind:
        return None
    out = [k.strip() for item in kind for k in item.split(",") if k.strip()]
    return out or None


async def _entry(cache: DatasetCache, dataset_id: str, mode: str) -> DatasetEntry:
    entry = cache.peek(dataset_id)
    name = "network" if mode == "road" else "station_index"
    if entry is None or not entry.has(name):  # first use or re-check: off the event loop
        entry = await run_in_threadpool(dataset_entry, dataset_id, cache)
        await run_in_threadpool(getattr, entry, name)
    return entry


class Compact:
    """A batch answer in compact arrays (a few bytes per slot), before any JSON is built.

    ``si`` (n, k) int32: row in ``stations`` (-1 when no station matches); ``dist`` (n, k) metres
    rounded to 0.1 (NaN when none); ``dur`` travel time (s, road mode) and ``far`` (far_from_road,
    road mode) or None; ``outside`` (n,) bool: the point lies beyond
    ``geo_service.core.index.OUTSIDE_MARGIN_M`` of the dataset (straight mode; road mode refuses such points).
    """

    def __init__(self, si, dist, dur, far, stations, outside=None):
        self.si, self.dist, self.dur, self.far, self.stations = si, dist, dur, far, stations
        self.outside = outside

    def slot_outside(self):
        """``outside`` per slot (n, k), a broadcast view (no copy), or None."""
        return None if self.outside is None else np.broadcast_to(self.outside[:, None], self.si.shape)


def lookup_compact(entry: DatasetEntry, lon: np.ndarray, lat: np.ndarray, *, k: int, kinds: list[str] | None,
                   sector: str | None, max_distance_m: float | None, mode: str,
                   chunk_slots: int = 250_000) -> Compact:
    """Nearest stations for the points, computed ``chunk_slots // k`` points at a time.

    The KD-tree query of one chunk allocates ~40 bytes per slot; keeping only int32 rows and
    float distances per slot bounds the memory of a 1M-point, k=50 query to ~12 bytes a slot.
    """
    n = len(lon)
    step = max(1, chunk_slots // max(1, k))
    si = np.empty((n, k), dtype=np.int32)
    dist = np.empty((n, k), dtype=np.float64)
    dur = np.empty((n, k), dtype=np.float64) if mode == "road" else None
    far = np.empty((n, k), dtype=bool) if mode == "road" else None
    outside = np.zeros(n, dtype=bool) if mode != "road" else None
    stations = None
    check_points(lon, lat, max(n, 1))  # every point checked first: errors name the batch row
    for a in range(0, n, step):
        b = min(n, a + step)
        if mode == "road":
            r = entry.network.nearest(lon[a:b], lat[a:b], k=k, kinds=kinds, sector=sector)
            s = r.station_index.reshape(-1, 1)
            d = (r.road_m + r.offroad_m).reshape(-1, 1)
            if max_distance_m is not None:
                s = np.where(d > max_distance_m, -1, s)
            dur[a:b] = np.round(r.time_s.reshape(-1, 1), 1)
            far[a:b] = r.far_from_road.reshape(-1, 1)
        else:
            r = entry.station_index.nearest(lon[a:b], lat[a:b], k=k, kinds=kinds, sector=sector,
                                            max_distance_m=max_distance_m)
            s, d = r.station_index, r.distance_m
            outside[a:b] = r.outside_dataset
        stations = r.stations if stations is None else stations
        si[a:b] = s
        dist[a:b] = np.where(s >= 0, np.round(d, 1), np.nan)
        del r, s, d
    if dur is not None:
        dur[si < 0] = np.nan
    return Compact(si, dist, dur, far, stations, outside)


def _id_table(entry: DatasetEntry, stations) -> dict[str, np.ndarray]:
    """id, name and kind of each row of an index's station table, with a trailing None (row -1)."""
    return entry.memo(f"station-columns-ext:{id(stations)}", lambda ds: {
        c: np.append(stations[c].to_numpy(dtype=object), None) for c in ("id", "name", "kind")})


def lookup(entry: DatasetEntry, lon: np.ndarray, lat: np.ndarray, *, k: int, kinds: list[str] | None,
           sector: str | None, max_distance_m: float | None, mode: str) -> dict[str, np.ndarray]:
    """Nearest stations for the points, as flat columns of length ``n * k`` (point-major).

    Columns: ``point`` (query index), ``rank`` (1 = nearest), ``station_id`` (None when no station
    matches), ``name``, ``kind``, ``distance_m`` (metres; road distance incl. off-road legs in road
    mode), ``duration_s`` (road mode: travel time, seconds) and ``far_from_road`` (road mode).
    """
    c = lookup_compact(entry, lon, lat, k=k, kinds=kinds, sector=sector, max_distance_m=max_distance_m,
                       mode=mode)
    return _columns(entry, c, 0, len(lon))


def _columns(entry: DatasetEntry, c: Compact, a: int, b: int) -> dict[str, np.ndarray]:
    """Flat object/number columns of points ``a:b`` of a compact answer (see :func:`lookup`)."""
    kk = c.si.shape[1]
    flat = c.si[a:b].reshape(-1)  # -1 picks the trailing None of the id table
    table = _id_table(entry, c.stations)
    out = {"point": np.repeat(np.arange(a, b), kk), "rank": np.tile(np.arange(1, kk + 1), b - a),
           "station_id": table["id"][flat], "name": table["name"][flat], "kind": table["kind"][flat],
           "distance_m": c.dist[a:b].reshape(-1)}
    if c.dur is not None:
        out["duration_s"] = c.dur[a:b].reshape(-1)
        out["far_from_road"] = c.far[a:b].reshape(-1)
    if c.outside is not None:
        out["outside_dataset"] = np.repeat(c.outside[a:b], kk)
    return out


def _station_rows(entry: DatasetEntry, stations) -> list[dict[str, Any]]:
    """Per row of an index's station table: ``{station_id, name, kind}`` (memoised per version)."""
    return entry.memo(f"station-rows:{id(stations)}", lambda ds: [
        {"station_id": a, "name": b, "kind": c}
        for a, b, c in zip(stations["id"].tolist(), stations["name"].tolist(), stations["kind"].tolist())])


def _rows(cols: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    keys = list(cols)
    lists = [cols[c].tolist() for c in keys]
    return [dict(zip(keys, vals)) for vals in zip(*lists)]


def _param(name: str, where: str, schema: dict, description: str, required: bool = False, **kw) -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description, **kw}


_SINGLE_PARAMS = [
    _param("dataset_id", "path", {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"},
           "dataset id", True),
    _param("lon", "query", {"type": "number", "minimum": -180, "maximum": 180}, "longitude, WGS-84 degrees", True),
    _param("lat", "query", {"type": "number", "minimum": -90, "maximum": 90}, "latitude, WGS-84 degrees", True),
    _param("k", "query", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1},
           "how many stations (road mode: 1; at most the max_k setting)"),
    _param("kind", "query", {"type": "array", "items": {"type": "string"}, "maxItems": 8},
           "station kind(s): station_comprehensive, station_sector, studio, contact_point (aliases accepted; "
           "repeat or comma-separate)", style="form", explode=True),
    _param("sector", "query", {"type": "string", "maxLength": 50}, "only stations hosting this sector (界别)"),
    _param("max_distance_m", "query", {"type": "number", "exclusiveMinimum": 0, "maximum": 1e7},
           "drop stations farther than this (m)"),
    _param("mode", "query", {"type": "string", "enum": ["straight", "road"], "default": "straight"},
           "straight line or by road"),
]


def _bad(field: str, message: str, code: str = "invalid", **ctx: Any) -> ProblemError:
    return ProblemError(422, f"invalid request parameters: query:{field}: {message}", code="invalid-parameters",
                        errors=[parameter_item("query", field, message, code, ctx)])


def _number(q, name: str, lo: float, hi: float, *, required: bool = False, integer: bool = False,
            default=None, open_low: bool = False):
    raw = q.get(name)
    if raw is None or raw == "":
        if required:
            raise _bad(name, "field required", "missing")
        return default
    try:
        v = int(raw) if integer else float(raw)
    except ValueError:
        raise _bad(name, f"'{raw[:40]}' is not a valid {'integer' if integer else 'number'}",
                   "int_parsing" if integer else "float_parsing") from None
    if not (v > lo if open_low else v >= lo) or v > hi or v != v:
        raise _bad(name, f"must be {'>' if open_low else '>='} {lo} and <= {hi}",
                   "above_at_most" if open_low else "between", lo=lo, hi=hi)
    return v


@router.get("/{dataset_id}/nearest", response_model=NearestResponse, response_class=FastJSONResponse,
            summary="Nearest stations to one point", responses=_ERR,
            openapi_extra={"parameters": _SINGLE_PARAMS})
async def nearest(request: Request):
    """The ``k`` nearest stations to (lon, lat): id, name, kind, distance (m), travel time (s, road).

    The hot path: parameters are parsed and checked here rather than by FastAPI's dependency
    machinery (which costs more than the lookup), with the same problem+json errors; the
    parameters are declared in the OpenAPI document by hand.
    """
    dataset_id = request.path_params["dataset_id"]
    check_dataset_id(dataset_id)
    await nearest_access(request, await principal(request))
    settings = request.app.state.settings
    q = request.query_params
    lon = _number(q, "lon", -180, 180, required=True)
    lat = _number(q, "lat", -90, 90, required=True)
    k = _number(q, "k", 1, settings.max_k, integer=True, default=1)
    max_distance_m = _number(q, "max_distance_m", 0, 1e7, default=None, open_low=True)
    mode = q.get("mode", "straight")
    if mode not in ("straight", "road"):
        raise _bad("mode", "must be 'straight' or 'road'", "enum", expected="straight, road")
    sector = q.get("sector") or None
    if sector is not None and len(sector) > 50:
        raise _bad("sector", "at most 50 characters", "string_too_long", max_length=50)
    kinds = q.getlist("kind")
    if len(kinds) > 8:
        raise _bad("kind", "at most 8 values", "too_long", max_length=8)
    cache: DatasetCache = request.app.state.cache
    entry = await _entry(cache, dataset_id, mode)
    if mode == "straight":  # the common case, without the batch's column machinery
        r = entry.station_index.nearest(lon, lat, k=k, kinds=_kinds(kinds), sector=sector,
                                        max_distance_m=max_distance_m)  # InvalidQuery: 422 (api.problems)
        table = _station_rows(entry, r.stations)
        rows = [{"rank": j + 1, **table[i], "distance_m": round(d, 1)}
                for j, (i, d) in enumerate(zip(r.station_index[0].tolist(), r.distance_m[0].tolist())) if i >= 0]
        outside = bool(r.outside_dataset[0])
    else:
        cols = lookup(entry, np.array([lon]), np.array([lat]), k=k, kinds=_kinds(kinds), sector=sector,
                      max_distance_m=max_distance_m, mode=mode)
        rows = [r for r in _rows(cols) if r["station_id"] is not None]
        for r in rows:
            del r["point"]
        outside = False  # road mode refuses points outside the network's area (422)
    return FastJSONResponse({"dataset_id": dataset_id, "dataset_version": entry.info.version, "mode": mode,
                             "lon": lon, "lat": lat, "outside_dataset": outside, "results": rows},
                            headers={"ETag": entry.info.etag})


_BATCH_BODY = {"requestBody": {"required": True, "description":
    "points as a JSON array of [lon, lat] pairs or {\"lon\", \"lat\"} objects, an object {\"points\": [...]}, "
    "or a GeoJSON FeatureCollection of Point features (WGS-84 degrees)",
    "content": {"application/json": {"schema": {"oneOf": [
        {"type": "array", "minItems": 1,
         "items": {"oneOf": [{"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                             {"type": "object", "required": ["lon", "lat"],
                              "properties": {"lon": {"type": "number"}, "lat": {"type": "number"}}}]}},
        {"type": "object", "required": ["points"], "properties": {"points": {"type": "array"}}},
        {"type": "object", "required": ["type", "features"],
         "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array"}}}]}},
        "application/geo+json": {"schema": {"type": "object"}}, **batch_format.OPENAPI_CONTENT}}}


_NUMBER_CHARS = b"0123456789.eE+-,;"


def fast_pairs(raw: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """(lon, lat) arrays from a body that is exactly a JSON array of ``[lon, lat]`` number pairs, parsed
    in C without building a Python object per point; None when the body has any other shape (the
    caller then falls back to the general JSON path, which also produces the precise error)."""
    s = raw.translate(None, b" \t\r\n")
    if len(s) < 7 or not (s.startswith(b"[[") and s.endswith(b"]]")):
        return None
    inner = s[2:-2].replace(b"],[", b";")
    if inner.translate(None, _NUMBER_CHARS):  # brackets, quotes, objects, nan/null...: not plain pairs
        return None
    a = np.frombuffer(inner, np.uint8)
    seps = np.flatnonzero(a == ord(";"))
    commas = np.flatnonzero(a == ord(","))
    n = len(seps) + 1
    if len(commas) != n or not np.array_equal(np.searchsorted(seps, commas), np.arange(n)):
        return None  # some point has not exactly two coordinates
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            vals = np.fromstring(inner.replace(b";", b",").decode("ascii"), dtype=float, sep=",")
        except ValueError:
            return None
    if len(vals) != 2 * n:
        return None  # a token was not a number
    xy = vals.reshape(n, 2)
    return xy[:, 0].copy(), xy[:, 1].copy()


def parse_points(data: Any, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) float arrays from a decoded batch body (see ``_BATCH_BODY``); 422 on bad shape."""
    def bad(key: str, index: int | None = None):
        n = {} if index is None else {"i": index, "n": index + 1}
        msg = G.message(key, "en", **n)
        raise ProblemError(422, msg, code="invalid-points", detail_zh=G.message(key, "zh", **n),
                           errors=[{"in": "body", "field": "points", "index": index, "message": msg,
                                    "code": "invalid_points"}])

    if isinstance(data, dict):
        if data.get("type") == "FeatureCollection":
            feats = data.get("features")
            if not isinstance(feats, list):
                bad("points_fc_no_features")
            pts = []
            for i, f in enumerate(feats):
                g = f.get("geometry") if isinstance(f, dict) else None
                if not isinstance(g, dict) or g.get("type") != "Point" or not isinstance(g.get("coordinates"), list):
                    bad("points_not_point_feature", i)
                pts.append(g["coordinates"][:2])
            data = pts
        elif "points" in data:
            data = data["points"]
        else:
            bad("points_bad_body")
    if not isinstance(data, list) or not data:
        bad("points_none")
    if len(data) > limit:
        raise ProblemError(413, f"{len(data)} points exceed the batch limit of {limit}", code="batch-too-large",
                           limit_points=limit)
    if isinstance(data[0], dict):
        try:
            data = [(p["lon"], p["lat"]) for p in data]
        except (KeyError, TypeError):
            bad("points_need_lonlat")
    try:
        arr = np.asarray(data, dtype=float)
    except (ValueError, TypeError):
        bad("points_not_pairs")
    if arr.ndim != 2 or arr.shape[1] < 2 or arr.shape[1] > 3:
        bad("points_not_pairs")
    return arr[:, 0].copy(), arr[:, 1].copy()


@router.post("/{dataset_id}/nearest", summary="Nearest stations to a batch of points (up to 1,000,000)",
             response_class=FastJSONResponse, openapi_extra=_BATCH_BODY,
             responses={**_ERR, 200: {"model": NearestBatchResponse, "content": batch_format.OPENAPI_ANSWER}})
async def nearest_batch(
    request: Request,
    dataset_id: str = Depends(checked_dataset_id),
    k: Annotated[int, Query(ge=1, le=1000, description="stations per point (road mode: 1)")] = 1,
    kind: KindQ = None, sector: SectorQ = None, max_distance_m: MaxDistQ = None,
    mode: Annotated[Mode, Query(description="straight line or by road")] = "straight",
    format: Annotated[Literal["columns", "rows"], Query(description="columns: one array per field; "
                                                        "rows: one object per (point, rank)")] = "columns",
    cache: DatasetCache = Depends(get_cache), _: Principal = Depends(nearest_access),
):
    """Answer many points in one call; every point gets ``k`` slots (``station_id`` null when none).

    ``format=columns`` (default, compact): ``columns`` holds ``station_id``, ``distance_m`` (m) and, in
    road mode, ``duration_s`` (s) and ``far_from_road``, each a list of n*k entries, point-major;
    ``stations`` gives the name and kind of each station that occurs. ``format=rows``: one object per
    (point, rank) with ``point`` (0-based), ``rank``, ``station_id``, ``name``, ``kind`` and the measures.
    Body limits: ``max_body_bytes`` (413) and ``max_batch_points`` points (413). Binary batches
    (Arrow IPC in and/or out, ``.npy`` in; :mod:`api.batch_format`) are negotiated by
    ``Content-Type`` and ``Accept``; the answer budget is checked as for ``format=columns``.
    """
    settings = request.app.state.settings
    if k > settings.max_k:
        raise ProblemError(422, f"k must be <= {settings.max_k}", code="invalid-query",
                           errors=[{"in": "query", "field": "k", "message": "too large", "code": "too_large"}])
    raw = await read_json_budgeted(request, max_bytes=settings.max_body_bytes, max_points=settings.max_batch_points)
    entry = await _entry(cache, dataset_id, mode)

    def work() -> tuple[dict[str, Any], Compact]:
        ctype = request.headers.get("content-type")
        pairs = (batch_format.parse_binary_points(raw, ctype, settings.max_batch_points)
                 if batch_format.is_binary_body(ctype) else fast_pairs(raw))
        if pairs is not None:
            lon, lat = pairs
            if len(lon) > settings.max_batch_points:
                raise ProblemError(413, f"{len(lon)} points exceed the batch limit of {settings.max_batch_points}",
                                   code="batch-too-large", limit_points=settings.max_batch_points)
        else:
            gc.disable()  # a million small lists would trigger many needless collections
            try:
                try:
                    data = loads(raw)
                except ValueError as e:
                    raise ProblemError(400, f"body is not valid JSON: {e}", code="invalid-json") from None
                lon, lat = parse_points(data, settings.max_batch_points)
                del data
            finally:
                gc.enable()
        check_answer_budget(len(lon), k, format, mode, settings.max_nearest_answer_bytes)
        c = lookup_compact(entry, lon, lat, k=k, kinds=_kinds(kind), sector=sector,
                           max_distance_m=max_distance_m, mode=mode)
        head = {"dataset_id": dataset_id, "dataset_version": entry.info.version, "mode": mode,
                "count": int(len(lon)), "k": k}
        return head, c

    # every error (bad body, over budget, bad point) is raised here, before the answer starts
    head, c = await run_in_threadpool(work) if len(raw) > 64_000 else work()
    del raw
    if batch_format.wants_arrow(request.headers.get("accept")):  # binary answer, streamed per record batch
        return StreamingResponse(batch_format.encode_arrow(head, c, _id_table(entry, c.stations)),
                                 media_type=batch_format.ARROW_STREAM, headers={"ETag": entry.info.etag})
    n = c.si.shape[0]
    chunks = (encode_rows if format == "rows" else encode_columns)(entry, head, c)
    if n * k <= SMALL_ANSWER_SLOTS:  # small answers in one piece (with Content-Length)
        return Response(b"".join(chunks), media_type="application/json", headers={"ETag": entry.info.etag})
    return StreamingResponse(chunks, media_type="application/json", headers={"ETag": entry.info.etag})


#: answers of at most this many (point, rank) slots are sent in one piece; larger ones are streamed
SMALL_ANSWER_SLOTS = 50_000
#: slots encoded per piece of a streamed answer (bounds the Python objects alive at once)
ENCODE_SLOTS = 50_000
#: estimated JSON bytes per (point, rank) slot, by (format, mode); measured on the demo county with
#: 10-character ids and names, rounded up
SLOT_BYTES = {("rows", "straight"): 150, ("rows", "road"): 220, ("columns", "straight"): 24,
              ("columns", "road"): 60}


def check_answer_budget(n: int, k: int, format: str, mode: str, limit_bytes: int) -> None:
    """Refuse (413) a batch whose answer would exceed ``limit_bytes`` before any work starts.

    Points x k x bytes per slot is checked together (the point limit and the k limit alone allow
    a 1M-point, k=50 answer of many GB); the problem says how many points fit at this ``k``.
    """
    per = SLOT_BYTES[(format, mode)]
    est = n * k * per
    if est <= limit_bytes:
        return
    fit = max(1, limit_bytes // (k * per))
    columns_fit = format == "rows" and est // per * SLOT_BYTES[("columns", mode)] <= limit_bytes
    words = {"n": n, "k": k, "rows": n * k, "format": format, "mib": f"{est / 2**20:.0f}",
             "limit_mib": f"{limit_bytes / 2**20:.0f}", "fit": fit}
    detail = {lang: G.message("answer_too_large", lang, **words,
                              alt=G.message("answer_too_large_alt", lang) if columns_fit else "") for lang in ("en", "zh")}
    raise ProblemError(
        413, detail["en"], detail_zh=detail["zh"],
        code="answer-too-large", limit_bytes=limit_bytes, estimated_bytes=est, max_points_at_k=fit,
        errors=[{"in": "body", "field": "points", "message": f"at most {fit} points at k={k} in format={format}",
                 "code": "answer_too_large"}])


def encode_rows(entry: DatasetEntry, head: dict[str, Any], c: Compact):
    """The ``format=rows`` answer as JSON pieces, :data:`ENCODE_SLOTS` slots at a time."""
    yield dumps(head)[:-1] + b',"results":['
    n, k = c.si.shape
    step = max(1, ENCODE_SLOTS // k)
    for a in range(0, n, step):
        piece = dumps(_rows(_columns(entry, c, a, min(n, a + step))))[1:-1]
        yield piece if a == 0 else b"," + piece
    yield b"]}"


def encode_columns(entry: DatasetEntry, head: dict[str, Any], c: Compact):
    """The ``format=columns`` answer as JSON pieces: each column written in slices."""
    n, k = c.si.shape
    step = max(1, ENCODE_SLOTS // k)
    table = _id_table(entry, c.stations)
    cols = [("station_id", None), ("distance_m", c.dist)]
    if c.dur is not None:
        cols += [("duration_s", c.dur), ("far_from_road", c.far)]
    if c.outside is not None:
        cols.append(("outside_dataset", c.slot_outside()))
    yield dumps(head)[:-1] + b',"columns":{'
    for j, (name, arr) in enumerate(cols):
        yield (b"," if j else b"") + dumps(name) + b":["
        for a in range(0, n, step):
            b = min(n, a + step)
            part = table["id"][c.si[a:b].reshape(-1)].tolist() if arr is None else arr[a:b].reshape(-1)
            piece = dumps(part)[1:-1]
            yield piece if a == 0 else b"," + piece
        yield b"]"
    rows = np.unique(c.si[c.si >= 0]) if c.si.size else np.zeros(0, dtype=np.int32)
    found = {table["id"][i]: {"name": table["name"][i], "kind": table["kind"][i]} for i in rows.tolist()}
    yield b'},"stations":' + dumps(found) + b"}"
