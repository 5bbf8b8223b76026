"""Attacks on the service, each replayed against the real server process
(:mod:`live_server`: the server set-up of ``geo-service serve``) with its safe outcome asserted."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from live_server import LiveServer, running
from test_api_support import KEYS, SETTINGS_KEYS

from geo_service.app.children import ProcessRecords
from geo_service.core.store import JobRecord, SQLiteStore

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")]

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
if not REAL.is_dir():  # the main checkout sees it beside the repository too
    REAL = Path(__file__).resolve().parents[2] / "shared" / "real"
V, P, A = ({"X-API-Key": KEYS[r]} for r in ("viewer", "planner", "admin"))


def _wait_job(base: str, job_id: str, until: tuple[str, ...], timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        j = httpx.get(f"{base}/v1/jobs/{job_id}", headers=P, timeout=10).json()
        if j["status"] in until:
            return j
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not in {until} after {timeout} s: {j}")


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One server on the demo county with a keyed role each; a stored job poisoned by an earlier
    version (a number beyond 64 bits in its params) waits in its store."""
    data = tmp_path_factory.mktemp("live")
    SQLiteStore(str(data)).create_job(JobRecord(id="poisoned", dataset_id="demo", kind="roster", status="failed",
                                                params={"fairness_spread": 99999999999999999999, "seed": -2**70}))
    srv = LiveServer(data, api_keys=SETTINGS_KEYS, load_demo=True, auth_failures_per_minute=3).start()
    yield srv
    srv.stop()


# -- 1. numbers beyond their range --------------------------------------------------------------
@pytest.mark.parametrize("path,body,field", [
    ("rosters", {"fairness_spread": 99999999999999999999}, "fairness_spread"),
    ("rosters", {"seed": 12345678901234567890}, "seed"),
    ("optimisations", {"seed": 2**64 + 1}, "seed"),
    ("optimisations", {"constituents_max": -2**70}, "constituents_max"),
])
def test_numbers_beyond_range_are_422_and_nothing_is_stored(live, path, body, field):
    before = httpx.get(f"{live.base}/v1/jobs", headers=V).json()["jobs"]
    r = httpx.post(f"{live.base}/v1/datasets/demo/{path}", json=body, headers=P)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert field in r.text
    after = httpx.get(f"{live.base}/v1/jobs", headers=V)
    assert after.status_code == 200 and len(after.json()["jobs"]) == len(before)


def test_a_poisoned_stored_job_is_still_readable_by_every_role(live):
    for who in (V, P, A):
        r = httpx.get(f"{live.base}/v1/jobs", headers=who)
        assert r.status_code == 200
        assert "poisoned" in [j["id"] for j in r.json()["jobs"]]
        one = httpx.get(f"{live.base}/v1/jobs/poisoned", headers=who)
        assert one.status_code == 200
        assert one.json()["params"]["fairness_spread"] == "99999999999999999999"  # as text, not a 500


# -- 2. kill -9 while a solver runs; the restart on the same port -----------------------------------
def test_kill_9_takes_the_solver_along_and_the_restart_runs_the_queue(tmp_path):
    srv = LiveServer(tmp_path / "d", stand_in=True, api_keys=SETTINGS_KEYS, load_demo=True, job_workers=1).start()
    try:
        stuck = httpx.post(f"{srv.base}/v1/datasets/demo/optimisations", json={"seed": 1, "time_limit_s": 600},
                           headers=P).json()
        _wait_job(srv.base, stuck["id"], ("running",))
        waiting = httpx.post(f"{srv.base}/v1/datasets/demo/optimisations", json={"seed": 2}, headers=P).json()
        assert waiting["status"] == "accepted"
        _wait(lambda: stuck["id"] in srv.solver_pids(), 20, "the solver's process record")
        child = srv.solver_pids()[stuck["id"]]
        assert running(child) and os.getpgid(child) == child  # its own process group
        def sockets() -> list[str]:
            fds = [os.readlink(f"/proc/{child}/fd/{n}") for n in os.listdir(f"/proc/{child}/fd")]
            return [f for f in fds if f.startswith("socket:")]

        # a forked child holds its parent's sockets until its first lines close them: within moments
        _wait(lambda: not sockets(), 10, "the solver lets go of every socket (the listening one too)")
        srv.kill(signal.SIGKILL)
        _wait(lambda: not running(child), 5, "the solver dies with the service")
        with socket.socket() as s:  # the port is free at once: nothing holds the listening socket
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", srv.port))
        srv.start()  # same data, same port
        gone = _wait_job(srv.base, stuck["id"], ("failed", "successful", "dismissed"), 10)
        assert gone["status"] == "failed" and gone["error"]["title"] == "Interrupted"
        ran = _wait_job(srv.base, waiting["id"], ("failed", "successful", "dismissed"), 60)
        assert ran["status"] == "successful", ran  # queued before the kill, run after the restart
    finally:
        srv.stop()


