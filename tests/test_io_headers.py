"""Header and layer-name aliases: what users type in spreadsheets maps onto the schema."""

from __future__ import annotations

import pytest

from geo_service.core.io.headers import canonical_headers, canonical_layer, output_headers


@pytest.mark.parametrize("layer,headers,expected", [
    ("villages", ["代码", "名称", "乡镇", "人口", "经度", "纬度"],
     ["id", "name", "township_id", "population", "lon", "lat"]),
    ("villages", ["ID", "Name", "Township", "Population", "Longitude", "Latitude"],
     ["id", "name", "township_id", "population", "lon", "lat"]),
    ("townships", ["编号", "乡镇", "lng", "lat"], ["id", "name", "lon", "lat"]),  # 乡镇 is its own name here
    ("stations", ["编号", "站点名称", "类型", "界别", "容量", "乡镇"],
     ["id", "name", "kind", "sectors", "capacity", "township_id"]),
    ("members", ["编号", "姓名", "界别", "活动组", "专委会", "角色", "站点", "村"],
     ["id", "name", "sector", "group_id", "committee_id", "role", "station_id", "village_id"]),
    ("groups", ["编号", "活动组", "界别列表", "召集人"], ["id", "name", "sectors", "convener_id"]),
    ("roads", ["编号", "等级", "速度"], ["id", "class", "speed_kmh"]),
    ("roads", ["id", "class", "speed_kmh", "wkt_2"], ["id", "class", "speed_kmh", "wkt_2"]),
    ("villages", ["township_i", "urban_rura"], ["township_id", "urban_rural_class"]),  # Shapefile cuts
])
def test_canonical_headers(layer, headers, expected):
    rename = canonical_headers(layer, headers)
    assert [rename.get(h, h) for h in headers] == expected


def test_first_alias_wins_and_unknown_headers_stay():
    rename = canonical_headers("villages", ["名称", "name", "备注"])
    assert rename == {"名称": "name"}


@pytest.mark.parametrize("name,layer", [
    ("站点", "stations"), ("工作站", "stations"), ("村", "villages"), ("村社区", "villages"),
    ("乡镇", "townships"), ("委员", "members"), ("活动组", "groups"), ("界别活动组", "groups"),
    ("专委会", "committees"), ("群众", "constituents"), ("界别群众", "constituents"), ("道路", "roads"),
    ("区县", "counties"), ("Stations", "stations"), ("villages_2024", "villages"),
    ("county_boundary_gcj02", "counties"), ("乡镇街道", "townships"), ("notes", None), ("README", None),
])
def test_canonical_layer(name, layer):
    assert canonical_layer(name) == layer


def test_output_headers():
    assert output_headers(["id", "lon", "extra"], "zh") == {"id": "编号", "lon": "经度"}
    assert output_headers(["id"], "en") == {}
    with pytest.raises(ValueError):
        output_headers(["id"], "de")
