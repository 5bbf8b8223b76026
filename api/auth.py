"""API-key authentication with the roles ``viewer`` < ``member`` < ``planner`` < ``admin``.

- ``viewer``: maps, coverage, nearest lookups, dataset and job listings.
- ``member`` (a 委员's own key, setting ``member_keys``; :attr:`Principal.member_id` says who):
  what a viewer may, plus their own constituents with contact details, their duties and
  consultations, and recording their own ledger activities; nobody else's.
- ``planner``: + optimisation jobs, exports, and constituents' personal fields (name, phone).
- ``admin``: + dataset upload, edit and delete.

The key comes in ``X-API-Key`` or ``Authorization: Bearer <key>``, or, for browsers, as the
session cookie the login form sets (:mod:`api.session`; a header key wins over the cookie; a
state-changing request carried by the cookie must come from the service's own origin). Keys are
compared in constant time (:func:`hmac.compare_digest` against every configured key, no early
exit). Nearest lookups
may be opened to callers without a key (``anonymous_nearest``). With no key configured at all and
``local_open`` set (the local demo: ``geo-service serve`` on 127.0.0.1), loopback clients are
treated as admin and every other client is refused (a state-changing request whose ``Origin``
names another site is refused too); the service logs that at start-up.

Failed keys (and failed logins, :mod:`api.login`) are counted per client address: after
``auth_failures_per_minute`` of them the address gets 429 with ``Retry-After`` for every key it
presents, right or wrong, until the window has passed (:class:`FailureLimiter`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from fastapi import Depends, Request

from .keys import key_id
from .privacy import PERSONAL_ROLES
from .problems import ProblemError
from .session import COOKIE, check_csrf, verify_token
from .settings import ROLES, Settings

RANK = {r: i for i, r in enumerate(ROLES)}


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``role`` is ``anonymous`` or one of :data:`api.settings.ROLES`;
    ``key_id`` a short non-secret fingerprint of the key, for logs."""

    role: str
    key_id: str | None = None
    via: str = "key"  # key (header), session (cookie), local-open, or anonymous
    member_id: str | None = None  # set when role == "member": whose ledger this is

    @classmethod
    def of(cls, role: str, key_id: str | None, via: str = "key") -> Principal:
        """The principal of a matched key's role text (``member:<id>`` for a member key)."""
        if role.startswith("member:"):
            return cls("member", key_id, via, member_id=role[len("member:"):])
        return cls(role, key_id, via)

    def allows(self, role: str) -> bool:
        """True when this principal has ``role`` or a higher one (a member ranks above a viewer)."""
        return self.role in RANK and role in RANK and RANK[self.role] >= RANK[role]

    @property
    def sees_personal(self) -> bool:
        """May see personal data (homes, phones, constituents): the one rule of :mod:`api.privacy`."""
        return self.role in PERSONAL_ROLES


ANONYMOUS = Principal("anonymous", via="anonymous")


class FailureLimiter:
    """Failed API keys and logins per client address: after ``limit`` failures within ``window_s``
    seconds, further attempts from that address are refused (429 with ``Retry-After``) until the
    oldest failure leaves the window, so keys cannot be guessed at speed. In memory, per process;
    at most ``max_clients`` addresses are tracked (the longest quiet ones are forgotten first).
    ``limit`` 0 turns it off."""

    def __init__(self, limit: int, window_s: float = 60.0, max_clients: int = 10_000):
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float | None = None) -> int | None:
        """Seconds until ``client`` may try again, or None when it may try now."""
        if self.limit <= 0:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._fails.get(client)
            if q is None:
                return None
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if not q:
                del self._fails[client]
                return None
            if len(q) < self.limit:
                return None
            return max(1, math.ceil(q[0] + self.window_s - now))

    def failed(self, client: str, now: float | None = None) -> None:
        """Record one failure of ``client``."""
        if self.limit <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._fails.get(client)
            if q is None:
                q = self._fails[client] = deque(maxlen=self.limit)
                while len(self._fails) > self.max_clients:
                    self._fails.popitem(last=False)
            q.append(now)
            self._fails.move_to_end(client)

    def check(self, request: Request) -> None:
        """Raise 429 ``too-many-failures`` when the caller's address is locked out."""
        wait = self.retry_after(client_address(request))
        if wait is not None:
            raise ProblemError(429, f"too many failed API keys or logins from this address; try again in {wait} s",
                               code="too-many-failures", headers={"Retry-After": str(wait)}, retry_after_s=wait)


