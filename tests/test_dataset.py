"""The Dataset model itself: normalisation, derived values, immutability helpers, metric CRS."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo_service.core.crs import geodesic_m
from geo_service.core.dataset import Dataset, DatasetValidationError


def test_every_layer_present_with_declared_columns(tiny):
    from geo_service.core.domain import LAYERS

    for name, spec in LAYERS.items():
        assert set(spec.field_names) <= set(tiny[name].columns), name


def test_aliases_are_canonicalised(tiny_layers):
    tiny_layers["stations"]["kind"] = ["综合型", "界别型委员工作站", "工作室"]
    tiny_layers["members"]["sector"] = ["economy", "经济", "Agriculture", "农业", "医卫", "医疗卫生"]
    ds = Dataset.from_layers(tiny_layers)
    assert list(ds.stations["kind"]) == ["station_comprehensive", "station_sector", "studio"]
    assert list(ds.members["sector"]) == ["经济", "经济", "农业", "农业", "医药卫生", "医药卫生"]


def test_all_problems_reported_at_once(tiny_layers):
    tiny_layers["stations"].loc[0, "kind"] = "castle"
    tiny_layers["villages"].loc[2, "population"] = -5
    tiny_layers["members"].loc[1, "group_id"] = "G404"
    with pytest.raises(DatasetValidationError) as exc:
        Dataset.from_layers(tiny_layers)
    found = {(p.layer, p.feature_id, p.field, p.code) for p in exc.value.problems}
    assert ("stations", "S1", "kind", "unknown_kind") in found
    assert ("villages", "V3", "population", "out_of_range") in found
    assert ("members", "M2", "group_id", "unknown_reference") in found
    assert "3 validation error(s)" in str(exc.value)


def test_constituent_points_fall_back_to_village(tiny):
    pts = tiny.constituent_points()
    v = tiny.villages.set_index("id").geometry
    for cid, vid, p in zip(tiny.constituents["id"], tiny.constituents["village_id"], pts):
        assert p.equals(v[vid]), cid


def test_with_layers_revalidates(tiny):
    bad = tiny.villages.copy()
    bad.loc[0, "township_id"] = "nowhere"
    with pytest.raises(DatasetValidationError):
        tiny.with_layers(villages=bad)
    ok = tiny.villages.copy()
    ok.loc[0, "population"] = 1234
    ds2 = tiny.with_layers(villages=ok)
    assert ds2.fingerprint() != tiny.fingerprint()
    assert ds2.villages.loc[0, "population"] == 1234


def test_fingerprint_is_content_based(tiny_layers):
    a = Dataset.from_layers(tiny_layers)
    b = Dataset.from_layers({k: v.copy() for k, v in tiny_layers.items()})
    assert a.fingerprint() == b.fingerprint()


def test_summary_counts(tiny):
    s = tiny.summary()
    assert s["counts"]["villages"] == 8
    assert s["stations_by_kind"] == {"station_comprehensive": 1, "station_sector": 1, "studio": 1,
                                     "contact_point": 0}
    assert s["population"] == 1000 + 500 + 800 + 200 + 1500 + 300 + 700 + 2500
    assert s["conveners"] == 2


@settings(max_examples=60, deadline=None)
@given(dx1=st.floats(-1.0, 1.0), dy1=st.floats(-0.8, 0.8), dx2=st.floats(-1.0, 1.0), dy2=st.floats(-0.8, 0.8))
def test_metric_crs_distances_match_geodesic_within_half_a_percent(tiny, dx1, dy1, dx2, dy2):
    """Anywhere within ~80 km of the county centre, projected distances are geodesic to 0.5 %."""
    import geopandas as gpd

    lon0, lat0 = tiny.centre
    p = gpd.GeoSeries([Point(lon0 + dx1, lat0 + dy1), Point(lon0 + dx2, lat0 + dy2)], crs=4326)
    xy = p.to_crs(tiny.metric_crs)
    d_proj = float(xy.iloc[0].distance(xy.iloc[1]))
    d_geo = float(geodesic_m(lon0 + dx1, lat0 + dy1, lon0 + dx2, lat0 + dy2))
    if d_geo > 1.0:
        assert abs(d_proj - d_geo) / d_geo < 0.005
    else:
        assert d_proj < 1.5


def test_xy_m_is_metres_from_centre(tiny):
    xy = tiny.xy_m("villages")
    assert xy.shape == (8, 2)
    # villages span 0.17 deg of longitude at ~46.85N: 0.17 * 111.32 km * cos(46.85) = 12.9 km
    assert 12_800 < np.ptp(xy[:, 0]) < 13_100
