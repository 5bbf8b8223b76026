"""Every word users see comes from the glossary: pages declare their language, texts moved to the
glossary read the same in both languages."""

from __future__ import annotations

import re

import pytest

from maps.render import PageFigure


@pytest.mark.parametrize(("lang", "tag"), [("zh", "zh-CN"), ("en", "en")])
def test_a_map_page_declares_its_language(lang, tag):
    """Screen readers and browsers pick fonts and hyphenation from ``<html lang>``: a Chinese map
    says zh-CN, an English one en."""
    html = PageFigure(title="t", lang=lang).render()
    assert re.search(r'<html lang="([^"]+)">', html).group(1) == tag


def _glossary_keys_used() -> dict[str, set[str]]:
    """``{"word": {keys}, "message": {codes}}`` named by a string literal in the production floors."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    used: dict[str, set[str]] = {"word": set(), "message": set()}
    for pkg in ("geo_service", "solvers", "maps"):
        for path in (root / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                        and isinstance(node.args[0].value, str)):
                    continue
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
                if name in used:
                    used[name].add(node.args[0].value)
    return used


def test_every_word_and_message_named_in_the_code_exists():
    """``word`` raises on an unknown key and ``message`` gives the bare code back: a key typed
    wrong would reach users as ``cli_roster_planing``. Every literal key the floors name is in the
    glossary, in both languages."""
    from geo_service.core.glossary import MESSAGES, WORDS

    used = _glossary_keys_used()
    assert len(used["word"]) > 50 and len(used["message"]) > 40  # the walk finds the calls
    assert not used["word"] - set(WORDS), sorted(used["word"] - set(WORDS))
    assert not used["message"] - set(MESSAGES), sorted(used["message"] - set(MESSAGES))
    for key in used["word"] | used["message"]:
        zh, en = WORDS.get(key) or MESSAGES[key]
        assert isinstance(zh, str) and isinstance(en, str), key


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "数据来源：佳木斯演示（demo） · 第 3 版 · 日期 2026-11-29 · 坐标系 WGS-84，横轴墨卡托投影（当地） · geo-service"),
    ("en", "Source: 佳木斯演示 (demo) · version 3 · date 2026-11-29 · WGS-84, local transverse Mercator · geo-service"),
])
def test_a_static_map_names_its_source_in_the_glossary_words(lang, text):
    from maps.static_render import source_text

    assert source_text("佳木斯演示", dataset_id="demo", version=3, date="2026-11-29", lang=lang) == text
    short = source_text("x", dataset_id="x", date="2026-11-29", lang=lang)
    assert short.startswith("数据来源：x · 日期" if lang == "zh" else "Source: x · date")


@pytest.mark.parametrize(("lang", "missing", "columns", "suffix"), [
    ("zh", "请假表 {d}/missing.csv：没有这个文件",
     "请假表 bad.csv：需要委员列（委员/member）和月份列（月份/months）或开始日期、结束日期两列；现有列：a, b",
     "请假表 x.json：应为 .csv 或 .xlsx 文件"),
    ("en", "availability file {d}/missing.csv: no such file",
     "availability file bad.csv: needs a member column (委员/member) and months (月份/months) or start and end "
     "(开始日期/结束日期); found a, b",
     "availability file x.json: expected .csv or .xlsx, got .json"),
])
def test_availability_file_errors_read_the_same_in_each_language(tmp_path, lang, missing, columns, suffix):
    from geo_service.core.io.availability import read_availability_records

    (tmp_path / "bad.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "x.json").write_text("{}", encoding="utf-8")
    for name, expected in (("missing.csv", missing.format(d=tmp_path)), ("bad.csv", columns), ("x.json", suffix)):
        with pytest.raises(ValueError) as e:
            read_availability_records(tmp_path / name, lang=lang)
        assert str(e.value) == expected


def test_availability_row_errors_stop_after_twenty(tmp_path):
    from solvers.roster.availability import availability_from_records

    rows = [{"row": 2, "member": "nobody", "months": "2027-01"}] * 25
    for lang, head, stop, sep in (("zh", "请假表 a.csv：第 2 行：", "……（已列出前 20 个错误）", "；"),
                                  ("en", "availability file a.csv: row 2: ", "... (stopped after 20 errors)", "; ")):
        with pytest.raises(ValueError) as e:
            availability_from_records(rows, [{"id": "M1", "name": "张三"}], lang=lang, source="a.csv")
        text = str(e.value)
        assert text.startswith(head) and text.endswith(sep + stop) and text.count(sep) == 20


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "距离方式：应为以下之一：'straight'、'road'；随机种子：应为整数；nope：不接受此参数"),
    ("en", "Mode: should be one of 'straight' or 'road'; Seed: should be an integer; nope: not accepted"),
])
def test_bad_parameters_are_named_and_joined_in_the_users_language(lang, text):
    from pydantic import ValidationError

    from geo_service.cli.common import params_text
    from solvers.pipeline import OptimisationParams

    with pytest.raises(ValidationError) as e:
        OptimisationParams.model_validate({"seed": "abc", "mode": "x", "nope": 1})
    assert params_text(e.value, lang) == text


def test_a_rejected_import_counts_its_problems_in_each_language(tiny, tmp_path):
    import geopandas as gpd
    from typer.testing import CliRunner

    from geo_service.cli import app
    from geo_service.core.io.gpkg import write_gpkg

    bad = write_gpkg(tiny, tmp_path / "bad.gpkg")
    members = gpd.read_file(bad, layer="members")
    members.loc[0, "group_id"] = "G404"
    members.to_file(bad, layer="members", driver="GPKG")
    runner = CliRunner()
    for lang, line in (("zh", "错误：输入有 1 个问题；未保存任何内容"),
                       ("en", "error: 1 problem(s) in the input; nothing was stored")):
        r = runner.invoke(app, ["import", str(bad), "--name", "t", "--lang", lang, "--data-dir", str(tmp_path / "s")])
        assert r.exit_code == 2 and r.output.splitlines()[0] == line, r.output


def test_every_message_call_fills_every_field_of_its_templates():
    """A template field without a value stays visible as ``{name}`` (``message`` never raises): each
    ``message(code, lang, ...)`` call in the floors names every field of both its templates."""
    import ast
    import string
    from pathlib import Path

    from geo_service.core.glossary import MESSAGES

    root = Path(__file__).resolve().parents[1]
    unfilled, checked = [], 0
    for pkg in ("geo_service", "solvers", "maps"):
        for path in (root / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                        == "message" and node.args and isinstance(node.args[0], ast.Constant)
                        and node.args[0].value in MESSAGES) or any(k.arg is None for k in node.keywords):
                    continue
                given = {k.arg for k in node.keywords}
                fields = {f for tpl in MESSAGES[node.args[0].value] for _, f, _, _ in string.Formatter().parse(tpl) if f}
                checked += 1
                if fields - given:
                    unfilled.append(f"{path.relative_to(root)}:{node.lineno} {node.args[0].value} {sorted(fields - given)}")
    assert checked > 60
    assert not unfilled, unfilled


#: every kind of bad row of a leave file, and what each language says about it
_BAD_ROWS = [{"member": ""}, {"member": "nobody", "months": "2027-01"}, {"member": "李四", "months": "2027-01"},
             {"member": "M1"}, {"member": "M1", "start": "2027-01-01"},
             {"member": "M1", "start": "2027-02-01", "end": "2027-01-01"}, {"member": "M1", "start": "x", "end": "2027-01-01"},
             {"member": "M1", "start": "2027-01-01", "end": "y"}, {"member": "M1", "months": "2027-05~2027-02"},
             {"member": "M1", "months": "abc"}, {"member": "M1.0", "months": "2027-01"}]
_BAD_ROW_TEXTS = {
    "zh": "请假表 a.csv：第 2 行：委员为空；第 3 行：未知委员 'nobody'（既不是委员编号也不是姓名）；第 4 行：姓名 '李四' 有多位委员（M2、M3），请填委员编号；第 5 行：请填月份，或开始日期和结束日期；第 6 行：开始日期和结束日期要一起填；第 7 行：结束日期 2027-01-01 早于开始日期 2027-02-01；第 8 行：开始日期 'x' 不是日期（应为 2027-03-01 这样）；第 9 行：结束日期 'y' 不是日期（应为 2027-03-01 这样）；第 10 行：月份范围 '2027-05~2027-02' 的结束早于开始；第 11 行：月份 'abc' 不是 2027-01 这样的月份",
    "en": "availability file a.csv: row 2: member is empty; row 3: unknown member 'nobody' (neither an id nor a name); row 4: name '李四' is shared by members M2, M3; give the id; row 5: give months or start and end; row 6: give both start and end; row 7: end 2027-01-01 is before start 2027-02-01; row 8: start 'x' is not a date (YYYY-MM-DD); row 9: end 'y' is not a date (YYYY-MM-DD); row 10: months range '2027-05~2027-02' ends before it starts; row 11: months must be a month like 2027-01, got 'abc'",
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_bad_leave_row_is_said_in_the_users_language(lang):
    from solvers.roster.availability import availability_from_records

    members = [{"id": "M1", "name": "张三"}, {"id": "M2", "name": "李四"}, {"id": "M3", "name": "李四"}]
    with pytest.raises(ValueError) as e:
        availability_from_records([dict(r, row=i + 2) for i, r in enumerate(_BAD_ROWS)], members, lang=lang,
                                  source="a.csv")
    assert str(e.value) == _BAD_ROW_TEXTS[lang]


@pytest.mark.parametrize("lang, text", [("zh", "3 场协商没有委员：该乡镇没有界别群众，平台也没有界别，无从邀请"),
                                        ("en", "3 consultation(s): no members: the township has no constituents "
                                               "and the platform no sectors to invite")])
def test_a_message_part_is_worded_in_the_same_language(lang, text):
    """A param given as ``{"code", "params"}`` is itself a message, worded in the sentence's language."""
    from geo_service.core.glossary import message

    assert message("roster_consultation_note", lang, n=3, note={"code": "roster_note_no_sectors"}) == text
    assert message("roster_cap_within", lang, km="12") == ("12 公里内" if lang == "zh" else " within 12 km")


def test_roster_advice_names_each_rule_in_chinese():
    """The roster's Chinese diagnostics name a rule by its glossary name (每位委员值班月数下限), never by
    the parameter's code (member_min), and distances in 公里: a committee's staff read them."""
    import re

    from geo_service.core.glossary import MESSAGES, PARAMS

    seen = 0
    for key, (zh, _en) in MESSAGES.items():
        if not key.startswith("roster_"):
            continue
        seen += 1
        text = re.sub(r"\{[^}]*\}", "", zh)
        assert not re.search(r"[a-z]+_[a-z_]+|\bkm\b", text), (key, zh)
    assert seen > 30
    assert "每位委员值班月数下限" in MESSAGES["roster_fix_sectors"][0] + MESSAGES["roster_member_short"][0]
    assert PARAMS["member_min"][0].startswith("每位委员值班月数下限")
