"""ASGI middleware: request ids (``X-Request-ID`` in and out), access logs, and the request guards
that run before any route:

- **Host allow-list** (``trusted_hosts``): a request whose ``Host`` is not allowed gets 400
  ``untrusted-host``, so a page on another name that resolves to this service (DNS rebinding
  against the local demo) reads nothing. ``/healthz`` and ``/readyz`` are exempt (probes address
  the service by IP; they reveal nothing).
- **Cross-site refusal** (Fetch Metadata, else ``Origin``): a request a browser sends on behalf
  of another site (``Sec-Fetch-Site: cross-site`` or ``same-site``, or an ``Origin`` that is not
  this service) gets 403 ``csrf-refused``, except on the public read endpoints
  (:data:`PUBLIC_PATHS`, :data:`PUBLIC_PREFIXES`) and top-level navigations (a link followed,
  GET/HEAD only) to the page entry points (:data:`NAVIGATION_PATHS`). Requests without
  ``Sec-Fetch-*`` and ``Origin`` headers (scripts, curl, QGIS) pass.
- **Body cap**: every request body is counted as it streams, with or without ``Content-Length``
  (chunked): beyond the cap the answer is 413 ``body-too-large``, whatever the route made of the
  cut-off body. The cap is ``max_upload_bytes`` (plus multipart framing) for ``POST
  /v1/datasets`` and ``max_body_bytes`` elsewhere. A body that stalls longer than
  ``body_timeout_s`` between pieces gets 408.
- **JSON budget**: a JSON body (``Content-Type`` ``application/json`` or ``+json``) is counted as it
  streams: its arrays and objects opened and its separators (``[ { ,``, an upper bound on the
  values it holds whatever its shape); beyond ``max_json_values`` it gets 413 ``json-too-large``
  before any parser builds it. Nearest batches have their own, per-point budget
  (:mod:`api.bodies`) and are left to it.

Written as plain ASGI (no ``BaseHTTPMiddleware``) so the nearest-station hot path pays a few
microseconds for it, not a task switch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

from .logs import request_id_var
from .problems import answer_lang, problem_body
from .settings import Settings

log = logging.getLogger("geo_service.api.access")
_RID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
"""Answered to any site and any Host: they reveal nothing."""
PUBLIC_PREFIXES = ("/static/", "/static-docs/")
"""Static assets (scripts, styles, icons of the page, maps and API docs): any site may load them."""
NAVIGATION_PATHS = frozenset({"/", "/login", "/docs"})
"""Pages another site may link to (a top-level GET navigation; the session cookie is SameSite=Strict,
so such a visit arrives logged out)."""
UPLOAD_PATH = "/v1/datasets"
MULTIPART_SLACK = 1 << 20  # form framing and the small fields around an upload of max_upload_bytes


def host_name(host: str) -> tuple[str, str | None]:
    """``(name, port)`` of a ``Host`` header value, lowercased (``[::1]:8000`` -> ``("[::1]", "8000")``)."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return host, None
        rest = host[end + 1:]
        return host[:end + 1], rest[1:] if rest.startswith(":") else None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name, port
    return host, None


def host_allowed(host: str | None, allowed: tuple[str, ...]) -> bool:
    """True when ``host`` (a ``Host`` header value) matches an entry of ``allowed``: ``*``, ``name``
    (any port), ``name:port``, or ``*.suffix`` (subdomains of ``suffix``, any port)."""
    if "*" in allowed:
        return True
    if not host:
        return False
    name, port = host_name(host)
    if not name or any(c in name for c in "/\\@ "):
        return False
    for entry in allowed:
        ename, eport = host_name(entry)
        if eport is not None and eport != port:
            continue
        if ename == name or (ename.startswith("*.") and name.endswith(ename[1:]) and len(name) > len(ename) - 1):
            return True
    return False


