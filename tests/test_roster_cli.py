"""``geo-service roster``: the JSON shape, the 轮值表 workbook, calendars parsed back, the
availability file (applied; bad rows named, exit 2, no traceback), ``--out`` as a folder."""

from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.core.io.availability import read_availability_records
from geo_service.core.io.gpkg import write_gpkg
from solvers.roster.availability import availability_from_records

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_gpkg(tiny, tmp_path_factory):
    return write_gpkg(tiny, tmp_path_factory.mktemp("roster-cli") / "tiny.gpkg")


def roster(*args: str):
    return runner.invoke(app, ["roster", *args])


def test_json_xlsx_and_calendars(tiny, tiny_gpkg, tmp_path):
    out = tmp_path / "轮值表.xlsx"
    r = roster(str(tiny_gpkg), "--start", "2027-01", "--months", "6", "--out", str(out),
               "--ics", str(tmp_path / "ics"), "--json", "--time-limit", "10")
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    assert set(j) == {"status", "outcome", "objective", "bound", "gap", "duties", "consultations", "diagnostics", "job_id"}
    assert j["status"] in ("optimal", "feasible") and j["outcome"].startswith(("最优", "可行"))
    assert j["bound"] <= j["objective"] + 1e-6 and j["gap"] is not None
    months = [f"2027-{m:02d}" for m in range(1, 7)]
    assert j["duties"] and all(set(d) == {"month", "station_id", "member_id", "date"} for d in j["duties"])
    assert {d["month"] for d in j["duties"]} == set(months)  # one platform, at least one member a month
    assert all(d["date"].startswith(d["month"]) for d in j["duties"])
    assert set(tiny.members["id"]) >= {d["member_id"] for d in j["duties"]}
    assert [c["quarter"] for c in j["consultations"]] == ["2027Q1", "2027Q2"]
    assert all(set(c) == {"quarter", "township_id", "committee_id", "date", "member_ids"} for c in j["consultations"])
    # the workbook: sheets from the one table writer, glossary headers, months as columns
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["轮值表", "委员值班", "接待日", "一季一协商", "说明"]
    head = [c.value for c in wb["轮值表"][1]]
    assert head == ["值班平台", *months]
    assert wb["轮值表"].print_title_rows.replace("$", "") == "1:1"  # print setup of the one writer
    assert [c.value for c in wb["委员值班"][1]][:4] == ["委员", "委员编号", "界别", "值班月数"]
    # calendars: all.ics holds every duty slot and consultation; one file per member involved
    cal = Calendar.from_ical((tmp_path / "ics" / "all.ics").read_bytes())
    events = list(cal.walk("VEVENT"))
    slots = {(d["month"], d["station_id"]) for d in j["duties"]}
    assert len(events) == len(slots) + len(j["consultations"])
    involved = {d["member_id"] for d in j["duties"]} | {i for c in j["consultations"] for i in c["member_ids"]}
    assert {p.stem for p in (tmp_path / "ics").glob("*.ics")} == involved | {"all"}


def test_human_output_is_chinese_and_out_folder(tiny_gpkg, tmp_path):
    r = roster(str(tiny_gpkg), "--start", "2027-01", "--months", "3", "--out", str(tmp_path / "dir") + "/",
               "--time-limit", "10")
    assert r.exit_code == 0, r.output
    assert "排班结果" in r.stdout and "目标值" in r.stdout and "下界" in r.stdout and "间隙" in r.stdout
    assert (tmp_path / "dir" / "轮值表.xlsx").exists()
    r = roster(str(tiny_gpkg), "--start", "2027-01", "--months", "3", "--out", str(tmp_path / "duties.csv"),
               "--time-limit", "10")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "duties.csv", encoding="utf-8-sig")
    assert list(df.columns)[:2] == ["月份", "日期"]


