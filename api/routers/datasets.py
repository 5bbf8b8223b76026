"""Datasets: list, upload, inspect, delete; layers as GeoJSON; single-feature edits with ETags."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from geo_service.core.dataset import Dataset, DatasetValidationError
from geo_service.core.domain import LAYER_ORDER, LAYERS
from geo_service.core.glossary import import_problem_text
from geo_service.core.io import read_dataset, write_dataset
from geo_service.core.io.limits import InputTooLarge, ReadLimits, UnsafeZip, safe_zip_members
from geo_service.core.io.tempdirs import process_tmp_dir, remove_stale
from geo_service.core.locations import location_line
from geo_service.core.store import Conflict, DatasetInfo, NotFound, Store, check_dataset_id

from .. import geojson as gj
from .. import privacy
from ..auth import Principal, admin, planner, viewer
from ..cache import DatasetCache
from ..deps import (DATASET_ID_PATTERN, checked_dataset_id, get_cache, get_settings, get_store, public_url,
                    read_body_limited)
from ..encoding import FastJSONResponse, GeoJSONResponse, loads
from ..placing import placed_row, to_wgs84_body
from ..problems import ProblemError, validation_errors
from ..schemas import DatasetList, DatasetOut, ProblemDetail
from ..settings import Settings
from .ogc import features as ogc_features
from ..upload_limits import check_text_lengths, check_zip_entries

log = logging.getLogger("geo_service.api.datasets")
router = APIRouter(prefix="/v1/datasets", tags=["datasets"])

UPLOAD_SUFFIXES = (".gpkg", ".zip", ".xlsx")
LayerName = Literal[LAYER_ORDER]  # type: ignore[valid-type]
FeatureId = Annotated[str, "feature id"]
_ERR = {k: {"model": ProblemDetail} for k in (400, 401, 403, 404, 409, 412, 413, 422, 428)}


def dataset_out(request: Request, info: DatasetInfo) -> dict[str, Any]:
    base = public_url(request, f"/v1/datasets/{info.id}")  # never from the Host header
    links = [{"href": base, "rel": "self", "type": "application/json"}]
    links += [{"href": f"{base}/{layer}", "rel": "items", "type": "application/geo+json", "title": layer}
              for layer in LAYER_ORDER]
    return {**info.to_dict(), "links": links}


@router.get("", response_model=DatasetList, summary="List stored datasets", responses=_ERR)
def list_datasets(request: Request, store: Store = Depends(get_store), _: Principal = Depends(viewer)):
    return FastJSONResponse({"datasets": [dataset_out(request, i) for i in store.list_datasets()],
                             "links": [{"href": public_url(request, "/v1/datasets"), "rel": "self"}]})


@router.post("", status_code=201, response_model=DatasetOut, summary="Upload a dataset (admin)",
             responses=_ERR)
def upload_dataset(
    request: Request,
    file: Annotated[UploadFile, File(description="a GeoPackage (.gpkg), a workbook (.xlsx) or a zip of layer "
                                                 "files (GeoJSON, Shapefile, CSV, XLSX; Chinese headers accepted)")],
    id: Annotated[str | None, Form(pattern=DATASET_ID_PATTERN, max_length=64,
                                   description="dataset id (default: the file's stem)")] = None,
    datum: Annotated[Literal["wgs84", "gcj02", "bd09"], Form(description="datum of the coordinates")] = "wgs84",
    replace: Annotated[bool, Form(description="replace an existing dataset of that id")] = False,
    missing_points: Annotated[Literal["keep", "drop", "error"], Form(
        description="rows without coordinates: kept (at the township seat or centre, else unlocated), dropped "
                    "(listed in the import report) or an error")] = "keep",
    store: Store = Depends(get_store), cache: DatasetCache = Depends(get_cache),
    settings: Settings = Depends(get_settings), _: Principal = Depends(admin),
):
    """Validate the upload in full and store it as a new dataset version.

    Every validation problem is listed in the 422 problem's ``errors``; nothing is stored then.
    """
    filename = Path(file.filename or "upload").name
    suffix = Path(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ProblemError(415, f"upload a GeoPackage (.gpkg), an Excel workbook (.xlsx, a sheet per layer) or "
                                f"a .zip of layer files, not '{filename}'",
                           code="unsupported-upload", field="file", filename=filename)
    dataset_id = id or Path(filename).stem
    try:
        check_dataset_id(dataset_id)
    except ValueError:
        raise ProblemError(422, f"'{dataset_id}' is not a valid dataset id; give one in the 'id' field "
                                "(1-64 letters, digits, '_' or '-')", code="invalid-dataset-id",
                           field="id") from None
    if store.has_dataset(dataset_id) and not replace:
        raise ProblemError(409, f"dataset '{dataset_id}' exists; send replace=true to replace it",
                           code="dataset-exists", dataset_id=dataset_id)
    # under the data dir, per process: what a killed process leaves is removed on the next start
    tmpdir = Path(tempfile.mkdtemp(prefix="upload-", dir=process_tmp_dir(settings.data_dir)))
    try:
        path = tmpdir / f"upload{suffix}"
        _save_upload(file, path, settings.max_upload_bytes)
        ds = _read_upload(path, filename, dataset_id, datum, missing_points, settings)
        try:
            info = store.put_dataset(dataset_id, ds, expected_version=None if replace else 0,
                                     meta={"source": filename, "datum": datum,
                                           "import_report": ds.meta.get("import_report")})
        except Conflict:
            raise ProblemError(409, f"dataset '{dataset_id}' was created meanwhile; send replace=true",
                               code="dataset-exists", dataset_id=dataset_id) from None
        except DatasetValidationError as e:
            raise invalid_dataset(e, settings.max_problems_listed) from None
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    cache.put(info, ds)
    log.info("dataset stored", extra={"dataset_id": dataset_id, "version": info.version})
    body = dataset_out(request, info)
    body["warnings"] = [str(w) for w in ds.warnings]
    body["warnings_zh"] = [import_problem_text(w, "zh") for w in ds.warnings]
    body["import_report"] = ds.meta.get("import_report")
    body["location_line"] = location_line(ds.villages)
    return FastJSONResponse(body, status_code=201, headers={"Location": body["links"][0]["href"],
                                                             "ETag": info.etag})


def _save_upload(file: UploadFile, path: Path, max_bytes: int) -> None:
    """Copy the uploaded file to ``path`` in 1 MiB pieces; 413 beyond ``max_bytes`` bytes."""
    size = 0
    with open(path, "wb") as out:
        while chunk := file.file.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                raise ProblemError(413, f"upload exceeds {max_bytes} bytes", code="body-too-large",
                                   limit_bytes=max_bytes)
            out.write(chunk)


def _read_upload(path: Path, filename: str, dataset_id: str, datum: str, missing_points: str,
                 settings: Settings) -> Dataset:
    """The dataset in the saved upload ``path`` (a zip checked before it is unpacked), validated in
    full; every failure a problem naming the user's ``filename``, never the temporary file."""
    if path.suffix == ".zip":
        if not zipfile.is_zipfile(path):
            raise ProblemError(422, "the file is not a valid zip archive", code="unreadable-upload", field="file")
        check_zip_entries(path, settings.max_zip_entries, filename)  # before the directory is read
        _check_zip(path, settings.max_unpacked_bytes, filename)
    limits = ReadLimits(max_unpacked_bytes=settings.max_unpacked_bytes, max_rows=settings.max_table_rows)
    try:
        ds = read_dataset(path, datum=datum, name=dataset_id, missing_points=missing_points, limits=limits,
                          tmp_dir=path.parent)
        check_text_lengths(ds, max_name_chars=settings.max_name_chars, max_text_chars=settings.max_text_chars)
    except InputTooLarge as e:  # the messages name the temp file: give the user's name back
        raise ProblemError(413, str(e).replace(path.name, filename), code="upload-too-large", field="file",
                           source=e.source.replace(path.name, filename), limit=e.limit, setting=e.setting,
                           limit_kind=e.what) from None
    except DatasetValidationError as e:
        raise invalid_dataset(e, settings.max_problems_listed) from None
    except (ValueError, OSError, RuntimeError, KeyError) as e:
        raise ProblemError(422, f"cannot read '{filename}': {e}", code="unreadable-upload", field="file") from None
    except Exception as e:  # pyogrio/fiona raise their own error types for corrupt files
        if type(e).__module__.split(".")[0] in ("pyogrio", "fiona", "sqlite3", "zipfile", "shapely"):
            raise ProblemError(422, f"cannot read '{filename}': {e}", code="unreadable-upload",
                               field="file") from None
        raise
    return ds


