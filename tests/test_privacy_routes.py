"""The one personal-fields rule (api/privacy.py) on every route: each GET operation of the app, with
every format it offers, is called as an anonymous caller, a viewer and a planner; no answer to the
first two holds a constituent's name or phone or a member's home point. A route this walk cannot
fill in fails the test, so a new route is walked as soon as it exists."""

from __future__ import annotations

import io
import re
import time
import zipfile

import pytest
from conftest import LAT0, LON0, make_tiny_layers
from test_api_support import client, hdr, make_app

from geo_service.core.dataset import Dataset

pytestmark = pytest.mark.slow

LAYERS = make_tiny_layers()
PHONES = [p for p in LAYERS["constituents"]["phone"]]
NAMES = [n for n in LAYERS["constituents"]["name"]]
HOMES = [(round(g.x, 4), round(g.y, 4)) for g in LAYERS["members"].geometry]
#: path and required query parameters, by name
def _tile(z: int) -> list[int]:
    """The WebMercatorQuad tile (z, y, x) holding the tiny county's corner."""
    import math

    n = 2 ** z
    x = int((LON0 + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(LAT0))) / math.pi) / 2 * n)
    return [z, y, x]


TILE = _tile(9)
PATH_VALUES = {"dataset_id": ["tiny"], "batch_id": ["nobatch"], "job_id": ["@opt", "@roster"],
               "feature_id": ["@feature"], "ticket": ["noticket"], "activity_id": ["noactivity"],
               "station_id": [str(LAYERS["stations"]["id"].iloc[0])],
               "collection_id": ["villages", "stations", "members", "constituents", "groups", "coverage", "zones",
                                 "contact_points", "proposals", "duty"],
               "process_id": ["optimisation", "roster", "close-gaps", "batch"],
               "z": [TILE[0]], "y": [TILE[1]], "x": [TILE[2]]}
QUERY_VALUES = {"lon": LON0 + 0.05, "lat": LAT0 + 0.05, "bbox": f"{LON0},{LAT0},{LON0 + 0.2},{LAT0 + 0.1}",
                "against": "@opt", "period": "2027", "year": 2027}
#: routes outside the OpenAPI document that answer GET (the page and its parts)
PAGES = ["/", "/login", "/static/page.js"]


def _texts(r) -> str:
    """Everything readable in an answer: text, or the text members of a zip/xlsx."""
    data = r.content
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
    return data.decode("utf-8", "replace")


def leaks(text: str) -> list[str]:
    """The personal data found in ``text``."""
    found = [p for p in PHONES if p in text] + [n for n in NAMES if re.search(re.escape(n) + r"(?!\d)", text)]
    for x, y in HOMES:
        fx, fy = (re.escape(f"{v:.4f}".rstrip("0").rstrip(".")) for v in (x, y))
        pats = [rf"{fx}\d*\s*,\s*{fy}", rf"{fy}\d*\s*,\s*{fx}"]
        if any(re.search(p, text) for p in pats):
            found.append(f"home {x},{y}")
    return found


def _calls(app, jobs: dict[str, str]):
    """(url, params) of every GET operation, each format and enum value of its path parameters."""
    spec = app.openapi()
    for path, ops in spec["paths"].items():
        op = ops.get("get")
        if op is None:
            continue
        combos = [({}, {})]
        for p in op.get("parameters", []):
            schema = p.get("schema", {})
            enum = schema.get("enum") or next((x["enum"] for x in schema.get("anyOf", []) if "enum" in x), None)
            if p["in"] == "path":
                values = enum or PATH_VALUES.get(p["name"])
                assert values, f"the privacy walk cannot fill path parameter {p['name']} of {path}"
                combos = [({**a, p["name"]: v}, q) for a, q in combos for v in values]
            elif p["name"] == "format" and enum:
                combos = [(a, {**q, "format": v}) for a, q in combos for v in enum]
            elif p.get("required"):
                assert p["name"] in QUERY_VALUES, f"the privacy walk cannot fill query {p['name']} of {path}"
                combos = [(a, {**q, p["name"]: QUERY_VALUES[p["name"]]}) for a, q in combos]
        for a, q in combos:
            a = {k: jobs.get(v, v) for k, v in a.items()}
            q = {k: jobs.get(v, v) if isinstance(v, str) else v for k, v in q.items()}
            url = path
            for k, v in a.items():
                if v == "@feature":  # the layer's first feature (result collections: a village's)
                    layer = a.get("layer") or a.get("collection_id")
                    v = LAYERS[layer if layer in LAYERS else "villages"]["id"].iloc[0]
                url = url.replace("{" + k + "}", str(v))
            yield url, q
    for page in PAGES:
        yield page, {}


def _finish(c, url: str, body: dict) -> str:
    job = c.post(url, json=body, headers=hdr("planner")).json()
    for _ in range(600):
        j = c.get(f"/v1/jobs/{job['id']}", headers=hdr("planner")).json()
        if j["status"] in ("successful", "failed"):
            assert j["status"] == "successful", j
            return job["id"]
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_every_route_keeps_personal_fields_from_viewers_and_anonymous(tmp_path):
    app = make_app(tmp_path / "d", Dataset.from_layers(make_tiny_layers(), name="tiny"))
    with client(app) as c:
        jobs = {"@opt": _finish(c, "/v1/datasets/tiny/optimisations", {"time_limit_s": 20}),
                "@roster": _finish(c, "/v1/datasets/tiny/rosters", {"months": 2, "time_limit_s": 10})}
        walked, planner_leaks, bad = 0, [], []
        for url, params in _calls(app, jobs):
            for role in (None, "viewer", "planner"):
                r = c.get(url, params=params, headers={**hdr(role), "Accept": "*/*"})
                assert r.status_code < 500, (role, url, params, r.text[:300])
                found = leaks(_texts(r))
                if role == "planner":
                    planner_leaks += found
                elif found:
                    bad.append((role, url, params, r.status_code, found[:3]))
            walked += 1
    assert walked > 40
    assert not bad, bad
    # the walk can see personal data where it is allowed: the rule is what keeps it from the others
    assert any(p in planner_leaks for p in PHONES) and any(h.startswith("home") for h in planner_leaks)
