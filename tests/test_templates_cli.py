"""Import templates, paths as a shell user means them, and a missing county folder."""

from __future__ import annotations

import io

import openpyxl
import pytest
from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.core.io import read_dataset
from test_api_support import client, hdr, make_app

runner = CliRunner()


@pytest.mark.parametrize("fmt,lang", [("csv", "zh"), ("csv", "en"), ("xlsx", "zh"), ("xlsx", "en")])
def test_template_imports_as_written(tmp_path, monkeypatch, fmt, lang):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["template", "--out", "my-county/", "--format", fmt, "--lang", lang])
    assert r.exit_code == 0, r.output
    target = tmp_path / "my-county"
    if fmt == "xlsx":
        target = next(target.glob("*.xlsx"))
        wb = openpyxl.load_workbook(target)
        assert ("说明" if lang == "zh" else "notes") in wb.sheetnames and ("村社区" if lang == "zh" else "villages") in wb.sheetnames  # tabs as in exports
    else:
        assert (target / ("说明.csv" if lang == "zh" else "notes.csv")).exists()
    ds = read_dataset(target)
    assert ds.counts()["villages"] == 2 and ds.counts()["stations"] == 1 and ds.counts()["roads"] == 1
    assert not [w for w in ds.warnings if w.code in ("ignored_file", "ignored_layer")]
    r = runner.invoke(app, ["validate", "my-county/" if fmt == "csv" else str(target)])
    assert r.exit_code == 0 and "校验通过" in r.stdout  # zh by default


def test_template_notes_say_required_unit_datum(tmp_path):
    runner.invoke(app, ["template", "--out", str(tmp_path / "t.xlsx"), "--format", "xlsx"])
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")["说明"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0] == ["表", "列", "必填", "单位", "坐标系", "说明"]
    pop = next(r for r in rows if r[0].startswith("villages") and r[1] == "人口(人)")
    assert pop[2] == "否" and pop[3] == "人"
    lon = next(r for r in rows if r[0].startswith("villages") and r[1] == "经度")
    assert lon[2] == "否" and "GCJ-02" in lon[4] and "乡镇驻地" in lon[5]  # kept without, placed at the seat
    lon = next(r for r in rows if r[0].startswith("stations") and r[1] == "经度")
    assert lon[2] == "是"


def test_templates_xlsx_endpoint(tmp_path, tiny):
    with client(make_app(tmp_path / "data", tiny)) as c:
        r = c.get("/v1/templates.xlsx", headers=hdr("viewer"))
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxml")
        wb = openpyxl.load_workbook(io.BytesIO(r.content))
        assert "说明" in wb.sheetnames and "stations" in wb.sheetnames


def test_validate_missing_folder_says_what_a_county_folder_needs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["validate", "my-county/"])
    assert r.exit_code == 2
    assert "villages.csv" in r.stderr and "townships.csv" in r.stderr and "template" in r.stderr


def test_layer_files_relative_to_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_text("名称,经度,纬度\n天城镇,114.04742,29.549776\n", encoding="utf-8")
    (tmp_path / "data" / "v.csv").write_text("名称,乡镇,经度,纬度\n一村,天城镇,114.05,29.55\n", encoding="utf-8")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    r = runner.invoke(app, ["validate", "--layer", "villages=../data/v.csv", "--layer", "townships=../data/t.csv"])
    assert r.exit_code == 0, r.output
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["validate", "data", "--layer", "villages=data/v.csv", "--layer", "townships=t.csv"])
    assert r.exit_code == 0, r.output  # cwd first, else relative to the PATH argument


def test_out_ending_in_slash_makes_a_folder(tmp_path, monkeypatch, tiny):
    from geo_service.core.io import write_dataset

    monkeypatch.chdir(tmp_path)
    write_dataset(tiny, tmp_path / "county.gpkg")
    r = runner.invoke(app, ["close-gaps", "county.gpkg", "--out", "proposals/", "--time-limit", "10"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "proposals" / "proposals.geojson").is_file()
