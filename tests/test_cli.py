"""The command line as a user runs it: exit codes, one-line errors, nothing stored on bad input."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.core.io.gpkg import write_gpkg
from geo_service.core.store import SQLiteStore

runner = CliRunner()


@pytest.fixture
def tiny_gpkg(tiny, tmp_path):
    return write_gpkg(tiny, tmp_path / "tiny.gpkg")


def test_validate_ok_and_json(tiny_gpkg):
    r = runner.invoke(app, ["validate", str(tiny_gpkg), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["valid"] is True and out["counts"]["villages"] == 8


@pytest.mark.slow  # > 3 s
def test_import_summary_export_roundtrip(tiny, tiny_gpkg, tmp_path):
    data = tmp_path / "store"
    r = runner.invoke(app, ["import", str(tiny_gpkg), "--name", "tiny", "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert "已保存数据集「tiny」第 1 版" in r.stdout
    r = runner.invoke(app, ["summary", "tiny", "--data-dir", str(data), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["counts"]["stations"] == 3 and s["stations_by_kind"]["studio"] == 1
    out = tmp_path / "back.gpkg"
    r = runner.invoke(app, ["export", "tiny", "--out", str(out), "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    from geo_service.core.io.gpkg import read_gpkg

    assert read_gpkg(out).fingerprint() == tiny.fingerprint()


@pytest.mark.slow  # > 3 s
def test_import_refuses_to_overwrite_without_replace(tiny_gpkg, tmp_path):
    data = tmp_path / "store"
    assert runner.invoke(app, ["import", str(tiny_gpkg), "--name", "t", "--data-dir", str(data)]).exit_code == 0
    r = runner.invoke(app, ["import", str(tiny_gpkg), "--name", "t", "--data-dir", str(data)])
    assert r.exit_code == 1 and "数据集「t」已存在；要替换请加 --replace" in r.output
    r = runner.invoke(app, ["import", str(tiny_gpkg), "--name", "t", "--replace", "--data-dir", str(data)])
    assert r.exit_code == 0 and "已保存数据集「t」第 2 版" in r.stdout


@pytest.mark.slow  # > 3 s
def test_invalid_input_exit_2_and_store_untouched(tiny_layers, tiny, tmp_path):
    import geopandas as gpd

    data = tmp_path / "store"
    store = SQLiteStore(data)
    store.put_dataset("t", tiny)
    before = store.dataset_info("t")
    # a broken file: a member in a group that does not exist
    bad = tmp_path / "bad.gpkg"
    write_gpkg(tiny, bad)
    members = gpd.read_file(bad, layer="members")
    members.loc[0, "group_id"] = "G404"
    members.to_file(bad, layer="members", driver="GPKG")
    r = runner.invoke(app, ["import", str(bad), "--name", "t", "--replace", "--data-dir", str(data)])
    assert r.exit_code == 2
    assert "委员 第 1 行 编号 M1 字段「活动组编号」" in r.output and "G404" in r.output
    assert "未保存任何内容" in r.output
    r = runner.invoke(app, ["import", str(bad), "--name", "t", "--replace", "--lang", "en", "--data-dir", str(data)])
    assert "members row 1 id=M1 field 'group_id'" in r.output and "nothing was stored" in r.output
    after = SQLiteStore(data).dataset_info("t")
    assert (after.version, after.fingerprint) == (before.version, before.fingerprint)


def test_bad_dataset_id_and_missing_file(tmp_path):
    r = runner.invoke(app, ["import", str(tmp_path / "nope.gpkg"), "--name", "../etc"])
    assert r.exit_code == 2 and "数据集编号「../etc」不可用" in r.output
    r = runner.invoke(app, ["import", str(tmp_path / "nope.gpkg"), "--name", "ok"])
    assert r.exit_code == 2 and "没有这个文件或文件夹" in r.output
    r = runner.invoke(app, ["summary", "missing", "--data-dir", str(tmp_path / "s")])
    assert r.exit_code == 1 and "没有数据集「missing」" in r.output


def test_area_commands_take_a_file_or_a_stored_dataset(tiny_gpkg, tmp_path):
    """coverage/close-gaps/map/optimise accept a file, a dataset id, and say so when it is neither."""
    data = tmp_path / "store"
    assert runner.invoke(app, ["import", str(tiny_gpkg), "--name", "tiny", "--data-dir", str(data)]).exit_code == 0
    from_file = runner.invoke(app, ["coverage", str(tiny_gpkg), "--level", "total", "--json"])
    from_store = runner.invoke(app, ["coverage", "tiny", "--level", "total", "--json", "--data-dir", str(data)])
    assert from_file.exit_code == 0 and from_store.exit_code == 0, from_file.output + from_store.output
    assert json.loads(from_file.stdout)["total"] == json.loads(from_store.stdout)["total"]
    r = runner.invoke(app, ["close-gaps", "nosuch", "--data-dir", str(data)])
    assert r.exit_code == 1 and "没有数据集或文件「nosuch」" in r.output
    r = runner.invoke(app, ["coverage", "tiny", "--thresholds", "5000,-5", "--data-dir", str(data)])
    assert r.exit_code == 2 and "参数 thresholds_m" in r.output and "第 2 个值无效：应大于 0" in r.output, r.output
    r = runner.invoke(app, ["coverage", "tiny", "--thresholds", "5000,-5", "--lang", "en", "--data-dir", str(data)])
    assert r.exit_code == 2 and "thresholds_m[1]: -5.0 must be a positive number" in r.output, r.output


@pytest.mark.slow
def test_optimise_json_on_stdout_is_only_json(tmp_path):
    """A fresh process (as a script calls it): nothing but the JSON document on stdout, so solver
    banners (HiGHS prints one on its first construction in a process) never reach a pipe."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    p = subprocess.run([sys.executable, "-m", "geo_service.cli", "optimise", "demo", "--data-dir",
                        str(tmp_path / "var"), "--out", str(tmp_path / "out.xlsx"), "--json"],
                       capture_output=True, text=True, env=env, timeout=240)
    assert p.returncode == 0, p.stderr[-2000:]
    doc = json.loads(p.stdout)
    assert doc["status"] and set(doc["tiers"]) >= {"villages"}