def client_address(request: Request) -> str:
    """The client's IP address as the server saw it (``X-Forwarded-For`` counts only from the
    proxies named in the ``trusted_proxies`` setting, see :func:`api.server.uvicorn_config`)."""
    return request.client.host if request.client else "-"


def _limiter(request: Request) -> FailureLimiter | None:
    return getattr(request.app.state, "auth_failures", None)


def key_failed(request: Request) -> None:
    """Count a failed key or login of the caller (see :class:`FailureLimiter`)."""
    limiter = _limiter(request)
    if limiter is not None:
        limiter.failed(client_address(request))


def check_not_locked_out(request: Request) -> None:
    """Raise 429 when the caller's address has failed too often (before any key is compared)."""
    limiter = _limiter(request)
    if limiter is not None:
        limiter.check(request)


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def match_key(presented: str, keys: dict[str, str]) -> str | None:
    """The role of ``presented`` among ``keys`` (key -> role), compared in constant time."""
    role = None
    p = hashlib.sha256(presented.encode()).digest()
    for key, r in keys.items():  # compare against all keys: timing does not depend on which matched
        if hmac.compare_digest(p, hashlib.sha256(key.encode()).digest()):
            role = r
    return role


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")


def authenticate(request: Request) -> Principal:
    """The :class:`Principal` of ``request`` (raises 401 problem for a wrong key)."""
    settings: Settings = request.app.state.settings
    presented = _presented_key(request)
    if settings.api_keys:
        if presented is None:
            token = request.cookies.get(COOKIE)
            found = verify_token(token, settings.role_keys) if token else None
            if found is None:  # no cookie, or an expired/foreign one: anonymous (the page offers a login)
                return ANONYMOUS
            check_csrf(request, required=True, trusted=settings.trusted_origins)
            return Principal.of(found[0], found[1], via="session")
        check_not_locked_out(request)
        role = match_key(presented, settings.role_keys)
        if role is None:
            key_failed(request)
            raise ProblemError(401, "the API key is not valid", code="invalid-api-key",
                               headers={"WWW-Authenticate": 'Bearer realm="geo-service"'})
        return Principal.of(role, key_id(presented))
    if presented is not None and settings.member_keys:  # open service: a member key still says who
        member = match_key(presented, settings.member_keys)
        if member is not None:
            return Principal("member", key_id(presented), member_id=member)
    if settings.local_open and _is_loopback(request):
        check_csrf(request, required=False, trusted=settings.trusted_origins)
        return Principal("admin", "local-open", via="local-open")
    return ANONYMOUS


async def principal(request: Request) -> Principal:
    """Dependency: the caller, cached on the request."""
    p = getattr(request.state, "principal", None)
    if p is None:
        p = authenticate(request)
        request.state.principal = p
    return p


def require(role: str, *, anonymous_setting: str | None = None):
    """Dependency factory: the caller must hold ``role`` (or better).

    ``anonymous_setting`` names a boolean setting that, when true, lets callers without a key in.
    """

    async def dep(request: Request, who: Principal = Depends(principal)) -> Principal:
        if who.allows(role):
            return who
        if who.role == "anonymous":
            if anonymous_setting and getattr(request.app.state.settings, anonymous_setting, False):
                return who
            raise ProblemError(401, f"an API key with role '{role}' or higher is required "
                                    "(X-API-Key header or Authorization: Bearer; browsers: log in at /login)",
                               code="unauthenticated",
                               headers={"WWW-Authenticate": 'Bearer realm="geo-service"'},
                               required_role=role)
        raise ProblemError(403, f"role '{who.role}' may not do this; role '{role}' or higher is required",
                           code="forbidden", required_role=role, role=who.role)

    dep.__name__ = f"require_{role}"
    return dep


viewer = require("viewer")
planner = require("planner")
admin = require("admin")
nearest_access = require("viewer", anonymous_setting="anonymous_nearest")
