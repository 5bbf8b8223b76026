"""The planners' web page at ``/`` and the HTML maps at ``/v1/datasets/{id}/maps/{kind}``.

Server-rendered (Jinja2 with autoescaping, no build step). The page lists the datasets, the
coverage per threshold of the selected one, links to its maps, its latest optimisation runs, and
a form that starts a re-run through ``POST /v1/datasets/{id}/optimisations``; its script
(``/web/page.js``, served here) polls ``GET /v1/jobs/{id}`` and shows the progress, then the
result's map and responsibility table. Every JS/CSS file the page and the maps use is served from
``/static`` (:func:`mount_static`), so nothing but map tiles comes from outside.

Every HTML response carries a strict Content-Security-Policy built by one helper,
:func:`content_security_policy` (used through :func:`html_response`): ``default-src 'self'``, no
``'unsafe-inline'`` or ``'unsafe-eval'``; the inline ``<script>``/``<style>`` blocks the page and
Folium emit are allowed by their SHA-256 hashes, computed from the served HTML. Hashes, not
nonces: a map is rendered once per dataset version and served from a cache many times, so its
hashes are computed once with it and the bytes stay identical (a nonce would mean rewriting the
cached page per response, and a nonce baked into a cached page is no nonce). Map tiles are
allowed in ``img-src`` for the hosts of the tile layers the map actually offers.

Access: the page and the maps need the ``viewer`` role, a run needs ``planner`` (see
:mod:`api.auth`); in the local demo (no key configured, loopback) both are open. With keys
enforced, a browser logs in (:mod:`api.login`): the session cookie then carries every link
(maps, XLSX) and the script's requests; without it ``/`` answers the login form (401).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

import maps
from maps.aggregate import TILE_URL
from geo_service.core.coverage import coverage_summary, village_weights
from geo_service.core.glossary import WORDS, job_failure_text, job_message_text, job_status_text, word
from geo_service.core.store import NotFound, Store
from maps.assets import STATIC_DIR
from maps.locations import located_dataset
from solvers.gaps import close_gaps

from .auth import Principal, principal, viewer
from .cache import DatasetCache, DatasetEntry
from .deps import dataset_entry, finished_run, get_cache, get_settings, get_store, latest_successful
from . import privacy
from . import places as _places
from . import rosters as _rosters
from . import static_maps as _static_maps
from .html import content_security_policy, html_response
from .login import login_page
from .problems import ProblemError
from .settings import Settings

log = logging.getLogger("geo_service.api.web")
router = APIRouter(tags=["web page and maps"])
# the static maps (/maps/{kind}.png|pdf|svg) first: the HTML route's {kind} would take "coverage.png"
router.include_router(_static_maps.router)
TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
THRESHOLDS_M = (5000, 10000, 20000)
MAP_KINDS = ("coverage", "assignment", "gaps")
RUNS_LISTED = 20
def mount_static(app: FastAPI) -> None:
    """Serve the vendored Leaflet/Folium assets (``maps/static``) at ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def _coverage_rows(entry: DatasetEntry) -> list[dict[str, Any]]:
    """Total coverage per threshold (straight line), cached per dataset version."""
    def build(ds):
        return coverage_summary(ds, thresholds_m=THRESHOLDS_M)["total"]

    try:
        return entry.memo("web:coverage_total", build)
    except Exception as e:  # noqa: BLE001 - the page still renders without the figures
        log.warning("coverage figures unavailable: %s", e)
        return []


def _this_month_duty(store: Store, dataset_id: str) -> dict[str, Any] | None:
    """This month's duty of the latest roster (names only: the page shows no homes), or None."""
    job = _rosters.latest_roster(store, dataset_id)
    if job is None:
        return None
    try:
        return {"job_id": job.id, **_rosters.current_duty(job.result)}
    except (ValueError, KeyError, TypeError) as e:  # an odd stored result must not break the page
        log.warning("roster duty unavailable: %s", e)
        return None


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request, store: Store = Depends(get_store), cache: DatasetCache = Depends(get_cache),
          who: Principal = Depends(principal),
          dataset: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")] = None,
          lang: Annotated[Literal["zh", "en"], Query()] = "zh"):
    """The planners' page (HTML); the login form (401) for a caller without a viewer key or session."""
    if not who.allows("viewer"):
        accept = request.headers.get("accept", "")
        if not request.app.state.settings.api_keys or ("json" in accept and "text/html" not in accept):
            # no login to offer (remote client of the local demo), or an API client: problem+json
            raise ProblemError(401, "an API key with role 'viewer' or higher is required (browsers: log in "
                                    "at /login)" if request.app.state.settings.api_keys else
                               "no API key is configured and this client is not on loopback",
                               code="unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="geo-service"'})
        return login_page(request, status=401, next_url=str(request.url.path) +
                          (f"?{request.url.query}" if request.url.query else ""), lang=lang,
                          headers={"WWW-Authenticate": 'Bearer realm="geo-service"'})
    datasets = store.list_datasets()
    current = None
    if datasets:
        ids = [d.id for d in datasets]
        current = dataset if dataset in ids else ("demo" if "demo" in ids else ids[0])
    coverage, jobs, latest, summary, duty, places, by_villages = [], [], None, None, None, None, True
    if current:
        try:
            entry = cache.get(current)
            coverage = _coverage_rows(entry)
            summary = entry.ds.summary()
            places = _places.place_payload(entry.ds, lang=lang)
            by_villages = village_weights(entry.ds.villages).basis != "population"
        except (NotFound, ValueError):
            current = None
        if current:
            jobs = store.list_jobs(current, limit=RUNS_LISTED)  # every kind, from the page, the API or the CLI
            latest = latest_successful(store, current)
            duty = _this_month_duty(store, current)
    html = _env.get_template("index.html").render(
        lang=lang, datasets=datasets, current=current, coverage=coverage, summary=summary, jobs=jobs,
        latest=latest, duty=duty, this_month=_rosters.this_month(), role=who.role, via=who.via,
        thresholds=THRESHOLDS_M, can_run=who.allows("planner"), places=places,
        places_json=_places.json_for_script(places) if places else "",
        by_villages=by_villages,
        kind_text=lambda k: word(f"page_kind_{k}", lang) if f"page_kind_{k}" in WORDS else k,
        status_text=lambda s: job_status_text(s, lang), message_text=lambda j: _job_message(j, lang))
    # tiles of the placing map: OpenStreetMap (WGS-84) and Gaode (GCJ-02)
    return html_response(html, frame_ancestors="'none'",  # no clickjacking of the run form
                         img_hosts=_places.TILE_ORIGINS if places and places["villages"] else ())





def _job_message(job: Any, lang: str) -> Any:
    """A job's message in words (glossary), with the run's outcome where the record holds it."""
    res = job.result if isinstance(getattr(job, "result", None), dict) else {}
    outcome = res.get("outcome") or (res.get("optimisation") or {}).get("outcome")
    failed = job_failure_text(getattr(job, "error", None), lang) if job.status == "failed" else None
    text = failed or job_message_text(job.message, job.status, outcome, lang)
    return "" if text == job_status_text(job.status, lang) else text  # never "已完成 · 已完成"


@router.get("/web/page.js", include_in_schema=False)
def page_js():
    """The page's script (progress polling, result table)."""
    return FileResponse(TEMPLATES / "page.js", media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})