@pytest.mark.parametrize(("lang", "level_text", "file_text"), [
    ("zh", "错误：--level 只能是 total, county, township, sector，而不是 nope", "错误：没有这个文件："),
    ("en", "error: --level must be total, county, township, sector, got nope", "error: no such file: "),
])
def test_refused_arguments_are_worded_in_the_users_language(tmp_path, lang, level_text, file_text):
    data = ["--data-dir", str(tmp_path / "store"), "--lang", lang]
    r = runner.invoke(app, ["coverage", "demo", "--level", "nope", *data])
    assert r.exit_code == 2 and level_text in r.output, r.output
    r = runner.invoke(app, ["fill-import", "demo", str(tmp_path / "missing.xlsx"), *data])
    assert r.exit_code == 2 and file_text in r.output, r.output


@pytest.mark.parametrize(("lang", "said"), [
    ("zh", ("没有这个文件或文件夹：", "区县文件夹每个图层一个文件", "--layer 的写法是 图层=文件", "请给出文件或文件夹")),
    ("en", ("no such file or folder: ", "a county folder holds one file per layer", "--layer takes LAYER=FILE",
            "give a file or folder")),
])
def test_file_arguments_are_refused_in_the_users_language(tmp_path, lang, said):
    missing, folder_help, layer_form, need_input = said
    r = runner.invoke(app, ["validate", str(tmp_path / "nowhere"), "--lang", lang])
    assert r.exit_code == 2 and missing in r.output and folder_help in r.output, r.output
    r = runner.invoke(app, ["validate", "--layer", "villages.csv", "--lang", lang])
    assert r.exit_code == 2 and layer_form in r.output, r.output
    r = runner.invoke(app, ["validate", "--lang", lang])
    assert r.exit_code == 2 and need_input in r.output, r.output
    if lang == "en":
        assert not re.search(r"[\u4e00-\u9fff]", r.output.replace("村", "")), r.output


@pytest.mark.parametrize("command", ["coverage", "close-gaps", "map", "optimise", "posters", "review", "roster"])
def test_a_missing_dataset_is_named_in_english_under_lang_en(tmp_path, command):
    extra = ["--out", str(tmp_path / "out.xlsx")] if command == "optimise" else []
    r = runner.invoke(app, [command, "nosuch", "--lang", "en", "--data-dir", str(tmp_path / "store"), *extra])
    assert r.exit_code == 1 and "nosuch" in r.output, r.output
    assert not re.search(r"[\u4e00-\u9fff]", r.output), r.output
