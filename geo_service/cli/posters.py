"""``geo-service posters``: a QR poster (码上议事) for every station, studio and contact point.

Writes ``<station_id>.pdf`` (or ``.png``) per station into ``--out`` and ``posters.pdf`` with all of
them for the print shop. Each QR code opens ``{--base-url}/m/{dataset}/{station_id}``, the phone page of
``geo-service serve``. Duty and reception days come from the store's latest roster of the dataset, if any.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer


if TYPE_CHECKING:
    from geo_service.core.responsible import DutyIndex

from .common import DataDirOpt, _data_dir, _load_source, app, check_lang_opt, fail, progress
from ..core.glossary import message, word


def _links(source: str, data_dir: str | None) -> tuple[DutyIndex, dict[str, str]]:
    from api.rosters import committees_from_latest, latest_roster
    from geo_service.core.responsible import DutyIndex  # noqa: F811 - at run time too
    from geo_service.core.store import NotFound, open_store

    if Path(source).exists():
        return DutyIndex(), {}
    try:
        store = open_store(_data_dir(data_dir))
        job = latest_roster(store, source)
        committees, _ = committees_from_latest(store, source)
    except (NotFound, ValueError):
        return DutyIndex(), {}
    return DutyIndex.from_result(job.result if job else None), committees


@app.command("posters")
def posters_cmd(
    source: Annotated[str | None, typer.Argument(help="dataset id in the store or a dataset file (default: demo)")] = None,
    out: Annotated[str, typer.Option("--out", help="folder for the posters (made if absent)")] = "posters/",
    base_url: Annotated[str, typer.Option("--base-url", help="the service's public URL the QR codes open")]
    = "http://127.0.0.1:8000",
    paper: Annotated[str, typer.Option(help="a4 or a5 (portrait)")] = "a4",
    fmt: Annotated[str, typer.Option("--format", help="one file per station: pdf or png")] = "pdf",
    kind: Annotated[list[str] | None, typer.Option(help="only these station kinds (repeat)")] = None,
    dpi: Annotated[int, typer.Option(help="png: dots per inch (72-300)")] = 150,
    lang: Annotated[str, typer.Option("--lang", help="poster text: zh or en")] = "zh",
    data_dir: DataDirOpt = None,
) -> None:
    """Write a QR poster per station (name, kind, small map, this month's duty, reception days) and
    posters.pdf with all of them."""
    from geo_service.core.responsible import ResponsibilityIndex, lookup
    from maps.posters import poster, posters_pdf

    check_lang_opt(lang)
    if paper not in ("a4", "a5"):
        fail(message("cli_posters_paper_must_be", lang, paper=paper),
             2, lang)
    if fmt not in ("pdf", "png"):
        fail(message("cli_posters_format_must_be", lang, fmt=fmt), 2,
             lang)
    if not base_url.startswith(("http://", "https://")):
        fail(message("cli_posters_base_url_must", lang, base_url=base_url), 2, lang)
    name = source or "demo"
    ds = _load_source(source, "wgs84", data_dir, lang)
    dataset_id = Path(name).stem if Path(name).exists() else name
    duty, committees = _links(name, data_dir)
    ix = ResponsibilityIndex(ds)
    today = dt.datetime.now(dt.UTC).date()
    st = ds.stations
    ids = [str(i) for i, k in zip(st["id"], st["kind"]) if not kind or str(k) in kind]
    if not ids:
        fail(word("cli_posters_no_station", lang), 1, lang)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    with progress(message("cli_posters_drawing", lang, n=len(ids))):
        for sid in ids:
            info = lookup(ix, station_id=sid, k=1, duty=duty, today=today, township_committees=committees)
            url = f"{base_url.rstrip('/')}/m/{dataset_id}/{sid}" + {"en": "?lang=en"}.get(lang, "")
            (folder / f"{sid}.{fmt}").write_bytes(poster(ds, sid, url, info, paper=paper, fmt=fmt, dpi=dpi,
                                                         lang=lang))
            items.append((sid, url, info))
        (folder / "posters.pdf").write_bytes(posters_pdf(ds, items, paper=paper, lang=lang))
    typer.echo(message("cli_posters_wrote", lang, n=len(ids), pdf=folder / 'posters.pdf'))
