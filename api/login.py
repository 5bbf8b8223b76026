"""Login and logout for browsers: ``GET/POST /login``, ``POST /logout``, and the HTML answer to a
401/403 that a browser gets instead of a problem document.

``POST /login`` takes the API key from a form (``application/x-www-form-urlencoded``: ``key``,
``next``, ``lang``) or JSON (``{"key": ...}``), checks it in constant time and sets the session
cookie (:mod:`api.session`): a form gets ``303`` to ``next`` (a path on this service only), JSON
gets ``200 {"role", "expires_in_s"}``. A wrong key: the form again with ``401``, or a problem
document; after ``auth_failures_per_minute`` wrong keys from one address, ``429`` with
``Retry-After`` (:class:`api.auth.FailureLimiter`). ``POST /logout`` deletes the cookie. With no
API key configured (the local demo) there is nothing to log in to: ``GET /login`` redirects to the page.

:func:`html_problem` renders the login form for a ``GET`` whose ``Accept`` asks for HTML (a
browser following a link to a map or an XLSX download) when the answer would be 401 or 403;
API clients keep getting ``application/problem+json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from geo_service.core.glossary import message

from .auth import authenticate, check_not_locked_out, key_failed, match_key
from .deps import read_body_limited
from .problems import ProblemError, problem_text
from .session import check_csrf, clear_session_cookie, issue_token, set_session_cookie
from .settings import Settings
from .html import html_response

router = APIRouter(tags=["web page and maps"])
_env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                   autoescape=select_autoescape(["html"]))
HTML_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}
_SAFE_NEXT = re.compile(r"^/(?![/\\])[^\s\\]*$")
MAX_LOGIN_BODY = 8192


def _page_lang(lang: str) -> str:
    """The login page's language: English only when asked for, Chinese otherwise."""
    return "en" if lang == "en" else "zh"


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this service (``/...``, not ``//host`` or a URL), else ``/``."""
    if value and len(value) <= 2000 and _SAFE_NEXT.match(value):
        return value
    return "/"


def wants_html(request: Request) -> bool:
    """A browser navigation: a GET/HEAD whose ``Accept`` names ``text/html``."""
    return request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", "")


def login_page(request: Request, *, status: int = 200, error: str | None = None, next_url: str | None = None,
               lang: str | None = None, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The login form (also the HTML body of a 401/403 for browsers)."""
    lang = lang if lang in ("zh", "en") else request.query_params.get("lang", "zh")
    lang = lang if lang in ("zh", "en") else "zh"
    who = getattr(request.state, "principal", None)
    html = _env.get_template("login.html").render(
        lang=lang, error=error, status=status, next=safe_next(next_url), role=getattr(who, "role", "anonymous"),
        via=getattr(who, "via", "anonymous"))
    return html_response(html, status=status, headers={**HTML_HEADERS, **(headers or {})})


def html_problem(request: Request, exc: ProblemError) -> Response | None:
    """The login page for a browser's 401/403 (None: answer with the problem document)."""
    if exc.status not in (401, 403) or not wants_html(request) or exc.code == "csrf-refused":
        return None
    if not request.app.state.settings.api_keys:
        return None  # the local demo has no login to offer
    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    lang = "en" if request.query_params.get("lang") == "en" else "zh"  # the login page's own language
    return login_page(request, status=exc.status, error=problem_text(exc.code, exc.detail, lang, exc.extra, exc.detail_zh),
                      next_url=nxt, headers=exc.headers, lang=lang)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None,
               lang: Annotated[Literal["zh", "en"], Query()] = "zh"):
    """The login form (with no API key configured: straight to the page)."""
    if not request.app.state.settings.api_keys:
        return RedirectResponse(safe_next(next), status_code=303)
    request.state.principal = _quiet_principal(request)
    return login_page(request, next_url=next, lang=lang)


def _quiet_principal(request: Request):
    try:
        return authenticate(request)
    except ProblemError:
        return None


async def _login_fields(request: Request) -> tuple[dict[str, str], bool]:
    """``({key, next, lang}, is_form)`` from a form or a JSON body."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await read_body_limited(request, MAX_LOGIN_BODY)
    if ctype == "application/json":
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            raise ProblemError(422, "send {\"key\": \"<API key>\"}", code="invalid-parameters",
                               errors=[{"in": "body", "field": "key", "message": "a string is required",
                                        "code": "missing"}])
        return {k: str(v) for k, v in data.items() if k in ("key", "next", "lang") and isinstance(v, str)}, False
    if ctype in ("application/x-www-form-urlencoded", ""):
        try:
            q = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            raise ProblemError(400, "the login form could not be read", code="bad-form") from None
        return {k: v[0] for k, v in q.items() if k in ("key", "next", "lang")}, True
    raise ProblemError(415, f"login takes a form or JSON, not '{ctype}'", code="unsupported-media-type")


@router.post("/login", include_in_schema=False)
async def login(request: Request):
    """Trade an API key for the session cookie (see the module docstring)."""
    settings: Settings = request.app.state.settings
    check_csrf(request, required=False, trusted=settings.trusted_origins)  # no login CSRF
    if not settings.api_keys:
        raise ProblemError(409, "no API key is configured: there is nothing to log in to (local demo mode)",
                           code="login-not-needed")
    fields, is_form = await _login_fields(request)
    lang = fields.get("lang", "zh")
    try:
        check_not_locked_out(request)  # 429 before the key is compared: guessing is slowed, right or wrong
    except ProblemError as e:
        if not is_form:
            raise
        wait = e.extra.get("retry_after_s")
        msg = message("login_locked_out", _page_lang(lang), wait=wait)
        return login_page(request, status=429, error=msg, next_url=fields.get("next"), lang=lang, headers=e.headers)
    key = fields.get("key", "").strip()
    role = match_key(key, settings.role_keys) if key else None
    if role is None:
        if key:
            key_failed(request)
        msg = message("login_bad_key" if key else "login_no_key", _page_lang(lang))
        if is_form:
            return login_page(request, status=401, error=msg, next_url=fields.get("next"), lang=lang)
        raise ProblemError(401, "the API key is not valid", code="invalid-api-key")
    token = issue_token(key, settings.session_max_age_s)
    if is_form:
        resp: Response = RedirectResponse(safe_next(fields.get("next")), status_code=303)
    else:
        resp = Response(json.dumps({"role": role, "expires_in_s": settings.session_max_age_s}),
                        media_type="application/json")
    set_session_cookie(resp, request, token, settings.session_max_age_s, settings.cookie_secure)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.post("/logout", include_in_schema=False)
async def logout(request: Request):
    """Delete the session cookie; a form gets ``303`` to the login page, others ``204``."""
    settings: Settings = request.app.state.settings
    check_csrf(request, required=False, trusted=settings.trusted_origins)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded" or "text/html" in request.headers.get("accept", ""):
        resp: Response = RedirectResponse("/login", status_code=303)
    else:
        resp = Response(status_code=204)
    clear_session_cookie(resp, request, settings.cookie_secure)
    resp.headers["Cache-Control"] = "no-store"
    return resp
