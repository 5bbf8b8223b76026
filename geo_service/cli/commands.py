"""The CLI commands: ``geo-service serve | demo | import | export | summary | validate | batch | ...``.

Every command prints one clear line on error and exits non-zero (1: failure, 2: invalid input);
long work shows a progress indicator on stderr.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import Annotated, Optional

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import maps
from maps.static_maps import render
from maps.static_render import page_size
from api.app import create_app
from api.server import raise_open_file_limit, uvicorn_config
from api.settings import Settings
from solvers.gaps import close_gaps
from solvers.pipeline import OptimisationParams, run_optimisation
from solvers.tables import result_notes, write_csv, write_xlsx

from ..app.batch import EXIT_CLUSTER_LOST, ClusterLost, resolve_dataset_ids, run_batch, store_province
from ..app.demo import generate_demo
from ..app.province import generate_province
from ..app.seed import ensure_demo
from ..app.warm import warm_in_background
from ..core.coverage import coverage_summary
from ..core.dataset import DatasetValidationError
from ..core.glossary import cost_text, diagnostic_text, label, message, value_label, word
from ..core.io import write_dataset
from ..core.io.sheets import write_csv as write_csv_table
from ..core.jsonsafe import dumps_text
from ..core.store import POSTGRES_SCHEMES, Conflict, NotFound, check_dataset_id, open_store
from . import roster, template, warm
from .common import (
    _out_path,
    DataDirOpt,
    DatumOpt,
    JsonOpt,
    _data_dir,
    _load_source,
    _parse_layer_opts,
    _read_input,
    LangOpt,
    _report_problems,
    _where,
    app,
    check_lang_opt,
    fail,
    progress,
)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    data_dir: DataDirOpt = None,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="do not load the demo county into an empty store")] = False,
) -> None:
    """Start the HTTP service (API, maps and web page). An empty store gets the demo county.

    Limits against slow or numerous clients come from the settings (``limit_concurrency``,
    ``backlog``, ``timeout_keep_alive_s``, ``header_timeout_s``, ``h11_max_incomplete_event_size``,
    ``max_connections_per_ip``; see docs/security.md)."""
    where = _data_dir(data_dir)
    if where.startswith(POSTGRES_SCHEMES):
        os.environ["GEO_SERVICE_DATABASE_URL"] = where
    else:
        os.environ["GEO_SERVICE_DATA_DIR"] = where
    if no_demo:
        os.environ["GEO_SERVICE_LOAD_DEMO"] = "false"
    settings = Settings()
    shown = where.split("@")[-1] if "://" in where else where  # never print a password
    typer.echo(f"geo-service: storage at {shown}; open http://{host}:{port}/", err=True)
    raise_open_file_limit(settings.limit_concurrency + 1024)
    warm_in_background()  # numba compiles while the service starts, not in the first request
    uvicorn.Server(uvicorn_config(create_app(settings), settings, host=host, port=port, log_level="info")).run()


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="file to write: .gpkg, .xlsx, or a folder for GeoJSON/CSV")],
    seed: Annotated[Optional[int], typer.Option(help="random seed (default: the bundled demo's)")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="gpkg, xlsx, geojson, csv, shp")] = None,
) -> None:
    """Write the demo county (佳木斯 boundaries, generated network) to a file."""
    with progress("generating the demo county"):
        ds = generate_demo() if seed is None else generate_demo(seed=seed)
    with progress(f"writing {out}"):
        write_dataset(ds, out, fmt=fmt)
    counts = ds.counts()
    typer.echo(f"wrote {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))


@app.command("import")
def import_(
    path: Annotated[Optional[Path], typer.Argument(help="GeoPackage, folder of layer files, .xlsx or .zip")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="dataset id in the store (default: file stem)")] = None,
    datum: DatumOpt = "wgs84",
    layer: Annotated[list[str], typer.Option("--layer", help="LAYER=FILE, repeatable (e.g. villages=村.csv)")] = [],
    missing_points: Annotated[str, typer.Option(help="rows without coordinates: error or drop")] = "error",
    replace: Annotated[bool, typer.Option("--replace", help="replace an existing dataset of that id")] = False,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate files and store them as one dataset. Nothing is stored if anything is invalid."""
    dataset_id = name or (path.stem if path is not None else None)
    if not dataset_id:
        fail("give --name for the dataset", 2)
    try:
        check_dataset_id(dataset_id)
    except ValueError as e:
        fail(str(e), 2)
    try:
        with progress("reading and validating"):
            ds = _read_input(path, _parse_layer_opts(layer), datum, dataset_id, missing_points)
    except DatasetValidationError as e:
        if as_json:
            typer.echo(json.dumps({"valid": False, "problems": [p.to_dict() for p in e.problems]},
                                  ensure_ascii=False, indent=2))
            raise typer.Exit(2)
        _report_problems(e)
        raise typer.Exit(2)
    except (ValueError, OSError) as e:
        fail(str(e), 2)
    store = open_store(_data_dir(data_dir))
    try:
        with progress("storing"):
            info = store.put_dataset(dataset_id, ds, expected_version=None if replace else 0,
                                     meta={"source": str(path) if path else "layers", "datum": datum})
    except Conflict:
        fail(f"dataset '{dataset_id}' already exists; use --replace to replace it", 1)
    if as_json:
        typer.echo(json.dumps({"valid": True, "dataset": info.to_dict(),
                               "warnings": [str(w) for w in ds.warnings]}, ensure_ascii=False, indent=2))
        return
    for w in ds.warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"stored dataset '{dataset_id}' version {info.version}: "
               + ", ".join(f"{k} {v}" for k, v in info.counts.items() if v))


