"""HTML responses with their Content-Security-Policy: one helper for the page, the login form and every map."""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping

from fastapi.responses import HTMLResponse

HTML_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
# inline <script>/<style> blocks; the body cannot hold "</script" (our JSON escapes "<" as \u003c)
_INLINE = re.compile(r"<(script|style)\b([^>]*)>(.*?)</\1\s*>", re.S | re.I)
_EXTERNAL_OR_DATA = re.compile(r"""\bsrc\s*=|\btype\s*=\s*["']?application/(?:ld\+)?json""", re.I)
_HOST = re.compile(r"https://[A-Za-z0-9.-]+(?::\d+)?")


def content_security_policy(html: str, *, frame_ancestors: str = "'none'", img_hosts: Iterable[str] = ()) -> str:
    """The Content-Security-Policy for ``html`` (the exact text served).

    Scripts, styles, fonts, fetches: same origin only, plus the SHA-256 hash of each inline
    executable ``<script>`` and each ``<style>`` block in ``html`` (JSON data blocks are not
    executed and need none); no ``unsafe-inline``/``unsafe-eval``, so an injected inline script,
    event handler or ``style`` attribute does not run. Images: same origin, ``data:`` (Leaflet's
    blank tile) and ``img_hosts`` (``https://host`` origins of the map tiles).
    ``frame_ancestors``: ``'none'`` (default) or ``'self'`` (a page embedded by our own page).
    ``object-src 'none'``, ``base-uri 'none'``, forms post only to this origin.
    """
    if frame_ancestors not in ("'none'", "'self'"):
        raise ValueError(f"frame_ancestors must be \"'none'\" or \"'self'\", got {frame_ancestors!r}")
    hosts = sorted(set(img_hosts))
    bad = [h for h in hosts if not _HOST.fullmatch(h)]
    if bad:
        raise ValueError(f"img_hosts must be https:// origins, got {bad}")
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for tag, attrs, body in _INLINE.findall(html):
        tag = tag.lower()
        if tag == "script" and _EXTERNAL_OR_DATA.search(attrs):
            continue
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        src = f"'sha256-{digest}'"
        if src not in hashes[tag]:
            hashes[tag].append(src)
    return "; ".join([
        "default-src 'self'",
        " ".join(["script-src 'self'", *hashes["script"]]),
        " ".join(["style-src 'self'", *hashes["style"]]),
        " ".join(["img-src 'self' data:", *hosts]),
        "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'",
        "form-action 'self'", f"frame-ancestors {frame_ancestors}"])


def html_response(html: str, *, status: int = 200, csp: str | None = None, frame_ancestors: str = "'none'",
                  img_hosts: Iterable[str] = (), headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """An HTML response with :data:`HTML_HEADERS`, its CSP (``csp``, else computed from ``html``)
    and the matching ``X-Frame-Options``; ``headers`` are added last."""
    policy = csp or content_security_policy(html, frame_ancestors=frame_ancestors, img_hosts=img_hosts)
    fa = re.search(r"frame-ancestors ('none'|'self')", policy)
    xfo = "SAMEORIGIN" if fa and fa.group(1) == "'self'" else "DENY"
    return HTMLResponse(html, status_code=status, headers={**HTML_HEADERS, "Content-Security-Policy": policy,
                                                           "X-Frame-Options": xfo, **(headers or {})})
