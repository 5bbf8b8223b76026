"""An import's problems read in Chinese from the values the readers found, not by rewording their
English: each problem the readers write about a county's village list carries its glossary message
and values, and the CLI, the upload answer and the dataset-invalid problem all word it from them."""

from __future__ import annotations

import re

import pytest

from geo_service.core.glossary import MESSAGES, import_problem_detail, import_problem_text, message
from geo_service.core.io import read_dataset
from shared_data import real_county, require_shared
from test_api_support import client, hdr, make_app

COUNTIES = ["chongyang", "dingri", "dongcheng", "shaoyang", "horqin-left-middle"]
#: the problems a county's village list raises most (every one of them carries its words)
WORDED = {"filled_default", "derived_polygons", "far_from_seat", "shared_coordinates", "approximate_location",
          "unknown_location", "dropped_no_coordinates", "bad_number"}
LATIN_WORDS = re.compile(r"\b[a-z]{3,}\b")  # an English word left in the Chinese text


@pytest.mark.parametrize("county", COUNTIES)
@pytest.mark.parametrize("missing_points", ["keep", "drop"])
def test_every_problem_of_a_real_county_is_worded_from_its_values(county, missing_points):
    folder = require_shared(real_county(county) / "villages.csv", f"the real county {county}").parent
    ds = read_dataset(folder, datum="gcj02", missing_points=missing_points)
    seen = {w.code for w in ds.warnings}
    assert {"filled_default", "derived_polygons"} <= seen  # no population, townships as points: all five
    for w in ds.warnings:
        if w.code not in WORDED:
            continue
        assert w.message_code in MESSAGES, (w.code, w.message)
        zh = import_problem_detail(w, "zh")
        bare = zh
        for value in w.params.values():  # names and files quoted as written may be Latin
            bare = bare.replace(str(value), "")
        assert "{" not in zh and not LATIN_WORDS.search(bare), zh
        # the Chinese says the same figures and names as the reader's own English text
        for value in w.params.values():
            assert str(value).rstrip("…") in w.message or (
                w.code == "unknown_location" and all(n in w.message for n in str(value).rstrip("…").split("、"))), \
                (value, w.message)
        assert message(w.message_code, "en", **w.params) != w.message_code


def test_the_far_village_names_its_distances_in_kilometres():
    folder = require_shared(real_county("dingri") / "villages.csv", "the real county 定日县").parent
    far = [w for w in read_dataset(folder, datum="gcj02").warnings if w.code == "far_from_seat"]
    assert far
    for w in far:
        own, nearest = float(w.params["own_km"]), float(w.params["nearest_km"])
        assert own > nearest > 0  # farther from its own township's seat than from another's
        text = import_problem_text(w, "zh")
        assert f"驻地 {w.params['own_km']} 公里" in text and f"第 {w.row} 行" in text, text


def test_a_bad_number_in_a_list_is_named_with_its_header(tmp_path):
    from geo_service.core.dataset import DatasetValidationError

    (tmp_path / "villages.csv").write_text("代码,名称,乡镇,经度,纬度\nV1,甲村,T1,abc,29.5\nV2,乙村,T1,114.0,29.6\n",
                                           encoding="utf-8")
    (tmp_path / "townships.csv").write_text("代码,名称,经度,纬度\nT1,某镇,114.0,29.55\n", encoding="utf-8")
    with pytest.raises(DatasetValidationError) as info:
        read_dataset(tmp_path)
    bad = [p for p in info.value.problems if p.code == "bad_number"]
    assert len(bad) == 1 and bad[0].row == 2
    assert import_problem_detail(bad[0], "zh") == "经度“abc”不是数字"
    assert "第 2 行" in import_problem_text(bad[0], "zh")


def test_upload_answers_its_problems_in_chinese(tmp_path, tiny):
    body = ("代码,名称,乡镇,经度,纬度\nV1,甲村,T1,114.01,29.5\nV2,乙村,T1,,\n").encode()
    towns = "代码,名称,经度,纬度\nT1,某镇,114.0,29.55\n".encode()
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("villages.csv", body)
        z.writestr("townships.csv", towns)
    with client(make_app(tmp_path / "d", tiny)) as c:
        r = c.post("/v1/datasets?dataset_id=up1", files={"file": ("list.zip", buf.getvalue(), "application/zip")},
                   headers=hdr("admin"))
        assert r.status_code == 201, r.text
        got = r.json()
        assert len(got["warnings_zh"]) == len(got["warnings"]) > 0
        assert any("没有人口列" in w for w in got["warnings_zh"]), got["warnings_zh"]
        assert any("已近似定位在所属乡镇驻地" in w for w in got["warnings_zh"]), got["warnings_zh"]
        bad = io.BytesIO()
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("villages.csv", "代码,名称,乡镇,经度,纬度\nV1,甲村,T1,abc,29.5\n".encode())
            z.writestr("townships.csv", towns)
        r = c.post("/v1/datasets?dataset_id=up2", files={"file": ("bad.zip", bad.getvalue(), "application/zip")},
                   headers=hdr("admin"))
        assert r.status_code == 422
        item = next(e for e in r.json()["errors"] if e["code"] == "bad_number")
        assert item["row"] == 2 and "经度“abc”不是数字" in item["message_zh"] and "第 2 行" in item["message_zh"]