@app.command()
def export(
    dataset_id: Annotated[str, typer.Argument(help="dataset id in the store")],
    out: Annotated[Path, typer.Option("--out", help=".gpkg, .xlsx, or a folder (GeoJSON/CSV/Shapefile)")],
    fmt: Annotated[Optional[str], typer.Option("--format", help="gpkg, xlsx, geojson, csv, shp")] = None,
    lang: Annotated[str, typer.Option(help="column headers for tables: en or zh")] = "en",
    no_personal: Annotated[bool, typer.Option("--no-personal", help="leave out constituents' names and phones")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Write a stored dataset to files (GeoPackage that QGIS opens, CSV/XLSX tables, GeoJSON)."""
    store = open_store(_data_dir(data_dir))
    try:
        ds = store.get_dataset(dataset_id)
    except (NotFound, ValueError) as e:
        fail(str(e), 1)
    with progress(f"writing {out}"):
        write_dataset(ds, out, fmt=fmt, lang=lang, include_personal=not no_personal)
    typer.echo(f"wrote {out}")


@app.command()
def summary(
    dataset_id: Annotated[str, typer.Argument(help="dataset id in the store")] = "demo",
    file: Annotated[Optional[Path], typer.Option("--file", help="summarise a file instead of a stored dataset")] = None,
    datum: DatumOpt = "wgs84",
    data_dir: DataDirOpt = None,
    lang: LangOpt = "zh",
    as_json: JsonOpt = False,
) -> None:
    """Counts per layer and station kind, members per sector, population."""
    check_lang_opt(lang)
    if file is not None:
        try:
            ds = _read_input(file, {}, datum, file.stem, "error")
        except DatasetValidationError as e:
            _report_problems(e)
            raise typer.Exit(2)
    else:
        store = open_store(_data_dir(data_dir))
        if dataset_id == "demo":
            with progress("loading the demo county"):
                ensure_demo(store, only_if_empty=False)
        try:
            ds = store.get_dataset(dataset_id)
        except (NotFound, ValueError) as e:
            fail(str(e), 1)
    s = ds.summary()
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
    t.add_row(word("cli_conveners", lang), str(s["conveners"]))
    t.add_row(label("population", lang), f"{s['population']:,}")
    Console().print(t)


@app.command()
def validate(
    path: Annotated[Optional[Path], typer.Argument(help="GeoPackage, folder, .xlsx or .zip")] = None,
    datum: DatumOpt = "wgs84",
    layer: Annotated[list[str], typer.Option("--layer", help="LAYER=FILE, repeatable")] = [],
    missing_points: Annotated[str, typer.Option(help="rows without coordinates: error or drop")] = "error",
    lang: LangOpt = "zh",
    as_json: JsonOpt = False,
) -> None:
    """Check files without storing them; list every problem with its layer, row, id and field."""
    check_lang_opt(lang)
    try:
        ds = _read_input(path, _parse_layer_opts(layer), datum, path.stem if path else "input", missing_points)
    except DatasetValidationError as e:
        if as_json:
            typer.echo(json.dumps({"valid": False, "problems": [p.to_dict() for p in e.problems]},
                                  ensure_ascii=False, indent=2))
        else:
            _report_problems(e, limit=1000, lang=lang)
        raise typer.Exit(2)
    except (ValueError, OSError) as e:
        fail(str(e), 2)
    if as_json:
        typer.echo(json.dumps({"valid": True, "counts": ds.counts(),
                               "warnings": [w.to_dict() for w in ds.warnings]}, ensure_ascii=False, indent=2))
    else:
        for w in ds.warnings:
            typer.echo(message("cli_warning", lang, text=_where(w, lang)), err=True)
        sep = "，" if lang == "zh" else ", "
        typer.echo(message("cli_valid", lang, counts=sep.join(f"{value_label('layer', k, lang)} {v}"
                                                             for k, v in ds.counts().items() if v)))


class _OneLineErrors(logging.Filter):
    """Let only errors through, as one line without a traceback: the batch report says what happened
    to the cluster (lost workers, a lost scheduler) in its own words."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return False
        exc = record.exc_info[1] if record.exc_info else None
        line = (record.getMessage().strip().splitlines() or [""])[0]
        if exc is not None:
            line = f"{line} {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
        record.msg, record.args = line[:300], None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def _quiet_dask_logs() -> None:
    """Dask's own log lines (reconnect attempts with tracebacks) become one line per error."""
    try:
        import distributed  # noqa: F401 - its import sets up the handlers filtered here
    except ImportError:  # the batch says so itself (the "batch" extra)
        return
    for handler in logging.getLogger("distributed").handlers:
        if not any(isinstance(f, _OneLineErrors) for f in handler.filters):
            handler.addFilter(_OneLineErrors())


@app.command()
def batch(
    datasets: Annotated[Optional[list[str]], typer.Argument(help="dataset ids or globs, e.g. 'prov-*'")] = None,
    province: Annotated[Optional[int], typer.Option("--province", help="first generate and store N synthetic "
                                                                        "counties (ids PREFIX+C001...)")] = None,
    seed: Annotated[int, typer.Option(help="seed of --province")] = 0,
    prefix: Annotated[str, typer.Option(help="dataset id prefix of --province counties")] = "prov-",
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address (tcp://host:8786); "
                                                          "default: a LocalCluster")] = None,
    workers: Annotated[int, typer.Option(help="LocalCluster worker processes")] = 2,
    threads: Annotated[bool, typer.Option("--threads", help="LocalCluster workers as threads, not processes")] = False,
    time_limit: Annotated[Optional[float], typer.Option(help="solver time limit per county (s); default 60, "
                                                             "or the resumed batch's")] = None,
    params: Annotated[Optional[Path], typer.Option("--params", help="JSON file {coverage: {...}, "
                                                                     "optimisation: {...}}")] = None,
    resume: Annotated[Optional[str], typer.Option("--resume", help="finish batch BATCH_ID: run only its counties "
                                                                   "without a successful result for the same "
                                                                   "dataset version and parameters")] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Coverage + optimisation for many counties on Dask; one job record per county in the store.

    Exit codes: 0 all counties finished, 1 some counties failed, 2 invalid input, 3 the Dask
    cluster was lost (the counties it did not finish are listed; ``--resume BATCH_ID`` runs them)."""
    store = open_store(_data_dir(data_dir))
    try:
        p = json.loads(params.read_text(encoding="utf-8")) if params else None
        if time_limit is not None or (p is None and not resume):
            p = p or {}
            p.setdefault("optimisation", {}).setdefault("time_limit_s", 60.0 if time_limit is None else time_limit)
        ids = []
        if province:
            with progress(f"generating {province} synthetic counties"):
                ids = store_province(store, generate_province(province, seed=seed), prefix=prefix)
        ids += resolve_dataset_ids(store, datasets or [])
    except (ValueError, OSError) as e:
        fail(str(e), 2)
    if not ids and not resume:
        fail("give dataset ids/globs, --province N or --resume BATCH_ID", 2)
    batch_id = resume or uuid.uuid4().hex[:12]
    typer.echo(f"batch {batch_id}" + (" (resumed)" if resume else "") + f" on {scheduler or 'a LocalCluster'}",
               err=True)
    _quiet_dask_logs()
    try:
        report = run_batch(store, ids, p, scheduler=scheduler, n_workers=workers, processes=not threads,
                           progress=not as_json, resume=resume, batch_id=batch_id)
    except ValueError as e:
        fail(str(e), 2)
    except ClusterLost as e:  # before any county was recorded
        fail(f"{e}; nothing was run", EXIT_CLUSTER_LOST)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for o in report.failed:
            typer.echo(f"failed: {o.dataset_id} (job {o.job_id}): {o.error}", err=True)
        for w in report.workers_lost:
            typer.echo(f"worker lost: {w['worker']}" + (f"; its counties ran again elsewhere: "
                                                        f"{', '.join(w['counties'])}" if w["counties"] else ""),
                       err=True)
        if report.lost:
            typer.echo(f"lost (not finished): {', '.join(o.dataset_id for o in report.lost)}", err=True)
        by = {}
        for o in report.succeeded:
            by[o.result_status] = by.get(o.result_status, 0) + 1
        bad = by.pop("infeasible", 0)
        skipped = f", {len(report.skipped)} already done (skipped)" if report.skipped else ""
        typer.echo(f"batch {report.batch_id}: {len(report.outcomes)} counties: "
                   f"{len(report.succeeded) - bad} solved "
                   f"({', '.join(f'{n} {s}' for s, n in by.items()) or 'none'}), {bad} infeasible (no plan), "
                   f"{len(report.failed)} failed, {len(report.lost)} lost{skipped}, "
                   f"in {report.elapsed_s:.1f} s on {report.workers} worker(s) "
                   f"({len(report.workers_lost)} lost, {len(report.retried)} counties retried; "
                   f"{report.counties_per_minute:.1f} counties/min); results: job records of kind 'batch'")
    if report.cluster_lost:
        typer.echo(f"error: the Dask cluster was lost: {report.cluster_lost}. {len(report.succeeded)} "
                   f"counties finished, {len(report.lost)} lost; run only the missing ones with: "
                   f"geo-service batch --resume {report.batch_id}", err=True)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


@app.command()
def optimise(
    source: Annotated[str, typer.Argument(help="dataset id in the store, or a dataset file (GPKG, folder, .xlsx, .zip)")],
    out: Annotated[Path, typer.Option("--out", help="an .xlsx workbook, or a folder for CSV files + result.json")],
    params_file: Annotated[Optional[Path], typer.Option("--params", help="JSON file of OptimisationParams")] = None,
    tiers: Annotated[Optional[str], typer.Option(help="comma list: constituents,villages,townships,stations")] = None,
    mode: Annotated[Optional[str], typer.Option(help="straight (metres) or road (seconds)")] = None,
    previous: Annotated[Optional[Path], typer.Option(help="result.json of an earlier run (minimal change)")] = None,
    lang: Annotated[str, typer.Option(help="table headers and text output: zh or en")] = "zh",
    datum: DatumOpt = "wgs84",
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the assignment optimisation and write the responsibility tables (界别责任区一览表)."""
    if lang not in ("zh", "en"):
        fail(f"--lang must be zh or en, got {lang!r}", 2)
    try:
        raw = json.loads(params_file.read_text(encoding="utf-8")) if params_file else {}
        if tiers:
            raw["tiers"] = [t.strip() for t in tiers.split(",") if t.strip()]
        if mode:
            raw["mode"] = mode
        prev = json.loads(previous.read_text(encoding="utf-8")) if previous else None
        if prev is not None:
            raw.setdefault("minimal_change", True)
        p = OptimisationParams.model_validate(raw)
    except ValidationError as e:
        fail("invalid parameters: " + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()), 2)
    except (OSError, ValueError) as e:
        fail(str(e), 2)
    ds = _load_source(source, datum, data_dir)

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=as_json or not console.is_terminal) as bar:
        task = bar.add_task("optimising", total=100)
        try:
            result = run_optimisation(ds, p, previous=prev,
                                      progress=lambda pct, msg: bar.update(task, completed=pct, description=msg))
        except ValueError as e:
            fail(str(e), 2)
    tables = result.tables(ds)  # schema names; the one table writer localises them for ``lang``
    if out.suffix.lower() == ".xlsx":
        write_xlsx(tables, out, lang=lang, notes=result_notes(result, ds, lang))
        written = [out]
    else:
        written = write_csv(tables, out, lang=lang)
        (out / "result.json").write_text(dumps_text(result.to_dict()), encoding="utf-8")
        written.append(out / "result.json")
    if as_json:
        typer.echo(json.dumps({"status": result.status, "outcome": result.outcome, "files": [str(w) for w in written],
                               "tiers": {k: {"status": t.status, "objective": t.objective, "gap": t.gap,
                                             "moved": t.moved, "diagnostics": [d.get("message") for d in t.diagnostics]}
                                         for k, t in result.tiers.items()}}, ensure_ascii=False, indent=2))
        return
    for k, t in result.tiers.items():
        gap = "-" if t.gap is None else f"{t.gap:.1e}"
        moved = message("cli_moved", lang, n=t.moved["moved"]) if t.moved else ""
        typer.echo(message("cli_tier", lang, tier=value_label("tier", k, lang),
                           outcome=value_label("outcome", t.status, lang), gap=gap, time_s=t.time_s, moved=moved))
        for d in t.diagnostics:
            typer.echo(f"  - {diagnostic_text(d, lang)}")
    for d in result.diagnostics:
        if d.get("quota") == "nothing_to_do":
            typer.echo(f"  - {diagnostic_text(d, lang)}")
    oc = result.outcome
    first = next((d for t in result.tiers.values() for d in t.diagnostics if d.get("message") == oc["diagnosis"]),
                 next((d for d in result.diagnostics if d.get("message") == oc["diagnosis"]), None))
    diagnosis = "" if not oc["diagnosis"] else (("：" if lang == "zh" else ": ")
                                                 + (diagnostic_text(first, lang) if first else oc["diagnosis"]))
    text = oc["text"] if lang == "zh" else value_label("outcome", oc["outcome"], "en")
    typer.echo(message("cli_outcome", lang, outcome=value_label("outcome", oc["outcome"], lang), text=text,
                       diagnosis=diagnosis))
    typer.echo(message("cli_wrote", lang, files=", ".join(str(w) for w in written)))


