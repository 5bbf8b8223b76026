"""The FastAPI application factory.

``create_app()`` reads :class:`~api.settings.Settings` from the environment (and the settings
file) and wires the routers. The lifespan owns the resources (:class:`~api.resources.AppResources`):
at start-up it opens the store, the dataset cache and the job manager, kills solver processes a
killed previous process left, queues again the jobs it left waiting, marks those it left running as
failed (interrupted) and loads the demo county into an empty store (``load_demo``); at shutdown it
stops the job workers and closes the store it opened (a PostGIS pool included). Tests build their
own app on a temporary directory: ``create_app(Settings(data_dir=tmp, load_demo=False))``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from geo_service.app.seed import ensure_demo
from geo_service.core.store import Store

from . import ledger_page, login, web
from .auth import FailureLimiter
from .keys import key_id
from .logs import configure_logging
from .middleware import RequestContextMiddleware
from .problems import install_handlers
from .resources import AppResources, ResourceState
from .routers import (activities, batches, coverage, datasets, jobs, locations, map_data, messages, nearest, ogc,
                      posters, review, rosters, system, templates)
from .settings import Settings

log = logging.getLogger("geo_service.api")

DESCRIPTION = """Coverage and assignment service for the liaison networks of CPPCC committees
(委员工作站、委员工作室、界别联系点): datasets, nearest-station lookups, coverage and gaps,
optimisation jobs and their tables (界别责任区一览表).

Authentication: an API key in `X-API-Key` or `Authorization: Bearer`; browsers log in at
`/login` (an HttpOnly, SameSite=Strict session cookie; POST/DELETE with it must come from this
service's own page; requests a browser sends for another site are refused, 403). Repeated wrong keys
get 429 with Retry-After. Roles: `viewer` (maps,
coverage, nearest), `planner` (+ optimisations, exports, constituents' personal fields), `admin`
(+ datasets). Errors are RFC 9457 `application/problem+json`."""


def _seed_demo(store: Store, settings: Settings) -> None:
    if not settings.load_demo or store.list_datasets():
        return
    if ensure_demo(store):
        log.info("loaded the demo county as dataset 'demo'")


def load_or_create_secret(path: Path) -> bytes:
    """The 32-byte secret kept in ``path``, created (mode 0600) on first use.

    Two processes starting at once agree: the first link into place wins and both read it back."""
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data[:32]
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links
        if not path.exists():
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    data = path.read_bytes()
    if len(data) < 32:
        raise RuntimeError(f"{path} holds no usable secret: delete it and restart")
    return data[:32]


def _etag_key(settings: Settings) -> bytes:
    """HMAC key of feature ETags: the ``etag_secret`` setting, else a secret kept in the data dir."""
    if settings.etag_secret:
        return hashlib.sha256(b"geo-service-etag|" + settings.etag_secret.encode()).digest()
    if settings.database_url:
        log.warning("etag_secret is not set: feature ETags use a secret kept in %s, so replicas sharing "
                    "the database need the same etag_secret setting", settings.data_dir)
    return load_or_create_secret(Path(settings.data_dir) / "etag-secret")


def _web_router(app: FastAPI) -> None:
    """Include the web page, its static assets and the login routes (:mod:`api.web`, :mod:`api.login`)."""
    app.include_router(web.router)
    web.mount_static(app)
    app.include_router(login.router)
    app.state.html_problem = login.html_problem  # a browser's 401/403 is the login form


def _start(resources: AppResources, settings: Settings) -> None:
    """The lifespan's start-up work on the opened resources."""
    store, manager = resources.store, resources.jobs
    strays = manager.kill_strays()  # solvers a killed service left behind (start-up IO here)
    if strays:
        log.warning("killed %d solver process(es) left by a previous service", len(strays))
    queued = store.take_over_queued_jobs(kinds=tuple(manager.runners))
    interrupted = store.fail_interrupted_jobs()
    if interrupted:
        log.warning("marked %d interrupted job(s) as failed", interrupted)
    if queued:
        log.info("queued %d job(s) left waiting by a previous service", len(manager.resume(queued)))
    _seed_demo(store, settings)
    datasets.remove_stale_uploads(settings)  # temp files of killed processes
    if settings.api_keys:
        log.info("API keys enforced", extra={"keys": {key_id(k): r for k, r in settings.api_keys.items()}})
    elif settings.local_open:
        log.warning("no API key configured: loopback clients are treated as admin (local demo "
                    "mode), every other client is refused; set GEO_SERVICE_API_KEYS to enforce keys")
    else:
        log.warning("no API key configured and local_open is off: only anonymous endpoints answer")
    if "*" not in settings.allowed_hosts:
        log.info("answering only Host names %s (setting trusted_hosts)", ", ".join(settings.allowed_hosts))


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Build the service. ``store`` (the caller's, left open) defaults to one opened from
    ``settings.store_location`` at start-up and closed at shutdown."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    resources = AppResources(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        resources.open()
        try:
            _start(resources, settings)
            yield
        finally:
            resources.close()

    app = FastAPI(title="geo-service", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state = ResourceState()  # store, cache and jobs come from the resources (opened on first use)
    app.state.settings = settings
    app.state.resources = resources
    app.state.etag_key = _etag_key(settings)
    app.state.auth_failures = FailureLimiter(settings.auth_failures_per_minute, 60.0)
    install_handlers(app)
    app.add_middleware(RequestContextMiddleware, settings=settings)
    app.include_router(system.router)
    system.mount_docs(app)
    app.include_router(messages.router)  # 码上议事: before map_data's and datasets' /{layer} routes
    app.include_router(posters.router)  # QR posters and the phone page /m/...
    app.include_router(ogc.router)  # OGC API Features/Tiles/Processes; before datasets' /{layer}/{fid}
    app.include_router(map_data.router)  # villages by bbox; before datasets' /{layer}/{fid}
    app.include_router(rosters.router)  # before the web router: its maps/{kind} would take /maps/roster
    app.include_router(activities.router)  # the ledger; before datasets' /{layer}/{fid}
    app.include_router(review.router)  # coverage that happened, the review; before the web router's maps/{kind}
    app.include_router(ledger_page.router)  # the phone page for entering activities, member login links
    _web_router(app)  # before datasets: its /v1/datasets/{id}/maps/{kind} must win over /{layer}/{fid}
    app.include_router(nearest.router)
    app.include_router(coverage.router)
    app.include_router(jobs.router)
    app.include_router(batches.router)  # POST /v1/batches, GET /v1/batches/{id}, resume
    app.include_router(locations.router)  # village placing and the 待补坐标 workbook; before datasets' /{layer}/{fid}
    app.include_router(datasets.router)
    app.include_router(templates.router)  # GET /v1/templates.xlsx
    _declare_security(app)
    return app


def _declare_security(app: FastAPI) -> None:
    """Add the API-key schemes to the OpenAPI document (the docs page gets an "Authorize" button);
    the keys are checked by :mod:`api.auth`, which reads the same headers."""
    def openapi():
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes)
            spec.setdefault("components", {})["securitySchemes"] = {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"}}
            spec["security"] = [{"ApiKey": []}, {"Bearer": []}, {}]
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
