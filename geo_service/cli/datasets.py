"""Dataset commands: ``demo``, ``import``, ``export``, ``summary``, ``validate``.

Registered on the main app by :func:`register`. Reading and validating files, storing them as one
dataset, writing a stored dataset back to files, and the counts of a dataset.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..core.glossary import label, message, value_label, word
from .common import (
    DataDirOpt,
    DatumOpt,
    JsonOpt,
    LangOpt,
    _data_dir,
    _parse_layer_opts,
    _read_input,
    _report_problems,
    _where,
    check_lang_opt,
    counts_text,
    fail,
    progress,
    stored_dataset,
)


def demo(
    out: Annotated[Path, typer.Option("--out", help="file to write: .gpkg, .xlsx, or a folder for GeoJSON/CSV")],
    seed: Annotated[Optional[int], typer.Option(help="random seed (default: the bundled demo's)")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="gpkg, xlsx, geojson, csv, shp")] = None,
    lang: LangOpt = "zh",
) -> None:
    """Write the demo county (佳木斯 boundaries, generated network) to a file."""
    from ..app.demo import generate_demo
    from ..core.io import write_dataset
    check_lang_opt(lang)
    with progress(word("cli_datasets_generating_demo", lang)):
        ds = generate_demo() if seed is None else generate_demo(seed=seed)
    with progress(message("cli_datasets_writing", lang, out=out)):
        try:
            write_dataset(ds, out, fmt=fmt)
        except (ValueError, OSError) as e:
            fail(e, 2, lang)
    typer.echo(message("cli_wrote_counts", lang, out=out, counts=counts_text(ds.counts(), lang)))


def import_(
    path: Annotated[Optional[Path], typer.Argument(help="GeoPackage, folder of layer files, .xlsx or .zip")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="dataset id in the store (default: file stem)")] = None,
    datum: DatumOpt = "wgs84",
    layer: Annotated[list[str], typer.Option("--layer", help="LAYER=FILE, repeatable (e.g. villages=村.csv)")] = [],
    missing_points: Annotated[str, typer.Option(help="rows without coordinates: keep (at the township seat, "
                                                     "or unlocated), drop (listed in the report) or error")] = "keep",
    replace: Annotated[bool, typer.Option("--replace", help="replace an existing dataset of that id")] = False,
    data_dir: DataDirOpt = None,
    lang: LangOpt = "zh",
    as_json: JsonOpt = False,
) -> None:
    """Validate files and store them as one dataset. Nothing is stored if anything is invalid."""
    from ..core.locations import location_line, report_line, townships_line
    from ..core.dataset import DatasetValidationError
    from ..core.store import check_dataset_id, Conflict, open_store
    check_lang_opt(lang)
    dataset_id = name or (path.stem if path is not None else None)
    if not dataset_id:
        fail(message("cli_need_name", lang), 2, lang)
    try:
        check_dataset_id(dataset_id)
    except ValueError:
        fail(message("cli_bad_id", lang, id=dataset_id), 2, lang)
    try:
        with progress(word("cli_datasets_reading", lang)):
            ds = _read_input(path, _parse_layer_opts(layer, lang), datum, dataset_id, missing_points, lang)
    except DatasetValidationError as e:
        if as_json:
            typer.echo(json.dumps({"valid": False, "problems": [p.to_dict() for p in e.problems]},
                                  ensure_ascii=False, indent=2))
            raise typer.Exit(2) from None
        _report_problems(e, lang=lang)
        raise typer.Exit(2) from None
    except (ValueError, OSError) as e:
        fail(e, 2, lang)
    store = open_store(_data_dir(data_dir))
    try:
        with progress(word("cli_datasets_storing", lang)):
            info = store.put_dataset(dataset_id, ds, expected_version=None if replace else 0,
                                     meta={"source": str(path) if path else "layers", "datum": datum,
                                           "import_report": ds.meta.get("import_report")})
    except Conflict:
        fail(message("cli_exists", lang, id=dataset_id), 1, lang)
    if as_json:
        typer.echo(json.dumps({"valid": True, "dataset": info.to_dict(), "import_report": ds.meta.get("import_report"),
                               "location_line": location_line(ds.villages),
                               "warnings": [str(w) for w in ds.warnings]}, ensure_ascii=False, indent=2))
        return
    for w in ds.warnings:
        typer.echo(message("cli_warning", lang, text=_where(w, lang)), err=True)
    typer.echo(message("cli_stored", lang, id=dataset_id, version=info.version, counts=counts_text(info.counts, lang)))
    for line in (location_line(ds.villages, lang), townships_line(ds.townships, lang),
                 report_line(ds.meta.get("import_report"), lang)):
        if line:
            typer.echo(line)


def export(
    dataset_id: Annotated[str, typer.Argument(help="dataset id in the store")],
    out: Annotated[Path, typer.Option("--out", help=".gpkg, .xlsx, or a folder (GeoJSON/CSV/Shapefile)")],
    fmt: Annotated[Optional[str], typer.Option("--format", help="gpkg, xlsx, geojson, csv, shp")] = None,
    lang: Annotated[Optional[str], typer.Option(help="column headers for tables: en (default) or zh; "
                                                    "the lines printed are Chinese unless en")] = None,
    no_personal: Annotated[bool, typer.Option("--no-personal", help="leave out constituents' names and phones")] = False,
    datum: Annotated[Optional[str], typer.Option("--datum", help="CSV/XLSX coordinates: wgs84, gcj02 or bd09 "
                                                                 "(default: the datum the data came in)")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Write a stored dataset to files (GeoPackage that QGIS opens, CSV/XLSX tables, GeoJSON).

    CSV/XLSX coordinates are in the datum the data came in (named in the header: 经度(GCJ-02)),
    or ``--datum``; GeoPackage, GeoJSON and Shapefile are WGS-84."""
    from ..core.io import write_dataset
    from ..core.store import NotFound, open_store
    words = lang or "zh"
    if lang is not None:
        check_lang_opt(lang)
    store = open_store(_data_dir(data_dir))
    try:
        ds = stored_dataset(store, dataset_id)
    except (NotFound, ValueError):
        fail(message("cli_no_dataset", words, id=dataset_id), 1, words)
    with progress(message("cli_datasets_writing", words, out=out)):
        try:
            write_dataset(ds, out, fmt=fmt, lang=lang or "en", include_personal=not no_personal, datum=datum)
        except (ValueError, OSError) as e:
            fail(e, 2, words)
    typer.echo(message("cli_wrote", words, files=out))


