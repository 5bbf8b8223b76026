"""Helpers shared by the API tests (no tests here): an app on a temporary store with one key per role."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from geo_service.core.dataset import Dataset
from geo_service.core.store import SQLiteStore

KEYS = {"viewer": "viewer-key-0001", "planner": "planner-key-0001", "admin": "admin-key-00001"}
SETTINGS_KEYS = {v: k for k, v in KEYS.items()}


def hdr(role: str | None) -> dict[str, str]:
    """Request headers for ``role`` (None: no key)."""
    return {"X-API-Key": KEYS[role]} if role else {}


_TEMPLATES: dict[str, Path] = {}


def _seeded_copy(data_dir: Path, ds: Dataset) -> None:
    """Copy a store already holding ``ds`` as ``tiny`` to ``data_dir`` (writing a GeoPackage per
    test would dominate the test time)."""
    key = ds.fingerprint()
    if key not in _TEMPLATES:
        tpl = Path(tempfile.mkdtemp(prefix="geo-api-tpl-"))
        SQLiteStore(tpl).put_dataset("tiny", ds)
        _TEMPLATES[key] = tpl
    shutil.copytree(_TEMPLATES[key], data_dir, dirs_exist_ok=True)


def make_app(data_dir: Path, ds: Dataset | None = None, **settings):
    """An app on ``data_dir`` holding ``ds`` as dataset ``tiny`` (if given), keys for each role."""
    if ds is not None and not (Path(data_dir) / "catalog.sqlite").exists():
        _seeded_copy(Path(data_dir), ds)
    store = SQLiteStore(data_dir)
    kw = {"data_dir": str(data_dir), "load_demo": False, "api_keys": SETTINGS_KEYS, **settings}
    return create_app(Settings(**kw), store=store)


def client(app, host: str = "127.0.0.1") -> TestClient:
    return TestClient(app, client=(host, 50000))


def write_raw_gpkg(layers: dict, path: Path) -> Path:
    """Write raw (unvalidated) spatial layers to a GeoPackage, list fields joined with ';'."""
    for name, df in layers.items():
        if not isinstance(df, gpd.GeoDataFrame):
            continue
        df = df.copy()
        for c in df.columns:
            if c != "geometry" and df[c].map(lambda v: isinstance(v, list)).any():
                df[c] = df[c].map(lambda v: ";".join(v) if isinstance(v, list) else v)
        if df.geometry.isna().all():
            continue
        df.to_file(path, layer=name, driver="GPKG")
    return path