def test_the_solver_stops_itself_at_its_hard_limit_when_the_service_cannot(tmp_path):
    srv = LiveServer(tmp_path / "d", stand_in=True, grace_s=1.0, api_keys=SETTINGS_KEYS, load_demo=True).start()
    try:
        job = httpx.post(f"{srv.base}/v1/datasets/demo/optimisations", json={"seed": 1, "time_limit_s": 1},
                         headers=P).json()
        _wait(lambda: job["id"] in srv.solver_pids(), 20, "the solver's process record")
        child = srv.solver_pids()[job["id"]]
        srv.proc.send_signal(signal.SIGSTOP)  # the service can enforce nothing now
        try:
            _wait(lambda: not running(child), 10, "the solver ends itself (hard limit 1 x 1.5 + 1 s)")
        finally:
            srv.proc.send_signal(signal.SIGCONT)
        done = _wait_job(srv.base, job["id"], ("failed", "successful", "dismissed"), 15)
        assert done["status"] == "failed" and done["error"]["title"] == "TimeLimitExceeded"
        assert "Traceback" not in json.dumps(done)
    finally:
        srv.stop()


def test_strays_of_a_killed_service_are_killed_at_start_up(tmp_path):
    """A solver that outlived its service (no parent-death signal) is killed by its process record."""
    stray = subprocess.Popen([sys.executable, "-c", "import os, time; os.setpgid(0, 0); time.sleep(120)"])
    try:
        time.sleep(0.3)
        store = SQLiteStore(str(tmp_path / "d"))
        store.create_job(JobRecord(id="lost", dataset_id="demo", kind="optimisation", params={}, status="running"))
        store.close()
        ProcessRecords(tmp_path / "d" / "job-processes").add("lost", stray.pid)
        rec = tmp_path / "d" / "job-processes" / "lost.json"
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()  # the service that started it: dead
        rec.write_text(json.dumps({**json.loads(rec.read_text()), "service_pid": gone.pid}))
        srv = LiveServer(tmp_path / "d", api_keys=SETTINGS_KEYS, load_demo=True).start()
        try:
            assert stray.wait(10) == -signal.SIGKILL
            assert httpx.get(f"{srv.base}/v1/jobs/lost", headers=V).json()["error"]["title"] == "Interrupted"
        finally:
            srv.stop()
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()


# -- 3. slow connections from many addresses -----------------------------------------------------------
def test_half_open_connections_from_many_addresses_do_not_starve_others(tmp_path):
    srv = LiveServer(tmp_path / "d", api_keys=SETTINGS_KEYS, load_demo=False, max_connections_per_ip=40,
                     limit_concurrency=120, header_timeout_s=60).start()
    held = []
    try:
        for a in range(2, 7):  # 5 addresses x 40 (the per-address cap): 200 half-open connections
            for _ in range(40):
                s = socket.socket()
                s.bind((f"127.0.0.{a}", 0))
                s.connect(("127.0.0.1", srv.port))
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
                held.append(s)
        time.sleep(0.5)
        t0 = time.monotonic()
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.9")) as c:
            r = c.get(f"{srv.base}/v1/datasets", headers=V, timeout=10)
        assert r.status_code == 200, r.text  # the oldest waiting connections made room
        assert time.monotonic() - t0 < 5
    finally:
        for s in held:
            s.close()
        srv.stop()


def test_x_forwarded_for_does_not_reset_the_lockout(live):
    codes = []
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.77")) as c:  # its own address
        for i in range(5):
            r = c.get(f"{live.base}/v1/datasets", headers={"X-API-Key": f"wrong-key-{i:04d}",
                                                           "X-Forwarded-For": f"10.0.{i}.1"})
            codes.append(r.status_code)
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429], codes


