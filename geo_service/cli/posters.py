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
        fail(f"--paper 应为 a4 或 a5，收到 {paper!r}" if lang == "zh" else f"--paper must be a4 or a5, got {paper!r}",
             2, lang)
    if fmt not in ("pdf", "png"):
        fail(f"--format 应为 pdf 或 png，收到 {fmt!r}" if lang == "zh" else f"--format must be pdf or png, got {fmt!r}", 2,
             lang)
    if not base_url.startswith(("http://", "https://")):
        fail(f"--base-url 应以 http:// 或 https:// 开头，收到 {base_url!r}" if lang == "zh" else
             f"--base-url must start with http:// or https://, got {base_url!r}", 2, lang)
    name = source or "demo"
    ds = _load_source(source, "wgs84", data_dir)
    dataset_id = Path(name).stem if Path(name).exists() else name
    duty, committees = _links(name, data_dir)
    ix = ResponsibilityIndex(ds)
    today = dt.datetime.now(dt.UTC).date()
    st = ds.stations
    ids = [str(i) for i, k in zip(st["id"], st["kind"]) if not kind or str(k) in kind]
    if not ids:
        fail("没有可制作海报的站点（数据集中没有这些类型的站点）" if lang == "zh" else
             "no station to make a poster for (the dataset has no stations of these kinds)", 1, lang)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    with progress(f"正在绘制 {len(ids)} 张海报" if lang == "zh" else f"drawing {len(ids)} posters"):
        for sid in ids:
            info = lookup(ix, station_id=sid, k=1, duty=duty, today=today, township_committees=committees)
            url = f"{base_url.rstrip('/')}/m/{dataset_id}/{sid}" + ("?lang=en" if lang == "en" else "")
            (folder / f"{sid}.{fmt}").write_bytes(poster(ds, sid, url, info, paper=paper, fmt=fmt, dpi=dpi,
                                                         lang=lang))
            items.append((sid, url, info))
        (folder / "posters.pdf").write_bytes(posters_pdf(ds, items, paper=paper, lang=lang))
    typer.echo(f"已写出 {len(ids)} 张海报和 {folder / 'posters.pdf'}" if lang == "zh" else
               f"wrote {len(ids)} posters and {folder / 'posters.pdf'}")
