"""API side: each attack replayed over HTTP with its safe outcome asserted.

Host allow-list (DNS rebinding on the local demo), cross-site requests (Fetch Metadata / Origin),
links without the Host header, ETags that reveal nothing, key checks before dataset loads (404 and
401 indistinguishable), rate limits on bad keys and logins, 413 for every over-cap body (chunked
too), whole numbers beyond int64, slow clients (head timeout, per-address cap), collapsed log
floods, and a second process on the same data directory."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import make_tiny_layers
from test_api import assert_problem
from test_api_support import KEYS, client, hdr, make_app, write_raw_gpkg

QUICK = {"status": "optimal", "tables": {"responsibility": [{"member_id": "M1", "constituents": 10}]}}
CROSS_IMAGE = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}


@pytest.fixture
def app(tmp_path, tiny):
    a = make_app(tmp_path / "d", tiny, trusted_hosts=None, log_level="WARNING")  # keys: any Host by default
    a.state.jobs.runners["optimisation"] = lambda ds, p, prev, progress, cancel: QUICK
    return a


def loopback(app, port: int = 8767):
    """A client of the local demo as a browser on this machine addresses it: http://127.0.0.1:PORT."""
    from fastapi.testclient import TestClient

    return TestClient(app, base_url=f"http://127.0.0.1:{port}", client=("127.0.0.1", 50000))


@pytest.fixture
def demo(tmp_path, tiny):
    """The local demo: no API key, loopback clients are admin, the default Host allow-list."""
    return make_app(tmp_path / "demo", tiny, api_keys={}, trusted_hosts=None, log_level="WARNING")


# --- 2. Host allow-list -------------------------------------------------------------------------

def test_dns_rebinding_on_the_demo_gets_400(demo):
    with loopback(demo) as c:
        evil = {"Host": "evil.example:8767"}
        r = c.get("/v1/datasets/tiny/constituents", headers=evil)
        body = assert_problem(r, 400, "untrusted-host")
        assert "群众" not in r.text and "1380000" not in r.text and "evil.example:8767" in body["detail"]
        # a state-changing request with a matching foreign Origin no longer passes as same-origin
        r = c.post("/v1/datasets/tiny/optimisations", json={},
                   headers={**evil, "Origin": "http://evil.example:8767"})
        assert_problem(r, 400, "untrusted-host")
        assert_problem(c.delete("/v1/datasets/tiny", headers=evil), 400, "untrusted-host")
        assert_problem(c.get("/", headers={"Host": "127.0.0.1.evil.example"}), 400, "untrusted-host")
        # the loopback names, any port, are served; probes answer any Host
        for host in ("127.0.0.1:8767", "localhost:8000", "[::1]:8767", "localhost", "LOCALHOST:1"):
            assert c.get("/v1/datasets", headers={"Host": host}).status_code == 200, host
        assert c.get("/healthz", headers=evil).status_code == 200
        assert c.get("/readyz", headers=evil).status_code == 200


def test_host_allow_list_settings(tmp_path, tiny):
    from api.settings import Settings

    assert Settings(api_keys={}, trusted_hosts=None).allowed_hosts == ("127.0.0.1", "localhost", "[::1]")
    assert Settings(api_keys={"k" * 10: "admin"}, trusted_hosts=None).allowed_hosts == ("*",)
    assert Settings(trusted_hosts="Geo.Example.cn, *.gov.cn").allowed_hosts == ("geo.example.cn", "*.gov.cn")
    a = make_app(tmp_path / "d", tiny, trusted_hosts="geo.example.cn,*.gov.cn,10.0.0.5:8443")
    with client(a) as c:
        for host in ("geo.example.cn", "geo.example.cn:443", "a.gov.cn", "b.a.gov.cn:8000", "10.0.0.5:8443"):
            assert c.get("/v1/datasets", headers={**hdr("viewer"), "Host": host}).status_code == 200, host
        for host in ("evil.example", "gov.cn.evil.example", "xgov.cn", "10.0.0.5", "10.0.0.5:80", "testserver"):
            assert_problem(c.get("/v1/datasets", headers={**hdr("viewer"), "Host": host}), 400, "untrusted-host")


