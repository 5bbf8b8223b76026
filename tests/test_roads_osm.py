"""Roads as people have them: Geofabrik shapefiles and .osm.pbf extracts as the roads layer,
road-mode coverage checked against networkx shortest paths on the same grid."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import LineString
from typer.testing import CliRunner

from geo_service.core.coverage import coverage_summary, last_mile
from geo_service.core.crs import geodesic_m
from geo_service.core.io import read_dataset, read_layers_from_files
from geo_service.core.network import RoadNetwork

LON0, LAT0, STEP, N = 114.0, 29.5, 0.01, 5
H_KMH, V_KMH = 60.0, 30.0  # rows: primary with maxspeed 60 or 0 (unknown: the class's 60); columns: residential
STATIONS = [(0, 0), (4, 4)]
# one-way roads of the second grid: row 1 only eastward (F, as digitised), row 3 only westward (T),
# column 2 only northward (F)
ONEWAY = {("row", 1): "F", ("row", 3): "T", ("col", 2): "F"}
THRESHOLDS_S = (60.0, 120.0, 180.0, 300.0)


def node(i, j):
    return (round(LON0 + i * STEP, 6), round(LAT0 + j * STEP, 6))


def write_tables(folder):
    folder.mkdir(exist_ok=True)
    rows = ["编号,名称,乡镇,经度,纬度"] + [f"V{i}{j},村{i}{j},镇,{node(i, j)[0]},{node(i, j)[1]}"
                                           for i in range(N) for j in range(N)]
    (folder / "villages.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "townships.csv").write_text(f"名称,经度,纬度\n镇,{node(2, 2)[0]},{node(2, 2)[1]}\n", encoding="utf-8")
    st = ["名称,类型,经度,纬度"] + [f"站{k},综合型,{node(*s)[0]},{node(*s)[1]}" for k, s in enumerate(STATIONS)]
    (folder / "stations.csv").write_text("\n".join(st) + "\n", encoding="utf-8")


def grid_lines(oneway=None):
    """(osm_id, fclass, maxspeed, oneway, line) for the grid: rows primary, columns residential."""
    ow = oneway or {}
    out = []
    for j in range(N):
        out.append((1000 + j, "primary", 60 if j % 2 else 0, ow.get(("row", j), "B"),
                    LineString([node(i, j) for i in range(N)])))
    for i in range(N):
        out.append((2000 + i, "residential", 0, ow.get(("col", i), "B"), LineString([node(i, j) for j in range(N)])))
    return out


def write_geofabrik(folder, oneway=None):
    lines = grid_lines(oneway)
    gdf = gpd.GeoDataFrame({
        "osm_id": [str(x[0]) for x in lines], "code": [5113 if x[1] == "primary" else 5122 for x in lines],
        "fclass": [x[1] for x in lines], "name": ["路"] * len(lines), "ref": [None] * len(lines),
        "oneway": [x[3] for x in lines], "maxspeed": [x[2] for x in lines], "layer": [0] * len(lines),
        "bridge": ["F"] * len(lines), "tunnel": ["F"] * len(lines)},
        geometry=[x[4] for x in lines], crs="EPSG:4326")
    gdf.to_file(folder / "gis_osm_roads_free_1.shp", encoding="utf-8")


def write_pbf(path, far_way=True, oneway=None):
    import osmium
    from osmium.osm.mutable import Node, Way

    w = osmium.SimpleWriter(str(path))
    ids = {}
    for i in range(N):
        for j in range(N):
            ids[i, j] = len(ids) + 1
            w.add_node(Node(id=ids[i, j], location=node(i, j), tags={}))
    w.add_node(Node(id=900, location=(120.0, 40.0), tags={}))
    w.add_node(Node(id=901, location=(120.01, 40.0), tags={}))
    tag = {"F": {"oneway": "yes"}, "T": {"oneway": "-1"}, "B": {}}
    ow = oneway or {}
    for j in range(N):
        tags = {"highway": "primary", **({"maxspeed": "60"} if j % 2 else {}), **tag[ow.get(("row", j), "B")]}
        w.add_way(Way(id=1000 + j, nodes=[ids[i, j] for i in range(N)], tags=tags))
    for i in range(N):
        w.add_way(Way(id=2000 + i, nodes=[ids[i, j] for j in range(N)],
                      tags={"highway": "residential", **tag[ow.get(("col", i), "B")]}))
    if far_way:
        w.add_way(Way(id=3000, nodes=[900, 901], tags={"highway": "primary"}))  # another province: clipped
    w.add_way(Way(id=3001, nodes=[ids[0, 0], ids[1, 1]], tags={"building": "yes"}))  # not a road
    w.close()


def networkx_times(oneway=None):
    """Seconds from every grid node to its nearest station, by networkx on geodesic edge lengths
    (one-way roads as directed edges), or a straight walk at 5 km/h where quicker."""
    ow = oneway or {}
    g = nx.DiGraph()

    def add(p, q, w, how):
        if how in ("F", "B"):
            g.add_edge(p, q, w=w)
        if how in ("T", "B"):
            g.add_edge(q, p, w=w)

    for j in range(N):
        for i in range(N - 1):
            add((i, j), (i + 1, j), float(geodesic_m(*node(i, j), *node(i + 1, j))) / (H_KMH / 3.6),
                ow.get(("row", j), "B"))
    for i in range(N):
        for j in range(N - 1):
            add((i, j), (i, j + 1), float(geodesic_m(*node(i, j), *node(i, j + 1))) / (V_KMH / 3.6),
                ow.get(("col", i), "B"))
    d = nx.multi_source_dijkstra_path_length(g.reverse(), set(STATIONS), weight="w")  # node -> station
    walk = {(i, j): min(float(geodesic_m(*node(i, j), *node(*s_))) for s_ in STATIONS) / (5 / 3.6)
            for i in range(N) for j in range(N)}
    return {f"V{i}{j}": min(d.get((i, j), np.inf), walk[i, j]) for i in range(N) for j in range(N)}


def check_road_coverage(ds, oneway=None):
    assert len(ds.roads) == 2 * N
    want = networkx_times(oneway)
    net = RoadNetwork.from_dataset(ds)
    lm = last_mile(ds, net)
    got = dict(zip(lm["village_id"], lm["nearest_s"]))
    matrix = net.travel_time_matrix(ds.villages.geometry, ds.stations.geometry).min(axis=1)  # close-gaps' costs
    for vid, t, m in zip(ds.villages["id"], [want[v] for v in ds.villages["id"]], matrix):
        assert got[vid] == pytest.approx(t, rel=0.002, abs=0.5), vid
        assert m == pytest.approx(t, rel=0.002, abs=0.5), vid
    s = coverage_summary(ds, mode="road", thresholds_s=THRESHOLDS_S)
    w = np.array(list(want.values()))
    for row in s["total"]:
        thr = row["threshold"]
        amb = int((np.abs(w - thr) < 1.0).sum())
        assert abs(row["covered_villages"] - int((w <= thr).sum())) <= amb


def test_geofabrik_shapefile_is_the_roads_layer(tmp_path):
    write_tables(tmp_path)
    write_geofabrik(tmp_path)
    ds = read_dataset(tmp_path)  # found by its Geofabrik name; code 5113 is not the id
    r = ds.roads.set_index("id")
    assert sorted(r.index) == sorted(str(x[0]) for x in grid_lines())
    assert r.loc["1000", "class"] == "primary" and r.loc["1000", "speed_kmh"] == 60.0  # maxspeed 0: by class
    assert r.loc["2000", "speed_kmh"] == 30.0 and set(r["oneway"]) == {"B"}
    check_road_coverage(ds)


def test_geofabrik_roads_any_name_and_not_shifted_by_the_datum(tmp_path):
    write_tables(tmp_path)
    write_geofabrik(tmp_path)
    (tmp_path / "gis_osm_roads_free_1.shp").rename(tmp_path / "osm.shp")
    for side in tmp_path.glob("gis_osm_roads_free_1.*"):
        side.rename(tmp_path / f"osm{side.suffix}")
    files = {"villages": "villages.csv", "townships": "townships.csv", "roads": "osm.shp"}
    ds = read_layers_from_files(files, base=tmp_path, datum="gcj02")
    assert ds.roads.geometry.iloc[0].coords[0] == pytest.approx(node(0, 0))  # OSM is WGS-84: unshifted
    assert abs(ds.villages.geometry.iloc[0].x - LON0) > 1e-4  # the county's own table is GCJ-02: shifted


def test_osm_pbf_clipped_to_the_dataset(tmp_path):
    pytest.importorskip("osmium")
    write_tables(tmp_path)
    write_pbf(tmp_path / "hubei-latest.osm.pbf")
    files = {"villages": "villages.csv", "townships": "townships.csv", "stations": "stations.csv",
             "roads": "hubei-latest.osm.pbf"}
    ds = read_layers_from_files(files, base=tmp_path)
    assert "3000" not in set(ds.roads["id"]) and "3001" not in set(ds.roads["id"])
    check_road_coverage(ds)


def test_cli_import_layer_roads_any_file(tmp_path, monkeypatch):
    pytest.importorskip("osmium")
    from geo_service.cli import app

    write_tables(tmp_path)
    write_pbf(tmp_path / "extract.osm.pbf")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["import", "--name", "grid", "--layer", "villages=villages.csv", "--layer",
                                 "townships=townships.csv", "--layer", "stations=stations.csv", "--layer",
                                 "roads=extract.osm.pbf", "--data-dir", "var"])
    assert r.exit_code == 0, r.output
    assert "道路 10" in r.stdout
    r = CliRunner().invoke(app, ["coverage", "grid", "--mode", "road", "--thresholds", "60,300", "--level", "total",
                                 "--data-dir", "var", "--json"])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("source", ["shp", "pbf"])
def test_oneway_roads_are_honoured(tmp_path, source):
    write_tables(tmp_path)
    if source == "shp":
        write_geofabrik(tmp_path, ONEWAY)
        ds = read_dataset(tmp_path)
    else:
        pytest.importorskip("osmium")
        write_pbf(tmp_path / "x.osm.pbf", oneway=ONEWAY)
        ds = read_layers_from_files({"villages": "villages.csv", "townships": "townships.csv",
                                     "stations": "stations.csv", "roads": "x.osm.pbf"}, base=tmp_path)
    assert sorted(ds.roads["oneway"]) == sorted(["F", "T", "F"] + ["B"] * (2 * N - 3))
    two_way, one_way = networkx_times(), networkx_times(ONEWAY)
    assert any(abs(one_way[v] - two_way[v]) > 10 for v in two_way)  # the grid is built so it matters
    check_road_coverage(ds, ONEWAY)