# -- 4. parsing before refusing ---------------------------------------------------------------------
def _rss_kib(pid: int, key: str = "VmHWM") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(key)


def test_a_body_of_empty_points_is_refused_early_with_bounded_memory(live):
    size = 96 * 2**20 - 64
    piece = b"[]," * (2**20 // 3)
    head = (f"POST /v1/datasets/demo/nearest HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEYS['viewer']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode()
    peak0 = _rss_kib(live.proc.pid)
    sent = [0]
    with socket.create_connection(("127.0.0.1", live.port)) as s:

        def send() -> None:
            try:
                s.sendall(head + b'{"points":[')
                while sent[0] < size - 16:
                    s.sendall(piece)
                    sent[0] += len(piece)
            except OSError:
                pass

        sender = threading.Thread(target=send, daemon=True)
        t0 = time.monotonic()
        sender.start()
        s.settimeout(30)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        took, sent_then = time.monotonic() - t0, sent[0]
        s.shutdown(socket.SHUT_RDWR)
        sender.join(10)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert took < 8, took  # was 16 s (under load on a shared 2-core machine this is generous)
    assert sent_then < 48 * 2**20, sent_then  # answered before half the body was even sent
    assert _rss_kib(live.proc.pid) - peak0 < 400 * 1024  # was +3 GB


# -- 5. personal fields for viewers ------------------------------------------------------------------
def test_viewers_get_no_homes(live):
    full = httpx.get(f"{live.base}/v1/datasets/demo/members?limit=10000", headers=P).json()
    assert full["features"] and all(f["geometry"] for f in full["features"])
    seen = httpx.get(f"{live.base}/v1/datasets/demo/members?limit=10000", headers=V)
    assert seen.status_code == 200 and all(f["geometry"] is None for f in seen.json()["features"])
    assert "bbox" not in seen.json()
    assert httpx.get(f"{live.base}/v1/datasets/demo/members?bbox=0,0,180,90", headers=V).status_code == 403
    assert httpx.get(f"{live.base}/v1/datasets/demo/constituents", headers=V).status_code == 403
    places = set()  # villages and stations: a home at one of them is not told by its point
    for layer in ("villages", "stations"):
        for f in httpx.get(f"{live.base}/v1/datasets/demo/{layer}?limit=10000", headers=P).json()["features"]:
            places.add(tuple(round(c, 5) for c in f["geometry"]["coordinates"][:2]))
    homes = {tuple(round(c, 5) for c in f["geometry"]["coordinates"][:2]) for f in full["features"]} - places
    assert len(homes) > 100

    def drawn(page: str) -> set:
        forms = lambda x, y: (f"[{x}, {y}]", f"[{y}, {x}]", f"[{x},{y}]", f"[{y},{x}]")
        return {h for h in homes if any(f in page for f in forms(*h))}

    planner_map = httpx.get(f"{live.base}/v1/datasets/demo/maps/assignment", headers=P, timeout=120).text
    viewer_map = httpx.get(f"{live.base}/v1/datasets/demo/maps/assignment", headers=V, timeout=120).text
    assert len(drawn(planner_map)) == len(homes)  # the planner's map draws every home
    assert not drawn(viewer_map), sorted(drawn(viewer_map))[:5]  # the viewer's map none


# -- 6. a member's name with CR/LF in the calendar -------------------------------------------------------
def test_a_name_with_cr_lf_is_text_in_the_calendar(live):
    url = f"{live.base}/v1/datasets/demo/members"
    first = httpx.get(f"{url}?limit=1", headers=A).json()["features"][0]
    mid = first["id"]
    etag = httpx.get(f"{url}/{mid}", headers=A).headers["etag"]
    evil = "王\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:伪造\n芳"
    r = httpx.patch(f"{url}/{mid}", json={"properties": {"name": evil}}, headers={**A, "If-Match": etag})
    assert r.status_code == 200, r.text
    job = httpx.post(f"{live.base}/v1/datasets/demo/rosters", json={"months": 3, "time_limit_s": 10,
                                                                    "consultations": False}, headers=P).json()
    done = _wait_job(live.base, job["id"], ("successful", "failed"), 120)
    assert done["status"] == "successful", done
    for member in (None, mid):
        r = httpx.get(f"{live.base}/v1/jobs/{job['id']}/roster",
                      params={"format": "ics", **({"member": member} if member else {})}, headers=P)
        assert r.status_code == 200, r.text
        lines = r.content.split(b"\r\n")
        assert r.content.count(b"BEGIN:VEVENT") == r.content.count(b"END:VEVENT")
        assert not any(b"\n" in ln or b"\r" in ln for ln in lines)  # no bare line break in a content line
        assert all(len(ln) <= 75 for ln in lines)  # folded
        assert not [ln for ln in lines if ln.startswith("SUMMARY:伪造".encode())]  # the forged property stays text


# -- 7. road mode without roads -----------------------------------------------------------------------
def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_road_mode_without_roads_is_422_naming_the_layer(live):
    county = REAL / "dingri"
    body = _zip({"townships.csv": (county / "townships.csv").read_bytes(),
                 "villages.csv": (county / "villages.csv").read_bytes()})
    r = httpx.post(f"{live.base}/v1/datasets", files={"file": ("dingri.zip", body, "application/zip")},
                   data={"datum": "gcj02", "missing_points": "drop", "id": "dingri"}, headers=A, timeout=120)
    assert r.status_code == 201, r.text
    for req in (lambda: httpx.get(f"{live.base}/v1/datasets/dingri/nearest",
                                  params={"lon": 87.12, "lat": 28.65, "mode": "road"}, headers=V),
                lambda: httpx.post(f"{live.base}/v1/datasets/dingri/nearest?mode=road", json=[[87.12, 28.65]],
                                   headers=V),
                lambda: httpx.post(f"{live.base}/v1/datasets/dingri/optimisations", json={"mode": "road"},
                                   headers=P),
                lambda: httpx.post(f"{live.base}/v1/datasets/dingri/rosters", json={"mode": "road"}, headers=P)):
        r = req()
        assert r.status_code == 422, r.text
        p = r.json()
        assert p["type"].endswith("missing-layer") and p["layer"] == "roads" and "roads" in p["detail"]
        assert p["detail"] == "数据集缺少“roads”图层，无法完成此请求。" and r.headers["content-language"] == "zh"
    en = httpx.get(f"{live.base}/v1/datasets/dingri/nearest", params={"lon": 87.12, "lat": 28.65, "mode": "road"},
                   headers={**V, "Accept-Language": "en-GB,en;q=0.9"}).json()
    assert "dataset 'dingri' has no roads layer" in en["detail"] and en["title"] == "Missing layer"


# -- 8. lower ones ----------------------------------------------------------------------------------
def test_batch_reports_are_for_admins(live):
    assert httpx.get(f"{live.base}/v1/batches/abc123", headers=V).status_code == 403
    assert httpx.get(f"{live.base}/v1/batches/abc123", headers=P).status_code == 403
    assert httpx.get(f"{live.base}/v1/batches/abc123", headers=A).status_code == 404


def test_a_20_mb_village_name_is_refused_naming_row_and_field(live):
    county = REAL / "chongyang"
    lines = (county / "villages.csv").read_text(encoding="utf-8-sig").splitlines()
    cells = lines[3].split(",")
    cells[1] = "村" * (20 * 2**20 // 3)
    lines[3] = ",".join(cells)
    body = _zip({"townships.csv": (county / "townships.csv").read_bytes(),
                 "villages.csv": "\n".join(lines).encode()})
    r = httpx.post(f"{live.base}/v1/datasets", files={"file": ("big.zip", body, "application/zip")},
                   data={"datum": "gcj02", "missing_points": "drop", "id": "bigname"}, headers=A, timeout=120)
    assert r.status_code == 422, r.text[:500]
    errs = [e for e in r.json()["errors"] if e.get("code") == "too_long"]
    assert errs and errs[0]["layer"] == "villages" and errs[0]["field"] == "name" and errs[0]["row"]
    assert len(r.content) < 100_000
    assert httpx.get(f"{live.base}/v1/datasets/bigname", headers=V).status_code == 404


def test_a_zip_of_60000_entries_is_refused_at_once(live):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(60_000):
            zf.writestr(f"f{i}.csv", b"")
    t0 = time.monotonic()
    r = httpx.post(f"{live.base}/v1/datasets", files={"file": ("many.zip", buf.getvalue(), "application/zip")},
                   data={"id": "many"}, headers=A, timeout=60)
    took = time.monotonic() - t0
    assert r.status_code == 413 and r.json()["setting"] == "max_zip_entries", r.text[:300]
    assert took < 5, took  # was 24 s

