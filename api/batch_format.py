"""Binary batches for big nearest lookups: Arrow IPC streams (or NumPy ``.npy`` points in).

A million points as JSON are about 39 MB in and 20 MB out, and parsing and writing them costs
several times the lookup itself. With ``Content-Type: application/vnd.apache.arrow.stream`` the
body is an Arrow IPC stream with float columns ``lon`` and ``lat`` (WGS-84 degrees; 16 bytes a
point); ``Content-Type: application/x-npy`` takes one ``.npy`` array of shape (n, 2) instead.
With ``Accept: application/vnd.apache.arrow.stream`` the answer is an Arrow IPC stream, sent in
record batches of :data:`BATCH_SLOTS` slots as they are encoded, one row per (point, rank), point-major:

- ``point`` (int32, 0-based), ``rank`` (int16, 1 = nearest);
- ``station_id``, ``name``, ``kind``: dictionary-encoded strings, null where no station matches;
- ``distance_m`` (float64, m; null where none); road mode adds ``duration_s`` (s) and
  ``far_from_road`` (bool); straight mode adds ``outside_dataset`` (bool);
- schema metadata: ``dataset_id``, ``dataset_version``, ``mode``, ``count``, ``k``.

JSON stays the default both ways, and every error is problem+json whatever was asked for. Both
directions can be mixed (JSON in, Arrow out and so on). Read an answer with
``pyarrow.ipc.open_stream(body).read_all()``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np

from geo_service.core import glossary as G

from .problems import ProblemError

ARROW_STREAM = "application/vnd.apache.arrow.stream"
NPY = "application/x-npy"
#: (point, rank) slots per record batch of a streamed Arrow answer
BATCH_SLOTS = 262_144

#: request-body content types for the OpenAPI document of the batch route
OPENAPI_CONTENT = {
    ARROW_STREAM: {"schema": {"type": "string", "format": "binary",
                              "description": "Arrow IPC stream with float columns lon, lat (WGS-84)"}},
    NPY: {"schema": {"type": "string", "format": "binary",
                     "description": "one .npy float array of shape (n, 2): lon, lat (WGS-84)"}},
}
#: answer content type for the OpenAPI document
OPENAPI_ANSWER = {ARROW_STREAM: {"schema": {"type": "string", "format": "binary",
                                            "description": "Arrow IPC stream, one row per (point, rank)"}}}


def _media(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def is_binary_body(content_type: str | None) -> bool:
    """Whether a request's ``Content-Type`` names one of the binary point formats."""
    return _media(content_type) in (ARROW_STREAM, NPY)


def wants_arrow(accept: str | None) -> bool:
    """Whether the ``Accept`` header asks for an Arrow answer: the first of Arrow or JSON it names
    (``*/*`` and ``application/*`` count as JSON) with a weight ``q`` above 0."""
    for part in (accept or "").split(","):
        media, *params = part.split(";")
        media = media.strip().lower()
        q = 1.0
        for prm in params:
            key, _, val = prm.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if media == ARROW_STREAM:
            return True
        if media in ("application/json", "application/*", "*/*"):
            return False
    return False


def _bad(key: str, field: str = "points", index: int | None = None, **params: Any) -> ProblemError:
    """422 ``invalid-points``: glossary message ``key`` (English detail, Chinese ``detail_zh``)."""
    if index is not None:
        params.update(i=index, n=index + 1)
    msg = G.message(key, "en", **params)
    return ProblemError(422, msg, code="invalid-points", detail_zh=G.message(key, "zh", **params),
                        errors=[{"in": "body", "field": field, "index": index, "message": msg,
                                 "code": "invalid_points"}])


def _too_many(n: int, limit: int) -> ProblemError:
    return ProblemError(413, f"{n} points exceed the batch limit of {limit}", code="batch-too-large",
                        limit_points=limit)