def invalid_dataset(exc: DatasetValidationError, max_listed: int) -> ProblemError:
    """A 422 problem for a dataset that failed validation, its body bounded: the first
    ``max_listed`` errors in ``errors``, every error counted by code in ``error_counts``
    (a 100k-row bad workbook answers a few kB, not 27 MB)."""
    errors = validation_errors(exc)
    counts: dict[str, int] = {}
    for e in errors:
        counts[e["code"]] = counts.get(e["code"], 0) + 1
    listed = errors[:max_listed]
    more = len(errors) - len(listed)
    detail = f"{len(errors)} validation error(s); nothing was stored"
    if more:
        detail += (f"; the first {len(listed)} are listed, the other {more} counted by code in error_counts "
                   "(setting max_problems_listed)")
    return ProblemError(422, detail, code="dataset-invalid", title="Invalid dataset", errors=listed,
                        error_count=len(errors), error_counts=counts, errors_truncated=bool(more))


def remove_stale_uploads(settings: Settings) -> int:
    """Remove upload temp folders left under the data dir by killed processes (run on start-up)."""
    removed = remove_stale(settings.data_dir)
    if removed:
        log.warning("removed %d upload temp folder(s) left by stopped processes", len(removed))
    return len(removed)


def _check_zip(path: Path, max_unpacked: int, filename: str = "the zip") -> None:
    """Refuse zip entries that escape the extraction folder, and zips that declare more than the cap
    (:func:`~geo_service.core.io.limits.safe_zip_members`, the check every unzip makes; declared
    sizes only refuse early: the real size is counted while extracting)."""
    try:
        with zipfile.ZipFile(path) as zf:
            safe_zip_members(zf, filename, max_declared_bytes=max_unpacked)
    except UnsafeZip as e:
        raise ProblemError(422, f"zip entry '{e.member}' points outside the archive", code="unsafe-zip",
                           field="file") from None
    except InputTooLarge as e:
        raise ProblemError(413, str(e), code="upload-too-large", field="file", limit=e.limit, setting=e.setting,
                           limit_kind=e.what, source=filename) from None


