"""Village lists over HTTP and the CLI: the import report, placing a village, the 待补坐标 round trip.

A real county (Chongyang, ../shared/real) with 90 % of its coordinates removed is uploaded as a zip;
the upload answers the import report; coverage says what it stands on; a planner places a village
with a GCJ-02 click (the version grows, the village is ``placed``, coverage changes) and undoes it;
the 待补坐标 workbook goes out, is filled, and comes back naming the rows it cannot use. The CLI does
the same round trip and uses the stored dataset of a name before a folder of that name.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geo_service.cli import app as cli_app
from geo_service.core.crs import gcj02_to_wgs84
from test_api_support import client, hdr, make_app
from test_villages_real import REAL, county_files

pytestmark = [pytest.mark.skipif(not (REAL / "chongyang" / "villages.csv").exists(),
                                 reason="real county data not present"),
              pytest.mark.slow]  # each > 3 s: an app and a real county per test
runner = CliRunner()


@pytest.fixture
def county(tmp_path) -> tuple[Path, dict]:
    folder = tmp_path / "chongyang"
    folder.mkdir()
    info = county_files(folder, "chongyang", 0.9, seed=5)
    return folder, info


def _zip(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(folder.glob("*.csv")):
            zf.write(p, p.name)
    return buf.getvalue()


def _covered(c, dataset: str, threshold: float = 5000.0) -> dict:
    r = c.get(f"/v1/datasets/{dataset}/coverage", headers=hdr("viewer"))
    assert r.status_code == 200, r.text
    s = r.json()["summary"]
    return next(x for x in s["total"] if x["threshold"] == threshold) | {"sources": s["location_sources"],
                                                                         "unlocated": s["unlocated"]}


def test_upload_report_place_and_undo_over_http(county, tmp_path):
    folder, info = county
    with client(make_app(tmp_path / "store")) as c:
        r = c.post("/v1/datasets", files={"file": ("cy.zip", _zip(folder))}, data={"id": "cy", "datum": "gcj02"},
                   headers=hdr("admin"))
        assert r.status_code == 201, r.text
        rep = r.json()["import_report"]
        want = {s: info["expect"].count(s) for s in ("given", "township_seat", "township_centre", "unknown")}
        assert {s: rep["by_source"][s] for s in want} == want and rep["datum"] == "gcj02"
        assert r.json()["location_line"].startswith(f"{len(info['villages'])} 个村社区")
        before = _covered(c, "cy")
        assert before["sources"]["given"] == want["given"] and before["unlocated"] == [
            v["代码"] for v, e in zip(info["villages"], info["expect"]) if e == "unknown"]

        # a planner places the unlocated industrial-park village at a station (a click on Gaode tiles)
        vid = before["unlocated"][0]
        seat = info["seats"][0]
        url = f"/v1/datasets/cy/villages/{vid}"
        etag = c.get(url, headers=hdr("viewer")).headers["etag"]
        click = {"lon": float(seat["经度"]), "lat": float(seat["纬度"]), "datum": "gcj02"}
        assert c.post(f"{url}/place", json=click, headers=hdr("planner")).status_code == 428  # If-Match first
        assert c.post(f"{url}/place", json=click, headers={**hdr("viewer"), "If-Match": etag}).status_code == 403
        r = c.post(f"{url}/place", json=click, headers={**hdr("planner"), "If-Match": etag})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["dataset_version"] == 2 and body["feature"]["properties"]["location_source"] == "placed"
        assert body["previous"] == {"lon": None, "lat": None, "datum": "gcj02", "location_source": "unknown"}
        lon, lat = body["feature"]["geometry"]["coordinates"]
        wl, wt = gcj02_to_wgs84(click["lon"], click["lat"])  # stored in WGS-84
        assert abs(lon - float(wl)) < 1e-7 and abs(lat - float(wt)) < 1e-7
        after = _covered(c, "cy")
        assert after["covered_villages"] == before["covered_villages"] + 1
        assert after["covered_given_villages"] == before["covered_given_villages"] + 1  # placed is its own point
        assert vid not in after["unlocated"] and after["sources"]["placed"] == 1
        # a stale ETag is refused; undo with the previous answer
        assert c.post(f"{url}/place", json=click, headers={**hdr("planner"), "If-Match": etag}).status_code == 412
        r = c.post(f"{url}/place", json=body["previous"], headers={**hdr("planner"), "If-Match": r.headers["etag"]})
        assert r.status_code == 200 and r.json()["dataset_version"] == 3
        assert _covered(c, "cy")["unlocated"] == before["unlocated"]
        # the admin's feature edit takes the datum too; a moved village is placed
        etag = c.get(url, headers=hdr("viewer")).headers["etag"]
        r = c.patch(f"{url}?datum=gcj02", json={"type": "Feature", "geometry": {"type": "Point", "coordinates": [
            click["lon"], click["lat"]]}}, headers={**hdr("admin"), "If-Match": etag})
        assert r.status_code == 200 and r.json()["properties"]["location_source"] == "placed"
        # bad input: a problem naming the field, never a 500
        r = c.post(f"{url}/place", json={"lon": 500, "lat": 30}, headers={**hdr("planner"), "If-Match": "x"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")


def _fill(data: bytes, rows: dict[int, tuple]) -> bytes:
    book = pd.read_excel(io.BytesIO(data), sheet_name=None, dtype=object)
    name = next(n for n in book if n != "说明")
    df = book[name]
    for i, (x, y) in rows.items():
        df.loc[i, "补填经度"], df.loc[i, "补填纬度"] = x, y
    out = io.BytesIO()
    with pd.ExcelWriter(out) as xw:
        df.to_excel(xw, sheet_name=name, index=False)
    return out.getvalue()


def test_fill_sheet_round_trip_over_http(county, tmp_path):
    folder, info = county
    with client(make_app(tmp_path / "store")) as c:
        assert c.post("/v1/datasets", files={"file": ("cy.zip", _zip(folder))}, data={"id": "cy", "datum": "gcj02"},
                      headers=hdr("admin")).status_code == 201
        r = c.get("/v1/datasets/cy/fill-sheet.xlsx", headers=hdr("planner"))
        assert r.status_code == 200, r.text
        sheet = pd.read_excel(io.BytesIO(r.content), sheet_name="待补坐标", dtype=object)
        lacking = [v["代码"] for v, e in zip(info["villages"], info["expect"]) if e != "given"]
        assert sheet["编号"].astype(str).tolist() == lacking and set(sheet["坐标系"]) == {"gcj02"}
        seat = sheet.dropna(subset=["经度"]).iloc[0]  # an approximate village shows its seat, in GCJ-02
        t = next(t for t in info["towns"] if t["名称"] == seat["乡镇"])
        assert abs(float(seat["经度"]) - float(t["经度"])) < 1e-6
        filled = _fill(r.content, {0: (114.05, 29.55), 1: ("东经114", 29.5), 2: (10.0, 29.5), 3: (114.1, None)})
        assert c.post("/v1/datasets/cy/fill-sheet", content=filled, headers=hdr("viewer")).status_code == 403
        r = c.post("/v1/datasets/cy/fill-sheet", content=filled, headers=hdr("planner"))
        assert r.status_code == 200, r.text
        rep = r.json()
        assert rep["updated"] == 1 and rep["updated_ids"] == [lacking[0]] and rep["dataset_version"] == 2
        assert [(p["row"], p["feature_id"]) for p in rep["skipped"]] == [(3, lacking[1]), (4, lacking[2]),
                                                                         (5, lacking[3])]
        v = c.get(f"/v1/datasets/cy/villages/{lacking[0]}", headers=hdr("viewer")).json()
        assert v["properties"]["location_source"] == "placed"
        wl, wt = gcj02_to_wgs84(114.05, 29.55)
        assert np.allclose(v["geometry"]["coordinates"], [float(wl), float(wt)], atol=1e-7)
        # a workbook with no usable row stores nothing and lists every problem
        r = c.post("/v1/datasets/cy/fill-sheet", content=b"junk", headers=hdr("planner"))
        assert r.status_code == 422
        bad = _fill(c.get("/v1/datasets/cy/fill-sheet.xlsx", headers=hdr("planner")).content, {0: ("x", "y")})
        r = c.post("/v1/datasets/cy/fill-sheet", content=bad, headers=hdr("planner"))
        assert r.status_code == 422 and r.json()["errors"][0]["row"] == 2
        assert c.get("/v1/datasets/cy", headers=hdr("viewer")).json()["version"] == 2


def _cli(*args: str) -> str:
    r = runner.invoke(cli_app, list(args))
    assert r.exit_code == 0, f"{args}: {r.output}"
    return r.output


def test_cli_report_fill_round_trip_and_name_before_folder(county, tmp_path, monkeypatch):
    folder, info = county
    monkeypatch.chdir(tmp_path)
    data = ["--data-dir", str(tmp_path / "store")]
    out = json.loads(runner.invoke(cli_app, ["import", str(folder), "--name", "chongyang", "--datum", "gcj02",
                                             *data, "--json"]).stdout)
    assert out["import_report"]["by_source"]["given"] == info["expect"].count("given")
    s = _cli("summary", "chongyang", *data)
    assert f"{len(info['villages'])} 个村社区：{info['expect'].count('given')} 个有坐标" in s and "导入：" in s
    # ``chongyang`` names both the stored dataset and the folder here: the dataset is used, and said so
    r = runner.invoke(cli_app, ["coverage", "chongyang", "--level", "total", *data])
    assert r.exit_code == 0 and "使用已存数据集 chongyang" in r.output and "未定位" in r.output
    _cli("fill-sheet", "chongyang", "--out", "sheets/", *data)
    filled = _fill((tmp_path / "sheets" / "待补坐标.xlsx").read_bytes(), {0: (114.05, 29.55), 1: ("x", 1)})
    (tmp_path / "filled.xlsx").write_bytes(filled)
    r = runner.invoke(cli_app, ["fill-import", "chongyang", "filled.xlsx", *data])
    assert r.exit_code == 0, r.output
    assert "已更新 1 个村社区的坐标" in r.output and "第 3 行" in r.output
    s = json.loads(_cli("summary", "chongyang", *data, "--json"))
    assert s["location_sources"]["placed"] == 1
    # a folder whose name no dataset has is read, and the command says so
    (tmp_path / "other").mkdir()
    for p in folder.glob("*.csv"):
        (tmp_path / "other" / p.name).write_bytes(p.read_bytes())
    r = runner.invoke(cli_app, ["coverage", "other", "--level", "total", "--datum", "gcj02", *data])
    assert r.exit_code == 0 and "读取文件夹 other" in r.output
    # the 说明 sheet of an export says what the figures stand on
    _cli("export", "chongyang", "--out", "cy.xlsx", "--lang", "zh", *data)
    notes = pd.read_excel(tmp_path / "cy.xlsx", sheet_name="说明", dtype=str)
    text = " ".join(notes.fillna("").astype(str).values.ravel())
    assert "个村社区：" in text and "导入：" in text and "非官方边界" in text
    # and so does the 说明 sheet of a result workbook
    (tmp_path / "p.json").write_text('{"time_limit_s": 10}', encoding="utf-8")
    _cli("optimise", "chongyang", "--out", "result.xlsx", "--params", "p.json", *data)
    notes = pd.read_excel(tmp_path / "result.xlsx", sheet_name="说明", dtype=str)
    assert "个村社区：" in " ".join(notes.fillna("").astype(str).values.ravel())
    # coordinates written in the datum the data came in (named in the header), WGS-84 on request
    _cli("export", "chongyang", "--out", "cy_csv/", "--format", "csv", "--lang", "zh", *data)
    with (tmp_path / "cy_csv" / "villages.csv").open(encoding="utf-8-sig") as f:
        rows = {r["编号"]: r for r in csv.DictReader(f)}
    given = [v for v, e in zip(info["villages"], info["expect"]) if e == "given"]
    assert len(rows) == len(info["villages"]) and all(
        abs(float(rows[v["代码"]]["经度(GCJ-02)"]) - float(v["经度"])) < 1e-8 for v in given)
    _cli("export", "chongyang", "--out", "cy_wgs/", "--format", "csv", "--datum", "wgs84", *data)
    with (tmp_path / "cy_wgs" / "villages.csv").open(encoding="utf-8-sig") as f:
        assert "lon" in next(csv.reader(f))
    _cli("close-gaps", "chongyang", "--out", "proposals.csv", "--time-limit", "10", *data)
    with (tmp_path / "proposals.csv").open(encoding="utf-8-sig") as f:
        assert "经度(GCJ-02)" in next(csv.reader(f))  # the user's language, the datum named