def _netloc(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return parts.netloc.lower() if parts.scheme and parts.netloc else None


class RequestContextMiddleware:
    """Give each request an id, guard it (Host, cross-site, body size and pace), log it when done."""

    def __init__(self, app, settings=None, *, max_body: int | None = None):
        self.app = app
        s = settings if settings is not None else Settings(api_keys={}, trusted_hosts=["*"])
        self.max_body = max_body if max_body is not None else s.max_body_bytes
        self.max_upload = max(s.max_upload_bytes + MULTIPART_SLACK, self.max_body)
        self.allowed_hosts = s.allowed_hosts
        self.body_timeout_s = s.body_timeout_s
        self.max_json_values = s.max_json_values
        own = [_netloc(o) for o in (*s.trusted_origins, s.public_base_url or "")]
        self.own_origins = frozenset(o for o in own if o)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid, length, host, origin, site, mode, dest, chunked, is_json = _request_headers(scope["headers"])
        rid = rid or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = [500]
        rid_header = (b"x-request-id", rid.encode())
        path, method = scope["path"], scope["method"]
        root = scope.get("root_path", "")
        route = path[len(root):] if root and path.startswith(root) else path  # behind a path prefix
        limit = self.max_upload if (route == UPLOAD_PATH and method == "POST") else self.max_body
        cut: list[tuple | None] = [None]  # the body broke a guard: whatever the app answers, send this
        started = [False]

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                if cut[0] is not None:
                    return
                started[0] = True
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            elif cut[0] is not None and not started[0]:
                return
            await send(message)

        async def send_direct(message):
            if message["type"] == "http.response.start":
                started[0] = True
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        try:
            refusal = (self._refusal(route, method, host, origin, site, mode, dest)
                       or _length_refusal(length, limit))
            if refusal is not None:
                await self._problem(scope, send_direct, rid, *refusal)
                return
            app_receive = receive
            if length or chunked:
                values = self.max_json_values if is_json and not _own_budget(route, method) else None
                app_receive = self._guarded_receive(receive, limit, cut, values)
            try:
                await self.app(scope, app_receive, send_with_id)
            except Exception:
                if cut[0] is None:  # not ours: the app's error handling answers it
                    raise
            if cut[0] is not None and not started[0]:
                await self._problem(scope, send_direct, rid, *cut[0])
        finally:
            _access_log(scope, status[0], start)
            request_id_var.reset(token)

    def _guarded_receive(self, receive, limit: int, cut: list, max_values: int | None = None):
        """``receive`` that counts body bytes (past ``limit``: 413), JSON values when ``max_values`` is
        given (past it: 413) and times out a stalled body (408); the refusal is recorded in ``cut``
        as well as raised, since a form parser may swallow errors."""
        seen = [0]
        values = [0]
        done = [False]
        timeout = self.body_timeout_s

        async def guarded():
            if done[0]:  # body read: later calls wait for the disconnect, with no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                cut[0] = (408, f"the request body stalled for more than {timeout:g} s", "body-timeout",
                          {"timeout_s": timeout})
                raise _BodyGuard() from None
            if message["type"] == "http.request":
                body = message.get("body", b"")
                seen[0] += len(body)
                if seen[0] > limit:
                    cut[0] = (413, f"request body exceeds the limit of {limit} bytes", "body-too-large",
                              {"limit_bytes": limit})
                    raise _BodyGuard()
                if max_values is not None:
                    values[0] += body.count(b"[") + body.count(b"{") + body.count(b",")
                    if values[0] > max_values:
                        cut[0] = (413, f"the JSON body holds more than {max_values} values (arrays, objects "
                                       f"and items counted after {seen[0]} bytes; setting max_json_values)",
                                  "json-too-large", {"limit_values": max_values})
                        raise _BodyGuard()
                done[0] = not message.get("more_body", False)
            else:
                done[0] = True
            return message

        return guarded

    def _refusal(self, path, method, host, origin, site, mode, dest):
        """``(status, detail, code)`` when the request must be refused before any route, else None."""
        if path in PUBLIC_PATHS:
            return None
        if not host_allowed(host, self.allowed_hosts):
            shown = (host or "")[:100]
            return (400, f"Host '{shown}' is not served here; add it to the trusted_hosts setting if this "
                         "service is meant to answer to it", "untrusted-host")
        if path.startswith(PUBLIC_PREFIXES):
            return None
        if site is not None:
            if site in ("same-origin", "none"):
                return None
            if (method in ("GET", "HEAD") and mode == "navigate" and dest in ("document", None)
                    and path in NAVIGATION_PATHS):
                return None
            return (403, f"cross-site request refused (Sec-Fetch-Site: {site[:20]}): this service answers only "
                         "its own pages and clients that are not browsers", "csrf-refused")
        if origin is not None:
            got = _netloc(origin) if origin != "null" else None
            if got is None or not (got == (host or "").strip().lower() or got in self.own_origins):
                return (403, f"cross-site request refused: origin '{origin[:200]}' is not this service",
                        "csrf-refused")
        return None

    async def _problem(self, scope, send, rid, status: int, detail: str, code: str, extra: dict | None = None):
        lang = _scope_lang(scope)
        body = problem_body(None, status, detail, code=code, lang=lang, instance=scope["path"], request_id=rid,
                            **(extra or {}))
        data = json.dumps(body).encode()
        headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(data)).encode()),
                   (b"content-language", lang.encode())]
        if status in (408, 413):
            headers.append((b"connection", b"close"))  # the rest of the body is not read
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