@router.get("/{dataset_id}", response_model=DatasetOut, name="get_dataset", summary="One dataset",
            responses=_ERR)
def get_dataset(request: Request, dataset_id: str = Depends(checked_dataset_id),
                store: Store = Depends(get_store), _: Principal = Depends(viewer)):
    try:
        info = store.dataset_info(dataset_id)
    except NotFound:
        raise ProblemError(404, f"no dataset '{dataset_id}'", code="dataset-not-found",
                           dataset_id=dataset_id) from None
    body = dataset_out(request, info)  # also the OGC API landing page: title and its links added
    body["title"] = info.id
    body["links"] = body["links"] + ogc_features.landing_links(request, dataset_id)
    page = ogc_features.landing_html(request, dataset_id, body)  # f=html (OGC API HTML)
    return page or FastJSONResponse(body, headers={"ETag": info.etag})


@router.delete("/{dataset_id}", status_code=204, summary="Delete a dataset (admin)", responses=_ERR)
def delete_dataset(dataset_id: str = Depends(checked_dataset_id), store: Store = Depends(get_store),
                   cache: DatasetCache = Depends(get_cache), _: Principal = Depends(admin),
                   if_match: Annotated[str | None, Header()] = None):
    try:
        info = store.dataset_info(dataset_id)
    except NotFound:
        raise ProblemError(404, f"no dataset '{dataset_id}'", code="dataset-not-found",
                           dataset_id=dataset_id) from None
    if if_match is not None and if_match.strip() != "*" and _strip(if_match) != _strip(info.etag):
        raise ProblemError(412, f"dataset '{dataset_id}' is at {info.etag}, not {if_match}",
                           code="version-mismatch", dataset_id=dataset_id, etag=info.etag)
    store.delete_dataset(dataset_id)
    cache.invalidate(dataset_id)
    log.info("dataset deleted", extra={"dataset_id": dataset_id})
    return Response(status_code=204)