def _map_html(entry: DatasetEntry, key: str, build) -> tuple[str, str]:
    """The map page and its CSP, built once per dataset version and parameters."""
    def page(ds) -> tuple[str, str]:
        m = build(ds)
        html = m.get_root().render()
        return html, content_security_policy(html, img_hosts=maps.tile_hosts(m))

    return entry.memo(f"web:map:{key}", page, max_items=16)


@router.get("/v1/datasets/{dataset_id}/maps/{kind}", response_class=HTMLResponse,
            summary="An HTML map of the dataset: coverage, assignment (of a job; before any run the dataset's own) "
                    "or gaps (viewer)",
            responses={200: {"content": {"text/html": {}}}})
def dataset_map(kind: Literal["coverage", "assignment", "gaps"], entry: DatasetEntry = Depends(dataset_entry),
                store: Store = Depends(get_store), who: Principal = Depends(viewer),
                lang: Annotated[Literal["zh", "en"], Query()] = "zh",
                tiles: Annotated[Literal["osm", "gaode", "gaode_satellite", "tianditu", "none"],
                                 Query(description="base tiles; tianditu needs the tianditu_key setting")] = "osm",
                settings: Settings = Depends(get_settings),
                job: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                                 description="assignment: the job (default: latest successful)")] = None,
                sector: Annotated[str | None, Query(max_length=64)] = None,
                group: Annotated[str | None, Query(max_length=64)] = None,
                committee: Annotated[str | None, Query(max_length=64)] = None,
                member: Annotated[str | None, Query(max_length=64, description="assignment: draw this "
                                                     "member's links")] = None,
                threshold_m: Annotated[float | None, Query(gt=0, le=200000)] = None):
    """A self-contained Leaflet page whose assets load from ``/static``; tiles from ``tiles``.

    With the ``tianditu_key`` setting the layer control also offers Tianditu tiles (same WGS-84
    datum as OpenStreetMap) and ``tiles=tianditu`` makes them the base; without it, 422."""
    did = entry.info.id
    tk = settings.tianditu_key or None
    if tiles == "tianditu" and not tk:
        raise ProblemError(422, "Tianditu tiles need a Tianditu key: set GEO_SERVICE_TIANDITU_KEY",
                           code="invalid-parameters",
                           errors=[{"in": "query", "field": "tiles", "message": "no Tianditu key configured",
                                    "code": "tianditu_key_missing"}])
    tiles_key = f"{tiles}:{'tk' if tk else '-'}"
    if kind == "coverage":
        gap_t = threshold_m
        html, csp = _map_html(entry, f"coverage:{lang}:{tiles_key}:{gap_t}",
                         lambda ds: maps.coverage_map(ds, lang=lang, tiles=tiles, gap_threshold=gap_t,
                                                      tianditu_key=tk, detail_url=TILE_URL))
    elif kind == "assignment":
        rec = finished_run(store, did, job)  # None before any run: the dataset's own assignment (200)
        result = rec.result if rec is not None else None
        run_key = rec.id if rec is not None else "-current-"
        homes = privacy.homes(who)  # members' homes: planner and admin only
        key = f"assignment:{run_key}:{lang}:{tiles_key}:{sector}:{group}:{committee}:{member}:{homes}"
        # a group, committee or member not in the dataset: InvalidParameter naming it, 422 (api.problems)
        html, csp = _map_html(entry, key,
                              lambda ds: maps.assignment_map(privacy.dataset_view(ds, who), result, sector=sector,
                                                             group=group, committee=committee, member=member,
                                                             lang=lang, tiles=tiles, tianditu_key=tk))
    else:
        thr = threshold_m or 10000.0
        html, csp = _map_html(entry, f"gaps:{thr}:{lang}:{tiles_key}",
                         lambda ds: maps.gaps_map(ds, close_gaps(located_dataset(ds), threshold_m=thr), threshold_m=thr,
                                                  lang=lang, tiles=tiles, tianditu_key=tk))
    return html_response(html, csp=csp)
