"""Health, readiness and offline API docs (Swagger UI served from a local package, no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from ..encoding import FastJSONResponse
from ..schemas import Health

router = APIRouter(tags=["system"])
DOCS_STATIC = "/static-docs"


@router.get("/healthz", response_model=Health, response_class=FastJSONResponse,
            summary="Liveness: the process answers")
async def healthz():
    return FastJSONResponse({"status": "ok"})


@router.get("/readyz", response_model=Health, response_class=FastJSONResponse,
            responses={503: {"description": "not ready", "model": Health}},
            summary="Readiness: the store answers and the job pool runs")
def readyz(request: Request):
    checks = {}
    ok = True
    try:
        checks["datasets"] = len(request.app.state.store.list_datasets())
    except Exception as e:  # any store failure means "not ready"
        ok = False
        checks["store"] = f"error: {type(e).__name__}"
    jobs = request.app.state.jobs
    checks["jobs_active"] = jobs.active
    checks["jobs_capacity"] = jobs.capacity
    return FastJSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                            status_code=200 if ok else 503)


def _swagger_static_dir() -> Path | None:
    try:
        import fastapi_offline
    except ImportError:
        return None
    d = Path(fastapi_offline.__file__).parent / "static"
    return d if (d / "swagger-ui-bundle.js").exists() else None


def mount_docs(app: FastAPI) -> None:
    """Serve ``/docs`` with Swagger UI assets from the installed ``fastapi-offline`` package.

    Without that package ``/docs`` still answers, with a page linking ``/openapi.json``.
    """
    from fastapi.staticfiles import StaticFiles

    static = _swagger_static_dir()
    if static is not None:
        app.mount(DOCS_STATIC, StaticFiles(directory=static), name="static-docs")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        if static is None:
            return HTMLResponse(f'<!doctype html><title>geo-service API</title><p>The OpenAPI document is '
                                f'at <a href="{root}/openapi.json">/openapi.json</a>.</p>')
        return get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - API docs",
                                   swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png")