def _strip(etag: str) -> str:
    e = etag.strip()
    return e[2:] if e.startswith("W/") else e


def _parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    try:
        v = [float(x) for x in bbox.split(",")]
    except ValueError:
        v = []
    if len(v) != 4 or not all(abs(x) <= 180 for x in v) or v[0] > v[2] or v[1] > v[3] \
            or abs(v[1]) > 90 or abs(v[3]) > 90:
        raise ProblemError(400, f"bbox must be 'minlon,minlat,maxlon,maxlat' in degrees, got '{bbox}'",
                           code="invalid-bbox", field="bbox")
    return tuple(v)  # type: ignore[return-value]


EXPORT_TYPES = {"gpkg": ("application/geopackage+sqlite3", ".gpkg"),
                "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
                "geojson": ("application/zip", ".zip"), "csv": ("application/zip", ".zip"),
                "shp": ("application/zip", ".zip")}


@router.get("/{dataset_id}/export", summary="The whole dataset as a file (planner)",
            responses={**_ERR, 200: {"content": {t: {} for t, _ in EXPORT_TYPES.values()}}})
def export_dataset(format: Annotated[Literal["gpkg", "xlsx", "geojson", "csv", "shp"], Query(
                       description="gpkg (QGIS opens it), xlsx (a sheet per layer), or a zip of GeoJSON, "
                                   "CSV or Shapefile layer files")] = "gpkg",
                   lang: Annotated[Literal["en", "zh"], Query(description="CSV/XLSX headers")] = "en",
                   personal: Annotated[bool, Query(description="include constituents' names and phones")] = True,
                   datum: Annotated[Literal["wgs84", "gcj02", "bd09"] | None, Query(
                       description="CSV/XLSX coordinates (default: the datum the data came in; named in the "
                                   "header). GeoPackage, GeoJSON and Shapefile are WGS-84")] = None,
                   dataset_id: str = Depends(checked_dataset_id), cache: DatasetCache = Depends(get_cache),
                   who: Principal = Depends(planner)):
    """Write the current version with :func:`geo_service.core.io.write_dataset`; personal fields only for
    roles that may see them (and only when ``personal`` is true)."""
    entry = _entry(cache, dataset_id)
    media, suffix = EXPORT_TYPES[format]
    tmpdir = Path(tempfile.mkdtemp(prefix="geo-export-"))
    try:
        ds = dataclasses.replace(entry.ds, meta={**(entry.info.meta or {}), **dict(entry.ds.meta or {})})
        path = write_dataset(privacy.dataset_view(ds, who), tmpdir / f"{dataset_id}{suffix}", fmt=format,
                             lang=lang, include_personal=personal and privacy.sees_personal(who), datum=datum)
        data = path.read_bytes()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    name = f"{dataset_id}-v{entry.info.version}{'' if suffix != '.zip' else '-' + format}{suffix}"
    return Response(data, media_type=media, headers={"ETag": entry.info.etag,
                                                     "Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/{dataset_id}/{layer}", summary="A layer as a GeoJSON FeatureCollection (paged)",
            response_class=GeoJSONResponse, responses={**_ERR, 200: {"content": {"application/geo+json": {}}}})
def get_layer(request: Request, layer: LayerName, dataset_id: str = Depends(checked_dataset_id),
              cache: DatasetCache = Depends(get_cache), settings: Settings = Depends(get_settings),
              who: Principal = Depends(viewer),
              limit: Annotated[int, Query(ge=1, le=100_000, description="features per page")] = 1000,
              offset: Annotated[int, Query(ge=0, le=10**9, description="features to skip")] = 0,
              bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS-84)",
                                                max_length=200)] = None):
    """Features of ``layer`` in OGC API - Features manner: ``numberMatched``, ``numberReturned``,
    ``links`` (self, next, prev). Personal fields of constituents only for planner and admin."""
    if limit > settings.max_page_size:
        raise ProblemError(400, f"limit must be <= {settings.max_page_size}", code="invalid-parameters",
                           field="limit")
    privacy.check_layer(layer, who)
    entry = _entry(cache, dataset_id)
    df = entry.ds[layer]
    box = _parse_bbox(bbox)
    if box is not None and layer in privacy.HOME_LAYERS and not privacy.sees_personal(who):
        raise ProblemError(403, f"a bbox on layer '{layer}' would tell where its people live: planner or "
                                "admin only", code="personal-data", layer=layer, field="bbox")
    if box is not None:
        df = gj.filter_bbox(df, box)
    matched = len(df)
    page = df.iloc[offset:offset + limit]
    feats = privacy.features(page, layer, who)
    here = f"/v1/datasets/{dataset_id}/{layer}"

    def page_url(**params) -> str:
        return public_url(request, here, str(request.url.include_query_params(**params).query)
                          if params else request.url.query)

    links = [{"href": page_url(), "rel": "self", "type": "application/geo+json"}]
    if offset + limit < matched:
        links.append({"href": page_url(offset=offset + limit, limit=limit), "rel": "next",
                      "type": "application/geo+json"})
    if offset > 0:
        links.append({"href": page_url(offset=max(0, offset - limit), limit=limit), "rel": "prev",
                      "type": "application/geo+json"})
    body = {"type": "FeatureCollection", "name": layer, "features": feats,
            "numberMatched": matched, "numberReturned": len(feats), "links": links,
            "dataset_version": entry.info.version}
    b = gj.bbox_of(page) if privacy.sees_personal(who) or layer not in privacy.HOME_LAYERS else None
    if b is not None:
        body["bbox"] = b
    return GeoJSONResponse(body, headers={"ETag": entry.info.etag})


