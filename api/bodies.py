"""Request bodies read against their budget while they stream.

A byte cap alone does not bound the work of parsing: 96 MiB of ``{"points": [[], [], ...]}`` is
32 million empty arrays, which a JSON parser turns into gigabytes of Python objects before any
check on the number of points can run. :func:`read_json_budgeted` counts, as the bytes arrive,
the arrays and objects opened (``[`` and ``{``) and the separators (``,``), an upper bound on the
values the body can hold whatever its shape (brackets inside strings only make the count larger,
so the refusal is never late), and refuses with 413 once the count passes what ``max_values``
values need. Memory stays bounded by the bytes read so far.
"""

from __future__ import annotations

from fastapi import Request

from .problems import ProblemError

#: arrays/objects one point of a nearest batch may take: a GeoJSON Feature (feature, geometry,
#: coordinates, properties) plus a nested property or two
CONTAINERS_PER_POINT = 6
#: JSON values one point may take (coordinates, a third ordinate, the members of a Feature)
VALUES_PER_POINT = 16
#: containers and values any body may hold beyond the per-point ones (the envelope)
SLACK = 64


async def read_json_budgeted(request: Request, *, max_bytes: int, max_points: int) -> bytes:
    """The request body (bytes), refused with 413 beyond ``max_bytes`` bytes or once it holds more
    arrays/objects or values than ``max_points`` points can take (counted while streaming)."""
    return await _read(request, max_bytes, max_points * CONTAINERS_PER_POINT + SLACK,
                 max_points * VALUES_PER_POINT + SLACK, max_points)


async def _read(request: Request, max_bytes: int, max_containers: int, max_values: int, max_points: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise ProblemError(413, f"request body of {int(declared)} bytes exceeds the limit of "
                                        f"{max_bytes} bytes", code="body-too-large", limit_bytes=max_bytes)
        except ValueError:
            raise ProblemError(400, "Content-Length is not a number", code="bad-content-length") from None
    chunks: list[bytes] = []
    size = containers = values = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ProblemError(413, f"request body exceeds the limit of {max_bytes} bytes",
                               code="body-too-large", limit_bytes=max_bytes)
        containers += chunk.count(b"[") + chunk.count(b"{")
        values += chunk.count(b",")
        if containers > max_containers or values > max_values:
            raise ProblemError(413, f"the body holds more than {max_points} points' worth of JSON arrays, "
                                    f"objects or values (counted after {size} bytes); send at most "
                                    f"{max_points} points", code="batch-too-large", limit_points=max_points,
                               read_bytes=size)
        chunks.append(chunk)
    return b"".join(chunks)


__all__ = ["CONTAINERS_PER_POINT", "VALUES_PER_POINT", "read_json_budgeted"]
