"""Chinese outputs are Chinese throughout, each field has one Chinese name, and the
界别责任区一览表 workbook is ready to print (checked with openpyxl on the demo)."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pandas as pd
import pytest

from api import results as res
from geo_service.app.outputs import write_result_csv, write_result_xlsx
from geo_service.core import glossary as G
from geo_service.core.io import headers as H
from geo_service.core.io import write_dataset
from solvers.pipeline import run_optimisation
from solvers.tables import SHEETS_ZH, result_notes
from test_api_support import client, hdr, make_app

#: English words a zh output must not show: enum values (optimal, convener, station_comprehensive ...)
#: and schema field names (member_id, village_id, population ...).
EN_ENUM = {v for vocab in G.ENUMS.values() for v in vocab if len(v) > 1 and v not in ("True", "False")} \
    | {en for vocab in G.ENUMS.values() for _, en in vocab.values() if len(en) > 2}
EN_FIELDS = set(G.FIELDS) - {"id"}
TOKEN = re.compile(r"[A-Za-z_][A-Za-z_-]+")


def english_leaks(texts, where: str) -> list[str]:
    """Texts that are, or contain as a word, an English enum value or field name."""
    bad = []
    for t in texts:
        if not isinstance(t, str) or not t:
            continue
        words = set(TOKEN.findall(t)) | {t}
        hit = (words & EN_ENUM) | (words & EN_FIELDS)
        if hit:
            bad.append(f"{where}: {t!r} ({sorted(hit)})")
    return bad


# --- the glossary itself -----------------------------------------------------------------------------
def test_each_field_has_exactly_one_chinese_name():
    names: dict[str, str] = {}
    for field, f in G.FIELDS.items():
        assert f.zh and f.en and not f.zh.isascii(), field
        assert f.zh not in names, f"{field} and {names.get(f.zh)} share the Chinese name {f.zh}"
        names[f.zh] = field
    # every place that writes a header uses the glossary's one name
    for field, zh in H.ZH_HEADERS.items():
        assert zh == G.header(field, "zh")
        assert zh.split("(")[0] == G.label(field, "zh")
    for key, title in SHEETS_ZH.items():
        assert title == G.table_title(key, "zh")
    assert G.value_label("role", "convener") == "召集人" and G.value_label("role", "deputy_convener") == "副召集人"
    assert G.value_label("outcome", "optimal") == "最优" and G.value_label("outcome", "infeasible") == "不可行"
    assert G.label("village_id") == "村社区编号" and G.label("sectors") == "界别列表"
    assert G.header("total_m") == "总距离(公里)" and G.display_value("total_m", 4796.601833) == 4.8
    assert G.display_value("population", 1234.6) == 1235
    with pytest.raises(ValueError, match="lang"):
        G.label("name", "fr")


def test_importers_accept_the_glossary_names_and_the_old_ones():
    for layer in ("villages", "stations", "members", "groups", "constituents"):
        aliases = H.header_aliases(layer)
        for field in ("township_id", "village_id", "sectors", "capacity", "role", "population"):
            if field in aliases.values() and field not in ("name",):
                for spelling in G.zh_aliases(field):
                    got = aliases.get(H._key(spelling))
                    assert got in (field, "name", "sector"), (layer, spelling, got)
    v = H.header_aliases("villages")
    assert v[H._key("村社区编号")] == "village_id" and v[H._key("人口(人)")] == "population"
    assert v[H._key("乡镇编号")] == "township_id" and v[H._key("乡镇")] == "township_id"  # old name kept
    assert H.header_aliases("members")[H._key("角色")] == "role"  # old name kept


# --- zh outputs on the demo ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_run():
    from geo_service.app.demo import generate_demo

    ds = generate_demo(counties=["230882"])  # Fujin: one demo county keeps the test short
    r = run_optimisation(ds, {"time_limit_s": 30})
    return ds, r


def _xlsx_texts(data_or_path) -> list[str]:
    wb = openpyxl.load_workbook(data_or_path)
    out = list(wb.sheetnames)
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            out += [v for v in row if isinstance(v, str)]
    return out


def test_zh_result_workbook_csv_and_json_have_no_english(demo_run, tmp_path):
    ds, r = demo_run
    tables = r.tables(ds)
    path = write_result_xlsx(tables, tmp_path / "r.xlsx", lang="zh", notes=result_notes(r, ds, "zh"))
    leaks = english_leaks(_xlsx_texts(path), "xlsx")
    for p in write_result_csv(tables, tmp_path / "csv", lang="zh"):
        rows = list(csv.reader(io.StringIO(p.read_text(encoding="utf-8-sig"))))
        leaks += english_leaks([c for row in rows for c in row], p.name)
    zh = res.result_tables("optimisation", r.to_dict(), ds, lang="zh")
    for name, df in zh.items():
        recs = res.records(df)
        leaks += english_leaks(list(df.columns), f"json {name} keys")
        leaks += english_leaks([v for rec in recs for v in rec.values()], f"json {name}")
    assert not leaks, "\n".join(leaks[:30])
    # the values that used to be English are there in Chinese
    wb = openpyxl.load_workbook(path)
    resp = pd.DataFrame(list(wb["界别责任区一览表"].values)[1:], columns=list(wb["界别责任区一览表"].values)[0])
    assert {"召集人", "副召集人"} <= set(resp["职务"].dropna())
    stations = pd.DataFrame(list(wb["站点"].values)[1:], columns=list(wb["站点"].values)[0])
    assert set(stations["站点类型"]) <= {v[0] for v in G.ENUMS["station_kind"].values()}
    summary = pd.DataFrame(list(wb["求解概况"].values)[1:], columns=list(wb["求解概况"].values)[0])
    assert set(summary["求解结果"]) <= {"最优", "最优（已放宽）", "可行", "不可行", "无需求解"}
    unc = wb["未覆盖村社区"]
    assert [c.value for c in unc[1]] == ["村社区编号", "村社区", "乡镇", "人口(人)"]  # not 覆盖人口


def test_zh_dataset_export_has_no_english_values(demo_run, tmp_path):
    ds, _ = demo_run
    path = write_dataset(ds, tmp_path / "d.xlsx", lang="zh")
    wb = openpyxl.load_workbook(path)
    heads = [c.value for ws in wb.worksheets for c in ws[1]]
    assert not english_leaks(heads, "dataset headers")
    assert not any(re.search(r"_\d+$", h or "") for h in heads)  # geometry never split (几何_2)
    kinds = {c.value for c in next(wb["站点"].iter_cols(min_col=3, max_col=3, min_row=2))}
    assert kinds <= {v[0] for v in G.ENUMS["station_kind"].values()}


def test_result_json_with_lang_zh_over_http(tiny, tmp_path):
    P = hdr("planner")
    with client(make_app(tmp_path / "data", tiny)) as c:
        r = c.post("/v1/datasets/tiny/optimisations", json={"time_limit_s": 20}, headers=P)
        job_id = r.json()["id"]
        import time

        t0 = time.monotonic()
        while c.get(f"/v1/jobs/{job_id}", headers=P).json()["status"] not in ("successful", "failed"):
            assert time.monotonic() - t0 < 60
            time.sleep(0.05)
        for table in ("responsibility", "summary", "stations"):
            rows = c.get(f"/v1/jobs/{job_id}/results?table={table}&lang=zh", headers=P).json()["rows"]
            texts = [k for row in rows for k in row] + [v for row in rows for v in row.values()]
            assert not english_leaks(texts, table), english_leaks(texts, table)
        summ = c.get(f"/v1/jobs/{job_id}/results?table=summary&lang=zh", headers=P).json()["rows"]
        assert {row["求解结果"] for row in summ} <= {"最优", "最优（已放宽）", "可行", "不可行", "无需求解"}


# --- print-ready 一览表 ---------------------------------------------------------------------------------
def test_responsibility_workbook_is_print_ready(demo_run, tmp_path):
    ds, r = demo_run
    path = write_result_xlsx(r.tables(ds), tmp_path / "r.xlsx", lang="zh", notes=result_notes(r, ds, "zh"))
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "界别责任区一览表" and wb.sheetnames[-1] == "说明"
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1, ws.title
        assert ws.print_title_rows and "1:" in ws.print_title_rows, ws.title
        assert ws.oddHeader.center.text and ws.oddHeader.right.text, ws.title
        assert all(c.font.b for c in ws[1]), ws.title
        for c in ws[1]:
            w = ws.column_dimensions[c.column_letter].width
            assert w and w >= 6, (ws.title, c.value)
    ws = wb["界别责任区一览表"]
    names = [c.value for c in ws[1]]
    col = names.index("责任村社区") + 1
    widest = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(v or "")) for (v,) in
                 ws.iter_rows(min_row=2, min_col=col, max_col=col, values_only=True))
    assert ws.column_dimensions[openpyxl.utils.get_column_letter(col)].width >= min(60, widest)  # CJK double
    # numbers rounded with the unit in the header
    m = wb["委员"]
    heads = [c.value for c in m[1]]
    km = heads.index("总距离(公里)") + 1
    for (v,) in m.iter_rows(min_row=2, min_col=km, max_col=km, values_only=True):
        assert v is None or round(v, 1) == v
    g = wb["界别活动组"]
    heads = [c.value for c in g[1]]
    pop = heads.index("覆盖人口(人)") + 1
    assert all(isinstance(v, int) for (v,) in g.iter_rows(min_row=2, min_col=pop, max_col=pop, values_only=True))
    notes = {row[0]: row[1] for row in wb["说明"].iter_rows(min_row=2, values_only=True)}
    assert {"数据集", "版本", "日期", "求解结果"} <= set(notes) and notes["求解结果"] in ("最优", "最优（已放宽）", "可行", "不可行")
    assert notes["参数：距离方式"] == "直线距离" and notes["参数：优化层级"].startswith("界别群众")