def _entry(cache: DatasetCache, dataset_id: str):
    try:
        return cache.get(dataset_id)
    except NotFound:
        raise ProblemError(404, f"no dataset '{dataset_id}'", code="dataset-not-found",
                           dataset_id=dataset_id) from None


def _feature_or_404(ds: Dataset, layer: str, feature_id: str, dataset_id: str) -> int:
    i = gj.find_row(ds[layer], feature_id)
    if i is None:
        raise ProblemError(404, f"no feature '{feature_id}' in layer {layer} of dataset '{dataset_id}'",
                           code="feature-not-found", dataset_id=dataset_id, layer=layer, feature_id=feature_id)
    return i


@router.get("/{dataset_id}/{layer}/{feature_id}", summary="One feature (with its ETag)",
            response_class=GeoJSONResponse, responses={**_ERR, 200: {"content": {"application/geo+json": {}}}})
def get_feature(request: Request, layer: LayerName, feature_id: Annotated[str, "id"],
                dataset_id: str = Depends(checked_dataset_id), cache: DatasetCache = Depends(get_cache),
                who: Principal = Depends(viewer)):
    privacy.check_layer(layer, who)
    entry = _entry(cache, dataset_id)
    i = _feature_or_404(entry.ds, layer, feature_id, dataset_id)
    df = entry.ds[layer].iloc[i:i + 1]
    full = gj.features(df, layer, personal=True)[0]
    shown = full if privacy.sees_personal(who) else privacy.features(df, layer, who)[0]
    etag = gj.feature_etag(full, key=request.app.state.etag_key, dataset_id=dataset_id, layer=layer)
    return GeoJSONResponse(shown, headers={"ETag": etag})


