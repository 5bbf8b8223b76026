"""No NaN or infinity ever reaches a JSON response: a county with no station at all (every village
is a gap at infinite distance), over HTTP, through the one JSON-safe conversion (orjson)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_service.core import jsonsafe
from conftest import LAT0, LON0, make_tiny_layers
from geo_service.core.dataset import Dataset
from test_api_support import client, hdr, make_app


def strict_json(text: str):
    """Parse ``text`` refusing the non-standard NaN/Infinity tokens Python's json would accept."""
    def refuse(token):
        raise AssertionError(f"non-finite JSON token {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def no_stations() -> Dataset:
    layers = make_tiny_layers()
    layers["stations"] = layers["stations"].iloc[0:0]
    layers["groups"] = layers["groups"].assign(station_id=None)
    return Dataset.from_layers(layers, name="no stations")


@pytest.fixture
def encoder():
    return "orjson"  # a hard dependency: there is no other encoder


@pytest.mark.parametrize("query", ["", "?mode=road", "?sector=农业&gap_threshold=1"])
def test_gaps_without_any_station_are_null_distances(tmp_path, no_stations, encoder, query):
    with client(make_app(tmp_path / "d", no_stations)) as c:
        r = c.get(f"/v1/datasets/tiny/coverage{query}", headers=hdr("viewer"))
        assert r.status_code == 200, r.text
        assert "Infinity" not in r.text and "NaN" not in r.text
        body = strict_json(r.text)
    gaps = body["gaps"]
    assert gaps["count"] == 8 == len(gaps["villages"])  # every village is a gap
    measure, beyond = ("time_s", "beyond_s") if "road" in query else ("distance_m", "beyond_m")
    for v in gaps["villages"]:
        assert v[measure] is None and v[beyond] is None and v["station_id"] is None
        assert v["population"] > 0 and isinstance(v["lon"], float)
    assert all(row["covered_population"] == 0 for row in body["summary"]["total"])


def test_nearest_without_any_station_is_valid_json(tmp_path, no_stations, encoder):
    with client(make_app(tmp_path / "d", no_stations)) as c:
        r = c.get(f"/v1/datasets/tiny/nearest?lon={LON0}&lat={LAT0}", headers=hdr("viewer"))
        assert r.status_code == 200 and strict_json(r.text)["results"] == []
        r = c.post("/v1/datasets/tiny/nearest", json=[[LON0, LAT0], [LON0 + 0.1, LAT0]], headers=hdr("viewer"))
        assert r.status_code == 200
        cols = strict_json(r.text)["columns"]
        assert cols["distance_m"] == [None, None] and cols["station_id"] == [None, None]


def test_problem_documents_never_carry_nan(tmp_path, no_stations, encoder):
    from api.problems import problem_response

    r = problem_response(None, 422, "bad", code="x", value=float("nan"), values=np.array([1.0, np.inf]))
    body = strict_json(r.body.decode())
    assert body["value"] is None and body["values"] == [1.0, None]
    assert r.media_type == "application/problem+json"


finite_or_not = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10), st.none(),
                          st.text(max_size=3))
nested = st.recursive(finite_or_not, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                             st.dictionaries(st.text(max_size=3), kids, max_size=4)),
                      max_leaves=20)


@settings(max_examples=60, deadline=None)
@given(nested, st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5))
def test_jsonsafe_turns_non_finite_numbers_into_null(obj, arr):
    doc = {"o": obj, "a": np.array(arr, dtype=np.float64), "s": np.float32("nan"), "i": np.float64("-inf")}
    for out in (strict_json(jsonsafe.dumps(doc).decode()), strict_json(json.dumps(jsonsafe.to_jsonable(doc)))):
        assert out["s"] is None and out["i"] is None
        assert out["a"] == [x if math.isfinite(x) else None for x in arr]