def summary(
    dataset_id: Annotated[str, typer.Argument(help="dataset id in the store")] = "demo",
    file: Annotated[Optional[Path], typer.Option("--file", help="summarise a file instead of a stored dataset")] = None,
    datum: DatumOpt = "wgs84",
    data_dir: DataDirOpt = None,
    lang: LangOpt = "zh",
    as_json: JsonOpt = False,
) -> None:
    """Counts per layer and station kind, members per sector, population."""
    from ..core.locations import location_line, report_line, source_counts, townships_line, unlocated_ids
    from ..core.coverage import village_weights
    from ..app.seed import ensure_demo
    from ..core.dataset import DatasetValidationError
    from ..core.store import NotFound, open_store
    check_lang_opt(lang)
    if file is not None:
        try:
            ds = _read_input(file, {}, datum, file.stem, "keep")
        except DatasetValidationError as e:
            _report_problems(e)
            raise typer.Exit(2) from None
    else:
        store = open_store(_data_dir(data_dir))
        if dataset_id == "demo":
            with progress(word("cli_datasets_loading_demo", lang)):
                ensure_demo(store, only_if_empty=False)
        try:
            ds = stored_dataset(store, dataset_id)
        except (NotFound, ValueError):
            fail(message("cli_no_dataset", lang, id=dataset_id), 1, lang)
    s = ds.summary()
    s.update({"location_sources": source_counts(ds.villages), "unlocated": unlocated_ids(ds.villages),
              "location_line": location_line(ds.villages, lang), "townships_line": townships_line(ds.townships, lang),
              "import_report": ds.meta.get("import_report")})
    if as_json:
        typer.echo(json.dumps(s, ensure_ascii=False, indent=2))
        return
    t = Table(title=word("cli_dataset", lang).format(name=s["name"]))
    t.add_column(word("cli_what", lang))
    t.add_column(word("cli_count", lang), justify="right")
    for k, v in s["counts"].items():
        t.add_row(str(value_label("layer", k, lang)), str(v))
    for k, v in s["stations_by_kind"].items():
        t.add_row(word("cli_station_kind", lang).format(kind=value_label("station_kind", k, lang)), str(v))
    roles = ds.members["role"].astype(str) if "role" in ds.members else None
    conv = set(ds.groups["convener_id"].dropna().astype(str))
    deputies = set() if roles is None else set(ds.members.loc[roles == "deputy_convener", "id"].astype(str))
    if roles is not None:
        conv |= set(ds.members.loc[roles == "convener", "id"].astype(str))
    t.add_row(word("cli_conveners", lang), str(len(conv - deputies)))  # 召集人 and 副召集人 counted apart
    t.add_row(word("cli_deputy_conveners", lang), str(len(deputies)))
    known = village_weights(ds.villages).basis == "population"  # no 人口 0 where population is unknown
    t.add_row(label("population", lang), f"{s['population']:,}" if known else word("cli_population_unknown", lang))
    Console().print(t)
    for line in (s["location_line"], s["townships_line"], report_line(s["import_report"], lang)):
        if line:
            typer.echo(line)


