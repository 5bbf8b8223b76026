"""Every zh output is Chinese, on the demo and on a real county.

Renders the CLI text outputs (typer CliRunner), the coverage and gaps maps (layer names, popup field
names, legend and summary panels, title), the planners' page, the static maps' text and the job's
status/message/``labels`` in zh, and fails on any English enum token (``station_comprehensive``,
``convener``, ``optimal``, ``infeasible`` ...) or schema field name (``village_id``, ``capacity`` ...).
User data (names from the files) is not checked: the check reads the words the service writes.
"""

from __future__ import annotations

import html as htmlmod
import re
import time
import warnings

import folium
import matplotlib.pyplot as plt
import matplotlib.text
import pytest
from typer.testing import CliRunner

import maps
from geo_service.core.coverage import village_weights
from geo_service.core import glossary as G
from geo_service.app.demo import generate_demo
from geo_service.cli import app
from geo_service.core.io import read_dataset
from geo_service.core.io.gpkg import write_gpkg
from maps.render import DataLayer
from maps.static_assignment import assignment_figure
from maps.static_coverage import coverage_figure
from maps.static_gaps import gaps_figure
from maps.static_render import figure_context
from solvers.gaps import close_gaps
from solvers.pipeline import run_optimisation
from shared_data import real_county, require_shared
from test_api_support import client, hdr, make_app
from test_outputs_zh import english_leaks

REAL = real_county("chongyang")

#: Words the service writes that are not English vocabulary: units, file types, tile attributions.
TAGS = re.compile(r"<[^>]+>")
PATHS = re.compile(r"\S*/\S*")  # file paths the user chose (written files) are not the service's words
SCRIPTS = re.compile(r"<(script|style)\b[^>]*>.*?</\1>", re.S | re.I)


def _demo():
    return generate_demo(counties=["230882"])  # one demo county keeps the test short


def _real():
    require_shared(REAL / "villages.csv", "real county data")
    return read_dataset(REAL, datum="gcj02", missing_points="drop", name="chongyang")


@pytest.fixture(scope="module", params=["demo", "chongyang"])
def case(request, tmp_path_factory):
    ds = _demo() if request.param == "demo" else _real()
    path = tmp_path_factory.mktemp(request.param) / f"{request.param}.gpkg"
    write_gpkg(ds, path)
    run = run_optimisation(ds, {"time_limit_s": 20}) if len(ds.members) else None
    gaps = close_gaps(ds, threshold_m=5000, time_limit=20)
    return ds, path, run, gaps


def assert_chinese(texts, where: str) -> None:
    leaks = english_leaks([t for t in texts if isinstance(t, str)], where)
    assert not leaks, "\n".join(leaks[:30])


# --- CLI ----------------------------------------------------------------------------------------------
def test_cli_text_outputs_are_chinese(case, tmp_path):
    ds, path, run, _ = case
    runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that rich does not cut the headers
    data = ["--data-dir", str(tmp_path / "store")]
    cmds = {
        "summary": ["summary", "--file", str(path)],
        "validate": ["validate", str(path)],
        "coverage-township": ["coverage", str(path), "--level", "township"],
        "coverage-sector": ["coverage", str(path), "--level", "sector"],
        "coverage-county": ["coverage", str(path), "--level", "county"],
        "close-gaps": ["close-gaps", str(path), "--threshold-m", "5000", "--time-limit", "20"],
    }
    if run is not None:
        (tmp_path / "params.json").write_text('{"time_limit_s": 20}', encoding="utf-8")
        cmds["optimise"] = ["optimise", str(path), "--out", str(tmp_path / "out"), "--params", str(tmp_path / "params.json")]
    for what, args in cmds.items():
        r = runner.invoke(app, args + (data if what in ("coverage", "close-gaps") else []))
        assert r.exit_code == 0, (what, r.output)
        assert_chinese([PATHS.sub("", line) for line in r.output.splitlines()], f"cli {what}")
        assert re.search(r"[\u4e00-\u9fff]", r.output), (what, r.output)
    # --lang en speaks English, --json keeps machine keys
    r = runner.invoke(app, ["coverage", str(path), "--level", "total", "--lang", "en"])
    people = village_weights(ds.villages).basis == "population"  # without population: villages only
    assert r.exit_code == 0 and "Within" in r.output and ("Covered population" in r.output) == people
    r = runner.invoke(app, ["coverage", str(path), "--level", "total", "--json"])
    assert r.exit_code == 0 and '"covered_population"' in r.output


# --- HTML maps ----------------------------------------------------------------------------------------
def _layers(m: folium.Map) -> list[DataLayer]:
    out, todo = [], [m]
    while todo:
        el = todo.pop()
        if isinstance(el, DataLayer):
            out.append(el)
        todo.extend(el._children.values())
    return out


def map_words(m: folium.Map) -> list[str]:
    """What a reader sees of the map: title, panels and legend, layer names, popup field names and
    the service's popup values (station kinds, 是, distances)."""
    page = m.get_root().render()
    visible = htmlmod.unescape(TAGS.sub("\n", SCRIPTS.sub("", page)))
    words = [w.strip() for w in visible.splitlines() if w.strip()]
    for layer in _layers(m):
        words.append(layer.layer_name)  # the layer control's entry
        words += [str(f) for f in layer.config.get("fields", [])]
        for f in layer.data.get("features", []):
            words += [v for v in f.get("properties", {}).get("v", []) or [] if isinstance(v, str)]
    return words


