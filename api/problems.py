"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the service returns has ``type``, ``title``, ``status``, ``detail`` and ``instance``
(the request path), plus members naming what was wrong: ``errors`` (a list of
``{layer, row, feature_id, field, message, code}`` for dataset validation, or ``{field, message,
code}`` for request parameters), ``feature_id``, ``dataset_id`` or ``job_id``.
Raise :class:`ProblemError` in routers; :func:`install_handlers` turns it, FastAPI's request
validation errors, Starlette's HTTP errors (404/405/...), and anything unexpected (500, detail
hidden) into problem responses. The errors of the floors below (store, dataset, query checks, job
queue, a wrong argument: :class:`~geo_service.core.errors.InvalidParameter` and its
``InvalidDatasetId``) are mapped to problem types once, in :data:`ERROR_TABLE`: a router lets them
propagate instead of translating them itself.

Every answer is in the request's language (:func:`request_lang`: Chinese unless ``lang=en`` or an
``Accept-Language`` whose first language is English), said in ``Content-Language``: the title is
the glossary's for the code, the detail the glossary's template filled from the problem's members
where it has one (raisers keep writing English ``detail``); the machine members never change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_service.app.jobs import QueueFull
from geo_service.core.dataset import DatasetValidationError
from geo_service.core.errors import InvalidDatasetId, InvalidParameter, validation_items
from geo_service.core.glossary import import_problem_text, parameter_reason, parameters_text, problem_detail, problem_title
from geo_service.core.index import InvalidQuery
from geo_service.core.network import MissingLayer
from geo_service.core.store import Conflict, NotFound

from .encoding import FastJSONResponse

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:geo-service:problem:"

log = logging.getLogger("geo_service.api")


def answer_lang(query_lang: str | None, accept_language: str | None) -> str:
    """The language of a problem answer: ``en`` where the request asks for English (``lang=en``, or
    an ``Accept-Language`` whose first language is ``en``), else ``zh``. An explicit ``lang=zh`` wins
    over the header."""
    if query_lang in ("zh", "en"):
        return query_lang
    first = (accept_language or "").split(",")[0].split(";")[0].strip().lower()
    return "en" if first == "en" or first.startswith("en-") else "zh"


def request_lang(request: Request | None) -> str:
    """:func:`answer_lang` of ``request`` (``zh`` without one)."""
    if request is None:
        return "zh"
    return answer_lang(request.query_params.get("lang"), request.headers.get("accept-language"))


def problem_text(code: str | None, detail: str, lang: str, members: dict[str, Any],
                 detail_zh: str | None = None) -> str:
    """The detail in ``lang``: in English the raiser's own ``detail``; in Chinese ``detail_zh``, else
    the glossary's template for ``code`` filled from ``members``, else (no template) ``detail``."""
    if lang == "en":
        return detail
    return detail_zh or problem_detail(code, lang, **members) or detail


