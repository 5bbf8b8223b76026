"""Helpers for browser tests: serve an ASGI app on loopback, drive Debian's Chromium via Playwright.

``live_server(app)`` runs uvicorn on 127.0.0.1 at a free port in a background thread and yields
its base URL. ``Browser`` launches ``/usr/bin/chromium`` headless with a fresh user-data-dir,
blocks every request that does not go to a loopback address (recording it), and records page
errors, console errors and dialogs per page, so a test can assert that a page needed nothing
from outside except map tiles and ran no injected script.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("GEO_SERVICE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")
TILE_HOSTS = ("tile.openstreetmap.org", "autonavi.com", "tianditu.gov.cn")


def require_chromium() -> None:
    """Skip (fail under CI) when Chromium or Playwright is missing."""
    from conftest import skip_unless_ci

    if not os.path.exists(CHROMIUM):
        skip_unless_ci(f"{CHROMIUM} is absent (apt-get install chromium); browser tests need it")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_unless_ci("the playwright Python package is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(app, timeout_s: float = 20.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (free port) in a thread; yield ``http://127.0.0.1:PORT``."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class PageLog:
    """What happened on one page: JS errors, console errors, dialogs, blocked outside requests."""

    page_errors: list[str] = field(default_factory=list)
    console_errors: list[tuple[str, str]] = field(default_factory=list)  # (text, url)
    dialogs: list[str] = field(default_factory=list)
    all_blocked: list[str] = field(default_factory=list)  # the browser's shared list
    start: int = 0

    @property
    def blocked(self) -> list[str]:
        """Outside requests blocked since this page opened."""
        return self.all_blocked[self.start:]

    def blocked_non_tiles(self) -> list[str]:
        return [u for u in self.blocked if not any(h in (urlparse(u).hostname or "") for h in TILE_HOSTS)]

    def console_errors_non_tiles(self) -> list[tuple[str, str]]:
        """Console errors other than the failed loads of blocked tiles."""
        out = []
        for text, url in self.console_errors:
            host = urlparse(url).hostname or ""
            if any(h in host for h in TILE_HOSTS):
                continue
            if "net::ERR_FAILED" in text and not url:
                continue  # Chromium logs aborted loads without a URL at times; blocked ones are recorded above
            out.append((text, url))
        return out


def cjk_font_env(folder: str) -> dict[str, str]:
    """The environment for Chromium with the bundled CJK font (``maps/fonts``) known to fontconfig
    besides the system's fonts, so screenshots show Chinese text on machines without a CJK font."""
    fonts = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "maps", "fonts")
    conf = os.path.join(folder, "fonts.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
                f"<dir>{fonts}</dir><cachedir>{os.path.join(folder, 'fc-cache')}</cachedir></fontconfig>")
    return {**os.environ, "FONTCONFIG_FILE": conf}


class Browser:
    """One headless Chromium (fresh profile) for a test session; :meth:`page` opens a logged page."""

    def __init__(self):
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._dir = tempfile.TemporaryDirectory(prefix="gs-chromium-")
        self.context = self._pw.chromium.launch_persistent_context(
            self._dir.name, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800}, locale="zh-CN", env=cjk_font_env(self._dir.name))
        self.blocked: list[str] = []

        def route(r):
            host = urlparse(r.request.url).hostname or ""
            if host in LOOPBACK or r.request.url.startswith(("data:", "blob:", "about:", "file:")):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)

    def page(self):
        """A new page and its :class:`PageLog` (dialogs are recorded and dismissed)."""
        page = self.context.new_page()
        log = PageLog(all_blocked=self.blocked, start=len(self.blocked))
        page.on("pageerror", lambda e: log.page_errors.append(str(e)))
        page.on("console", lambda m: log.console_errors.append((m.text, (m.location or {}).get("url", "")))
                if m.type == "error" else None)

        def on_dialog(d):
            log.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        return page, log

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()
        with contextlib.suppress(Exception):
            self._pw.stop()
        self._dir.cleanup()


@pytest.fixture(scope="module")
def chromium():
    """A :class:`Browser` per test module (skips when Chromium is absent).

    Module scope, not session: Playwright's sync API runs an event loop in the main thread while it
    is started, so a browser kept for the whole session breaks later tests that call
    ``asyncio.run`` and a second module's browser could not start at all."""
    require_chromium()
    b = Browser()
    yield b
    b.close()


def make_app(data_dir, datasets: dict, **settings):
    """The service on a fresh embedded store in ``data_dir`` holding ``datasets`` (id -> Dataset)."""
    from api.app import create_app
    from api.settings import Settings
    from geo_service.core.store import SQLiteStore

    store = SQLiteStore(str(data_dir))
    for did, ds in datasets.items():
        store.put_dataset(did, ds)
    settings.setdefault("load_demo", False)
    settings.setdefault("log_level", "WARNING")
    return create_app(Settings(data_dir=str(data_dir), **settings), store=store)