def test_maps_are_chinese(case):
    ds, _, _, gaps = case
    cov = maps.coverage_map(ds, tiles="none")
    words = map_words(cov)
    assert_chinese(words, "coverage map")
    joined = " ".join(words)
    assert G.label("capacity") in words
    if village_weights(ds.villages).basis == "population":
        assert "覆盖人口" in joined
    else:  # a list without population speaks of villages, never of people
        assert "覆盖村数" in joined and "覆盖人口" not in joined and "圆点大小表示人口" not in joined
    gm = maps.gaps_map(ds, gaps, tiles="none")
    words = map_words(gm)
    assert_chinese(words, "gaps map")
    joined = " ".join(words)
    assert f"{G.label('status')}：{G.value_label('outcome', gaps.status)}" in joined  # the outcome in words


def test_static_map_text_is_chinese(case):
    ds, _, run, gaps = case
    figs = []
    with warnings.catch_warnings(record=True) as caught, figure_context():
        warnings.simplefilter("always")
        figs += [coverage_figure(ds, lang="zh"), gaps_figure(ds, gaps, lang="zh")]
        if run is not None:
            figs.append(assignment_figure(ds, run, lang="zh"))
    try:
        for sm in figs:
            texts = [t.get_text() for t in sm.fig.findobj(matplotlib.text.Text)]
            assert_chinese(texts + [sm.title], f"static map {sm.title}")
        missing = sorted({str(w.message) for w in caught if "missing from font" in str(w.message)})
        assert not missing, f"glyphs drawn without the CJK font: {missing[:3]}"
    finally:
        for sm in figs:
            plt.close(sm.fig)


# --- page, jobs, result JSON --------------------------------------------------------------------------
def test_page_job_and_result_labels_are_chinese(case, tmp_path):
    ds, _, run, _ = case
    if run is None:
        pytest.skip("the real county has no members to assign")
    P = hdr("planner")
    with client(make_app(tmp_path / "data", ds)) as c:
        did = "tiny"  # make_app stores the dataset under this id
        r = c.post(f"/v1/datasets/{did}/optimisations", json={"time_limit_s": 20}, headers=P)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        t0 = time.monotonic()
        while (job := c.get(f"/v1/jobs/{job_id}?lang=zh", headers=P).json())["status"] not in ("successful", "failed"):
            assert time.monotonic() - t0 < 60
            time.sleep(0.05)
        assert job["status"] == "successful", job
        assert job["status_text"] == "已完成" and job["message_text"].startswith("已完成：")
        assert_chinese([job["status_text"], job["message_text"]], "job")
        en = c.get(f"/v1/jobs/{job_id}?lang=en", headers=P).json()
        assert en["status_text"] == "finished" and en["message"].startswith("finished")  # machine text kept
        full = c.get(f"/v1/jobs/{job_id}/results?lang=zh", headers=P).json()
        labels = full["labels"]
        texts = [labels["status"], labels["outcome"], *labels["diagnostics"], *labels["fields"].values()]
        for t in labels["tiers"].values():
            texts += [t["name"], t["status"], *t["diagnostics"]]
        assert_chinese(texts, "result labels")
        assert full["result"]["status"] in ("optimal", "relaxed", "feasible", "infeasible", "nothing_to_do")  # keys stay
        page = c.get(f"/?dataset={did}&lang=zh", headers=P).text
        visible = htmlmod.unescape(TAGS.sub("\n", SCRIPTS.sub("", page)))
        assert_chinese([w.strip() for w in visible.splitlines() if w.strip()], "page")
        assert "已完成" in visible
        attrs = re.findall(r'data-status-[a-z]+="([^"]*)"', page)
        assert attrs and all(re.search(r"[\u4e00-\u9fff]", a) for a in attrs)
        js = c.get("/web/page.js").text
        assert "已完成" not in js and "排队中" not in js  # the words come from the glossary, not a JS dict
        cov = c.get(f"/v1/datasets/{did}/maps/coverage?lang=zh&tiles=none", headers=P)
        assert cov.status_code == 200
        svg = c.get(f"/v1/datasets/{did}/maps/coverage.svg?lang=zh", headers=P)
        assert svg.status_code == 200
        assert_chinese(re.findall(r"<title>([^<]*)</title>", svg.text), "svg title")


def test_diagnostics_have_codes_and_both_languages(case):
    ds, _, run, gaps = case
    diags = list(run.diagnostics) + [d for t in run.tiers.values() for d in t.diagnostics] if run else []
    for d in diags:  # a code with zh/en templates, or (tier 1/2 distances) its own message_zh + message
        assert d.get("code") in G.MESSAGES or (d.get("message_zh") and d.get("message")), d
        zh, en = G.diagnostic_text(d, "zh"), G.diagnostic_text(d, "en")
        assert re.search(r"[\u4e00-\u9fff]", zh) and "{" not in zh and "{" not in en, (zh, en)
    for row in gaps.uncovered.itertuples():
        assert row.code in G.MESSAGES
    sol = gaps.to_dict()
    assert sol["message_code"] in G.MESSAGES
    assert "{" not in G.message(sol["message_code"], "zh", **sol["message_params"])


def test_validate_problem_lines_name_place_and_problem_in_chinese(tmp_path):
    (tmp_path / "站点.csv").write_text("名称,类型,经度,纬度\n站A,综合型,abc,29.5\n", encoding="utf-8")
    (tmp_path / "乡镇.csv").write_text("代码,名称,经度,纬度\nT1,镇,114.1,29.5\n", encoding="utf-8")
    (tmp_path / "村社区.csv").write_text("代码,名称,乡镇,经度,纬度\nV1,村一,T1,114.1,29.5\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert r.exit_code == 2
    assert "错误：输入有 1 个问题" in r.output and "站点 第 2 行 字段「经度」：不是数字" in r.output, r.output
    en = CliRunner().invoke(app, ["validate", str(tmp_path), "--lang", "en"])
    assert "row 2" in en.output and "is not a number" in en.output, en.output
