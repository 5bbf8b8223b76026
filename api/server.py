"""Running the service under uvicorn with limits against slow and numerous clients.

uvicorn times out idle keep-alive connections but not a connection that never finishes its request
head: thousands of half-open connections (slowloris) then hold file descriptors until the process
runs out ("Too many open files") and normal requests time out. :class:`GuardedH11Protocol` adds

- a **head timeout** (``header_timeout_s``): a connection must deliver a complete request line and
  headers within that time from connecting, or from the end of its previous response; else it is
  closed;
- a **per-address connection cap** (``max_connections_per_ip``): further connections from that
  address are closed at once. IPv6 clients are counted per /64 network (one host gets a whole
  /64 for nothing);
- a **global budget of waiting connections** (``max_idle_connections``): connections that are
  half-open (no complete request head yet) or idle between keep-alive requests are kept in the
  order they started waiting; when a new connection would exceed the budget, the one waiting
  longest is closed first, so no set of addresses can hold every slot and starve the rest.

Proxy headers (``X-Forwarded-For``) are believed only from the proxies named in the
``trusted_proxies`` setting; with none named they are ignored, whatever the client's address.

:func:`uvicorn_config` maps the settings to uvicorn's own limits (``limit_concurrency``,
``backlog``, ``timeout_keep_alive``, ``h11_max_incomplete_event_size``). The request-body pace is
guarded in the app itself (``body_timeout_s``, :mod:`api.middleware`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter, OrderedDict
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import Settings

log = logging.getLogger("geo_service.api.server")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head timeout and a per-address connection cap
    (class attributes, set by :func:`uvicorn_config`)."""

    header_timeout_s: float = 10.0
    max_connections_per_ip: int = 0
    max_idle_connections: int = 0
    _per_ip: Counter[str] = Counter()
    #: connections waiting for a request head (half-open or idle keep-alive), longest waiting first
    _waiting: OrderedDict[GuardedH11Protocol, None] = OrderedDict()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        peer = address_key(self.client[0]) if self.client else ""
        self._peer = peer
        GuardedH11Protocol._per_ip[peer] += 1
        if self.max_connections_per_ip and GuardedH11Protocol._per_ip[peer] > self.max_connections_per_ip:
            log.warning("too many connections from one address: closing new ones",
                        extra={"client": peer, "limit": self.max_connections_per_ip})
            transport.close()
            return
        self._make_room()
        self._arm_head_timer()

    def _make_room(self) -> None:
        """Close the connections waiting longest while the waiting ones exceed the global budget."""
        budget = self.max_idle_connections
        waiting = type(self)._waiting
        if budget:
            while len(waiting) >= budget:
                oldest, _ = waiting.popitem(last=False)
                if not oldest.transport.is_closing():
                    oldest.transport.close()
        waiting[self] = None

    def connection_lost(self, exc: Exception | None) -> None:
        type(self)._waiting.pop(self, None)
        self._cancel_head_timer()
        peer = getattr(self, "_peer", None)
        if peer is not None:
            GuardedH11Protocol._per_ip[peer] -= 1
            if GuardedH11Protocol._per_ip[peer] <= 0:
                del GuardedH11Protocol._per_ip[peer]
            self._peer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request head is complete
            self._cancel_head_timer()
            type(self)._waiting.pop(self, None)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_head_timer()  # the next request's head is timed too (keep-alive)
            type(self)._waiting.pop(self, None)
            self._make_room()  # idle again: at the end of the waiting line

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.transport.close()


def address_key(host: str) -> str:
    """The key a client address is counted under: an IPv4 address as it is, an IPv6 address as its
    /64 network (an IPv4-mapped IPv6 address as the IPv4 address)."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def idle_budget(settings: Settings) -> int:
    """Connections that may wait for a request head at once: ``max_idle_connections``, else half of
    ``limit_concurrency`` (so waiting connections never fill uvicorn's own limit)."""
    if settings.max_idle_connections is not None:
        return settings.max_idle_connections
    return max(1, settings.limit_concurrency // 2)


def uvicorn_config(app: Any, settings: Settings, *, host: str, port: int, **extra: Any):
    """A :class:`uvicorn.Config` for ``app`` with the server limits of ``settings``."""
    import uvicorn

    protocol = type("GuardedH11", (GuardedH11Protocol,), {
        "header_timeout_s": settings.header_timeout_s,
        "max_connections_per_ip": settings.max_connections_per_ip,
        "max_idle_connections": idle_budget(settings),
        "_waiting": OrderedDict()})
    proxies = settings.proxies
    extra.setdefault("proxy_headers", bool(proxies))
    if proxies:
        extra.setdefault("forwarded_allow_ips", ",".join(proxies))
    return uvicorn.Config(
        app, host=host, port=port, http=protocol, limit_concurrency=settings.limit_concurrency,
        backlog=settings.backlog, timeout_keep_alive=settings.timeout_keep_alive_s,
        h11_max_incomplete_event_size=settings.h11_max_incomplete_event_size, **extra)


def raise_open_file_limit(wanted: int) -> None:
    """Raise the soft limit of open files towards ``wanted`` (at most the hard limit), so the
    connection limits, not the descriptor table, decide when clients are turned away."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
