"""ASGI middleware: request ids (``X-Request-ID`` in and out), access logs, a global body cap.

Written as plain ASGI (no ``BaseHTTPMiddleware``) so the nearest-station hot path pays a few
microseconds for it, not a task switch.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from .logs import request_id_var
from .problems import problem_body

log = logging.getLogger("geo_service.api.access")
_RID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Give each request an id, log it when done, and refuse bodies over ``max_body`` bytes (413)."""

    def __init__(self, app, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        length = None
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                s = v.decode("latin-1")
                rid = s if _RID_OK.fullmatch(s) else None
            elif k == b"content-length":
                try:
                    length = int(v)
                except ValueError:
                    length = None
        rid = rid or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = [500]
        rid_header = (b"x-request-id", rid.encode())

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        try:
            if length is not None and length > self.max_body:
                await self._too_large(scope, send_with_id, rid)
                return
            seen = [0]

            async def limited_receive():
                message = await receive()
                if message["type"] == "http.request":
                    seen[0] += len(message.get("body", b""))
                    if seen[0] > self.max_body:
                        raise _BodyTooLarge()
                return message

            try:
                await self.app(scope, limited_receive, send_with_id)
            except _BodyTooLarge:
                await self._too_large(scope, send_with_id, rid)
        finally:
            log.info("request", extra={
                "method": scope["method"], "path": scope["path"], "status": status[0],
                "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                "client": scope["client"][0] if scope.get("client") else None,
                "role": getattr(scope.get("state", {}).get("principal"), "role", None),
            })
            request_id_var.reset(token)

    async def _too_large(self, scope, send, rid):
        import json

        body = problem_body(None, 413, f"request body exceeds the limit of {self.max_body} bytes",
                            code="body-too-large", instance=scope["path"], request_id=rid,
                            limit_bytes=self.max_body)
        data = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})


class _BodyTooLarge(Exception):
    pass