def test_links_and_location_never_copy_the_host_header(app, tiny, tmp_path):
    from geo_service.core.io.gpkg import write_gpkg

    evil = {**hdr("admin"), "Host": "evil.example"}  # with keys configured any Host is served by default
    with client(app) as c:
        listing = c.get("/v1/datasets", headers=evil).json()
        hrefs = [link["href"] for d in listing["datasets"] for link in d["links"]] + \
                [link["href"] for link in listing["links"]]
        page = c.get("/v1/datasets/tiny/villages?limit=2&offset=2", headers=evil).json()
        hrefs += [link["href"] for link in page["links"]]
        gpkg = write_gpkg(tiny, tmp_path / "t2.gpkg")
        with open(gpkg, "rb") as fh:
            r = c.post("/v1/datasets", files={"file": ("t2.gpkg", fh)}, headers=evil)
        assert r.status_code == 201, r.text
        hrefs += [r.headers["location"]] + [link["href"] for link in r.json()["links"]]
        r = c.post("/v1/datasets/tiny/optimisations", json={}, headers={**evil, **hdr("planner")})
        assert r.status_code == 202, r.text
        hrefs += [r.headers["location"]]
        assert hrefs and all(h.startswith("/") and "evil" not in h for h in hrefs), hrefs
        assert r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
        assert {link["rel"] for link in page["links"]} == {"self", "next", "prev"}
    based = make_app(tmp_path / "e", tiny, public_base_url="https://geo.example.cn/gis/", trusted_hosts=None)
    with client(based) as c:
        d = c.get("/v1/datasets/tiny", headers=evil).json()
        assert d["links"][0]["href"] == "https://geo.example.cn/gis/v1/datasets/tiny"


# --- 2. cross-site requests (Fetch Metadata / Origin) -------------------------------------------

