"""The FastAPI application factory.

``create_app()`` reads :class:`~api.settings.Settings` from the environment (and the settings
file), opens the store and wires the routers; at start-up (the lifespan) it marks jobs interrupted
by a previous process as failed and loads the demo county into an empty store (``load_demo``). Tests build their own app on a
temporary directory: ``create_app(Settings(data_dir=tmp, load_demo=False))``.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from geo_service.app.seed import ensure_demo
from geo_service.store import Store, open_store

from . import login, web
from .cache import DatasetCache
from .jobs import JobManager
from .keys import key_id
from .logs import configure_logging
from .middleware import RequestContextMiddleware
from .problems import install_handlers
from .routers import coverage, datasets, jobs, nearest, system, templates
from .settings import Settings

log = logging.getLogger("geo_service.api")

DESCRIPTION = """Coverage and assignment service for the liaison networks of CPPCC committees
(委员工作站、委员工作室、界别联系点): datasets, nearest-station lookups, coverage and gaps,
optimisation jobs and their tables (界别责任区一览表).

Authentication: an API key in `X-API-Key` or `Authorization: Bearer`; browsers log in at
`/login` (an HttpOnly, SameSite=Strict session cookie; POST/DELETE with it must come from this
service's own page). Roles: `viewer` (maps,
coverage, nearest), `planner` (+ optimisations, exports, constituents' personal fields), `admin`
(+ datasets). Errors are RFC 9457 `application/problem+json`."""


def _seed_demo(store: Store, settings: Settings) -> None:
    if not settings.load_demo or store.list_datasets():
        return
    if ensure_demo(store):
        log.info("loaded the demo county as dataset 'demo'")


def _web_router(app: FastAPI) -> None:
    """Include the web page, its static assets and the login routes (:mod:`api.web`, :mod:`api.login`)."""
    app.include_router(web.router)
    web.mount_static(app)
    app.include_router(login.router)
    app.state.html_problem = login.html_problem  # a browser's 401/403 is the login form


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Build the service. ``store`` defaults to ``open_store(settings.store_location)``."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    store = store or open_store(settings.store_location)
    cache = DatasetCache(store, size=settings.index_cache_size)
    manager = JobManager(store, lambda dataset_id: cache.get(dataset_id).ds, workers=settings.job_workers,
                         queue_size=settings.job_queue_size, retry_after_s=settings.job_retry_after_s,
                         load_network=lambda dataset_id: cache.get(dataset_id).network)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        interrupted = store.fail_interrupted_jobs()  # start-up IO here, not when the app is built
        if interrupted:
            log.warning("marked %d interrupted job(s) as failed", interrupted)
        _seed_demo(store, settings)
        if settings.api_keys:
            log.info("API keys enforced", extra={"keys": {key_id(k): r for k, r in settings.api_keys.items()}})
        elif settings.local_open:
            log.warning("no API key configured: loopback clients are treated as admin (local demo "
                        "mode), every other client is refused; set GEO_SERVICE_API_KEYS to enforce keys")
        else:
            log.warning("no API key configured and local_open is off: only anonymous endpoints answer")
        yield
        manager.shutdown(wait=False)

    app = FastAPI(title="geo-service", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.store = store
    app.state.cache = cache
    app.state.jobs = manager
    install_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body=max(settings.max_upload_bytes, settings.max_body_bytes))
    app.include_router(system.router)
    system.mount_docs(app)
    _web_router(app)  # before datasets: its /v1/datasets/{id}/maps/{kind} must win over /{layer}/{fid}
    app.include_router(nearest.router)
    app.include_router(coverage.router)
    app.include_router(jobs.router)
    app.include_router(datasets.router)
    app.include_router(templates.router)  # issue 17: GET /v1/templates.xlsx
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