@app.command("close-gaps")
def close_gaps_cmd(
    source: Annotated[Optional[str], typer.Argument(help="dataset id in the store or a dataset file (default: demo)")] = None,
    model: Annotated[str, typer.Option(help="lscp (fewest points), mclp (k points, most people) or pmedian")] = "lscp",
    threshold_m: Annotated[float, typer.Option(help="service distance in metres (straight mode)")] = 10000,
    threshold_s: Annotated[float, typer.Option(help="service time in seconds (road mode)")] = 1800,
    k: Annotated[Optional[int], typer.Option(help="number of new points (mclp, pmedian)")] = None,
    mode: Annotated[str, typer.Option(help="straight or road")] = "straight",
    candidates: Annotated[str, typer.Option(help="villages, seats, or comma-separated village ids")] = "villages",
    time_limit: Annotated[float, typer.Option(help="solver seconds")] = 60,
    out: Annotated[Optional[str], typer.Option(help="write proposed points: .geojson or .csv, or a folder "
                                                   "(ending in /) for proposals.geojson")] = None,
    datum: DatumOpt = "wgs84",
    data_dir: DataDirOpt = None,
    lang: LangOpt = "zh",
    as_json: JsonOpt = False,
) -> None:
    """Propose new contact points where stations do not reach; print coverage before and after."""
    check_lang_opt(lang)
    ds = _load_source(source, datum, data_dir)
    cands = candidates if candidates in ("villages", "seats") else [c.strip() for c in candidates.split(",")]
    try:
        with progress(f"solving {model}"):
            r = close_gaps(ds, threshold_m=threshold_m, k=k, mode=mode, candidates=cands, model=model,
                           time_limit=time_limit, threshold_s=threshold_s)
    except ValueError as e:
        fail(str(e), 2)
    if out is not None:
        out = _out_path(out, "proposals.geojson")
        if out.suffix.lower() == ".csv":
            write_csv_table(r.tables()["proposed"], out)
        else:
            out.write_text(json.dumps(r.to_geojson(), ensure_ascii=False), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
        return
    for note in [r.params.get("weight_note")] + list(r.params.get("notes") or []):
        if note:
            typer.echo(message("cli_note", lang, text=note), err=True)
    sol = r.solution
    why = message(sol.message_code, lang, **sol.message_params) if getattr(sol, "message_code", None) else sol.message
    typer.echo(message("cli_gaps_result", lang, outcome=value_label("outcome", r.status, lang), message=why,
                       n=len(r.proposed))
               + ("" if r.params.get("weight") != "villages" else message("cli_gaps_weight_villages", lang)))
    cov = r.coverage.drop(columns=["unit", "weight"], errors="ignore").assign(
        threshold=[cost_text(x, r.params.get("unit", "m"), lang) for x in r.coverage["threshold"]])
    for c in ("share_before", "share_after"):
        cov[c] = [("-" if x is None or x != x else f"{x * 100:.1f}%") for x in cov[c]]
    typer.echo(cov.rename(columns={c: label(c, lang) for c in cov.columns}).to_string(index=False))
    for row in r.uncovered.head(20).itertuples():
        typer.echo(message("cli_uncovered", lang, id=row.id, name=row.name, message=_uncovered_text(row, r.params, lang)))


@app.command("map")
def map_cmd(
    source: Annotated[Optional[str], typer.Argument(help="dataset id in the store or a dataset file (default: demo)")] = None,
    out: Annotated[Optional[str], typer.Option("--out", help="output file, or a folder ending in / (default "
                                               "map.html, map.png, ...); HTML is one self-contained page")] = None,
    kind: Annotated[str, typer.Option(help="coverage or gaps (proposed contact points)")] = "coverage",
    fmt: Annotated[str, typer.Option("--format", help="html (interactive), png, pdf or svg (print-ready)")] = "html",
    lang: Annotated[str, typer.Option(help="labels: zh or en")] = "zh",
    tiles: Annotated[str, typer.Option(help="html: osm, gaode, gaode_satellite, tianditu or none")] = "osm",
    tianditu_key: Annotated[Optional[str], typer.Option(help="Tianditu key (tiles=tianditu)")] = None,
    threshold_m: Annotated[Optional[float], typer.Option(help="gap threshold in metres")] = None,
    paper: Annotated[str, typer.Option(help="png/pdf/svg: a5, a4, a3 or a2")] = "a4",
    orientation: Annotated[str, typer.Option(help="png/pdf/svg: landscape or portrait")] = "landscape",
    dpi: Annotated[int, typer.Option(help="png/pdf/svg: dots per inch (50-600)")] = 300,
    data_dir: DataDirOpt = None,
) -> None:
    """Write a coverage or gap-closing map: one offline HTML page, or a print-ready PNG/PDF/SVG."""
    if fmt not in ("html", "png", "pdf", "svg"):
        fail(f"--format must be html, png, pdf or svg, got {fmt!r}", 2)
    if kind not in ("coverage", "gaps"):
        fail(f"--kind must be coverage or gaps, got {kind!r}", 2)
    ds = _load_source(source, "wgs84", data_dir)
    out_path = _out_path(out or f"map.{fmt}", f"{kind}.{fmt}")
    try:
        with progress(f"drawing the {kind} map"):
            if fmt != "html":
                size = page_size(paper, orientation=orientation, dpi=dpi)
                gap_result = close_gaps(ds, threshold_m=threshold_m or 10000.0) if kind == "gaps" else None
                r = render(kind, ds, fmt=fmt, size=size, lang=lang, gap_result=gap_result, threshold_m=threshold_m)
                out_path.write_bytes(r.data)
            else:
                if kind == "coverage":
                    m = maps.coverage_map(ds, lang=lang, tiles=tiles, tianditu_key=tianditu_key,
                                          gap_threshold=threshold_m)
                else:
                    thr = threshold_m or 10000.0
                    m = maps.gaps_map(ds, close_gaps(ds, threshold_m=thr), threshold_m=thr, lang=lang, tiles=tiles,
                                      tianditu_key=tianditu_key)
                maps.write_standalone(m, out_path)
    except ValueError as e:
        fail(str(e), 2)
    typer.echo(f"wrote {out_path}" + (f" ({r.pixels[0]} x {r.pixels[1]} px at {dpi} dpi, {r.seconds:.1f} s)"
                                      if fmt != "html" else " (self-contained)"))


@app.command("coverage")
def coverage_cmd(
    source: Annotated[Optional[str], typer.Argument(help="dataset id in the store or a dataset file (default: demo)")] = None,
    mode: Annotated[str, typer.Option(help="straight (metres) or road (seconds, door to door)")] = "straight",
    thresholds: Annotated[Optional[str], typer.Option(
        help="comma list: metres (straight, default 5000,10000,20000) or seconds (road, default 900,1800,3600)")] = None,
    level: Annotated[str, typer.Option(help="table to print: total, county, township or sector")] = "township",
    kinds: Annotated[Optional[str], typer.Option(help="comma list of station kinds (default: all)")] = None,
    datum: DatumOpt = "wgs84",
    data_dir: DataDirOpt = None,
    lang: LangOpt = "zh",
    as_json: JsonOpt = False,
) -> None:
    """Population-weighted last-mile coverage by threshold (per county, township, sector)."""
    check_lang_opt(lang)
    if level not in ("total", "county", "township", "sector"):
        fail(f"--level must be total, county, township or sector, got {level!r}", 2)
    ds = _load_source(source, datum, data_dir)
    try:
        thr = [float(t) for t in thresholds.split(",") if t.strip()] if thresholds else None
        kw = {"thresholds_m": thr} if mode == "straight" and thr else {}
        if mode == "road" and thr:
            kw = {"thresholds_s": thr}
        kind_list = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
        with progress(f"measuring coverage ({mode})"):
            s = coverage_summary(ds, mode=mode, kinds=kind_list, **kw)
    except ValueError as e:  # InvalidQuery and bad numbers
        fail(str(e), 2)
    if as_json:
        typer.echo(json.dumps(s, ensure_ascii=False, indent=2))
        return

    unit = s["unit"]
    unit_text = cost_text(1, unit, lang).split(" ", 1)[1]
    for note in [s.get("weight_note")] + list(s.get("notes") or []):
        if note:
            typer.echo(message("cli_note", lang, text=note), err=True)
    keys = {"total": [], "county": ["county_id", "county_name"], "township": ["township_id", "township_name"],
            "sector": ["sector", "stations"]}[level]
    basis = word("cli_basis_population" if s.get("weight", "population") == "population" else "cli_basis_villages",
                 lang)
    t = Table(title=word("cli_coverage_title", lang).format(
        name=ds.name, mode=word(f"map_{mode}", lang), unit=unit_text, basis=basis))
    names = {"villages": "n_villages", "sector": "sector", "stations": "stations"}
    for c in keys + ["threshold", "villages", "covered_villages", "population", "covered_population", "share"]:
        t.add_column(label(names.get(c, c), lang), justify="left" if c in keys else "right")
    for r in s[level]:
        share = "-" if r["share"] is None else f"{r['share'] * 100:.1f}%"
        t.add_row(*[str(r[c]) for c in keys], cost_text(r["threshold"], unit, lang), str(r["villages"]),
                  str(r["covered_villages"]), f"{r['population']:,}", f"{r['covered_population']:,}", share)
    Console().print(t)


def _uncovered_text(row, params: dict, lang: str) -> str:
    """An uncovered village's reason in ``lang`` (its code's template), else the solver's message."""
    code = getattr(row, "code", None)
    if not isinstance(code, str):
        return str(row.message)
    return message(code, lang, threshold=params.get("threshold"), nearest=row.nearest_cost,
                   cost_unit=params.get("unit", "m"))


# --- commands added by area engineers above ---
template.register(app)  # import template (issue 17)
roster.register(app)  # duty roster (issue 14)
warm.register(app)  # compiled kernels ahead of the first call