_FEATURE_BODY = {"requestBody": {"required": True, "content": {
    "application/geo+json": {"schema": {"type": "object", "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "geometry": {"type": ["object", "null"]},
        "properties": {"type": "object"}}}},
    "application/json": {"schema": {"type": "object"}}}}}


async def _json_body(request: Request, limit: int) -> Any:
    raw = await read_body_limited(request, limit)
    try:
        return loads(raw)
    except ValueError as e:
        raise ProblemError(400, f"body is not valid JSON: {e}", code="invalid-json") from None


def _edit(store: Store, cache: DatasetCache, dataset_id: str, layer: str, feature_id: str,
          if_match: str | None, if_none_match: str | None, body: Any, op: str, etag_key: bytes,
          text_limits: tuple[int, int] = (200, 2000), datum: str = "wgs84"):
    """Apply one feature edit with optimistic concurrency; return (status, feature, etag).

    ``datum``: of the body's coordinates (a click on Gaode tiles is GCJ-02), converted to WGS-84. A
    village whose point changes becomes ``location_source="placed"`` unless the body says otherwise."""
    body = to_wgs84_body(body, datum)
    if if_match is None and not (op == "put" and if_none_match and if_none_match.strip() == "*"):
        raise ProblemError(428, "send If-Match with the feature's ETag (from GET) so a concurrent edit "
                                "is not overwritten; to create a feature with PUT send If-None-Match: *",
                           code="precondition-required", feature_id=feature_id)
    for _attempt in range(5):
        try:
            info = store.dataset_info(dataset_id)
        except NotFound:
            raise ProblemError(404, f"no dataset '{dataset_id}'", code="dataset-not-found",
                               dataset_id=dataset_id) from None
        ds = store.get_dataset(dataset_id)
        df = ds[layer]
        i = gj.find_row(df, feature_id)
        current = None if i is None else gj.features(df.iloc[i:i + 1], layer, personal=True)[0]
        if if_match is not None:
            if i is None:
                raise ProblemError(404 if op != "put" else 412,
                                   f"no feature '{feature_id}' in layer {layer}", code="feature-not-found",
                                   feature_id=feature_id)
            etag = gj.feature_etag(current, key=etag_key, dataset_id=dataset_id, layer=layer)
            if if_match.strip() != "*" and etag not in [_strip(t) for t in if_match.split(",")]:
                raise ProblemError(412, f"feature '{feature_id}' changed since you read it (now {etag}); "
                                        "GET it again and re-apply your edit", code="version-mismatch",
                                   feature_id=feature_id, etag=etag)
        elif i is not None:  # If-None-Match: * but it exists
            raise ProblemError(412, f"feature '{feature_id}' already exists", code="feature-exists",
                               feature_id=feature_id)
        if op == "delete":
            new_df = gj.replace_row(df, i, None)
        else:
            try:
                row = gj.decode_feature(layer, body, feature_id, partial=(op == "patch"),
                                        current=None if i is None else gj.row_dict(df, i))
            except gj.FeatureInputError as e:
                raise ProblemError(422, str(e), code="invalid-feature", errors=[
                    {"layer": layer, "row": None, "feature_id": feature_id, **err} for err in e.errors],
                    feature_id=feature_id) from None
            row = placed_row(layer, body, row, None if i is None else gj.row_dict(df, i))
            new_df = gj.replace_row(df, i, row)
        try:
            new_ds = ds.with_layers(**{layer: new_df})
            check_text_lengths({layer: new_ds[layer]}, max_name_chars=text_limits[0], max_text_chars=text_limits[1])
        except DatasetValidationError as e:
            errors = validation_errors(e)
            raise ProblemError(422, f"the edit makes the dataset invalid: {len(errors)} error(s); nothing was "
                                    "stored", code="dataset-invalid", errors=errors, feature_id=feature_id) from None
        try:
            info = store.put_dataset(dataset_id, new_ds, expected_version=info.version)
        except Conflict:
            continue  # someone else's edit landed in between: re-check our feature and retry
        cache.put(info, new_ds)
        if op == "delete":
            return 204, None, None
        j = gj.find_row(new_ds[layer], feature_id)
        feat = gj.features(new_ds[layer].iloc[j:j + 1], layer, personal=True)[0]
        return (201 if i is None else 200), feat, gj.feature_etag(feat, key=etag_key, dataset_id=dataset_id,
                                                                  layer=layer)
    raise ProblemError(409, "the dataset kept changing during the edit; try again", code="edit-contention")


