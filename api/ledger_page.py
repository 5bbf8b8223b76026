"""The phone page for entering ledger activities, and members' login links.

- ``GET /ledger?dataset=demo``: a page sized for a phone (no script, one form): kind, date, way,
  the member's own constituents to pick from (or a village id), topic, outcome, follow-up,
  satisfaction and 人次; below it the member's latest records. Members see and record only their
  own; planners pick the member. Without a session the login form is shown first.
- ``POST /ledger``: the form; saved (303 back to the page saying which record) or the page again
  with every bad field named (422). Cookie-authenticated, so it must come from this origin.
- ``POST /v1/datasets/{id}/members/{member_id}/login-link`` (admin): a link that signs the member in
  (a session token made with the member's own key, valid for ``session_max_age_s``);
  ``GET /login/link?t=...`` sets the session cookie from it.

Every value shown is escaped (:func:`html.escape`); user text never reaches a template.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from geo_service.core import glossary as G
from geo_service.core.ledger import KINDS, WAYS, ActivityError
from geo_service.core.store import NotFound, Store
from maps.static_render import FONT_PATH

from .auth import Principal, admin, principal
from .cache import DatasetCache
from .deps import get_cache, get_settings, get_store, public_url, read_body_limited
from .html import html_response
from .ledger_access import activity_problem, member_view, store_rows
from .problems import ProblemError
from .session import issue_token, set_session_cookie, verify_token
from .settings import Settings

router = APIRouter(include_in_schema=True, tags=["ledger"])
MAX_FORM_BYTES = 64 * 1024
FORM_FIELDS = ("dataset", "kind", "member_id", "date", "way", "constituent_id", "village_id", "topic", "outcome",
               "follow_up", "satisfaction", "people", "lang")
STYLE = """
@font-face{font-family:"GS CJK";src:local("Noto Sans CJK SC"),local("PingFang SC"),local("Microsoft YaHei"),
url("/ledger/cjk.ttf") format("truetype");font-display:swap}
body{font-family:system-ui,"Noto Sans SC","PingFang SC","Microsoft YaHei","GS CJK",sans-serif;margin:0;padding:12px;max-width:520px;color:#222}
h1{font-size:20px;margin:4px 0 12px}h2{font-size:17px;margin:18px 0 8px}
label{display:block;margin:10px 0 4px;font-weight:600;font-size:15px}
input,select,textarea{width:100%;box-sizing:border-box;font-size:16px;padding:8px;border:1px solid #aaa;border-radius:6px}
textarea{min-height:64px}button{width:100%;font-size:18px;padding:12px;margin-top:16px;border:0;border-radius:8px;
background:#c62828;color:#fff}.ok{background:#e8f5e9;padding:8px;border-radius:6px}
.err{background:#ffebee;padding:8px;border-radius:6px;color:#b71c1c}ul{padding-left:18px}li{margin:4px 0}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border-bottom:1px solid #ddd;padding:4px;text-align:left}
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _options(enum: str, values: tuple[str, ...], chosen: str | None, lang: str) -> str:
    return "".join(f'<option value="{_e(v)}"{" selected" if v == chosen else ""}>{_e(G.value_label(enum, v, lang))}'
                   "</option>" for v in values)


def _field(name: str, label_key: str, inner: str, lang: str) -> str:
    return f'<label for="{name}">{_e(G.header(label_key, lang))}</label>{inner}'


def _form(ds_id: str, who: Principal, view: dict[str, Any], values: dict[str, str], lang: str) -> str:
    cons = "".join(f'<option value="{_e(c["id"])}"{" selected" if c["id"] == values.get("constituent_id") else ""}>'
                   f'{_e(c.get("name") or c["id"])}（{_e(c.get("village_id") or "")}）</option>'
                   for c in view.get("constituents", []))
    member = "" if who.role == "member" else _field(
        "member_id", "member_id", f'<input id="member_id" name="member_id" value="{_e(values.get("member_id"))}" '
                                  'required maxlength="64">', lang)
    sat = "".join(f'<option value="{i}"{" selected" if str(i) == values.get("satisfaction") else ""}>{i}</option>'
                  for i in range(5, 0, -1))
    parts = [
        f'<form method="post" action="/ledger"><input type="hidden" name="dataset" value="{_e(ds_id)}">'
        f'<input type="hidden" name="lang" value="{_e(lang)}">', member,
        _field("kind", "activity_kind", f'<select id="kind" name="kind">'
               f'{_options("activity_kind", KINDS, values.get("kind", "contact"), lang)}</select>', lang),
        _field("date", "date", f'<input id="date" name="date" type="date" required '
                               f'value="{_e(values.get("date") or dt.date.today().isoformat())}">', lang),
        _field("way", "activity_way", f'<select id="way" name="way"><option value=""></option>'
                                      f'{_options("activity_way", WAYS, values.get("way", "visit"), lang)}</select>', lang),
        _field("constituent_id", "constituent_id", f'<select id="constituent_id" name="constituent_id">'
                                                   f'<option value=""></option>{cons}</select>', lang),
        _field("village_id", "village_id", f'<input id="village_id" name="village_id" maxlength="64" '
                                           f'value="{_e(values.get("village_id"))}">', lang),
        _field("topic", "topic", f'<input id="topic" name="topic" maxlength="1000" value="{_e(values.get("topic"))}">',
               lang),
        _field("outcome", "activity_outcome", f'<textarea id="outcome" name="outcome" maxlength="1000">'
                                              f'{_e(values.get("outcome"))}</textarea>', lang),
        _field("follow_up", "follow_up", f'<input id="follow_up" name="follow_up" maxlength="1000" '
                                         f'value="{_e(values.get("follow_up"))}">', lang),
        _field("satisfaction", "satisfaction", f'<select id="satisfaction" name="satisfaction">'
                                               f'<option value=""></option>{sat}</select>', lang),
        _field("people", "people", f'<input id="people" name="people" type="number" min="1" '
                                   f'value="{_e(values.get("people") or 1)}">', lang),
        f'<button type="submit" id="save">{_e(G.word("ledger_submit", lang))}</button></form>']
    return "".join(parts)


def _recent(store: Store, ds_id: str, member: str | None, lang: str) -> str:
    df = store.ledger().frame(ds_id, member_id=member).tail(20).iloc[::-1]
    rows = "".join(f"<tr><td>{_e(r.id)}</td><td>{_e(r.date)}</td>"
                   f"<td>{_e(G.value_label('activity_kind', r.kind, lang))}</td>"
                   f"<td>{_e(r.constituent_id or r.village_id or r.station_id or '')}</td><td>{_e(r.topic or '')}</td></tr>"
                   for r in df.itertuples())
    head = "".join(f"<th>{_e(G.label(k, lang))}</th>" for k in ("activity_id", "date", "activity_kind", "id", "topic"))
    return f'<table id="mine"><tr>{head}</tr>{rows}</table>'


def _page(store: Store, cache: DatasetCache, ds_id: str, who: Principal, lang: str, *, values: dict[str, str],
          message: str = "", errors: list[str] | None = None, status: int = 200) -> Response:
    try:
        entry = cache.get(ds_id)
    except NotFound:
        raise ProblemError(404, f"no dataset '{ds_id}'", code="dataset-not-found", dataset_id=ds_id) from None
    member = who.member_id if who.role == "member" else None
    view = member_view(store, entry.ds, ds_id, member) if member else {"constituents": []}
    who_line = _e(f"{view.get('name') or ''} {member or ''}".strip() or who.role)
    msg = f'<p class="ok" id="saved">{_e(message)}</p>' if message else ""
    if errors:
        msg += '<div class="err" id="errors"><ul>' + "".join(f"<li>{_e(x)}</li>" for x in errors) + "</ul></div>"
    body = (f'<!doctype html><html lang="{G.word("html_lang", lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_e(G.word("ledger_page_title", lang))}</title><style>{STYLE}</style></head><body>'
            f'<h1>{_e(G.word("ledger_page_title", lang))}</h1><p>{who_line} · {_e(ds_id)}</p>{msg}'
            f'{_form(ds_id, who, view, values, lang)}<h2>{_e(G.word("ledger_mine", lang))}</h2>'
            f'{_recent(store, ds_id, member, lang)}</body></html>')
    return html_response(body, status=status)


def _may_record(who: Principal) -> bool:
    return who.role == "member" or who.allows("planner")


@router.get("/ledger/cjk.ttf", include_in_schema=False)
def cjk_font() -> FileResponse:
    """The bundled GB2312 Noto Sans SC subset: the page's last font, fetched only by a browser with no
    Chinese font of its own (the @font-face lists local fonts first)."""
    return FileResponse(FONT_PATH, media_type="font/ttf", headers={"Cache-Control": "public, max-age=604800"})


@router.get("/ledger", include_in_schema=False)
def ledger_page(request: Request, dataset: Annotated[str, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")] = "demo",
                lang: Annotated[str, Query(pattern="^(zh|en)$")] = "zh",
                saved: Annotated[int | None, Query(ge=1)] = None,
                who: Principal = Depends(principal), store: Store = Depends(get_store),
                cache: DatasetCache = Depends(get_cache)):
    if not _may_record(who):
        return RedirectResponse(f"/login?next={quote(f'/ledger?dataset={dataset}&lang={lang}')}", status_code=303)
    msg = G.word("ledger_saved", lang).format(id=saved) if saved else ""
    return _page(store, cache, dataset, who, lang, values={}, message=msg)


@router.post("/ledger", include_in_schema=False)
async def ledger_submit(request: Request, who: Principal = Depends(principal), store: Store = Depends(get_store),
                        cache: DatasetCache = Depends(get_cache)):
    raw = await read_body_limited(request, MAX_FORM_BYTES)
    try:
        q = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=40)
    except (UnicodeDecodeError, ValueError):
        raise ProblemError(400, "the form could not be read", code="bad-form") from None
    values = {k: v[0].strip() for k, v in q.items() if k in FORM_FIELDS}
    lang = values.pop("lang", "zh") if values.get("lang") in ("zh", "en") else "zh"
    ds_id = values.pop("dataset", "demo")
    if not _may_record(who):
        raise ProblemError(401 if who.role == "anonymous" else 403, G.word("ledger_login_first", "en"),
                           detail_zh=G.word("ledger_login_first", "zh"),
                           code="unauthenticated" if who.role == "anonymous" else "forbidden")
    try:
        entry = cache.get(ds_id)
    except NotFound:
        raise ProblemError(404, f"no dataset '{ds_id}'", code="dataset-not-found", dataset_id=ds_id) from None
    row = {k: (v or None) for k, v in values.items()}
    try:
        ids = store_rows(store, ds_id, pd.DataFrame([row]), who, entry.ds)
    except ProblemError as e:
        if e.status != 422:
            raise
        errs = [p["message"] for p in e.extra.get("errors", [])] or [e.detail]
        return _page(store, cache, ds_id, who, lang, values=values, errors=errs, status=422)
    except ActivityError as e:  # pragma: no cover - _store_rows turns these into 422 problems
        raise activity_problem(e) from None
    return RedirectResponse(f"/ledger?dataset={quote(ds_id)}&lang={lang}&saved={ids[0]}", status_code=303)


@router.post("/v1/datasets/{dataset_id}/members/{member_id}/login-link",
             summary="A login link for a member (admin): signs the member in with their own key")
def member_login_link(request: Request, dataset_id: str, member_id: str, _: Principal = Depends(admin),
                      settings: Settings = Depends(get_settings)):
    keys = [k for k, m in settings.member_keys.items() if m == member_id]
    if not keys:
        raise ProblemError(404, f"member '{member_id}' has no key (setting member_keys)", code="member-not-found",
                           member_id=member_id)
    token = issue_token(keys[0], settings.session_max_age_s)
    url = public_url(request, "/login/link", f"t={quote(token)}&next={quote(f'/ledger?dataset={dataset_id}')}")
    return {"url": url, "expires_in_s": settings.session_max_age_s, "member_id": member_id}


@router.get("/login/link", include_in_schema=False)
def login_link(request: Request, t: Annotated[str, Query(max_length=200)],
               next: Annotated[str, Query(max_length=200, pattern=r"^/ledger(\?[A-Za-z0-9=&_%-]*)?$")] = "/ledger",
               settings: Settings = Depends(get_settings)):
    found = verify_token(t, settings.role_keys)
    if found is None:
        raise ProblemError(401, "the login link is not valid or has expired: ask for a new one",
                           code="invalid-login-link")
    page = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{_e(G.word("ledger_page_title", "zh"))}</title>'
            f'</head><body><p><a id="go" href="{_e(next)}">{_e(G.word("ledger_page_title", "zh"))}</a></p></body></html>')
    resp = html_response(page)
    set_session_cookie(resp, request, t, settings.session_max_age_s, settings.cookie_secure)
    resp.headers["Cache-Control"] = "no-store"
    return resp