def test_cross_site_image_get_of_a_map_is_refused(demo):
    url = "/v1/datasets/tiny/maps/coverage"
    with loopback(demo) as c:
        assert_problem(c.get(url, headers=CROSS_IMAGE), 403, "csrf-refused")
        assert_problem(c.get(url, headers={**CROSS_IMAGE, "Sec-Fetch-Site": "same-site"}), 403, "csrf-refused")
        assert_problem(c.get("/v1/datasets/tiny/constituents", headers={**CROSS_IMAGE, "Sec-Fetch-Dest": "script"}),
                       403, "csrf-refused")
        # a cross-site form POST (top-level navigation) cannot drive the loopback admin
        nav_post = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
        assert_problem(c.post("/v1/datasets/tiny/optimisations", json={}, headers=nav_post), 403, "csrf-refused")
        assert_problem(c.delete("/v1/datasets/tiny", headers=nav_post), 403, "csrf-refused")
        # an older browser without Fetch Metadata: the Origin decides
        assert_problem(c.get("/v1/datasets", headers={"Origin": "http://evil.example"}), 403, "csrf-refused")
        assert_problem(c.get("/v1/datasets", headers={"Origin": "null"}), 403, "csrf-refused")
        # the service's own page, the user typing the URL, and non-browser clients keep working
        assert c.get(url, headers=SAME_ORIGIN).status_code == 200
        assert c.get(url, headers={"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}).status_code == 200
        assert c.get(url).status_code == 200
        assert c.get("/v1/datasets", headers={"Origin": "http://127.0.0.1:8767"}).status_code == 200
        # public read endpoints answer any site; another site may link to the page (a navigation)
        for path in ("/healthz", "/readyz", "/static-docs/swagger-ui.css"):
            r = c.get(path, headers=CROSS_IMAGE)
            assert r.status_code in (200, 404) and r.status_code != 403, path
        assert c.get("/healthz", headers=CROSS_IMAGE).status_code == 200
        nav = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
        assert c.get("/", headers=nav).status_code == 200
        assert_problem(c.get(url, headers=nav), 403, "csrf-refused")  # deep links into data: refused
        assert c.get("/v1/datasets/tiny", headers=SAME_ORIGIN).status_code == 200


def test_cross_site_requests_refused_with_keys_too(app):
    with client(app) as c:
        assert_problem(c.get("/v1/datasets/tiny/maps/coverage", headers={**hdr("viewer"), **CROSS_IMAGE}),
                       403, "csrf-refused")
        assert c.get("/v1/datasets/tiny/maps/coverage", headers=hdr("viewer")).status_code == 200
    trusted = make_app(Path(app.state.settings.data_dir).with_name("t"), None,
                       trusted_origins="https://portal.example.cn")
    with client(trusted) as c:
        r = c.get("/v1/datasets", headers={**hdr("viewer"), "Origin": "https://portal.example.cn"})
        assert r.status_code == 200


# --- 8. ETags reveal nothing --------------------------------------------------------------------

def _old_etag(feature) -> str:
    """The ETag of the first release: sha256 of the canonical JSON."""
    from api import geojson as gj

    return '"' + hashlib.sha256(gj.dumps(feature)).hexdigest()[:32] + '"'


def test_feature_etag_cannot_be_matched_by_hashing_candidates(app, tmp_path, tiny):
    url = "/v1/datasets/tiny/constituents/P001"
    with client(app) as c:
        seen_by_viewer = c.get(url, headers=hdr("viewer"))
        assert seen_by_viewer.status_code == 403 and "etag" not in seen_by_viewer.headers  # personal layer
        full = c.get(url, headers=hdr("planner"))
        etag = full.headers["etag"]
        assert full.json()["properties"]["phone"] == "13800000000"
        # the viewer's attack: fill in candidate phones and hash until the ETag matches
        candidates = []
        for n in range(200):
            f = json.loads(full.text)
            f["properties"]["phone"] = f"1380000{n:04d}"
            candidates.append(f)
        assert _old_etag(json.loads(full.text)) in {_old_etag(f) for f in candidates}  # the old ETag fell
        assert etag not in {_old_etag(f) for f in candidates}
        from api import geojson as gj

        guessed_key = hashlib.sha256(b"").digest()
        assert etag not in {gj.feature_etag(f, key=guessed_key, dataset_id="tiny", layer="constituents")
                            for f in candidates}
        # still a working ETag: the same after a restart on the same data dir, changes with the feature
        secret = Path(app.state.settings.data_dir) / "etag-secret"
        assert secret.stat().st_size == 32 and (os.name != "posix" or secret.stat().st_mode & 0o077 == 0)
    again = make_app(Path(app.state.settings.data_dir), None)
    with client(again) as c:
        assert c.get(url, headers=hdr("planner")).headers["etag"] == etag
        r = c.patch(url, json={"properties": {"phone": "13900000000"}}, headers={**hdr("admin"), "If-Match": etag})
        assert r.status_code == 200 and r.headers["etag"] != etag
    other = make_app(tmp_path / "other", tiny, etag_secret="another-secret-of-this-service")
    with client(other) as c:  # another secret: another ETag for the very same content
        assert c.get(url, headers=hdr("planner")).headers["etag"] != etag


# --- 9. key checks before dataset loads; 404 and 401 alike ---------------------------------------

PATHS = ["/v1/datasets/{d}", "/v1/datasets/{d}/villages", "/v1/datasets/{d}/villages/V1",
         "/v1/datasets/{d}/coverage", "/v1/datasets/{d}/maps/coverage", "/v1/datasets/{d}/export",
         "/v1/datasets/{d}/nearest?lon=130.35&lat=46.85"]


def _shape(r) -> tuple:
    body = r.json()
    return r.status_code, body["type"], body["title"], body["detail"].replace("nope", "tiny")


def test_unknown_and_known_datasets_answer_alike_without_a_key(tmp_path, tiny):
    app = make_app(tmp_path / "d", tiny, auth_failures_per_minute=0, log_level="WARNING")
    reads = []
    cache, store = app.state.cache, app.state.store
    real_get, real_read = cache.get, store.get_dataset
    cache.get = lambda *a, **k: (reads.append(a), real_get(*a, **k))[1]
    store.get_dataset = lambda *a, **k: (reads.append(a), real_read(*a, **k))[1]
    with client(app) as c:
        for who in ({}, {"X-API-Key": "not-a-valid-key"}):
            for path in PATHS:
                known = c.get(path.format(d="tiny"), headers=who)
                unknown = c.get(path.format(d="nope"), headers=who)
                assert known.status_code == 401, (path, known.text)
                assert _shape(known) == _shape(unknown), path
            for method, path in (("POST", "/v1/datasets/{d}/optimisations"), ("DELETE", "/v1/datasets/{d}"),
                                 ("POST", "/v1/datasets/{d}/nearest")):
                known = c.request(method, path.format(d="tiny"), json=[[130.3, 46.8]], headers=who)
                unknown = c.request(method, path.format(d="nope"), json=[[130.3, 46.8]], headers=who)
                assert known.status_code == 401 and _shape(known) == _shape(unknown), (method, path)
        assert reads == []  # nothing was read for callers without a valid key
        assert c.get("/v1/datasets/nope/coverage", headers=hdr("viewer")).status_code == 404


# --- 9. rate limits on bad keys and logins ------------------------------------------------------

def test_failed_keys_are_rate_limited_per_address(tmp_path, tiny):
    a = make_app(tmp_path / "d", tiny, auth_failures_per_minute=3, log_level="WARNING")
    with client(a, "10.0.0.7") as c:
        for _ in range(3):
            assert_problem(c.get("/v1/datasets", headers={"X-API-Key": "guess-000000"}), 401, "invalid-api-key")
        r = c.get("/v1/datasets", headers={"X-API-Key": "guess-000001"})
        body = assert_problem(r, 429, "too-many-failures")
        assert 1 <= int(r.headers["retry-after"]) <= 60 and body["retry_after_s"] == int(r.headers["retry-after"])
        assert body["detail"] == f"此地址的 API 密钥或登录失败次数过多，请 {body['retry_after_s']} 秒后再试。"
        en = c.get("/v1/datasets?lang=en", headers={"X-API-Key": "guess-000002"}).json()
        assert en["detail"].startswith("too many failed API keys") and en["type"] == body["type"]
        # the right key from that address is refused as well, so guessing cannot go on
        assert_problem(c.get("/v1/datasets", headers=hdr("admin")), 429, "too-many-failures")
        assert_problem(c.post("/login", json={"key": KEYS["admin"]}, headers={"Origin": "http://testserver"}), 429)
        r = c.post("/login", data={"key": KEYS["admin"]}, headers={"Origin": "http://testserver"})
        assert r.status_code == 429 and 'id="login-form"' in r.text and r.headers["retry-after"]
    with client(a, "10.0.0.8") as c:  # other addresses are not affected
        assert c.get("/v1/datasets", headers=hdr("viewer")).status_code == 200


def test_failed_logins_are_rate_limited(tmp_path, tiny):
    a = make_app(tmp_path / "d", tiny, auth_failures_per_minute=4, log_level="WARNING")
    same = {"Origin": "http://testserver"}
    with client(a) as c:
        for i in range(4):
            r = c.post("/login", data={"key": f"wrong-key-{i:04d}"}, headers=same)
            assert r.status_code == 401 and 'id="login-form"' in r.text
        r = c.post("/login", data={"key": "wrong-key-9999"}, headers=same)
        assert r.status_code == 429 and "retry-after" in r.headers
        assert_problem(c.post("/login", json={"key": "wrong-key-9999"}, headers=same), 429, "too-many-failures")


def test_failure_limiter_window():
    from api.auth import FailureLimiter

    lim = FailureLimiter(3, window_s=60)
    for t in (0, 1, 2):
        assert lim.retry_after("a", now=t) is None
        lim.failed("a", now=t)
    assert lim.retry_after("a", now=10) == 50 and lim.retry_after("b", now=10) is None
    assert lim.retry_after("a", now=60.5) is None  # the first failure left the window
    assert FailureLimiter(0).retry_after("a") is None
    many = FailureLimiter(1, max_clients=100)
    for i in range(1000):
        many.failed(f"10.0.{i // 256}.{i % 256}", now=0)
    assert len(many._fails) == 100  # memory stays bounded


# --- 9. 413 for every over-limit body, chunked too; 408 for a stalled body ----------------------

def _chunks(data: bytes, size: int = 4096):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_chunked_over_limit_bodies_get_413(tmp_path, tiny):
    a = make_app(tmp_path / "d", tiny, max_upload_bytes=50_000, max_body_bytes=20_000, log_level="WARNING")
    with client(a) as c:
        etag = c.get("/v1/datasets/tiny/villages/V1", headers=hdr("admin")).headers["etag"]
        big = json.dumps({"properties": {"name": "x" * 30_000}}).encode()
        for headers in ({}, {"Content-Length": str(len(big))}):
            body = _chunks(big) if not headers else big
            r = c.patch("/v1/datasets/tiny/villages/V1", content=body,
                        headers={**hdr("admin"), "If-Match": etag, "Content-Type": "application/json", **headers})
            assert_problem(r, 413, "body-too-large")
        r = c.post("/v1/datasets/tiny/nearest", content=_chunks(json.dumps([[130.3, 46.8]] * 3000).encode()),
                   headers={**hdr("viewer"), "Content-Type": "application/json"})
        assert_problem(r, 413, "body-too-large")
        # a chunked multipart upload past the cap: 413, not the form parser's 400
        boundary = "----gsboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.gpkg\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        body = head + b"x" * (2 * 2**20) + f"\r\n--{boundary}--\r\n".encode()
        r = c.post("/v1/datasets", content=_chunks(body, 65536),
                   headers={**hdr("admin"), "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert_problem(r, 413, "body-too-large")
        r = c.post("/v1/datasets", content=body,
                   headers={**hdr("admin"), "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert_problem(r, 413, "body-too-large")
        assert c.get("/v1/datasets/tiny/villages/V1", headers=hdr("admin")).json()["properties"]["name"] == "一村"


def test_stalled_body_gets_408():
    import asyncio

    from api.middleware import RequestContextMiddleware
    from api.settings import Settings

    async def app(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def never():
        await asyncio.sleep(3600)

    sent = []

    async def send(message):
        sent.append(message)

    mw = RequestContextMiddleware(app, Settings(body_timeout_s=0.05, trusted_hosts=["*"]))
    scope = {"type": "http", "method": "POST", "path": "/v1/datasets/x/nearest", "headers": [
        (b"host", b"localhost"), (b"transfer-encoding", b"chunked")], "client": ("127.0.0.1", 1)}
    asyncio.run(mw(scope, never, send))
    assert sent[0]["status"] == 408 and json.loads(sent[1]["body"])["type"].endswith("body-timeout")


# --- 9. whole numbers beyond int64 -------------------------------------------------------------

def test_capacity_1e19_is_422_naming_the_field(app, tmp_path):
    url = "/v1/datasets/tiny/stations/S2"
    with client(app) as c:
        etag = c.get(url, headers=hdr("admin")).headers["etag"]
        for value in (1e19, 10**19, -1e300, 2**53):
            r = c.patch(url, content=json.dumps({"properties": {"capacity": value}}),
                        headers={**hdr("admin"), "If-Match": etag, "Content-Type": "application/json"})
            body = assert_problem(r, 422)
            assert any(e.get("field") == "capacity" for e in body["errors"]), body
        assert c.get(url, headers=hdr("admin")).json()["properties"]["capacity"] == 1
        layers = make_tiny_layers()
        layers["stations"]["capacity"] = [1e19, 1.0, 0.0]
        gpkg = write_raw_gpkg(layers, tmp_path / "big.gpkg")
        with open(gpkg, "rb") as fh:
            r = c.post("/v1/datasets", files={"file": ("big.gpkg", fh)}, data={"id": "big"}, headers=hdr("admin"))
        body = assert_problem(r, 422, "dataset-invalid")
        assert [(e["layer"], e["feature_id"]) for e in body["errors"] if e["field"] == "capacity"] == \
            [("stations", "S1")]


# --- 7. slow clients and log floods -------------------------------------------------------------

@contextmanager
def guarded_server(app, **limits):
    import uvicorn

    from api.server import uvicorn_config

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = app.state.settings.model_copy(update=limits)
    server = uvicorn.Server(uvicorn_config(app, settings, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _closed_by_server(sock: socket.socket, wait_s: float = 15) -> bool:
    sock.settimeout(wait_s)
    try:
        return sock.recv(1024) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _get(port: int, path: str = "/healthz") -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_half_open_connections_are_closed_and_capped(app):
    with guarded_server(app, header_timeout_s=0.3, max_connections_per_ip=4) as port:
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the head never ends
        assert _closed_by_server(slow)
        idle = socket.create_connection(("127.0.0.1", port))  # connects and says nothing
        assert _closed_by_server(idle)
        slow.close()
        idle.close()
        # a keep-alive connection that starts a second request and stalls is closed too
        ka = socket.create_connection(("127.0.0.1", port))
        ka.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        ka.settimeout(10)
        answer = b""
        while not answer.endswith(b"}"):  # the whole answer: headers and JSON body
            answer += ka.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        ka.sendall(b"GET /healthz HTTP/1.1\r\n")
        assert _closed_by_server(ka)
        ka.close()
        # a fifth connection from one address is closed at once; normal requests still pass
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        extra = socket.create_connection(("127.0.0.1", port))
        assert _closed_by_server(extra, wait_s=5)
        for s in [*held, extra]:
            s.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the server notices the closes
            try:
                if _get(port) == 200:
                    break
            except (ConnectionError, OSError):
                time.sleep(0.05)
        assert _get(port) == 200


def test_server_limits_come_from_the_settings(app):
    from api.server import GuardedH11Protocol, uvicorn_config

    s = app.state.settings.model_copy(update={"limit_concurrency": 77, "backlog": 99, "timeout_keep_alive_s": 3,
                                              "h11_max_incomplete_event_size": 8192, "header_timeout_s": 4.5,
                                              "max_connections_per_ip": 9})
    cfg = uvicorn_config(app, s, host="127.0.0.1", port=1)
    assert (cfg.limit_concurrency, cfg.backlog, cfg.timeout_keep_alive, cfg.h11_max_incomplete_event_size) == \
        (77, 99, 3, 8192)
    assert issubclass(cfg.http, GuardedH11Protocol)
    assert (cfg.http.header_timeout_s, cfg.http.max_connections_per_ip) == (4.5, 9)


def test_a_log_flood_is_collapsed_with_a_count(monkeypatch):
    import api.logs as logs

    clock = [1000.0]
    monkeypatch.setattr(logs.time, "monotonic", lambda: clock[0])
    flt = logs.RepeatFilter(burst=5, window_s=1.0)
    logger = logging.getLogger("geo_service.test.flood")
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    h = Keep()
    h.addFilter(flt)
    logger.addHandler(h)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for _ in range(10_000):
            logger.error("accept failed: [Errno 24] Too many open files")
        logger.error("another message")
        logger.info("request")  # access logs are never collapsed
        logger.info("request")
        assert len(records) == 5 + 1 + 2
        clock[0] += 1.5
        logger.error("accept failed: [Errno 24] Too many open files")
        assert records[-1].repeated == 9_995 and "9995 more" in records[-1].getMessage()
    finally:
        logger.removeHandler(h)


# --- 9. a second process on the same data directory ----------------------------------------------

def test_a_second_store_does_not_fail_the_first_ones_running_job(tmp_path, tiny):
    from geo_service.core.store import JobRecord, SQLiteStore

    first = make_app(tmp_path / "d", tiny, log_level="WARNING")
    first.state.store.create_job(JobRecord(id="live", dataset_id="tiny", kind="optimise", params={},
                                           status="running"))
    second = make_app(tmp_path / "d", None, log_level="WARNING")  # start-up fails interrupted jobs
    with client(second) as c:
        assert c.get("/v1/jobs/live", headers=hdr("viewer")).json()["status"] == "running"
    first.state.store.close()  # its process is gone
    assert SQLiteStore(tmp_path / "d").fail_interrupted_jobs() == 1
    assert second.state.store.get_job("live").status == "failed"


def test_jobs_of_a_killed_process_are_failed_and_of_a_live_one_kept(tmp_path):
    from geo_service.core.store import SQLiteStore

    code = ("import sys, time; from geo_service.core.store import SQLiteStore, JobRecord; "
            "s = SQLiteStore(sys.argv[1]); "
            "s.create_job(JobRecord(id='other', dataset_id='d', kind='optimise', params={}, status='running')); "
            "print('ready', flush=True); time.sleep(120)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        mine = SQLiteStore(tmp_path)
        assert mine.fail_interrupted_jobs() == 0 and mine.get_job("other").status == "running"
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert mine.fail_interrupted_jobs() == 1
    job = mine.get_job("other")
    assert job.status == "failed" and job.error["title"] == "Interrupted"
    assert not list((tmp_path / "owners").glob("*.lock"))  # the dead owner's lock file is swept