def _village_location_edit(op: str, layer: str, body: Any) -> bool:
    """A PATCH that only moves a village (its point and where the point comes from): what a
    planner may do on the page, placing a village that has no location or an approximate one."""
    if op != "patch" or layer != "villages" or not isinstance(body, dict):
        return False
    props = body.get("properties") or {}
    return set(body) <= {"type", "geometry", "properties", "id"} and isinstance(props, dict) \
        and set(props) <= {"location_source", "id"}


def _edit_route(op: str):
    async def handler(request: Request, layer: LayerName, feature_id: Annotated[str, "id"],
                      dataset_id: str = Depends(checked_dataset_id), store: Store = Depends(get_store),
                      cache: DatasetCache = Depends(get_cache), settings: Settings = Depends(get_settings),
                      who: Principal = Depends(planner),
                      if_match: Annotated[str | None, Header(max_length=1000)] = None,
                      if_none_match: Annotated[str | None, Header(max_length=1000)] = None,
                      datum: Annotated[Literal["wgs84", "gcj02", "bd09"], Query(
                          description="datum of the body's coordinates (gcj02: a click on Gaode tiles)")] = "wgs84"):
        body = None if op == "delete" else await _json_body(request, settings.max_body_bytes)
        if not who.allows("admin") and not _village_location_edit(op, layer, body):
            raise ProblemError(403, f"role '{who.role}' may only move villages (PATCH of a village's geometry); "
                                    "other edits need role 'admin'", code="forbidden", required_role="admin",
                               role=who.role)
        # the body's coordinates are converted to WGS-84 once, in _edit
        status, feat, etag = await run_in_threadpool(_edit, store, cache, dataset_id, layer, feature_id,
                                                     if_match, if_none_match, body, op, request.app.state.etag_key,
                                                     (settings.max_name_chars, settings.max_text_chars), datum)
        if status == 204:
            return Response(status_code=204)
        return GeoJSONResponse(feat, status_code=status, headers={"ETag": etag})

    handler.__name__ = f"{op}_feature"
    return handler


_FEATURE_PATH = "/{dataset_id}/{layer}/{feature_id}"
router.add_api_route(_FEATURE_PATH, _edit_route("put"), methods=["PUT"], response_class=GeoJSONResponse,
                     summary="Replace (or create, with If-None-Match: *) a feature (admin; If-Match)",
                     responses=_ERR, openapi_extra=_FEATURE_BODY)
router.add_api_route(_FEATURE_PATH, _edit_route("patch"), methods=["PATCH"], response_class=GeoJSONResponse,
                     summary="Merge-patch a feature's properties/geometry (admin; a planner may move a village; If-Match; "
                             "datum of the coordinates)",
                     responses=_ERR, openapi_extra=_FEATURE_BODY)
router.add_api_route(_FEATURE_PATH, _edit_route("delete"), methods=["DELETE"], status_code=204,
                     summary="Delete a feature (admin; If-Match)", responses=_ERR)

__all__ = ["router", "LAYERS"]
