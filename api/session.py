"""Browser sessions for the web page and the maps, and their CSRF guard.

A browser cannot send ``X-API-Key`` on a plain link (a map, an XLSX download), so the login form
(``POST /login``, :mod:`api.login`) trades a valid API key for a session cookie:

- Cookie ``gs_session``: ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (never sent on a
  request started by another site), ``Path=/``, ``Max-Age`` = ``session_max_age_s``, and ``Secure``
  when the request came over https (or per the ``cookie_secure`` setting).
- The cookie holds a token, not the key: ``v1.<expiry>.<nonce>.<mac>``, signed by
  :class:`itsdangerous.Signer` (HMAC-SHA256, its key derived from the API key and a salt naming
  this use) over the expiry and a random nonce. Verifying it needs no
  server-side state (every replica with the same keys accepts it), reveals nothing of the key,
  expires on its own, and dies with its key (remove the key from the settings and every session
  made with it stops working). The signature is checked against every configured key (in
  constant time, by itsdangerous), without early exit, like the keys themselves (:mod:`api.auth`).
- CSRF: besides SameSite=Strict, a state-changing request (POST, PUT, PATCH, DELETE)
  authenticated by the cookie must carry an ``Origin`` (or, lacking one, a ``Referer``) of this
  service itself (its ``Host``, or one of ``trusted_origins``); otherwise 403 ``csrf-refused``.
  Requests authenticated by a header key need no such check: another site cannot set headers on
  a cross-site request without a CORS preflight, which this service never grants.

Logout deletes the cookie in the browser; a copied token stays valid until its expiry (there is
no server-side session list to revoke it from; rotate the key for that).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from urllib.parse import urlsplit

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import Response

from .keys import key_id
from .problems import ProblemError

COOKIE = "gs_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_VERSION = "v1"


def _signer(key: str) -> Signer:
    return Signer(key, salt="geo-service-session", sep=".", digest_method=hashlib.sha256)


def issue_token(key: str, max_age_s: int, *, now: float | None = None) -> str:
    """A session token for ``key`` valid ``max_age_s`` seconds from ``now`` (Unix seconds)."""
    expiry = int((time.time() if now is None else now) + max_age_s)
    nonce = secrets.token_hex(8)
    return _signer(key).sign(f"{_VERSION}.{expiry}.{nonce}").decode()


def verify_token(token: str, keys: dict[str, str], *, now: float | None = None) -> tuple[str, str] | None:
    """``(role, key_id)`` of the configured key that made ``token``, or None when the token is
    malformed, expired or made with no configured key. Constant time over the keys."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != _VERSION or len(token) > 200:
        return None
    exp_text = parts[1]
    if not exp_text.isdigit() or len(exp_text) > 12:
        return None
    expiry = int(exp_text)
    if expiry <= (time.time() if now is None else now):
        return None
    found = None
    for key, role in keys.items():  # every key, no early exit
        try:
            _signer(key).unsign(token)
        except BadSignature:
            continue
        found = (role, key_id(key))
    return found


# --- origin checks ------------------------------------------------------------------------------

def _origin_of(url: str) -> tuple[str, str] | None:
    """``(scheme, host[:port])`` of ``url``, lowercased; None when it has neither."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return parts.scheme.lower(), parts.netloc.lower()


def request_origin(request: Request) -> str | None:
    """Where the browser says the request came from: ``Origin``, else ``Referer`` (None: neither)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return origin
    if origin == "null":  # opaque origin (sandboxed frame, file://): never ours
        return "null"
    return request.headers.get("referer")


def is_same_origin(request: Request, source: str, trusted: list[str] | tuple[str, ...] = ()) -> bool:
    """True when ``source`` (an Origin or Referer) names this service: the request's own host
    (``Host`` header), or one of ``trusted`` origins (``https://geo.example.cn``, for a proxy that
    rewrites ``Host``). The scheme is not compared with the request's: a TLS-terminating proxy
    turns https into http on the way in."""
    got = _origin_of(source)
    if got is None:
        return False
    host = (request.headers.get("host") or request.url.netloc).lower()
    if got[1] == host:
        return True
    return any(_origin_of(t) == got for t in trusted)


def check_csrf(request: Request, *, required: bool, trusted: list[str] | tuple[str, ...] = ()) -> None:
    """Refuse (403 ``csrf-refused``) a state-changing request from another origin.

    ``required``: the request must name its origin (cookie-authenticated requests); otherwise only
    a present, foreign ``Origin``/``Referer`` is refused (login, logout, the local demo)."""
    if request.method in SAFE_METHODS:
        return
    source = request_origin(request)
    if source is None:
        if not required:
            return
        raise ProblemError(403, "a state-changing request authenticated by the session cookie must come "
                                "from this service's own page (no Origin or Referer header was sent)",
                           code="csrf-refused")
    if not is_same_origin(request, source, trusted):
        raise ProblemError(403, f"cross-site request refused: origin '{source[:200]}' is not this service",
                           code="csrf-refused", origin=source[:200])


# --- cookie -------------------------------------------------------------------------------------

def _secure(request: Request, setting: bool | None) -> bool:
    return request.url.scheme == "https" if setting is None else bool(setting)


def set_session_cookie(response: Response, request: Request, token: str, max_age_s: int,
                       secure: bool | None = None) -> None:
    """Set the session cookie (HttpOnly, SameSite=Strict, Secure over https) on ``response``."""
    response.set_cookie(COOKIE, token, max_age=max_age_s, path="/", httponly=True, samesite="strict",
                        secure=_secure(request, secure))


def clear_session_cookie(response: Response, request: Request, secure: bool | None = None) -> None:
    """Delete the session cookie in the browser."""
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request, secure))
