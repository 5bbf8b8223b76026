"""The service's OpenAPI document in version 3.0, for OGC API clients (``GET /v1/api``).

FastAPI writes OpenAPI 3.1 (JSON Schema 2020-12: ``type: [..., "null"]``, ``anyOf`` with a null
branch, ``const``, ``examples`` arrays, numeric ``exclusiveMinimum``); OGC API - Features asks for a
3.0 description (class OAS30) and GDAL looks for the 3.0 media type. :func:`to_oas30` rewrites the
3.1 document into its 3.0 equivalent (``nullable``, ``enum``, ``example``, boolean exclusive bounds,
``format: binary`` for uploads); the test suite validates the result with openapi-spec-validator.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request

from ...encoding import FastJSONResponse

router = APIRouter(prefix="/v1", tags=["OGC API - Features"])
MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
_DROP = ("$schema", "contentEncoding", "propertyNames", "unevaluatedProperties", "$id", "$comment")


def _nullable_branch(schema: dict[str, Any], key: str) -> None:
    branches = schema[key]
    rest = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
    if len(rest) == len(branches):
        return
    schema["nullable"] = True
    if len(rest) == 1:
        del schema[key]
        only = rest[0]
        if "$ref" in only:
            schema["allOf"] = [only]
        else:
            schema.update({k: v for k, v in only.items() if k not in schema})
    elif rest:
        schema[key] = rest
    else:
        del schema[key]


def _schema(s: Any) -> Any:
    """One JSON Schema (and everything below it) in OpenAPI 3.0 form."""
    if isinstance(s, list):
        return [_schema(x) for x in s]
    if not isinstance(s, dict):
        return s
    s = {k: _schema(v) for k, v in s.items() if k not in _DROP}
    t = s.get("type")
    if isinstance(t, list):
        kinds = [x for x in t if x != "null"]
        if len(kinds) < len(t):
            s["nullable"] = True
        if len(kinds) == 1:
            s["type"] = kinds[0]
        else:
            del s["type"]
            if kinds:
                s["anyOf"] = [{"type": k} for k in kinds]
    elif t == "null":
        del s["type"]
        s["nullable"] = True
    for key in ("anyOf", "oneOf"):
        if key in s:
            _nullable_branch(s, key)
    if "$ref" in s and len(s) > 1:  # 3.0: siblings of $ref are ignored, so wrap it
        s = {**{k: v for k, v in s.items() if k != "$ref"}, "allOf": [{"$ref": s["$ref"]}]}
    if "const" in s:
        s["enum"] = [s.pop("const")]
    if isinstance(s.get("examples"), list):
        ex = s.pop("examples")
        if ex:
            s["example"] = ex[0]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(s.get(bound), (int, float)) and not isinstance(s.get(bound), bool):
            s[plain] = s[bound]
            s[bound] = True
    if "prefixItems" in s:
        items = s.pop("prefixItems")
        s["items"] = {"anyOf": items} if items else {}
    if s.get("contentMediaType") is not None:
        s.pop("contentMediaType")
        if s.get("type") == "string":
            s["format"] = "binary"
    return s


def _content(content: dict[str, Any]) -> dict[str, Any]:
    return {mt: {**m, **({"schema": _schema(m["schema"])} if "schema" in m else {})}
            for mt, m in content.items()}


def _operation(op: dict[str, Any]) -> dict[str, Any]:
    op = copy.deepcopy(op)
    for p in op.get("parameters", []):
        if "schema" in p:
            p["schema"] = _schema(p["schema"])
        if isinstance(p.get("examples"), list):
            p.pop("examples")
    if "requestBody" in op and "content" in op["requestBody"]:
        op["requestBody"]["content"] = _content(op["requestBody"]["content"])
    for resp in op.get("responses", {}).values():
        if "content" in resp:
            resp["content"] = _content(resp["content"])
        if not resp.get("description"):
            resp["description"] = "answer"
    return op


def to_oas30(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (an OpenAPI 3.1 document as FastAPI writes it) as an OpenAPI 3.0.3 document."""
    out = {k: copy.deepcopy(v) for k, v in spec.items() if k not in ("paths", "components", "webhooks",
                                                                     "jsonSchemaDialect")}
    out["openapi"] = "3.0.3"
    out["paths"] = {path: {m: (_operation(op) if isinstance(op, dict) and m != "parameters" else op)
                           for m, op in item.items()} for path, item in spec.get("paths", {}).items()}
    comps = copy.deepcopy(spec.get("components", {}))
    if "schemas" in comps:
        comps["schemas"] = {k: _schema(v) for k, v in comps["schemas"].items()}
    out["components"] = comps
    return out


@router.get("/api", summary="The OpenAPI document in version 3.0 (OGC API clients)",
            responses={200: {"content": {MEDIA_TYPE: {}}}})
def openapi_30(request: Request):
    """Public like ``/openapi.json``: the description of the routes, no data."""
    cached = getattr(request.app.state, "openapi_30", None)
    if cached is None:
        cached = request.app.state.openapi_30 = to_oas30(request.app.openapi())
    return FastJSONResponse(cached, media_type=MEDIA_TYPE)


__all__ = ["MEDIA_TYPE", "router", "to_oas30"]