def validate(
    path: Annotated[Optional[Path], typer.Argument(help="GeoPackage, folder, .xlsx or .zip")] = None,
    datum: DatumOpt = "wgs84",
    layer: Annotated[list[str], typer.Option("--layer", help="LAYER=FILE, repeatable")] = [],
    missing_points: Annotated[str, typer.Option(help="rows without coordinates: keep, drop or error")] = "keep",
    lang: LangOpt = "zh",
    as_json: JsonOpt = False,
) -> None:
    """Check files without storing them; list every problem with its layer, row, id and field."""
    from ..core.locations import location_line
    from ..core.dataset import DatasetValidationError
    check_lang_opt(lang)
    try:
        ds = _read_input(path, _parse_layer_opts(layer, lang), datum, path.stem if path else "input", missing_points,
                         lang)
    except DatasetValidationError as e:
        if as_json:
            typer.echo(json.dumps({"valid": False, "problems": [p.to_dict() for p in e.problems]},
                                  ensure_ascii=False, indent=2))
        else:
            _report_problems(e, limit=1000, lang=lang)
        raise typer.Exit(2) from None
    except (ValueError, OSError) as e:
        fail(e, 2, lang)
    if as_json:
        typer.echo(json.dumps({"valid": True, "counts": ds.counts(), "import_report": ds.meta.get("import_report"),
                               "warnings": [w.to_dict() for w in ds.warnings]}, ensure_ascii=False, indent=2))
    else:
        for w in ds.warnings:
            typer.echo(message("cli_warning", lang, text=_where(w, lang)), err=True)
        sep = word("sep_comma", lang)
        typer.echo(message("cli_valid", lang, counts=sep.join(f"{value_label('layer', k, lang)} {v}"
                                                             for k, v in ds.counts().items() if v)))
        typer.echo(location_line(ds.villages, lang))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(demo)
    app.command("import")(import_)
    app.command()(export)
    app.command()(summary)
    app.command()(validate)


__all__ = ["register", "demo", "import_", "export", "summary", "validate"]
