"""OGC API - Features Part 1 (Core, GeoJSON, HTML) and Part 2 (CRS by reference) per dataset.

``/v1/datasets/{id}`` is the landing page (:func:`landing_links` adds ``conformance``, ``data`` and
``service-desc`` to what that route returned before). Under it:

- ``/conformance``: the classes claimed (:data:`CONFORMANCE`, each one tested with GDAL or OWSLib);
- ``/collections``, ``/collections/{cid}``: the layers a caller may read (:mod:`.layers`), with
  extent, item type and the CRSs offered (:mod:`.crs`);
- ``/collections/{cid}/items``: ``bbox`` (with ``bbox-crs``), ``limit``, ``offset`` (``next``/``prev``
  links), ``numberMatched``/``numberReturned``, property filters (``?township_id=...``: equality,
  membership for list fields), ``crs``, ``f=json|html``;
- ``/collections/{cid}/items/{fid}``: one feature with its ``ETag`` (``If-None-Match`` -> 304). The
  ETag of a dataset feature is the one the compact route gives, so it serves ``If-Match`` edits.

The compact form ``/v1/datasets/{id}/{layer}`` stays as it was.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response
from shapely.geometry import mapping

from geo_service.core.jsonsafe import to_jsonable
from geo_service.core.store import Store

from ... import geojson as gj
from ...auth import Principal, viewer
from ...cache import DatasetEntry
from ...deps import dataset_entry, get_settings, get_store, public_url
from ...encoding import FastJSONResponse, GeoJSONResponse
from ...problems import ProblemError
from ...schemas import ProblemDetail
from ...settings import Settings
from . import crs as C
from . import layers as L
from . import pages

router = APIRouter(prefix="/v1/datasets", tags=["OGC API - Features"])
_ERR = {k: {"model": ProblemDetail} for k in (400, 401, 403, 404, 422)}
OGC = "http://www.opengis.net/spec/"
#: the conformance classes claimed: only those the test suite checks with outside clients
CONFORMANCE = [f"{OGC}ogcapi-features-1/1.0/conf/core", f"{OGC}ogcapi-features-1/1.0/conf/geojson",
               f"{OGC}ogcapi-features-1/1.0/conf/html", f"{OGC}ogcapi-features-1/1.0/conf/oas30", f"{OGC}ogcapi-features-2/1.0/conf/crs",
               f"{OGC}ogcapi-common-1/1.0/conf/core", f"{OGC}ogcapi-tiles-1/1.0/conf/core",
               f"{OGC}ogcapi-tiles-1/1.0/conf/tileset", f"{OGC}ogcapi-tiles-1/1.0/conf/tilesets-list",
               f"{OGC}ogcapi-tiles-1/1.0/conf/geodata-tilesets", f"{OGC}ogcapi-tiles-1/1.0/conf/mvt"]
GEOJSON, JSON, HTML = "application/geo+json", "application/json", "text/html"
CollectionId = Annotated[str, Path(pattern=r"^[a-z_]{1,32}$", description="collection id (a layer name)")]
Format = Annotated[Literal["json", "html"] | None, Query(description="json (GeoJSON) or html")]
Lang = Annotated[Literal["zh", "en"], Query(description="language of titles and pages")]
#: query parameters of the items route other than property filters
ITEM_PARAMS = {"f", "bbox", "bbox-crs", "crs", "limit", "offset", "lang", "datetime"}


def landing_links(request: Request, dataset_id: str) -> list[dict[str, Any]]:
    """The OGC API landing-page links of a dataset (added to ``GET /v1/datasets/{id}``)."""
    base = public_url(request, f"/v1/datasets/{dataset_id}")
    return [{"href": public_url(request, "/v1/api"), "rel": "service-desc",
             "type": "application/vnd.oai.openapi+json;version=3.0", "title": "OpenAPI 3.0"},
            {"href": public_url(request, "/openapi.json"), "rel": "service-desc",
             "type": "application/vnd.oai.openapi+json;version=3.1", "title": "OpenAPI 3.1"},
            {"href": public_url(request, "/docs"), "rel": "service-doc", "type": HTML, "title": "API docs"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": JSON},
            {"href": f"{base}/collections", "rel": "data", "type": JSON},
            {"href": f"{base}/tiles", "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
             "type": JSON},
            {"href": public_url(request, "/v1/processes"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/processes",
             "type": JSON}]


def landing_html(request: Request, dataset_id: str, body: dict[str, Any]):
    """The landing page as HTML when ``f=html`` or the ``Accept`` header asks for it, else None."""
    f = request.query_params.get("f")
    if not wants_html(request, f if f in ("json", "html") else None):
        return None
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    return pages.landing_page(body.get("title") or dataset_id, body["links"], lang)


def wants_html(request: Request, f: str | None) -> bool:
    """``f=html``, or no ``f`` and an ``Accept`` that names HTML before any JSON type."""
    if f is not None:
        return f == "html"
    accept = request.headers.get("accept", "")
    h = accept.find("text/html")
    if h < 0:
        return False
    js = [i for i in (accept.find("json"),) if i >= 0]
    return not js or h < min(js)


@router.get("/{dataset_id}/conformance", summary="OGC API conformance classes claimed", responses=_ERR)
def conformance(request: Request, entry: DatasetEntry = Depends(dataset_entry), f: Format = None, lang: Lang = "zh"):
    if wants_html(request, f):
        return pages.conformance_page(CONFORMANCE, lang)
    return FastJSONResponse({"conformsTo": CONFORMANCE})


def collection_doc(request: Request, entry: DatasetEntry, lay: L.Layer, lang: str) -> dict[str, Any]:
    """The collection description: id, title, links, extent (CRS84), item type and CRSs."""
    base = public_url(request, f"/v1/datasets/{entry.info.id}/collections/{lay.name}")
    offered = C.offered(entry.ds.centre[0], lang)
    doc: dict[str, Any] = {
        "id": lay.name, "title": lay.title(lang), "itemType": "feature",
        "links": [{"href": base, "rel": "self", "type": JSON},
                  {"href": f"{base}/items", "rel": "items", "type": GEOJSON},
                  {"href": f"{base}/items?f=html", "rel": "items", "type": HTML}],
        "crs": [c.uri for c in offered], "storageCrs": C.CRS84_URI,
        "crsTitles": {c.uri: c.title for c in offered}}
    if lay.geometry_type in ("Point", "MultiPolygon", "MultiLineString"):
        doc["links"].append({"href": public_url(request, f"/v1/datasets/{entry.info.id}/collections/{lay.name}"
                                                         "/tiles/WebMercatorQuad"),
                             "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "type": JSON})
    b = lay.bounds
    if b is not None:
        doc["extent"] = {"spatial": {"bbox": [b], "crs": C.CRS84_URI}}
    return doc


def _layer_or_404(entry: DatasetEntry, store: Store, cid: str, who: Principal) -> L.Layer:
    lay = L.layer(entry, store, cid, who)
    if lay is None:
        raise ProblemError(404, f"no collection '{cid}' in dataset '{entry.info.id}'", code="collection-not-found",
                           dataset_id=entry.info.id, collection=cid)
    return lay


@router.get("/{dataset_id}/collections", summary="The layers you may read (OGC API - Features)", responses=_ERR)
def collections(request: Request, entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
                who: Principal = Depends(viewer), f: Format = None, lang: Lang = "zh"):
    names = L.available(entry, store, who)
    docs = [collection_doc(request, entry, L.layer(entry, store, n, who), lang) for n in names]
    if wants_html(request, f):
        return pages.collections_page(entry.ds.name or entry.info.id, docs, lang)
    base = public_url(request, f"/v1/datasets/{entry.info.id}/collections")
    return FastJSONResponse({"links": [{"href": base, "rel": "self", "type": JSON},
                                       {"href": f"{base}?f=html", "rel": "alternate", "type": HTML}],
                             "collections": docs, "crs": [c.uri for c in C.offered(entry.ds.centre[0], lang)]})


@router.get("/{dataset_id}/collections/{collection_id}", summary="One collection", responses=_ERR)
def collection(request: Request, collection_id: CollectionId, entry: DatasetEntry = Depends(dataset_entry),
               store: Store = Depends(get_store), who: Principal = Depends(viewer), f: Format = None,
               lang: Lang = "zh"):
    doc = collection_doc(request, entry, _layer_or_404(entry, store, collection_id, who), lang)
    return pages.collection_page(doc, lang) if wants_html(request, f) else FastJSONResponse(doc)


def _parse_box(text: str) -> tuple[float, float, float, float]:
    try:
        v = [float(x) for x in text.split(",")]
    except ValueError:
        v = []
    if len(v) == 6:  # a 3-d box: drop the heights
        v = [v[0], v[1], v[3], v[4]]
    if len(v) != 4 or not all(np.isfinite(v)) or v[0] > v[2] or v[1] > v[3]:
        raise ProblemError(400, f"bbox must be four numbers 'minx,miny,maxx,maxy' (lower corner first), got "
                                f"'{text[:100]}'", code="invalid-bbox", field="bbox")
    return v[0], v[1], v[2], v[3]


def filter_frame(lay: L.Layer, box: tuple[float, float, float, float] | None,
                 filters: dict[str, str]) -> pd.DataFrame:
    """Rows of ``lay`` inside ``box`` (CRS84, edges included) whose properties equal ``filters``
    (for a list property: the value is one of its items)."""
    df = lay.frame
    keep = np.ones(len(df), dtype=bool)
    if box is not None:
        keep &= np.asarray(shapely.intersects(df.geometry.to_numpy(), shapely.box(*box)), dtype=bool)
    for name, want in filters.items():
        col = df[name].to_numpy(dtype=object)
        keep &= np.fromiter((want in v if isinstance(v, (list, tuple, np.ndarray)) else
                             (v is not None and v == v and str(v if not isinstance(v, (bool, np.bool_))
                                                                 else str(v).lower()) == want)
                             for v in col), dtype=bool, count=len(col))
    return df[keep] if not keep.all() else df


def feature_dicts(lay: L.Layer, page: pd.DataFrame, crs: C.OfferedCrs) -> list[dict[str, Any]]:
    """GeoJSON Features of the rows of ``page`` (coordinates in ``crs``)."""
    cols = list(lay.properties)
    geoms = C.transform_geoms(page.geometry.to_numpy(), crs)
    ids = page["id"].to_numpy(dtype=object)
    vals = [page[c].to_numpy(dtype=object) for c in cols]
    out = []
    for i in range(len(page)):
        g = geoms[i]
        out.append({"type": "Feature", "id": to_jsonable(ids[i]),
                    "geometry": None if g is None or g.is_empty else mapping(g),
                    "properties": {c: to_jsonable(v[i]) for c, v in zip(cols, vals)}})
    return out


def _filters(request: Request, lay: L.Layer) -> dict[str, str]:
    out, bad = {}, []
    for k, v in request.query_params.items():
        if k in ITEM_PARAMS:
            continue
        if k in lay.properties or k == "id":
            out[k] = v
        else:
            bad.append(k)
    if bad:
        raise ProblemError(400, f"unknown query parameter(s) {', '.join(bad[:10])}; filter on a property of "
                                f"{lay.name} ({', '.join(lay.properties)}) or use {', '.join(sorted(ITEM_PARAMS))}",
                           code="invalid-parameters",
                           errors=[{"in": "query", "field": k, "message": "unknown parameter", "code": "unknown"}
                                   for k in bad[:10]])
    return out


def _page_links(request: Request, here: str, offset: int, limit: int, matched: int, html: bool) -> list[dict]:
    def url(**params) -> str:
        return public_url(request, here, str(request.url.include_query_params(**params).query))

    self_type, other = (HTML, "json") if html else (GEOJSON, "html")
    links = [{"href": url(), "rel": "self", "type": self_type},
             {"href": url(f=other), "rel": "alternate", "type": HTML if other == "html" else GEOJSON}]
    for rel, off, ok in (("next", offset + limit, offset + limit < matched),
                         ("prev", max(0, offset - limit), offset > 0)):
        if ok:
            links.append({"href": url(offset=off, limit=limit), "rel": rel, "type": self_type})
    return links


@router.get("/{dataset_id}/collections/{collection_id}/items", response_class=GeoJSONResponse,
            summary="Features of a collection (bbox, limit/offset, property filters, crs)",
            responses={**_ERR, 200: {"content": {GEOJSON: {}, HTML: {}}}})
async def items(request: Request, collection_id: CollectionId, entry: DatasetEntry = Depends(dataset_entry),
                store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
                who: Principal = Depends(viewer),
                limit: Annotated[int, Query(ge=1, le=10_000, description="features per page")] = 1000,
                offset: Annotated[int, Query(ge=0, le=10**9, description="features to skip")] = 0,
                bbox: Annotated[str | None, Query(max_length=300, description="minx,miny,maxx,maxy in bbox-crs "
                                                  "(default CRS84 lon/lat)")] = None,
                bbox_crs: Annotated[str | None, Query(alias="bbox-crs", max_length=200)] = None,
                crs: Annotated[str | None, Query(max_length=200, description="CRS of the answer's coordinates")]
                = None,
                datetime: Annotated[str | None, Query(max_length=100, description="ignored: no layer has a "
                                                      "time of its own")] = None,
                f: Format = None, lang: Lang = "zh"):
    if limit > settings.max_page_size:
        raise ProblemError(400, f"limit must be <= {settings.max_page_size}", code="invalid-parameters",
                           field="limit")
    return await run_in_threadpool(_items, request, collection_id, entry, store, who, limit, offset, bbox,
                                   bbox_crs, crs, f, lang)


def _items(request, cid, entry, store, who, limit, offset, bbox, bbox_crs, crs, f, lang):
    lay = _layer_or_404(entry, store, cid, who)
    filters = _filters(request, lay)
    offered = C.offered(entry.ds.centre[0], lang)
    out_crs = C.pick(crs, offered, "crs")
    box = None if bbox is None else C.bbox_to_crs84(_parse_box(bbox), C.pick(bbox_crs, offered, "bbox-crs"))
    df = filter_frame(lay, box, filters)
    matched = len(df)
    page = df.iloc[offset:offset + limit]
    html = wants_html(request, f)
    here = f"/v1/datasets/{entry.info.id}/collections/{cid}/items"
    body = {"type": "FeatureCollection", "features": feature_dicts(lay, page, out_crs),
            "numberMatched": matched, "numberReturned": len(page),
            "timeStamp": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "links": _page_links(request, here, offset, limit, matched, html)}
    if html:
        return pages.items_page(lay.title(lang), body, lay.properties, lang)
    return GeoJSONResponse(body, headers={"Content-Crs": out_crs.header, "Vary": "Accept"})


@router.get("/{dataset_id}/collections/{collection_id}/items/{feature_id}", response_class=GeoJSONResponse,
            summary="One feature, with its ETag", responses={**_ERR, 200: {"content": {GEOJSON: {}, HTML: {}}}})
def item(request: Request, collection_id: CollectionId, feature_id: Annotated[str, Path(max_length=200)],
         entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
         who: Principal = Depends(viewer),
         crs: Annotated[str | None, Query(max_length=200)] = None, f: Format = None, lang: Lang = "zh"):
    lay = _layer_or_404(entry, store, collection_id, who)
    out_crs = C.pick(crs, C.offered(entry.ds.centre[0], lang), "crs")
    hit = np.flatnonzero(lay.frame["id"].astype(str).to_numpy() == feature_id)
    if not len(hit):
        raise ProblemError(404, f"no feature '{feature_id}' in collection {collection_id}", code="feature-not-found",
                           collection=collection_id, feature_id=feature_id)
    i = int(hit[0])
    feat = feature_dicts(lay, lay.frame.iloc[i:i + 1], out_crs)[0]
    base = public_url(request, f"/v1/datasets/{entry.info.id}/collections/{collection_id}")
    feat["links"] = [{"href": f"{base}/items/{feature_id}", "rel": "self", "type": GEOJSON},
                     {"href": base, "rel": "collection", "type": JSON}]
    etag = _etag(request, entry, lay, i, feat, out_crs)
    if wants_html(request, f):
        return pages.feature_page(lay.title(lang), feat, lang)
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    return GeoJSONResponse(feat, headers={"ETag": etag, "Content-Crs": out_crs.header})


def _etag(request: Request, entry: DatasetEntry, lay: L.Layer, i: int, feat: dict, out_crs: C.OfferedCrs) -> str:
    """A dataset feature's ETag is the compact route's (over all its fields); a result feature's is
    keyed the same way over what is shown and the result it comes from. Another CRS: another tag."""
    key = request.app.state.etag_key
    if lay.source == "dataset" and lay.name != "coverage":
        full = gj.features(entry.ds[lay.name].iloc[i:i + 1], lay.name, personal=True)[0]
        tag = gj.feature_etag(full, key=key, dataset_id=entry.info.id, layer=lay.name)
    else:
        shown = {k: v for k, v in feat.items() if k != "links"}
        tag = gj.feature_etag(shown, key=key, dataset_id=entry.info.id, layer=f"{lay.name}:{lay.tag}")
    if out_crs.uri == C.CRS84_URI:
        return tag
    return tag[:-1] + "-" + hashlib.sha256(out_crs.uri.encode()).hexdigest()[:8] + '"'


__all__ = ["CONFORMANCE", "collection_doc", "feature_dicts", "filter_frame", "landing_html", "landing_links",
           "router"]
