"""The CLI commands: ``geo-service serve | demo | import | export | summary | validate | batch | ...``.

Every command prints one clear line on error and exits non-zero (1: failure, 2: invalid input);
long work shows a progress indicator on stderr.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..core.glossary import cost_text, diagnostic_text, label, message, relaxation_text, value_label, word
from . import review, roster, template, villages, warm
from .batch_report import batch_report
from .common import (
    _out_path,
    DataDirOpt,
    DatumOpt,
    JsonOpt,
    _data_dir,
    _load_source,
    _params_file,
    _parse_layer_opts,
    _read_input,
    LangOpt,
    _report_problems,
    _where,
    app,
    check_lang_opt,
    counts_text,
    fail,
    params_text,
    progress,
    stored_dataset,
)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    data_dir: DataDirOpt = None,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="do not load the demo county into an empty store")] = False,
    lang: LangOpt = "zh",
) -> None:
    """Start the HTTP service (API, maps and web page). An empty store gets the demo county.

    Limits against slow or numerous clients come from the settings (``limit_concurrency``,
    ``backlog``, ``timeout_keep_alive_s``, ``header_timeout_s``, ``h11_max_incomplete_event_size``,
    ``max_connections_per_ip``; see docs/security.md)."""
    import uvicorn
    from api.app import create_app

    from ..app.warm import warm_in_background
    from api.server import raise_open_file_limit, uvicorn_config
    from api.settings import Settings
    from ..core.store import POSTGRES_SCHEMES
    where = _data_dir(data_dir)
    if where.startswith(POSTGRES_SCHEMES):
        os.environ["GEO_SERVICE_DATABASE_URL"] = where
    else:
        os.environ["GEO_SERVICE_DATA_DIR"] = where
    if no_demo:
        os.environ["GEO_SERVICE_LOAD_DEMO"] = "false"
    settings = Settings()
    shown = where.split("@")[-1] if "://" in where else where  # never print a password
    check_lang_opt(lang)
    typer.echo(message("cli_serve", lang, where=shown, host=host, port=port), err=True)
    raise_open_file_limit(settings.limit_concurrency + 1024)
    warm_in_background()  # numba compiles while the service starts, not in the first request
    uvicorn.Server(uvicorn_config(create_app(settings), settings, host=host, port=port, log_level="info")).run()


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="file to write: .gpkg, .xlsx, or a folder for GeoJSON/CSV")],
    seed: Annotated[Optional[int], typer.Option(help="random seed (default: the bundled demo's)")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="gpkg, xlsx, geojson, csv, shp")] = None,
    lang: LangOpt = "zh",
) -> None:
    """Write the demo county (佳木斯 boundaries, generated network) to a file."""
    from ..app.demo import generate_demo
    from ..core.io import write_dataset
    with progress("正在生成示例县" if lang == "zh" else "generating the demo county"):
        ds = generate_demo() if seed is None else generate_demo(seed=seed)
    with progress(f"正在写出 {out}" if lang != "en" else f"writing {out}"):
        try:
            write_dataset(ds, out, fmt=fmt)
        except (ValueError, OSError) as e:
            fail(str(e), 2, lang)
    typer.echo(message("cli_wrote_counts", lang, out=out, counts=counts_text(ds.counts(), lang)))


@app.command("import")
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
        with progress("正在读取并校验" if lang == "zh" else "reading and validating"):
            ds = _read_input(path, _parse_layer_opts(layer), datum, dataset_id, missing_points)
    except DatasetValidationError as e:
        if as_json:
            typer.echo(json.dumps({"valid": False, "problems": [p.to_dict() for p in e.problems]},
                                  ensure_ascii=False, indent=2))
            raise typer.Exit(2) from None
        _report_problems(e, lang=lang)
        raise typer.Exit(2) from None
    except (ValueError, OSError) as e:
        fail(str(e), 2, lang)
    store = open_store(_data_dir(data_dir))
    try:
        with progress("正在保存" if lang == "zh" else "storing"):
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


@app.command()
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
    words = "en" if lang == "en" else "zh"
    if lang is not None:
        check_lang_opt(lang)
    store = open_store(_data_dir(data_dir))
    try:
        ds = stored_dataset(store, dataset_id)
    except (NotFound, ValueError):
        fail(message("cli_no_dataset", words, id=dataset_id), 1, words)
    with progress(f"正在写出 {out}" if lang != "en" else f"writing {out}"):
        try:
            write_dataset(ds, out, fmt=fmt, lang=lang or "en", include_personal=not no_personal, datum=datum)
        except (ValueError, OSError) as e:
            fail(str(e), 2, words)
    typer.echo(message("cli_wrote", words, files=out))


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
            with progress("正在载入示例县" if lang == "zh" else "loading the demo county"):
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


@app.command()
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
        ds = _read_input(path, _parse_layer_opts(layer), datum, path.stem if path else "input", missing_points)
    except DatasetValidationError as e:
        if as_json:
            typer.echo(json.dumps({"valid": False, "problems": [p.to_dict() for p in e.problems]},
                                  ensure_ascii=False, indent=2))
        else:
            _report_problems(e, limit=1000, lang=lang)
        raise typer.Exit(2) from None
    except (ValueError, OSError) as e:
        fail(str(e), 2, lang)
    if as_json:
        typer.echo(json.dumps({"valid": True, "counts": ds.counts(), "import_report": ds.meta.get("import_report"),
                               "warnings": [w.to_dict() for w in ds.warnings]}, ensure_ascii=False, indent=2))
    else:
        for w in ds.warnings:
            typer.echo(message("cli_warning", lang, text=_where(w, lang)), err=True)
        sep = "，" if lang == "zh" else ", "
        typer.echo(message("cli_valid", lang, counts=sep.join(f"{value_label('layer', k, lang)} {v}"
                                                             for k, v in ds.counts().items() if v)))
        typer.echo(location_line(ds.villages, lang))


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
    lang: LangOpt = "zh",
    as_json: JsonOpt = False,
) -> None:
    """Coverage + optimisation for many counties on Dask; one job record per county in the store.

    Exit codes: 0 all counties finished, 1 some counties failed, 2 invalid input, 3 the Dask
    cluster was lost (the counties it did not finish are listed; ``--resume BATCH_ID`` runs them)."""
    from ..app.batch import ClusterLost, EXIT_CLUSTER_LOST, resolve_dataset_ids, run_batch, store_province
    from ..app.province import generate_province
    from ..core.store import open_store
    check_lang_opt(lang)
    store = open_store(_data_dir(data_dir))
    try:
        p = _params_file(params, lang) if params else None
        if time_limit is not None or (p is None and not resume):
            p = p or {}
            p.setdefault("optimisation", {}).setdefault("time_limit_s", 60.0 if time_limit is None else time_limit)
        ids = []
        if province:
            with progress(f"正在生成 {province} 个模拟区县" if lang == "zh" else f"generating {province} synthetic counties"):
                ids = store_province(store, generate_province(province, seed=seed), prefix=prefix)
        ids += resolve_dataset_ids(store, datasets or [])
    except (ValueError, OSError) as e:
        m = re.fullmatch(r"no stored dataset matches (.*)", str(e))
        fail(message("cli_batch_no_match", lang, pattern=m.group(1)) if m else str(e), 2, lang)
    if not ids and not resume:
        fail(message("cli_batch_nothing", lang), 2, lang)
    batch_id = resume or uuid.uuid4().hex[:12]
    typer.echo(message("cli_batch_start", lang, id=batch_id,
                       resumed=message("cli_batch_resumed", lang) if resume else "",
                       where=scheduler or message("cli_batch_local", lang)), err=True)
    _quiet_dask_logs()
    try:
        report = run_batch(store, ids, p, scheduler=scheduler, n_workers=workers, processes=not threads,
                           progress=not as_json, resume=resume, batch_id=batch_id)
    except ValueError as e:
        fail(str(e), 2, lang)
    except ClusterLost as e:  # before any county was recorded
        fail(f"{e}；未运行任何区县" if lang == "zh" else f"{e}; nothing was run", EXIT_CLUSTER_LOST, lang)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        batch_report(report, lang)
    if report.cluster_lost:
        typer.echo(message("cli_error", lang, text=message(
            "cli_batch_cluster_lost", lang, why=report.cluster_lost, done=len(report.succeeded),
            lost=len(report.lost), id=report.batch_id)), err=True)
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
    from ..core.jsonsafe import dumps_text
    from solvers.pipeline import OptimisationParams, run_optimisation

    from .runs import fail_job, finish_job, start_job
    from solvers.tables import result_notes

    from ..app.outputs import write_result_csv, write_result_xlsx
    check_lang_opt(lang)
    try:
        raw = _params_file(params_file, lang)
        if tiers:
            raw["tiers"] = [t.strip() for t in tiers.split(",") if t.strip()]
        if mode:
            raw["mode"] = mode
        prev = json.loads(previous.read_text(encoding="utf-8")) if previous else None
        if prev is not None:
            raw.setdefault("minimal_change", True)
        p = OptimisationParams.model_validate(raw)
    except ValidationError as e:
        fail(message("cli_bad_params", lang, text=params_text(e, lang)), 2, lang)
    except (OSError, ValueError) as e:
        fail(str(e), 2, lang)
    ds = _load_source(source, datum, data_dir)
    job = start_job(data_dir, source, "optimisation", p.model_dump(mode="json"))  # the page lists CLI runs too

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=as_json or not console.is_terminal) as bar:
        task = bar.add_task("优化中" if lang == "zh" else "optimising", total=100)
        try:
            result = run_optimisation(ds, p, previous=prev,
                                      progress=lambda pct, msg: bar.update(task, completed=pct))
        except ValueError as e:
            fail_job(job, "ValueError", str(e))
            fail(str(e), 2, lang)
    job_id = finish_job(job, result.to_dict())
    tables = result.tables(ds)  # schema names; the one table writer localises them for ``lang``
    if out.suffix.lower() == ".xlsx":
        write_result_xlsx(tables, out, lang=lang, notes=result_notes(result, ds, lang))
        written = [out]
    else:
        written = write_result_csv(tables, out, lang=lang)
        (out / "result.json").write_text(dumps_text(result.to_dict()), encoding="utf-8")
        written.append(out / "result.json")
    if as_json:
        typer.echo(json.dumps({"status": result.status, "outcome": result.outcome, "job_id": job_id,
                               "files": [str(w) for w in written],
                               "tiers": {k: {"status": t.status, "objective": t.objective, "bound": t.bound,
                                             "gap": t.gap, "moved": t.moved, "relaxations": t.relaxations,
                                             "diagnostics": [d.get("message") for d in t.diagnostics]}
                                         for k, t in result.tiers.items()}}, ensure_ascii=False, indent=2))
        return
    for k, t in result.tiers.items():
        gap = "-" if t.gap is None else f"{t.gap:.1e}"
        moved = message("cli_moved", lang, n=t.moved["moved"]) if t.moved else ""
        typer.echo(message("cli_tier", lang, tier=value_label("tier", k, lang),
                           outcome=value_label("outcome", t.status, lang), gap=gap, time_s=t.time_s, moved=moved))
        for x in t.relaxations:
            typer.echo(f"  ! {relaxation_text(x, lang, k)}")
        for d in t.diagnostics:
            if "relaxed_min" in d or "relaxed_max" in d:  # said once, as its relaxation above
                continue
            typer.echo(f"  - {diagnostic_text(d, lang)}")
    for d in result.diagnostics:
        if d.get("quota") == "nothing_to_do":
            typer.echo(f"  - {diagnostic_text(d, lang)}")
    oc = result.outcome
    first = next((d for t in result.tiers.values() for d in t.diagnostics if d.get("message") == oc["diagnosis"]),
                 next((d for d in result.diagnostics if d.get("message") == oc["diagnosis"]), None))
    diagnosis = "" if not oc["diagnosis"] else (("：" if lang == "zh" else ": ")
                                                 + (diagnostic_text(first, lang) if first else oc["diagnosis"]))
    if oc.get("relaxations"):  # a relaxed rule is the first thing to know about the answer
        diagnosis = ("：" if lang == "zh" else ": ") + relaxation_text(oc["relaxations"][0], lang)
    text = oc["text"] if lang == "zh" else oc.get("text_en") or value_label("outcome", oc["outcome"], "en")
    typer.echo(message("cli_outcome", lang, outcome=value_label("outcome", oc["outcome"], lang), text=text,
                       diagnosis=diagnosis))
    typer.echo(message("cli_wrote", lang, files=", ".join(str(w) for w in written)))
    if job_id:
        typer.echo(message("cli_job", lang, id=job_id))


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
    from ..core.io.writers import export_datum, in_datum
    from ..core.locations import location_line
    from ..core.io.sheets import write_csv as write_csv_table
    from solvers.gaps import close_gaps
    check_lang_opt(lang)
    ds = _load_source(source, datum, data_dir)
    cands = candidates if candidates in ("villages", "seats") else [c.strip() for c in candidates.split(",")]
    try:
        with progress("正在求解" if lang == "zh" else f"solving {model}"):
            r = close_gaps(ds, threshold_m=threshold_m, k=k, mode=mode, candidates=cands, model=model,
                           time_limit=time_limit, threshold_s=threshold_s)
    except ValueError as e:
        fail(str(e), 2, lang)
    by_people = r.params.get("weight") != "villages"
    if out is not None:
        out = _out_path(out, "proposals.geojson")
        if out.suffix.lower() == ".csv":  # the user's language, in the datum the data came in (named in the header)
            prop = r.tables()["proposed"]
            prop = prop if by_people else prop.drop(columns="population_gained", errors="ignore")
            write_csv_table(in_datum(prop, export_datum(ds, datum if datum != "wgs84" else None), lang), out, lang)
        else:
            out.write_text(json.dumps(r.to_geojson(), ensure_ascii=False), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
        return
    for note in [r.params.get("weight_note")] + list(r.params.get("notes") or []):
        if note:
            typer.echo(message("cli_note", lang, text=note), err=True)
    typer.echo(location_line(ds.villages, lang))
    if r.params.get("unconsidered"):
        typer.echo(message("gaps_unconsidered", lang, n=r.params["unconsidered"]))
    sol = r.solution
    why = message(sol.message_code, lang, **sol.message_params) if getattr(sol, "message_code", None) else sol.message
    typer.echo(message("cli_gaps_result", lang, outcome=value_label("outcome", r.status, lang), message=why,
                       n=len(r.proposed))
               + ("" if by_people else message("cli_gaps_weight_villages", lang)))
    cov = r.coverage.drop(columns=["unit", "weight"], errors="ignore").assign(
        threshold=[cost_text(x, r.params.get("unit", "m"), lang) for x in r.coverage["threshold"]])
    if not by_people:  # the figures count villages: the columns say so
        cov = cov.rename(columns={"population": "total_villages", "covered_before": "covered_villages_before",
                                  "covered_after": "covered_villages_after"})
    for c in ("share_before", "share_after"):
        cov[c] = [("-" if x is None or x != x else f"{x * 100:.1f}%") for x in cov[c]]
    if len(cov):
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
    import maps
    from maps.static_maps import render
    from maps.static_render import page_size
    from solvers.gaps import close_gaps
    check_lang_opt(lang)
    if fmt not in ("html", "png", "pdf", "svg"):
        fail(message("cli_bad_choice", lang, option="--format", choices="html、png、pdf、svg", value=repr(fmt)), 2, lang)
    if kind not in ("coverage", "gaps"):
        fail(message("cli_bad_choice", lang, option="--kind", choices="coverage、gaps", value=repr(kind)), 2, lang)
    ds = _load_source(source, "wgs84", data_dir)
    out_path = _out_path(out or f"map.{fmt}", f"{kind}.{fmt}")
    try:
        with progress("正在绘制地图" if lang == "zh" else f"drawing the {kind} map"):
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
        fail(str(e), 2, lang)
    if fmt != "html":
        typer.echo(message("cli_map_wrote", lang, out=out_path, w=r.pixels[0], h=r.pixels[1], dpi=dpi, s=r.seconds))
    else:
        typer.echo(message("cli_map_wrote_html", lang, out=out_path))


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
    from ..core.locations import location_line
    from ..core.coverage import coverage_summary
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
        with progress("正在计算覆盖" if lang == "zh" else f"measuring coverage ({mode})"):
            s = coverage_summary(ds, mode=mode, kinds=kind_list, **kw)
    except ValueError as e:  # InvalidQuery and bad numbers
        fail(str(e), 2, lang)
    if as_json:
        typer.echo(json.dumps(s, ensure_ascii=False, indent=2))
        return

    unit = s["unit"]
    unit_text = cost_text(1, unit, lang).split(" ", 1)[1]
    for note in [s.get("weight_note")] + list(s.get("notes") or []):
        if note:
            typer.echo(message("cli_note", lang, text=note), err=True)
    typer.echo(location_line(ds.villages, lang))
    if s["unlocated"]:
        names = dict(zip(ds.villages["id"], ds.villages["name"]))
        typer.echo(message("unlocated_villages", lang, names=("、" if lang == "zh" else ", ").join(
            f"{names.get(i, '')}（{i}）" for i in s["unlocated"][:30]) + (" …" if len(s["unlocated"]) > 30 else "")))
    keys = {"total": [], "county": ["county_id", "county_name"], "township": ["township_id", "township_name"],
            "sector": ["sector", "stations"]}[level]
    basis = word("cli_basis_population" if s.get("weight", "population") == "population" else "cli_basis_villages",
                 lang)
    t = Table(title=word("cli_coverage_title", lang).format(
        name=ds.name, mode=word(f"map_{mode}", lang), unit=unit_text, basis=basis))
    names = {"villages": "n_villages", "sector": "sector", "stations": "stations"}
    by_people = s.get("weight", "population") == "population"  # else no 人口 columns holding zeros
    people = ["population", "covered_population"] if by_people else []
    for c in keys + ["threshold", "villages", "covered_villages", "covered_given_villages", *people, "share"]:
        t.add_column(label(names.get(c, c), lang), justify="left" if c in keys else "right")
    for r in s[level]:
        share = "-" if r["share"] is None else f"{r['share'] * 100:.1f}%"
        t.add_row(*[str(r[c]) for c in keys], cost_text(r["threshold"], unit, lang), str(r["villages"]),
                  str(r["covered_villages"]), str(r["covered_given_villages"]), *[f"{r[c]:,}" for c in people], share)
    Console().print(t)


def _uncovered_text(row, params: dict, lang: str) -> str:
    """An uncovered village's reason in ``lang`` (its code's template), else the solver's message."""
    code = getattr(row, "code", None)
    if not isinstance(code, str):
        return str(row.message)
    return message(code, lang, threshold=params.get("threshold"), nearest=row.nearest_cost,
                   cost_unit=params.get("unit", "m"))


# --- commands added by area engineers above ---
template.register(app)  # import template
roster.register(app)  # duty roster
review.register(app)  # the yearly review of the ledger
villages.register(app)  # the 待补坐标 workbook: write it, read it back
warm.register(app)  # compiled kernels ahead of the first call

