"""Shared plumbing of the CLI commands: the Typer app, common options, errors, progress, inputs."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..app.seed import ensure_demo
from ..core.dataset import DatasetValidationError
from ..core.domain import LAYERS
from ..core.glossary import label, message, value_label
from ..core.io import read_dataset, read_layers_from_files
from ..core.store import NotFound, open_store

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Geospatial coverage and assignment service for CPPCC liaison networks.")

DEFAULT_DATA_DIR = "var"

DataDirOpt = Annotated[Optional[str], typer.Option(
    "--data-dir", help="store location: a directory (embedded) or a postgresql:// URL "
                       "[env GEO_SERVICE_DATA_DIR, default ./var]")]
DatumOpt = Annotated[str, typer.Option(
    "--datum", help="datum of the input coordinates: wgs84, gcj02 (Gaode/Tencent) or bd09 (Baidu)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable JSON output")]


COUNTY_FOLDER_HELP = (
    "a county folder holds one file per layer (CSV, XLSX, GeoJSON, Shapefile), named after it:\n"
    "  required: townships.csv (名称, 经度, 纬度 of the seat, or polygons), villages.csv (名称, 乡镇, 经度, 纬度)\n"
    "  optional: stations.csv (名称, 类型, 经度, 纬度), members.csv, groups.csv, committees.csv, constituents.csv,\n"
    "            roads (roads.shp or Geofabrik gis_osm_roads_free_1.shp), a county boundary (county.geojson)\n"
    "  `geo-service template --out my-county/` writes them with notes; or give files with --layer LAYER=FILE")


def _out_path(out: str, default_name: str) -> Path:
    """``--out`` as the user means it: ending in ``/`` or naming a folder -> ``default_name`` inside it
    (the folder is made); else the file. Relative to the current directory."""
    p = Path(out)
    if out.endswith(("/", os.sep)) or p.is_dir():
        p.mkdir(parents=True, exist_ok=True)
        return p / default_name
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _data_dir(value: Optional[str]) -> str:
    return (value or os.environ.get("GEO_SERVICE_DATABASE_URL") or os.environ.get("GEO_SERVICE_DATA_DIR")
            or DEFAULT_DATA_DIR)


def fail(message: str, code: int = 1) -> None:
    """Print ``error: message`` to stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


LangOpt = Annotated[str, typer.Option("--lang", help="text output: zh (default) or en; --json keys stay English")]


@contextmanager
def progress(description: str) -> Iterator[None]:
    """A spinner with elapsed time on stderr while a step runs (silent when not a terminal)."""
    console = Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        bar.add_task(description, total=None)
        yield


def check_lang_opt(lang: str) -> None:
    """Exit 2 with a clear line unless ``--lang`` is zh or en."""
    if lang not in ("zh", "en"):
        fail(f"--lang must be zh or en, got {lang!r}", 2)


def _report_problems(exc, limit: int = 50, lang: str = "en") -> None:
    errors = [p for p in exc.problems if p.severity == "error"]
    if lang == "zh":
        typer.echo(f"错误：输入有 {len(errors)} 个问题；未保存任何内容", err=True)
    else:
        typer.echo(f"error: {len(errors)} problem(s) in the input; nothing was stored", err=True)
    for p in errors[:limit]:
        typer.echo(f"  - {_where(p, lang)}", err=True)
    if len(errors) > limit:
        typer.echo(f"  ... 另有 {len(errors) - limit} 个（用 --json 查看全部）" if lang == "zh"
                   else f"  ... and {len(errors) - limit} more (use --json to see all)", err=True)


def _where(p, lang: str) -> str:
    """A problem with its place in glossary words for zh (layer, 第 N 行, 编号, 字段)."""
    if lang == "en":
        return str(p)
    where = [str(value_label("layer", p.layer, "zh"))]
    if p.source is not None:  # a GeoPackage's layer in the source named as the layer is named here
        src = p.source
        head, _, tail = src.rpartition(":")
        if head and tail in LAYERS:
            src = f"{head}[{value_label('layer', tail, 'zh')}]"
        where[0] = f"{src}：{where[0]}"
    if p.row is not None:
        where.append(f"第 {p.row} 行")
    if p.feature_id is not None:
        where.append(f"编号 {p.feature_id}")
    if p.field is not None:
        where.append(f"字段「{label(p.field, 'zh')}」")
    what = value_label("problem", p.code, "zh") if getattr(p, "code", None) else None
    # the reader's detail (values, expected forms) follows the problem's name from the glossary
    return f"{' '.join(where)}：{what + '：' if what and what != p.code else ''}{p.message}"


def _parse_layer_opts(layers: list[str]) -> dict[str, str]:
    out = {}
    for item in layers:
        if "=" not in item:
            fail(f"--layer expects LAYER=FILE, got '{item}'", 2)
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _read_input(path: Optional[Path], layer_files: dict[str, str], datum: str, name: str,
                missing_points: str):
    if layer_files:
        return read_layers_from_files(layer_files, datum=datum, name=name, missing_points=missing_points,
                                      base=path)
    if path is None:
        fail("give a PATH (GeoPackage, folder, .xlsx or .zip) or --layer LAYER=FILE options", 2)
    if not path.exists():
        fail(f"no such file or folder: {path}\n{COUNTY_FOLDER_HELP}", 2)
    return read_dataset(path, datum=datum, name=name, missing_points=missing_points)


def stored_dataset(store, dataset_id: str):
    """A stored dataset with its catalog metadata (the import report) in ``meta``."""
    ds = store.get_dataset(dataset_id)
    info = store.dataset_info(dataset_id)
    return dataclasses.replace(ds, meta={**(info.meta or {}), **dict(ds.meta or {}), "version": info.version})


def _store_has(data_dir: Optional[str], source: str):
    """The store when it holds a dataset named ``source`` (never creates a store folder), else None."""
    where = _data_dir(data_dir)
    if "://" not in where and not Path(where).is_dir():
        return None
    try:
        store = open_store(where)
        return store if store.has_dataset(source) else None
    except (ValueError, OSError):  # not a dataset id (a path with a suffix, slashes ...)
        return None


def _load_source(source: Optional[str], datum: str = "wgs84", data_dir: Optional[str] = None,
                 lang: str = "zh"):
    """The dataset a command works on: the stored dataset of that name when there is one; else the
    file or folder of that name (the command says which it used when both could be meant); default
    ``demo``, stored on first use. Exits 2 on invalid files, 1 if unknown."""
    source = source or "demo"
    src = Path(source)
    if source != "demo":
        store = _store_has(data_dir, source)
        if store is not None:
            if src.exists():
                typer.echo(message("cli_note", lang, text=message("source_used_dataset", lang, name=source)), err=True)
            return stored_dataset(store, source)
    if src.exists():
        if src.is_dir():
            typer.echo(message("cli_note", lang, text=message("source_used_folder", lang, name=source, path=src)),
                       err=True)
        try:
            return _read_input(src, {}, datum, src.stem, "keep")
        except DatasetValidationError as e:
            _report_problems(e)
            raise typer.Exit(2)
    store = open_store(_data_dir(data_dir))
    if source == "demo":
        with progress("loading the demo county"):
            ensure_demo(store, only_if_empty=False)
    try:
        return stored_dataset(store, source)
    except (NotFound, ValueError) as e:
        fail(f"{e} (and no file or folder named '{source}')", 1)