class ProblemError(Exception):
    """An error to answer as problem+json.

    ``code`` becomes the problem ``type`` (``urn:geo-service:problem:<code>``); ``extra`` members
    (``errors``, ``feature_id``, ...) are added to the body; ``headers`` to the response.
    ``detail`` is English; ``detail_zh``, where the raiser has its own Chinese text (a glossary
    message), is the Chinese answer's detail instead of the code's template.
    """

    def __init__(self, status: int, detail: str, *, code: str | None = None, title: str | None = None,
                 headers: dict[str, str] | None = None, detail_zh: str | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.detail_zh = detail_zh
        self.code = code
        self.title = title
        self.headers = headers or {}
        self.extra = extra


def problem_body(request: Request | None, status: int, detail: str, *, code: str | None = None,
                 title: str | None = None, lang: str | None = None, detail_zh: str | None = None,
                 **extra: Any) -> dict[str, Any]:
    """The problem document as a dict, ``title`` and ``detail`` in ``lang`` (default: the request's,
    :func:`request_lang`). ``title`` is the glossary's for ``code`` (the given one only where the
    glossary has none); ``detail`` is the English text, worded in Chinese by :func:`problem_text`."""
    lang = lang or request_lang(request)
    en_title = title if title and code is None else None
    body: dict[str, Any] = {
        "type": f"{TYPE_BASE}{code}" if code else "about:blank",
        "title": en_title if en_title and lang == "en" else problem_title(code, status, lang),
        "status": status,
        "detail": problem_text(code, detail, lang, extra, detail_zh),
    }
    if request is not None:
        body["instance"] = request.url.path
        rid = getattr(request.state, "request_id", None)
        if rid:
            body["request_id"] = rid
    body.update({k: v for k, v in extra.items() if v is not None and k not in body})  # never shadow the core
    return body


def problem_response(request: Request | None, status: int, detail: str, *, code: str | None = None,
                     title: str | None = None, headers: dict[str, str] | None = None,
                     detail_zh: str | None = None, **extra: Any) -> FastJSONResponse:
    """A JSON response with media type ``application/problem+json`` (NaN/inf members -> null), in
    the request's language, said in ``Content-Language``."""
    lang = request_lang(request)
    body = problem_body(request, status, detail, code=code, title=title, lang=lang, detail_zh=detail_zh, **extra)
    return FastJSONResponse(body, status_code=status, headers={**(headers or {}), "Content-Language": lang},
                            media_type=PROBLEM_JSON)


def validation_errors(exc: DatasetValidationError) -> list[dict[str, Any]]:
    """Every error-severity problem of ``exc`` as ``{layer,row,feature_id,field,message,code,message_zh}``
    (``message_zh``: the problem with its place, in Chinese)."""
    return [{"layer": p.layer, "row": p.row, "feature_id": p.feature_id, "field": p.field,
             "message": p.message, "code": p.code, "message_zh": import_problem_text(p, "zh")}
            for p in exc.problems if p.severity == "error"]


def _request_errors(exc: RequestValidationError) -> tuple[list[dict[str, Any]], str]:
    """The ``errors`` items (each with ``message_zh`` where the glossary words its code) and the
    Chinese detail naming every wrong field."""
    out, worded = [], []
    for e in validation_items(exc, ""):
        where, _, rest = e["field"].partition(".")
        item = {"in": where, "field": rest or where, "message": e["message"], "code": e["code"]}
        worded.append({**item, "ctx": e.get("ctx") or {}})
        zh = parameter_reason(worded[-1], "zh")
        out.append({**item, "message_zh": zh} if zh else item)
    return out, parameters_text(worded, "zh")


@dataclass(frozen=True)
class ProblemType:
    """How one exception type is answered: status, problem code and what the body and headers add.

    ``detail(exc)`` defaults to ``str(exc)``; ``members(exc)`` and ``headers(exc)`` to nothing;
    ``request_members(exc, request)`` adds members that depend on the request (None: none).
    """

    status: int
    code: str
    title: str | None = None
    detail: Callable[[Any], str] = str
    members: Callable[[Any], dict[str, Any]] = field(default=lambda exc: {})
    headers: Callable[[Any], dict[str, str]] = field(default=lambda exc: {})
    request_members: Callable[[Any, Request | None], dict[str, Any]] | None = None


def _n_invalid(exc: DatasetValidationError) -> str:
    return f"{len(validation_errors(exc))} validation error(s); nothing was stored"


def parameter_item(where: str, field: str, message: str, code: str, ctx: dict[str, Any]) -> dict[str, Any]:
    """One ``errors[]`` item of a request-parameter problem; ``ctx`` (what the glossary words the
    reason from) only when there is one."""
    item: dict[str, Any] = {"in": where, "field": field, "message": message, "code": code}
    return {**item, "ctx": ctx} if ctx else item


def _worded(item: dict[str, Any]) -> dict[str, Any]:
    """An ``errors[]`` item with ``message_zh`` where the glossary words its ``code``."""
    zh = parameter_reason(item, "zh")
    return {**item, "message_zh": zh} if zh else item


def _parameter_errors(exc: InvalidParameter, request: Request | None) -> dict[str, Any]:
    """``errors``: the one wrong argument, ``in`` the query for GET/HEAD/DELETE, else the body
    (unless the exception says where it came from)."""
    where = exc.where or ("query" if request is None or request.method in ("GET", "HEAD", "DELETE") else "body")
    return {"errors": [_worded({"in": where, **exc.to_dict()})]}


#: Exceptions of the floors below mapped to problem types, once (the most specific class wins).
ERROR_TABLE: dict[type[Exception], ProblemType] = {
    NotFound: ProblemType(404, "not-found"),
    Conflict: ProblemType(412, "version-mismatch"),
    DatasetValidationError: ProblemType(422, "dataset-invalid", "Invalid dataset", detail=_n_invalid,
                                        members=lambda e: {"errors": validation_errors(e)}),
    InvalidQuery: ProblemType(422, "invalid-query", members=lambda e: {"errors": [_worded({"in": "query", **e.to_dict()})]}),
    InvalidParameter: ProblemType(422, "invalid-parameters", request_members=_parameter_errors),
    InvalidDatasetId: ProblemType(400, "invalid-dataset-id", members=lambda e: {"dataset_id": e.dataset_id}),
    QueueFull: ProblemType(503, "queue-full", members=lambda e: {"retry_after_s": e.retry_after_s},
                           headers=lambda e: {"Retry-After": str(e.retry_after_s)}),
}


def problem_for(request: Request | None, exc: Exception) -> FastJSONResponse | None:
    """The problem response :data:`ERROR_TABLE` gives ``exc`` (None when its type is not there)."""
    for cls in type(exc).__mro__:
        pt = ERROR_TABLE.get(cls)
        if pt is not None:
            members = pt.members(exc)
            if pt.request_members is not None:
                members = {**members, **pt.request_members(exc, request)}
            return problem_response(request, pt.status, pt.detail(exc), code=pt.code, title=pt.title,
                                    headers=pt.headers(exc) or None, **members)
    return None


def install_handlers(app: FastAPI) -> None:
    """Register the exception handlers that answer every error as problem+json."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError):
        html = getattr(request.app.state, "html_problem", None)  # browsers get the login form for 401/403
        page = html(request, exc) if html is not None else None
        if page is not None:
            return page
        return problem_response(request, exc.status, exc.detail, code=exc.code, title=exc.title,
                                headers=exc.headers, detail_zh=exc.detail_zh, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError):
        errors, zh = _request_errors(exc)
        said = "; ".join(dict.fromkeys(f"{e['in']}:{e['field']}: {e['message']}" for e in errors))
        return problem_response(request, 422, f"invalid request parameters: {said}",
                                code="invalid-parameters", detail_zh=zh, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        key = None
        if exc.status_code == 404 and detail == "Not Found":
            detail, key = f"no resource at {request.url.path}", "route-not-found"
        elif exc.status_code == 405:
            detail, key = f"method {request.method} is not allowed on {request.url.path}", "method-not-allowed"
        zh = problem_detail(key, "zh", path=request.url.path, method=request.method) if key else None
        return problem_response(request, exc.status_code, detail, headers=getattr(exc, "headers", None),
                                detail_zh=zh)

    async def _from_table(request: Request, exc: Exception):
        return problem_for(request, exc)

    for exc_type in ERROR_TABLE:
        app.add_exception_handler(exc_type, _from_table)

    @app.exception_handler(MissingLayer)
    async def _missing_layer(request: Request, exc: MissingLayer):
        return problem_response(request, 422, str(exc), code="missing-layer", layer=exc.layer,
                                errors=[{"in": "query", "field": "mode", "layer": exc.layer,
                                         "message": str(exc), "code": "missing_layer"}])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "the service failed to handle this request; "
                                              "the error was logged with this request id",
                                code="internal-error")
