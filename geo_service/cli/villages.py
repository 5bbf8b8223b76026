"""Commands for village lists with holes: ``fill-sheet`` writes the 待补坐标 workbook (villages lacking a
location of their own, with columns to fill) and ``fill-import`` reads it back as an update of
locations only. Registered on the main app by :func:`register`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..core.glossary import message
from .common import (DataDirOpt, JsonOpt, LangOpt, _data_dir, _out_path, _report_problems, check_lang_opt, fail,
                     stored_dataset)


def fill_sheet(
    dataset_id: Annotated[str, typer.Argument(help="dataset id in the store")],
    out: Annotated[str, typer.Option("--out", help=".xlsx file, or a folder (待补坐标.xlsx inside)")] = "待补坐标.xlsx",
    datum: Annotated[Optional[str], typer.Option("--datum", help="datum of the coordinates written: wgs84, gcj02 "
                                                                 "or bd09 (default: the one the data came in)")] = None,
    lang: LangOpt = "zh",
    data_dir: DataDirOpt = None,
) -> None:
    """Write the 待补坐标 workbook: every village without a location of its own, with columns to fill."""
    from ..core.io.fill_sheet import fill_sheet_bytes
    from ..core.store import NotFound, open_store

    check_lang_opt(lang)
    store = open_store(_data_dir(data_dir))
    try:
        ds = stored_dataset(store, dataset_id)
        data = fill_sheet_bytes(ds, lang, datum)
    except (NotFound, ValueError) as e:
        fail(e, 1 if isinstance(e, NotFound) else 2)
    path = _out_path(out, "待补坐标.xlsx")
    path.write_bytes(data)
    typer.echo(message("cli_wrote", lang, files=str(path)))


def fill_import(
    dataset_id: Annotated[str, typer.Argument(help="dataset id in the store")],
    file: Annotated[Path, typer.Argument(help="the filled 待补坐标 workbook (.xlsx)")],
    datum: Annotated[Optional[str], typer.Option("--datum", help="datum of rows without a 坐标系 value "
                                                                 "(default: the one the data came in)")] = None,
    lang: LangOpt = "zh",
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Update village locations from a filled 待补坐标 workbook (a new dataset version); every row it
    cannot use is named with its spreadsheet row."""
    from ..core.dataset import DatasetValidationError
    from ..core.io.fill_sheet import apply_fill_sheet
    from ..core.store import Conflict, NotFound, open_store

    check_lang_opt(lang)
    if not file.exists():
        fail(message("cli_no_such_file", lang, path=file), 2, lang)
    store = open_store(_data_dir(data_dir))
    try:
        info = store.dataset_info(dataset_id)
        ds = stored_dataset(store, dataset_id)
        new, report = apply_fill_sheet(ds, file, datum)
    except NotFound as e:
        fail(e, 1)
    except DatasetValidationError as e:
        _report_problems(e, lang=lang)
        raise typer.Exit(2) from None
    except ValueError as e:
        fail(e, 2)
    if report["updated"]:
        try:
            info = store.put_dataset(dataset_id, new, expected_version=info.version)
        except Conflict as e:
            fail(e, 1)
    report["version"] = info.version
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for p in report["skipped"]:
        typer.echo(message("fill_sheet_ignored", lang, row=p["row"], id=p["feature_id"], reason=p["message"]), err=True)
    typer.echo(message("fill_sheet_done", lang, n=report["updated"]) + f" (v{info.version})")
    typer.echo(report["location_line"])


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("fill-sheet")(fill_sheet)
    app.command("fill-import")(fill_import)
