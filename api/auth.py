"""API-key authentication with three roles: ``viewer`` < ``planner`` < ``admin``.

- ``viewer``: maps, coverage, nearest lookups, dataset and job listings.
- ``planner``: + optimisation jobs, exports, and constituents' personal fields (name, phone).
- ``admin``: + dataset upload, edit and delete.

The key comes in ``X-API-Key`` or ``Authorization: Bearer <key>``. Keys are compared in constant
time (:func:`hmac.compare_digest` against every configured key, no early exit). Nearest lookups
may be opened to callers without a key (``anonymous_nearest``). With no key configured at all and
``local_open`` set (the local demo: ``geo-service serve`` on 127.0.0.1), loopback clients are
treated as admin and every other client is refused; the service logs that at start-up.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from fastapi import Depends, Request

from .problems import ProblemError
from .settings import ROLES, Settings

RANK = {r: i for i, r in enumerate(ROLES)}


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``role`` is ``anonymous`` or one of :data:`api.settings.ROLES`;
    ``key_id`` a short non-secret fingerprint of the key, for logs."""

    role: str
    key_id: str | None = None

    def allows(self, role: str) -> bool:
        """True when this principal has ``role`` or a higher one."""
        return self.role in RANK and RANK[self.role] >= RANK[role]

    @property
    def sees_personal(self) -> bool:
        """May see constituents' personal fields (planner and admin)."""
        return self.allows("planner")


ANONYMOUS = Principal("anonymous")


def key_id(key: str) -> str:
    """A non-secret 8-hex-digit id of ``key`` (sha256 prefix) for logs."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


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
            return ANONYMOUS
        role = match_key(presented, settings.api_keys)
        if role is None:
            raise ProblemError(401, "the API key is not valid", code="invalid-api-key",
                               headers={"WWW-Authenticate": 'Bearer realm="geo-service"'})
        return Principal(role, key_id(presented))
    if settings.local_open and _is_loopback(request):
        return Principal("admin", "local-open")
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
                                    "(X-API-Key header or Authorization: Bearer)", code="unauthenticated",
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
