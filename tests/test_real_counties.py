"""The whole command-line pipeline on five real counties (../shared/real), figures checked independently.

For each county: import (GCJ-02, rows without coordinates dropped), a comprehensive station at every
township seat that has coordinates, coverage, close-gaps, the coverage map, and optimise with
generated members/constituents, all through the CLI (typer's CliRunner). The test recomputes the
covered-village counts itself with the haversine formula on the raw GCJ-02 coordinates (the datum
shift is nearly uniform over a county: villages within 100 m of a threshold count as ambiguous).
Skips cleanly when the data is absent.
"""

from __future__ import annotations

import csv
import json
import math
import zlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.core.crs import gcj02_to_wgs84
from shared_data import require_shared, shared_path
from test_api_support import client, hdr, make_app

REAL = shared_path("real")
COUNTIES = ["chongyang", "dingri", "dongcheng", "shaoyang", "horqin-left-middle"]
THRESHOLDS = (5000.0, 10000.0, 20000.0)
AMBIGUOUS_M = 100.0
SECTORS = ("经济", "农业", "教育")
runner = CliRunner()


def haversine_m(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(h))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def _located(rows):
    return [r for r in rows if r.get("经度", "").strip() and r.get("纬度", "").strip()]


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _cli(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, f"{args}: {r.output}"
    return r.stdout


def _nearest_m(v_lon, v_lat, s_lon, s_lat) -> np.ndarray:
    if not len(s_lon):
        return np.full(len(v_lon), np.inf)
    return haversine_m(np.asarray(v_lon)[:, None], np.asarray(v_lat)[:, None],
                       np.asarray(s_lon)[None, :], np.asarray(s_lat)[None, :]).min(axis=1)


def _check_count(got: int, d: np.ndarray, thr: float, what: str) -> None:
    want = int((d <= thr).sum())
    ambiguous = int((np.abs(d - thr) < AMBIGUOUS_M).sum())
    assert abs(got - want) <= ambiguous, f"{what} at {thr:g} m: CLI {got}, haversine {want} (±{ambiguous})"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("real-store")


@pytest.mark.parametrize("county", COUNTIES)
def test_county_pipeline(county, store, tmp_path, monkeypatch):
    src = REAL / county
    require_shared(src / "villages.csv", "real county data")
    monkeypatch.chdir(tmp_path)
    data = ["--data-dir", str(store)]
    villages, townships = _rows(src / "villages.csv"), _rows(src / "townships.csv")
    vloc, seats = _located(villages), _located(townships)
    v_lon = np.array([float(r["经度"]) for r in vloc])
    v_lat = np.array([float(r["纬度"]) for r in vloc])

    # a comprehensive station at every seat with coordinates; the file has no id and no 界别 column
    st = _write(tmp_path / "stations.csv", ["名称", "类型", "乡镇", "经度", "纬度"],
                [[f"{t['名称']}综合型委员工作站", "综合型", t["名称"], t["经度"], t["纬度"]] for t in seats])
    s_lon = np.array([float(t["经度"]) for t in seats])
    s_lat = np.array([float(t["纬度"]) for t in seats])
    layers = ["--layer", f"villages={src / 'villages.csv'}", "--layer", f"townships={src / 'townships.csv'}",
              "--layer", "stations=stations.csv"]  # relative to the current directory
    if (src / "county_boundary_gcj02.json").exists():
        layers += ["--layer", f"counties={src / 'county_boundary_gcj02.json'}"]
    out = json.loads(_cli("import", "--name", county, "--datum", "gcj02", "--missing-points", "drop",
                          *layers, *data, "--json"))
    counts = out["dataset"]["counts"]
    assert counts["villages"] == len(vloc) and counts["stations"] == len(seats) == len(st.read_text().splitlines()) - 1

    # coverage: shares of villages (no population), counts as the haversine says
    d = _nearest_m(v_lon, v_lat, s_lon, s_lat)
    cov = json.loads(_cli("coverage", county, "--level", "total", *data, "--json"))
    assert cov["weight"] == "villages" and cov["weight_note"]
    for row in cov["total"]:
        assert row["villages"] == len(vloc)
        _check_count(row["covered_villages"], d, row["threshold"], f"{county} coverage")
        assert row["share"] == pytest.approx(row["covered_villages"] / len(vloc))
    covered_10k = next(r["covered_villages"] for r in cov["total"] if r["threshold"] == 10000)

    # the API says the same
    with client(make_app(store)) as c:
        r = c.get(f"/v1/datasets/{county}/coverage", headers=hdr("viewer"))
        assert r.status_code == 200, r.text
        api = r.json()
        assert api["weight"] == "villages"
        assert [x["covered_villages"] for x in api["summary"]["total"]] == [x["covered_villages"] for x in cov["total"]]
        r = c.get(f"/v1/datasets/{county}/nearest", params={"lon": 45, "lat": 0}, headers=hdr("viewer"))
        assert r.status_code == 200 and r.json()["outside_dataset"] is True

    # close-gaps: the same counts before; every village within 10 km after (every village is a candidate)
    gaps = json.loads(_cli("close-gaps", county, "--time-limit", "20", "--out", "proposals/", *data, "--json"))
    assert gaps["weight"] == "villages"
    row = next(r for r in gaps["coverage"] if r["threshold"] == 10000)
    assert row["covered_before"] == covered_10k and row["villages_uncovered_before"] == len(vloc) - covered_10k
    assert row["share_before"] == pytest.approx(covered_10k / len(vloc))
    uncovered_before = len(vloc) - covered_10k
    assert (len(gaps["proposed"]) > 0) == (uncovered_before > 0)  # never a false "all covered"
    assert gaps["status"] in ("optimal", "feasible") and row["share_after"] == 1.0
    fc = json.loads((tmp_path / "proposals" / "proposals.geojson").read_text(encoding="utf-8"))
    p_lon = [f["geometry"]["coordinates"][0] for f in fc["features"]]
    p_lat = [f["geometry"]["coordinates"][1] for f in fc["features"]]
    w_vlon, w_vlat = gcj02_to_wgs84(v_lon, v_lat)
    w_slon, w_slat = gcj02_to_wgs84(s_lon, s_lat)
    after = _nearest_m(w_vlon, w_vlat, np.r_[w_slon, p_lon], np.r_[w_slat, p_lat])
    assert (after <= 10000 + 1.0).all()

    # the coverage map: its summary panel gives the same covered count and share at 10 km
    _cli("map", county, "--out", "maps/", *data)
    html = (tmp_path / "maps" / "coverage.html").read_text(encoding="utf-8")
    assert f"<td>{covered_10k:,}</td><td>{100.0 * covered_10k / len(vloc):.1f}%</td>" in html
    assert "村数" in html

    # optimise with generated members (3 per sector at stations) and constituents (10 per member)
    rng = np.random.default_rng(zlib.crc32(county.encode()))  # the same seed in every process
    members, groups = [], []
    for si, sec in enumerate(SECTORS):
        groups.append([f"G{si + 1}", f"{sec}界别活动组", sec])
        for j in range(3):
            t = seats[(si * 3 + j) % len(seats)]
            members.append([f"M{si * 3 + j + 1:02d}", f"委员{si * 3 + j + 1}", sec, f"G{si + 1}",
                            f"K{j % 2 + 1}", float(t["经度"]) + rng.uniform(-0.01, 0.01),
                            float(t["纬度"]) + rng.uniform(-0.01, 0.01)])
    _write(tmp_path / "members.csv", ["编号", "姓名", "界别", "活动组", "专委会", "经度", "纬度"], members)
    _write(tmp_path / "groups.csv", ["编号", "名称", "界别"], groups)
    _write(tmp_path / "committees.csv", ["编号", "名称"], [["K1", "经济委员会"], ["K2", "农业农村委员会"]])
    picks = rng.choice(len(vloc), size=len(members) * 10, replace=True)
    cons = [[f"P{i + 1:04d}", SECTORS[i % 3], vloc[v]["代码"]] for i, v in enumerate(picks)]
    _write(tmp_path / "constituents.csv", ["编号", "界别", "村"], cons)
    layers += ["--layer", "members=members.csv", "--layer", "groups=groups.csv",
               "--layer", "committees=committees.csv", "--layer", "constituents=constituents.csv"]
    _cli("import", "--name", county, "--datum", "gcj02", "--missing-points", "drop", "--replace", *layers, *data)
    res = json.loads(_cli("optimise", county, "--out", "result/", *data, "--json"))
    assert res["outcome"]["outcome"] in ("optimal", "relaxed", "feasible") and res["status"] != "nothing_to_do"
    result = json.loads((tmp_path / "result" / "result.json").read_text(encoding="utf-8"))
    assign = result["tiers"]["constituents"]["assignment"]
    m_sector = {m[0]: m[2] for m in members}
    assert len(assign) == len(cons)
    assert all(m_sector[assign[c[0]]] == c[1] for c in cons)  # each with a member of their sector
    loads = np.bincount([int(assign[c[0]][1:]) for c in cons], minlength=len(members) + 1)[1:]
    assert loads.min() >= 8 and loads.max() <= 12
    assert set(result["tiers"]["stations"]["assignment"]) == {"G1", "G2", "G3"}
    assert math.isfinite(result["time_s"])
