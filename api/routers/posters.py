"""QR posters and the public phone page a scan opens (码上议事).

- ``GET /v1/datasets/{id}/posters/{station_id}.pdf|png?paper=a4|a5`` (viewer): one station's poster;
- ``GET /v1/datasets/{id}/posters.pdf?paper=&kind=`` (viewer): every station's poster in one PDF
  (at most :data:`MAX_POSTERS`; narrow it with ``kind``);
- ``GET /m/{id}/{station_id}`` and ``GET /m/{id}?lon=&lat=`` (anyone, no login): the phone page: who is
  responsible here and when they receive, a form to leave a message, the ticket's status. One small
  HTML page (inline style and script under a hash-based CSP, no external assets), Chinese, 375 px wide;
  every value is put into the page as text (``textContent``), never as markup.

The QR code holds ``{public_base_url}/m/{id}/{station_id}`` (setting ``public_base_url``, else the URL
the request came to).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from geo_service.core.glossary import WORDS, word
from geo_service.core.responsible import lookup as responsible_lookup
from geo_service.core.store import NotFound, check_dataset_id
from maps.posters import poster, posters_pdf

from .. import messaging as M
from ..auth import Principal, viewer
from ..cache import DatasetEntry
from ..deps import dataset_entry
from ..html import html_response
from ..problems import ProblemError

router = APIRouter(tags=["posters"])
MAX_POSTERS = 400
PAGE = Path(__file__).resolve().parents[1] / "templates" / "phone.html"
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
Paper = Annotated[Literal["a4", "a5"], Query(description="portrait page size")]


def phone_url(request: Request, dataset_id: str, station_id: str) -> str:
    """The phone page of a station, as the QR code holds it."""
    base = request.app.state.settings.public_base_url or str(request.base_url).rstrip("/")
    lang = request.query_params.get("lang")
    return f"{base}/m/{dataset_id}/{station_id}" + ("?lang=en" if lang == "en" else "")


def _station_info(request: Request, entry: DatasetEntry, station_id: str) -> dict:
    ctx = M.context(request, entry)
    if station_id not in ctx.index.s_pos:
        raise ProblemError(404, f"no station '{station_id}' in dataset '{entry.info.id}'", code="station-not-found",
                           station_id=station_id)
    return responsible_lookup(ctx.index, station_id=station_id, k=1, duty=ctx.duty, today=M.clock(request).date(),
                              township_committees=ctx.committees)


MEDIA = {"pdf": "application/pdf", "png": "image/png"}


@router.get("/v1/datasets/{dataset_id}/posters/{station_id}.{fmt}", summary="A station's QR poster (viewer)",
            responses={200: {"content": {"application/pdf": {}, "image/png": {}}}})
def station_poster(request: Request, station_id: Annotated[str, PathParam(max_length=64)],
                   fmt: Literal["pdf", "png"], entry: DatasetEntry = Depends(dataset_entry),
                   _: Principal = Depends(viewer), paper: Paper = "a4",
                   dpi: Annotated[int, Query(ge=72, le=300, description="PNG resolution")] = 150,
                   lang: Annotated[Literal["zh", "en"], Query()] = "zh"):
    info = _station_info(request, entry, station_id)
    data = poster(entry.ds, station_id, phone_url(request, entry.info.id, station_id), info, paper=paper,
                  fmt=fmt, dpi=dpi, lang=lang)
    return Response(data, media_type=MEDIA[fmt],
                    headers={"Content-Disposition": f'inline; filename="poster-{station_id}.{fmt}"'})


@router.get("/v1/datasets/{dataset_id}/posters.pdf", summary="Every station's QR poster in one PDF (viewer)",
            responses={200: {"content": {"application/pdf": {}}}})
def all_posters(request: Request, entry: DatasetEntry = Depends(dataset_entry), _: Principal = Depends(viewer),
                paper: Paper = "a4",
                kind: Annotated[list[str] | None, Query(max_length=4, description="only these station kinds")] = None,
                lang: Annotated[Literal["zh", "en"], Query()] = "zh"):
    st = entry.ds.stations
    ids = [str(i) for i, k in zip(st["id"], st["kind"]) if not kind or str(k) in kind]
    if len(ids) > MAX_POSTERS:  # checked before any drawing
        raise ProblemError(413, f"{len(ids)} posters exceed the limit of {MAX_POSTERS} in one PDF; ask for one kind "
                                "at a time (kind=contact_point ...)", code="too-many-posters", limit=MAX_POSTERS)
    items = [(s, phone_url(request, entry.info.id, s), _station_info(request, entry, s)) for s in ids]
    data = posters_pdf(entry.ds, items, paper=paper, lang=lang)
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="posters-{entry.info.id}.pdf"'})


def _page_words(lang: str) -> dict[str, str]:
    return {k: word(k, lang) for k in WORDS if k.startswith("qr_")}


def phone_page(dataset_id: str, station_id: str | None, lang: str = "zh") -> str:
    """The phone page's HTML: the template with its context as a JSON data block (``<`` escaped)."""
    ctx = {"dataset": dataset_id, "station": station_id, "lang": lang, "words": _page_words(lang)}
    data = json.dumps(ctx, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    page = PAGE.read_text(encoding="utf-8").replace("__LANG__", word("html_lang", lang))
    return page.replace("__CONTEXT__", data)


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "zh"


async def _check_ids(request: Request, dataset_id: str, station_id: str | None) -> None:
    check_dataset_id(dataset_id)
    if station_id is not None and not ID_RE.fullmatch(station_id):
        raise ProblemError(404, "no such station", code="station-not-found")
    cache = request.app.state.cache
    try:
        entry = cache.peek(dataset_id) or await run_in_threadpool(cache.get, dataset_id)
    except NotFound:
        raise ProblemError(404, f"no dataset '{dataset_id}'", code="dataset-not-found",
                           dataset_id=dataset_id) from None
    if station_id is not None and station_id not in set(entry.ds.stations["id"].astype(str)):
        raise ProblemError(404, f"no station '{station_id}'", code="station-not-found", station_id=station_id)


@router.get("/m/{dataset_id}/{station_id}", include_in_schema=False)
async def phone_station(request: Request, dataset_id: str, station_id: str):
    await _check_ids(request, dataset_id, station_id)
    return html_response(phone_page(dataset_id, station_id, _lang(request)))


@router.get("/m/{dataset_id}", include_in_schema=False)
async def phone_place(request: Request, dataset_id: str):
    await _check_ids(request, dataset_id, None)
    return html_response(phone_page(dataset_id, None, _lang(request)))
