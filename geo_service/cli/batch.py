"""``geo-service batch``: coverage + optimisation of many counties on Dask.

Registered on the main app by :func:`register`; the report it prints is :mod:`.batch_report`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..core.glossary import message
from .batch_report import batch_report
from .common import (
    DataDirOpt,
    JsonOpt,
    LangOpt,
    _data_dir,
    _params_file,
    check_lang_opt,
    fail,
    progress,
)


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
            with progress(message("cli_batch_generating", lang, province=province)):
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
        fail(e, 2, lang)
    except ClusterLost as e:  # before any county was recorded
        fail(message("cli_batch_nothing_was_run", lang, e=e), EXIT_CLUSTER_LOST, lang)
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


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(batch)


__all__ = ["register", "batch"]