def test_availability_file_is_applied(tiny, tiny_gpkg, tmp_path):
    ids = list(tiny.members["id"])
    names = dict(zip(tiny.members["id"], tiny.members["name"]))
    # every member but the first two away all period (by id, by name, by month range, by dates)
    rows = [{"委员": ids[2], "月份": "2027-01~2027-03", "开始日期": "", "结束日期": ""},
            {"委员": names[ids[3]], "月份": "2027-01;2027-02、2027-03", "开始日期": "", "结束日期": ""},
            {"委员": ids[4], "月份": "", "开始日期": "2027-01-01", "结束日期": "2027-03-31"},
            {"委员": ids[5], "月份": "2027-01,2027-02,2027-03", "开始日期": "", "结束日期": ""}]
    path = tmp_path / "availability.xlsx"
    pd.DataFrame(rows).to_excel(path, index=False)
    r = roster(str(tiny_gpkg), "--start", "2027-01", "--months", "3", "--availability", str(path),
               "--out", str(tmp_path / "r.xlsx"), "--json", "--time-limit", "10")
    assert r.exit_code == 0, r.output
    on = {d["member_id"] for d in json.loads(r.stdout)["duties"]}
    assert on and on <= set(ids[:2])
    # English headers, CSV
    csv = tmp_path / "a.csv"
    csv.write_text(f"member,months\n{ids[0]},2027-02\n", encoding="utf-8")
    records = read_availability_records(csv)
    assert records == [{"row": 2, "member": ids[0], "months": "2027-02"}]  # plain records, the sheet's row
    got = availability_from_records(records, tiny.members, source=csv)
    assert [(u.member_id, u.months) for u in got] == [(ids[0], ["2027-02"])]


def test_availability_errors_name_the_rows(tiny_gpkg, tiny, tmp_path):
    ids = list(tiny.members["id"])
    bad = tmp_path / "bad.csv"
    bad.write_text("委员,月份,开始日期,结束日期\n"
                   f"{ids[0]},2027-02,,\n"
                   "无此人,2027-03,,\n"
                   f"{ids[1]},2027-13,,\n"
                   f"{ids[2]},,2027-06-01,2027-05-01\n"
                   f"{ids[3]},,,\n", encoding="utf-8")
    r = roster(str(tiny_gpkg), "--start", "2027-01", "--availability", str(bad), "--out", str(tmp_path / "r.xlsx"))
    assert r.exit_code == 2
    err = r.stderr
    assert "Traceback" not in r.output and "bad.csv" in err
    assert "第 3 行" in err and "无此人" in err and "未知委员" in err
    assert "第 4 行" in err and "2027-13" in err
    assert "第 5 行" in err and "早于" in err
    assert "第 6 行" in err
    assert "第 2 行" not in err
    r = roster(str(tiny_gpkg), "--availability", str(bad), "--lang", "en")
    assert r.exit_code == 2 and "row 3" in r.stderr and "unknown member" in r.stderr and "row 2" not in r.stderr
    assert not (tmp_path / "r.xlsx").exists()
    # no member column
    (tmp_path / "cols.csv").write_text("who,when\nM1,2027-01\n", encoding="utf-8")
    r = roster(str(tiny_gpkg), "--availability", str(tmp_path / "cols.csv"))
    assert r.exit_code == 2 and "委员" in r.stderr and "who, when" in r.stderr and "Traceback" not in r.output
    r = roster(str(tiny_gpkg), "--availability", str(tmp_path / "missing.csv"))
    assert r.exit_code == 2 and "没有这个文件" in r.stderr
    r = roster(str(tiny_gpkg), "--start", "2027-1x")
    assert r.exit_code == 2 and "起始月份" in r.stderr and "2027-1x" in r.stderr and "Traceback" not in r.output


def test_leave_records_keep_the_sheet_row_numbers(tiny, tmp_path):
    """The core reader gives plain records numbered as in the sheet (a blank row skipped, not
    renumbered); the roster's check names that row in its error."""
    ids = list(tiny.members["id"])
    path = tmp_path / "请假.xlsx"
    pd.DataFrame([{"委员编号": ids[0], "请假月份": "2027-02"}, {"委员编号": None, "请假月份": None},
                  {"委员编号": ids[1], "请假月份": "2027-14"}]).to_excel(path, index=False)
    records = read_availability_records(path, "zh")
    assert [(r["row"], r["member"], r["months"]) for r in records] == [(2, ids[0], "2027-02"), (4, ids[1], "2027-14")]
    with pytest.raises(ValueError, match=r"请假表 请假.xlsx：第 4 行：月份 '2027-14'"):
        availability_from_records(records, tiny.members, "zh", source=path)
    with pytest.raises(ValueError, match="no such file"):
        read_availability_records(tmp_path / "none.csv")
