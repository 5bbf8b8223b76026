"""Memory budgets, upload caps, cancellation that stops
the solver, temp files removed on start-up. Each test replays the attack and asserts the safe outcome."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RSS_LIMIT = 1.5 * 2**30  # bytes: the bound for one 100k-point, k=50 request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _peak_rss(pid: int) -> int:
    """Peak resident set (VmHWM) of a process, bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The service in its own process (uvicorn, 127.0.0.1, a free port) on the demo county."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the server's peak memory")
    data = tmp_path_factory.mktemp("srv")
    port = _free_port()
    code = ("import uvicorn; from api.app import create_app; from api.settings import Settings; "
            f"uvicorn.run(create_app(Settings(data_dir={str(data)!r}, load_demo=True, log_level='WARNING')), "
            f"host='127.0.0.1', port={port}, log_level='warning')")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for k in list(env):
        if k.startswith("GEO_SERVICE_"):
            del env[k]
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import httpx

    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(base + "/v1/datasets/demo", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("server did not start")
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _points_body(n: int) -> bytes:
    rng = np.random.default_rng(11)
    lon = rng.uniform(129.6, 134.9, n)
    lat = rng.uniform(46.1, 48.3, n)
    return json.dumps(np.round(np.column_stack([lon, lat]), 5).tolist()).encode()


# --- 4: nearest batches within a memory budget ---------------------------------------------------
@pytest.mark.slow  # > 3 s
def test_nearest_100k_points_k50_stays_under_1_5_gb(server):
    import httpx

    base, proc = server
    body = _points_body(100_000)
    hdr = {"Content-Type": "application/json"}
    # rows: ~750 MB of JSON -> refused before any work, naming the limit and how to split
    r = httpx.post(f"{base}/v1/datasets/demo/nearest?k=50&format=rows", content=body, headers=hdr, timeout=300)
    assert r.status_code == 413, r.text[:500]
    assert r.headers["content-type"].startswith("application/problem+json")
    p = r.json()
    assert p["type"].endswith("answer-too-large")
    assert "max_nearest_answer_bytes" in p["detail"] and "请分批提交" in p["detail"]  # Chinese by default
    assert 0 < p["max_points_at_k"] < 100_000 and p["limit_bytes"] > 0
    # columns: answered, streamed; the whole answer is read and checked
    size, n_ids = 0, 0
    with httpx.stream("POST", f"{base}/v1/datasets/demo/nearest?k=50&format=columns", content=body,
                      headers=hdr, timeout=600) as r:
        assert r.status_code == 200
        chunks = []
        for chunk in r.iter_bytes():
            size += len(chunk)
            chunks.append(chunk)
    doc = json.loads(b"".join(chunks))
    del chunks
    assert doc["count"] == 100_000 and doc["k"] == 50
    n_ids = len(doc["columns"]["station_id"])
    assert n_ids == 5_000_000 and len(doc["columns"]["distance_m"]) == 5_000_000
    assert doc["columns"]["station_id"][0] in doc["stations"]
    d = doc["columns"]["distance_m"][:50]
    assert d == sorted(d)  # nearest first
    # a request that fits at k=50 per the refusal's advice is answered in format=rows too
    fit = min(p["max_points_at_k"], 2_000)
    r = httpx.post(f"{base}/v1/datasets/demo/nearest?k=50&format=rows", content=_points_body(fit), headers=hdr,
                   timeout=300)
    assert r.status_code == 200 and len(r.json()["results"]) == fit * 50
    # 1M points at k=50 (a MemoryError under 6 GiB before): refused in either format, before any lookup
    big = _points_body(1_000_000)
    for fmt in ("rows", "columns"):
        r = httpx.post(f"{base}/v1/datasets/demo/nearest?k=50&format={fmt}", content=big, headers=hdr, timeout=300)
        assert r.status_code == 413 and r.json()["type"].endswith("answer-too-large"), r.text[:300]
    del big
    peak = _peak_rss(proc.pid)
    print(f"server peak RSS {peak / 2**20:.0f} MiB; columns answer {size / 2**20:.0f} MiB")
    assert peak < RSS_LIMIT, f"server peaked at {peak / 2**30:.2f} GiB"


def test_nearest_budget_refusal_message():
    from api.problems import ProblemError
    from api.routers.nearest import check_answer_budget

    check_answer_budget(1000, 50, "rows", "straight", 256 * 2**20)  # fits: no error
    with pytest.raises(ProblemError) as e:
        check_answer_budget(1_000_000, 50, "columns", "straight", 256 * 2**20)
    err = e.value
    assert err.status == 413 and err.code == "answer-too-large"
    assert "max_nearest_answer_bytes" in err.detail and "at most" in err.detail
    assert "或改用 format=columns" not in err.detail_zh and "每批至多" in err.detail_zh
    assert err.extra["max_points_at_k"] * 50 * 24 <= 256 * 2**20
    with pytest.raises(ProblemError) as e:
        check_answer_budget(100_000, 50, "rows", "straight", 256 * 2**20)
    assert "format=columns" in e.value.detail  # the cheaper format is suggested when it would fit


# --- 6: cancellation stops the solver ------------------------------------------------------------
def _spin(ds, params, previous, progress, cancel):
    """A solver that never looks at ``cancel`` (as OR-Tools inside one long solve): burns a core."""
    progress(5, "spinning")
    x = 0
    while True:
        x += 1
        if x % 5_000_000 == 0:
            progress(10, "still spinning")


_spin.run_in_process = True


def _quick(ds, params, previous, progress, cancel):
    progress(50, "half way")
    return {"status": "optimal", "tables": {}}


_quick.run_in_process = True


def _wait_job(c, job_id, until, timeout=60.0):
    from test_api_support import hdr

    t0 = time.monotonic()
    while True:
        job = c.get(f"/v1/jobs/{job_id}", headers=hdr("viewer")).json()
        if job["status"] in until:
            return job
        assert time.monotonic() - t0 < timeout, job
        time.sleep(0.05)


@pytest.mark.slow  # > 3 s
def test_cancel_kills_the_solver_process_and_frees_the_worker(tmp_path, tiny):
    import psutil

    from test_api_support import client, hdr, make_app

    P = hdr("planner")
    app = make_app(tmp_path / "d", tiny, job_workers=1, job_queue_size=1)
    jobs = app.state.jobs
    jobs.runners["optimisation"] = _spin
    with client(app) as c:
        a = c.post("/v1/datasets/tiny/optimisations", json={"time_limit_s": 600}, headers=P).json()
        t0 = time.monotonic()
        while not (jobs.worker_pids().get(a["id"]) and
                   c.get(f"/v1/jobs/{a['id']}", headers=P).json()["message"] == "still spinning"):
            assert time.monotonic() - t0 < 120, "the job never started"
            time.sleep(0.05)
        pid = jobs.worker_pids()[a["id"]]
        assert pid != os.getpid()
        job = c.get(f"/v1/jobs/{a['id']}", headers=P).json()
        assert job["status"] == "running" and job["progress"] == 10  # progress relayed from the process
        proc = psutil.Process(pid)
        cpu0 = sum(proc.cpu_times()[:2])
        while sum(proc.cpu_times()[:2]) - cpu0 < 0.1:  # it really computes (however loaded the machine)
            time.sleep(0.05)
        d = c.delete(f"/v1/jobs/{a['id']}", headers=P).json()
        assert d["status"] == "dismissed"
        # gone when DELETE answers: terminated and reaped, not merely flagged
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert a["id"] not in jobs.worker_pids()
        # the only worker is free: a new job starts and finishes (with the old thread runner it stayed
        # 'accepted' behind the spinning one)
        jobs.runners["optimisation"] = _quick
        b = c.post("/v1/datasets/tiny/optimisations", json={}, headers=P).json()
        assert _wait_job(c, b["id"], ("successful", "failed"), timeout=30)["status"] == "successful"
        assert c.get(f"/v1/jobs/{a['id']}", headers=P).json()["status"] == "dismissed"


@pytest.mark.slow  # > 3 s
def test_solver_far_past_its_time_limit_is_stopped(tmp_path, tiny, monkeypatch):
    import geo_service.app.children as children
    from test_api_support import client, hdr, make_app

    monkeypatch.setattr(children, "OVERRUN_GRACE_S", 0.0)
    P = hdr("planner")
    app = make_app(tmp_path / "d", tiny, job_workers=1)
    app.state.jobs.runners["optimisation"] = _spin
    with client(app) as c:
        a = c.post("/v1/datasets/tiny/optimisations", json={"time_limit_s": 1}, headers=P).json()
        job = _wait_job(c, a["id"], ("successful", "failed", "dismissed"), timeout=60)
        assert job["status"] == "failed" and job["error"]["title"] == "TimeLimitExceeded"
        assert "time_limit_s" in job["message"]
        assert app.state.jobs.worker_pids() == {}


def test_solver_errors_and_crashes_become_failed_jobs(tmp_path, tiny):
    from test_api_support import client, hdr, make_app

    def broken(ds, params, previous, progress, cancel):
        raise ValueError("3 农业 members cannot take 50 农业 constituents")

    def crash(ds, params, previous, progress, cancel):
        os._exit(9)  # as the kernel's OOM killer would end it

    broken.run_in_process = crash.run_in_process = True
    P = hdr("planner")
    app = make_app(tmp_path / "d", tiny)
    with client(app) as c:
        app.state.jobs.runners["optimisation"] = broken
        job = _wait_job(c, c.post("/v1/datasets/tiny/optimisations", json={}, headers=P).json()["id"],
                        ("successful", "failed"))
        assert job["status"] == "failed" and job["error"]["title"] == "ValueError" and "农业" in job["message"]
        app.state.jobs.runners["optimisation"] = crash
        job = _wait_job(c, c.post("/v1/datasets/tiny/optimisations", json={}, headers=P).json()["id"],
                        ("successful", "failed"))
        assert job["status"] == "failed" and job["error"]["title"] == "WorkerDied"


@pytest.mark.parametrize("limit,ok", [(1e308, False), (3601, False), (0.5, False), (0, False), (1, True),
                                      (3600, True)])
def test_time_limit_is_bounded(tmp_path, tiny, limit, ok):
    from test_api_support import client, hdr, make_app

    app = make_app(tmp_path / "d", tiny)
    app.state.jobs.runners["optimisation"] = _quick
    with client(app) as c:
        r = c.post("/v1/datasets/tiny/optimisations", json={"time_limit_s": limit}, headers=hdr("planner"))
        if ok:
            assert r.status_code == 202, r.text
        else:
            assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("time_limit_s"), r.text


# --- 5: uploads bounded by real unpacked size and row counts -------------------------------------
def _upload(c, name: str, data: bytes, **form):
    from test_api_support import hdr

    return c.post("/v1/datasets", files={"file": (name, data)}, data={"id": "up", **form}, headers=hdr("admin"))


def _csv_rows(n: int, bad: bool = False) -> str:
    lines = ["id,name,township_id,lon,lat"]
    lines += [f"V{i},村{i},T1,{'x' if bad else 114.0 + i * 1e-6},{29.0 + i * 1e-6}" for i in range(n)]
    return "\n".join(lines) + "\n"


TOWNSHIPS_CSV = "id,name,lon,lat\nT1,天城镇,114.0,29.0\nT2,桂花镇,114.2,29.1\n"


def _zip(files: dict[str, bytes | str]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _bomb(size: int) -> bytes:
    """A small zip holding a big CSV (``size`` bytes of repeated rows)."""
    row = b"V1,x,T1,114.0,29.0\n"
    return _zip({"townships.csv": TOWNSHIPS_CSV, "villages.csv": b"id,name,township_id,lon,lat\n" + row *
                 (size // len(row))})


def test_zip_bomb_is_refused_by_measured_size(tmp_path):
    """The extraction counts real bytes and stops at the cap, whatever the zip declares."""
    import zipfile

    from geo_service.core.io import read_dataset
    from geo_service.core.io.limits import InputTooLarge, ReadLimits, UnpackBudget
    from geo_service.core.io.collect import _safe_extract

    bomb = _bomb(64 * 2**20)
    assert len(bomb) < 2**20  # < 1 MiB on the wire, 64 MiB unpacked
    p = tmp_path / "bomb.zip"
    p.write_bytes(bomb)
    with pytest.raises(InputTooLarge) as e:
        read_dataset(p, limits=ReadLimits(max_unpacked_bytes=4 * 2**20), tmp_dir=tmp_path / "x")
    assert e.value.setting == "max_unpacked_bytes" and "bomb.zip" in e.value.source
    assert list((tmp_path / "x").iterdir()) == []  # the partial extraction is gone
    # what reaches the disk stops at the cap (plus one read chunk): the bytes are counted as they
    # come out of the decompressor (a header declaring less is no way round it: zipfile stops at the
    # declared size and the CRC check fails, an unreadable-upload 422)
    dest = tmp_path / "out"
    dest.mkdir()
    with zipfile.ZipFile(p) as zf, pytest.raises(InputTooLarge):
        _safe_extract(zf, dest, UnpackBudget(4 * 2**20, "bomb.zip"))
    written = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    assert 3 * 2**20 < written <= 4 * 2**20 + 2**20


@pytest.mark.slow  # > 3 s
def test_zip_bomb_upload_answers_413_naming_the_cap(tmp_path, tiny):
    from test_api_support import client, make_app

    app = make_app(tmp_path / "d", max_unpacked_bytes=4 * 2**20)
    with client(app) as c:
        r = _upload(c, "county.zip", _bomb(64 * 2**20))
        assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")
        p = r.json()
        assert p["setting"] == "max_unpacked_bytes" and p["limit"] == 4 * 2**20
        assert "county.zip" in p["detail"] and "upload.zip" not in p["detail"]
        # the measured path too (the declared-size check disabled): same answer
        import api.routers.datasets as dr

        orig = dr._check_zip
        dr._check_zip = lambda path, cap, name: None
        try:
            r = _upload(c, "county.zip", _bomb(64 * 2**20))
        finally:
            dr._check_zip = orig
        assert r.status_code == 413 and r.json()["setting"] == "max_unpacked_bytes", r.text
        assert "county.zip/villages.csv" in r.json()["source"]


def test_csv_row_cap(tmp_path):
    from test_api_support import client, make_app

    app = make_app(tmp_path / "d", max_table_rows=1000)
    with client(app) as c:
        r = _upload(c, "county.zip", _zip({"townships.csv": TOWNSHIPS_CSV, "villages.csv": _csv_rows(1001)}))
        assert r.status_code == 413, r.text
        p = r.json()
        assert p["setting"] == "max_table_rows" and p["limit"] == 1000 and "villages.csv" in p["source"]
        assert "1000" in p["detail"]
        r = _upload(c, "county.zip", _zip({"townships.csv": TOWNSHIPS_CSV, "villages.csv": _csv_rows(1000)}))
        assert r.status_code == 201, r.text  # at the cap: accepted


def _xlsx(sheets: dict[str, list[list]]) -> bytes:
    import io

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet_rows(n: int, bad: bool = False) -> list[list]:
    rows = [["id", "name", "township_id", "lon", "lat"]]
    rows += [[f"V{i}", f"村{i}", "T1", "x" if bad else 114.0 + i * 1e-6, 29.0 + i * 1e-6] for i in range(n)]
    return rows


TOWNSHIP_ROWS = [["id", "name", "lon", "lat"], ["T1", "天城镇", 114.0, 29.0], ["T2", "桂花镇", 114.2, 29.1]]


def test_xlsx_with_many_rows_is_refused_naming_the_sheet(tmp_path, monkeypatch):
    from test_api_support import client, make_app

    import pandas as pd

    seen = []
    real = pd.read_excel

    def spy(*a, **kw):
        seen.append(kw.get("nrows"))
        return real(*a, **kw)

    monkeypatch.setattr(pd, "read_excel", spy)
    data = _xlsx({"townships": TOWNSHIP_ROWS, "villages": _sheet_rows(5000)})
    app = make_app(tmp_path / "d", max_table_rows=1000)
    with client(app) as c:
        r = _upload(c, "county.xlsx", data)
        assert r.status_code == 413, r.text
        p = r.json()
        assert p["setting"] == "max_table_rows" and p["source"] == "county.xlsx[villages]"
        assert "county.xlsx[villages]" in p["detail"]
    assert seen and all(n == 1001 for n in seen)  # read stops one row past the cap


@pytest.mark.slow  # > 3 s
def test_xlsx_parts_are_measured_before_parsing(tmp_path):
    """A workbook whose sheet XML unpacks past the cap is refused before openpyxl parses it."""
    from geo_service.core.io.limits import InputTooLarge, ReadLimits
    from geo_service.core.io.tables import read_excel_sheets

    p = tmp_path / "villages.xlsx"
    p.write_bytes(_xlsx({"villages": [["id", "name"]] + [[f"V{i}", "x" * 200] for i in range(20_000)]}))
    assert p.stat().st_size < 2**20
    with pytest.raises(InputTooLarge) as e:
        read_excel_sheets(p, ReadLimits(max_unpacked_bytes=2**20))
    assert e.value.setting == "max_unpacked_bytes" and e.value.source.startswith("villages.xlsx/")
    assert len(read_excel_sheets(p, ReadLimits(max_unpacked_bytes=64 * 2**20, max_rows=20_000))["villages"]) \
        == 20_000


@pytest.mark.slow  # > 3 s
def test_bad_xlsx_with_100k_bad_rows_answers_a_small_body(tmp_path):
    from test_api_support import client, make_app

    data = _xlsx({"townships": TOWNSHIP_ROWS, "villages": _sheet_rows(100_000, bad=True)})
    app = make_app(tmp_path / "d")
    with client(app) as c:
        r = _upload(c, "county.xlsx", data)
    assert r.status_code == 422, r.text[:500]
    assert len(r.content) < 64 * 1024, len(r.content)
    p = r.json()
    assert p["error_count"] >= 100_000 and len(p["errors"]) == 100 and p["errors_truncated"] is True
    assert p["error_counts"]["bad_number"] == 100_000
    assert p["errors"][0]["row"] == 2 and p["errors"][0]["field"] == "lon"
    assert "列出前 100 处" in p["detail"] and f"{p['error_count']} 处错误" in p["detail"]


# --- 9: temp files of killed processes are removed on start-up -----------------------------------
def test_stale_upload_temp_files_are_removed_on_start(tmp_path):
    from geo_service.core.io.tempdirs import _host, _start_ticks, process_tmp_dir
    from test_api_support import client, make_app

    data = tmp_path / "d"
    root = data / "tmp"
    dead = root / f"{_host()}-4194300-123"  # a pid above Linux's pid_max: certainly gone
    (dead / "upload-abc" / "x").mkdir(parents=True)
    (dead / "upload-abc" / "x" / "villages.csv").write_bytes(b"a" * 1000)
    reused = root / f"{_host()}-1-7"  # pid 1 lives, but started at another time: a reused pid
    reused.mkdir()
    live = root / f"{_host()}-1-{_start_ticks(1)}" if _start_ticks(1) is not None else None
    if live is not None:
        live.mkdir()
    other_host = root / "another-host-4194300-123"
    other_host.mkdir()
    mine = process_tmp_dir(data)
    with client(make_app(data)):
        pass
    assert not dead.exists() and not reused.exists()
    assert other_host.exists() and mine.exists()
    if live is not None:
        assert live.exists()


def test_uploads_leave_no_temp_files(tmp_path):
    from test_api_support import client, make_app

    data = tmp_path / "d"
    app = make_app(data, max_table_rows=1000)
    with client(app) as c:
        _upload(c, "county.zip", _zip({"townships.csv": TOWNSHIPS_CSV, "villages.csv": _csv_rows(1001)}))
        _upload(c, "county.zip", _zip({"townships.csv": TOWNSHIPS_CSV, "villages.csv": _csv_rows(10)}))
    left = [p for p in (data / "tmp").rglob("*") if p.is_file()]
    assert left == []