def parse_binary_points(raw: bytes, content_type: str | None, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) float64 arrays from an Arrow IPC stream or ``.npy`` body.

    Parameters
    ----------
    raw : bytes
        The request body.
    content_type : str
        The request's ``Content-Type`` (see :func:`is_binary_body`).
    limit : int
        Most points accepted (413 beyond).

    Raises
    ------
    ProblemError
        400 when the body is not a readable stream/array, 422 naming the column and row of a
        missing or non-numeric coordinate, 413 over ``limit``.
    """
    if _media(content_type) == NPY:
        return _parse_npy(raw, limit)
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(raw).read_all()
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as e:
        raise ProblemError(400, f"body is not a readable Arrow IPC stream: {str(e)[:200]}",
                           code="invalid-arrow") from None
    if table.num_rows > limit:
        raise _too_many(table.num_rows, limit)
    if table.num_rows == 0:
        raise _bad("points_none")
    out = []
    for name in ("lon", "lat"):
        if name not in table.column_names:
            raise _bad("points_arrow_columns", name, columns=", ".join(table.column_names[:8]) or "none")
        col = table.column(name)
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
            raise _bad("points_column_type", name, column=name, type=str(col.type))
        if col.null_count:
            first = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise _bad("points_column_empty", name, first, column=name)
        out.append(np.asarray(col.to_numpy(), dtype=np.float64))
    return out[0], out[1]


def _parse_npy(raw: bytes, limit: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        arr = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ProblemError(400, f"body is not a readable .npy array: {str(e)[:200]}", code="invalid-npy") from None
    if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "fiu":
        raise _bad("points_npy_shape", dtype=str(getattr(arr, "dtype", "?")), shape=str(getattr(arr, "shape", "?")))
    if len(arr) > limit:
        raise _too_many(len(arr), limit)
    if len(arr) == 0:
        raise _bad("points_none")
    return np.ascontiguousarray(arr[:, 0], np.float64), np.ascontiguousarray(arr[:, 1], np.float64)


class _Sink:
    """A write-only file for the IPC writer: the bytes written since the last :meth:`take`."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, b: Any) -> int:
        self.parts.append(bytes(b))
        return len(b)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def encode_arrow(head: dict[str, Any], c: Any, table: dict[str, np.ndarray]) -> Iterator[bytes]:
    """A compact nearest answer as Arrow IPC stream pieces, :data:`BATCH_SLOTS` slots at a time.

    Parameters
    ----------
    head : dict
        ``dataset_id``, ``dataset_version``, ``mode``, ``count``, ``k`` (schema metadata).
    c : api.routers.nearest.Compact
        The answer: ``si`` (n, k) station rows (-1 none), ``dist`` (m), ``dur`` (s) / ``far`` or
        None, ``outside`` or None.
    table : dict
        ``id``, ``name``, ``kind`` per station row, with a trailing None for row -1.
    """
    import pyarrow as pa

    n, k = c.si.shape
    dicts = {name: pa.array(table[name][:-1].tolist(), pa.string()) for name in ("id", "name", "kind")}
    fields = [pa.field("point", pa.int32()), pa.field("rank", pa.int16())]
    fields += [pa.field(col, pa.dictionary(pa.int32(), pa.string())) for col in ("station_id", "name", "kind")]
    fields.append(pa.field("distance_m", pa.float64()))
    if c.dur is not None:
        fields += [pa.field("duration_s", pa.float64()), pa.field("far_from_road", pa.bool_())]
    if c.outside is not None:
        fields.append(pa.field("outside_dataset", pa.bool_()))
    meta = {key: str(head[key]) for key in ("dataset_id", "dataset_version", "mode", "count", "k")}
    schema = pa.schema(fields, metadata=meta)
    sink = _Sink()
    writer = pa.ipc.new_stream(sink, schema)
    step = max(1, BATCH_SLOTS // k)
    for a in range(0, max(n, 1), step):
        b = min(n, a + step)
        si = c.si[a:b].reshape(-1)
        none = si < 0
        idx = pa.array(si, pa.int32(), mask=none)
        cols = [pa.array(np.repeat(np.arange(a, b, dtype=np.int32), k)),
                pa.array(np.tile(np.arange(1, k + 1, dtype=np.int16), b - a))]
        cols += [pa.DictionaryArray.from_arrays(idx, dicts[name]) for name in ("id", "name", "kind")]
        cols.append(pa.array(c.dist[a:b].reshape(-1), pa.float64(), mask=none))
        if c.dur is not None:
            cols += [pa.array(c.dur[a:b].reshape(-1), pa.float64(), mask=none),
                     pa.array(c.far[a:b].reshape(-1), pa.bool_())]
        if c.outside is not None:
            cols.append(pa.array(np.repeat(c.outside[a:b], k), pa.bool_()))
        writer.write_batch(pa.RecordBatch.from_arrays(cols, schema=schema))
        yield sink.take()
    writer.close()
    yield sink.take()


__all__ = ["ARROW_STREAM", "BATCH_SLOTS", "NPY", "OPENAPI_ANSWER", "OPENAPI_CONTENT", "encode_arrow",
           "is_binary_body", "parse_binary_points", "wants_arrow"]