def _scope_lang(scope) -> str:
    """The problem language of a raw ASGI request (:func:`~api.problems.answer_lang`)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    accept = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"accept-language"), None)
    return answer_lang((query.get("lang") or [None])[0], accept)


def _request_headers(headers) -> tuple:
    """``(request_id, length, host, origin, site, mode, dest, chunked, is_json)`` from the raw ASGI
    headers, in one pass: ``request_id`` None when absent or unsafe to echo, ``length`` -1 when
    ``Content-Length`` is not a number, the ``Sec-Fetch-*`` values stripped and lowercased."""
    rid = length = host = origin = site = mode = dest = None
    chunked = is_json = False
    for k, v in headers:
        if k == b"x-request-id":
            s = v.decode("latin-1")
            rid = s if _RID_OK.fullmatch(s) else None
        elif k == b"content-length":
            try:
                length = int(v)
            except ValueError:
                length = -1
        elif k == b"host":
            host = v.decode("latin-1")
        elif k == b"origin":
            origin = v.decode("latin-1")
        elif k == b"sec-fetch-site":
            site = v.decode("latin-1").strip().lower()
        elif k == b"sec-fetch-mode":
            mode = v.decode("latin-1").strip().lower()
        elif k == b"sec-fetch-dest":
            dest = v.decode("latin-1").strip().lower()
        elif k == b"transfer-encoding":
            chunked = True
        elif k == b"content-type":
            ctype = v.split(b";", 1)[0].strip().lower()
            is_json = ctype == b"application/json" or ctype.endswith(b"+json")
    return rid, length, host, origin, site, mode, dest, chunked, is_json


def _length_refusal(length: int | None, limit: int) -> tuple | None:
    """The refusal of a declared ``Content-Length`` (bytes) that is not a number or exceeds ``limit``."""
    if length is None:
        return None
    if length < 0:
        return (400, "Content-Length is not a number", "bad-content-length")
    if length > limit:
        return (413, f"request body of {length} bytes exceeds the limit of {limit} bytes", "body-too-large",
                {"limit_bytes": limit})
    return None


def _access_log(scope, status: int, start: float) -> None:
    """One access-log line: method, path, status, duration (ms since ``start``), client, role."""
    log.info("request", extra={
        "method": scope["method"], "path": scope["path"], "status": status,
        "duration_ms": round((time.perf_counter() - start) * 1000, 2),
        "client": scope["client"][0] if scope.get("client") else None,
        "role": getattr(scope.get("state", {}).get("principal"), "role", None),
    })


def _own_budget(route: str, method: str) -> bool:
    """True for the requests whose body the route counts itself (nearest batches, per point)."""
    return method == "POST" and route.endswith("/nearest")


class _BodyGuard(Exception):
    """The request body broke the size cap or stalled (the answer is in the middleware's ``cut``)."""
