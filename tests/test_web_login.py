"""Browser login over HTTP: the login form, the session cookie (HttpOnly, SameSite=Strict, Secure
over https), the HTML 401/403 a browser gets instead of a problem document, logout, and the CSRF
guard on cookie-authenticated POST/DELETE. The local demo (no key, loopback) is unchanged."""

from __future__ import annotations

import time
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient

from api.session import COOKIE, issue_token, verify_token
from test_api import assert_problem
from test_api_support import KEYS, SETTINGS_KEYS, client, hdr, make_app

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SAME = {"Origin": "http://testserver"}
QUICK = {"status": "optimal", "tables": {"responsibility": [{"member_id": "M1", "constituents": 10}]}}


@pytest.fixture
def app(tmp_path, tiny):
    a = make_app(tmp_path / "d", tiny)
    a.state.jobs.runners["optimisation"] = lambda ds, p, prev, progress, cancel: QUICK
    return a


def set_cookie(r) -> SimpleCookie:
    raw = r.headers.get("set-cookie")
    assert raw, r.headers
    c = SimpleCookie()
    c.load(raw)
    return c


def log_in(c, role: str, next_url: str = "/") -> object:
    r = c.post("/login", data={"key": KEYS[role], "next": next_url}, headers=SAME, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r


def test_unauthenticated_browser_gets_the_login_form(app):
    with client(app) as c:
        for url in ("/", "/?lang=en", "/v1/datasets/tiny/maps/coverage?lang=en"):
            r = c.get(url, headers=BROWSER)
            assert r.status_code == 401 and r.headers["content-type"].startswith("text/html"), url
            assert 'id="login-form"' in r.text and 'name="key"' in r.text and 'type="password"' in r.text
            assert f'name="next" value="{url.replace("&", "&amp;")}"' in r.text
            assert r.headers["www-authenticate"].startswith("Bearer")
        assert "API key" in c.get("/?lang=en", headers=BROWSER).text
        # API clients keep problem+json, on the map routes too
        assert_problem(c.get("/v1/datasets/tiny/maps/coverage"), 401, "unauthenticated")
        assert_problem(c.get("/v1/datasets/tiny/maps/coverage", headers={"Accept": "application/json"}), 401)
        assert_problem(c.get("/v1/datasets"), 401)
        assert_problem(c.get("/", headers={"Accept": "application/json"}), 401, "unauthenticated")
        assert c.get("/login").status_code == 200 and 'id="login-form"' in c.get("/login").text


def test_login_sets_a_strict_httponly_cookie_and_links_work(app):
    with client(app) as c:
        r = log_in(c, "viewer", "/v1/datasets/tiny/maps/coverage?lang=en")
        assert r.headers["location"] == "/v1/datasets/tiny/maps/coverage?lang=en"
        morsel = set_cookie(r)[COOKIE]
        assert morsel["httponly"] is True and morsel["samesite"].lower() == "strict"
        assert morsel["path"] == "/" and int(morsel["max-age"]) == 8 * 3600
        assert not morsel["secure"]  # plain http here
        assert KEYS["viewer"] not in r.headers["set-cookie"]  # a token, not the key
        assert verify_token(morsel.value, SETTINGS_KEYS)[0] == "viewer"
        # the cookie now carries plain links: the page, the maps, JSON reads
        page = c.get("/", headers=BROWSER)
        assert page.status_code == 200 and 'id="coverage-table"' in page.text
        assert 'id="logout-form"' in page.text and "viewer" in page.text
        assert 'id="rerun-needs-planner"' in page.text  # a viewer cannot start a run
        assert page.headers["x-frame-options"] == "DENY" and "no-cache" in page.headers["cache-control"]
        assert c.get("/v1/datasets/tiny/maps/coverage", headers=BROWSER).status_code == 200
        assert c.get("/v1/datasets").status_code == 200


def test_wrong_key_and_unsafe_next(app):
    with client(app) as c:
        r = c.post("/login", data={"key": "not-a-key-123", "next": "/"}, headers=SAME)
        assert r.status_code == 401 and 'id="login-error"' in r.text and "set-cookie" not in r.headers
        r = c.post("/login", data={"key": ""}, headers=SAME)
        assert r.status_code == 401 and "set-cookie" not in r.headers
        for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", ""):
            r = c.post("/login", data={"key": KEYS["viewer"], "next": bad}, headers=SAME, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/", bad
        # JSON login for scripts: 200 + cookie, or a problem document
        r = c.post("/login", json={"key": KEYS["planner"]})
        assert r.status_code == 200 and r.json() == {"role": "planner", "expires_in_s": 8 * 3600}
        assert COOKIE in set_cookie(r)
        assert_problem(c.post("/login", json={"key": "wrong-key-1234"}), 401, "invalid-api-key")
        assert_problem(c.post("/login", json={"nokey": 1}), 422)
        assert_problem(c.post("/login", content=b"x", headers={"Content-Type": "text/plain"}), 415)


def test_logout_ends_the_session(app):
    with client(app) as c:
        log_in(c, "viewer")
        assert c.get("/", headers=BROWSER).status_code == 200
        r = c.post("/logout", content=b"", headers={**SAME, **FORM}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        gone = set_cookie(r)[COOKIE]
        assert gone.value == "" and int(gone["max-age"]) == 0
        assert c.get("/", headers=BROWSER).status_code == 401
        assert c.post("/logout").status_code == 204  # scripts


def test_secure_cookie_over_https(tmp_path, tiny):
    app = make_app(tmp_path / "d", tiny)
    with TestClient(app, base_url="https://testserver", client=("127.0.0.1", 50000)) as c:
        r = c.post("/login", data={"key": KEYS["viewer"]}, headers={"Origin": "https://testserver"},
                   follow_redirects=False)
        assert r.status_code == 303 and set_cookie(r)[COOKIE]["secure"] is True
        assert c.get("/", headers=BROWSER).status_code == 200
    app = make_app(tmp_path / "e", tiny, cookie_secure=True)  # behind a TLS-terminating proxy
    with client(app) as c:
        assert set_cookie(log_in(c, "viewer"))[COOKIE]["secure"] is True


def test_csrf_guard_on_cookie_authenticated_post_and_delete(app):
    with client(app) as c:
        log_in(c, "planner")
        url = "/v1/datasets/tiny/optimisations"
        assert_problem(c.post(url, json={}), 403, "csrf-refused")  # no Origin, no Referer
        assert_problem(c.post(url, json={}, headers={"Origin": "http://evil.example"}), 403, "csrf-refused")
        assert_problem(c.post(url, json={}, headers={"Origin": "null"}), 403, "csrf-refused")
        assert_problem(c.post(url, json={}, headers={"Referer": "http://evil.example/page"}), 403, "csrf-refused")
        assert_problem(c.post(url, json={}, headers={"Origin": "http://testserver.evil.example"}), 403)
        r = c.post(url, json={}, headers=SAME)
        assert r.status_code == 202, r.text
        job = r.json()["id"]
        assert c.post(url, json={}, headers={"Referer": "http://testserver/?dataset=tiny"}).status_code == 202
        # DELETE too; reads need no Origin
        assert_problem(c.delete(f"/v1/jobs/{job}", headers={"Origin": "http://evil.example"}), 403, "csrf-refused")
        assert c.get(f"/v1/jobs/{job}").status_code == 200
        assert c.delete(f"/v1/jobs/{job}", headers=SAME).status_code == 200
        # a header key is not ambient: no Origin needed, even with the cookie present
        assert c.post(url, json={}, headers=hdr("planner")).status_code == 202
        # and a foreign page cannot log the browser in to its own key (login CSRF)
        assert_problem(c.post("/login", data={"key": KEYS["admin"]}, headers={"Origin": "http://evil.example"}),
                       403, "csrf-refused")


def test_trusted_origins_for_a_proxy(tmp_path, tiny):
    app = make_app(tmp_path / "d", tiny, trusted_origins="https://geo.example.gov.cn")
    app.state.jobs.runners["optimisation"] = lambda ds, p, prev, progress, cancel: QUICK
    with client(app) as c:
        log_in(c, "planner")
        r = c.post("/v1/datasets/tiny/optimisations", json={}, headers={"Origin": "https://geo.example.gov.cn"})
        assert r.status_code == 202
        assert_problem(c.post("/v1/datasets/tiny/optimisations", json={},
                              headers={"Origin": "https://other.example.gov.cn"}), 403, "csrf-refused")


def test_xlsx_download_by_link_with_the_session(app):
    from test_api_jobs import wait

    with client(app) as c:
        job = c.post("/v1/datasets/tiny/optimisations", json={}, headers=hdr("planner")).json()["id"]
        assert wait(c, job)["status"] == "successful"
        link = f"/v1/jobs/{job}/results?format=xlsx"
        r = c.get(link, headers=BROWSER)
        assert r.status_code == 401 and 'id="login-form"' in r.text  # not logged in: the form
        log_in(c, "viewer")
        r = c.get(link, headers=BROWSER)  # a viewer may not download: 403 page that offers another login
        assert r.status_code == 403 and 'id="login-forbidden"' in r.text and 'id="logout-form"' in r.text
        assert_problem(c.get(link), 403, "forbidden")  # API clients: problem+json
        log_in(c, "planner")
        r = c.get(link, headers=BROWSER)
        assert r.status_code == 200 and r.content[:2] == b"PK" and "spreadsheetml" in r.headers["content-type"]


def test_bad_expired_or_foreign_tokens_are_anonymous(app, tmp_path, tiny):
    now = time.time()
    token = issue_token(KEYS["planner"], 60, now=now)
    assert verify_token(token, SETTINGS_KEYS, now=now + 30)[0] == "planner"
    assert verify_token(token, SETTINGS_KEYS, now=now + 61) is None  # expired
    assert verify_token(token, {KEYS["viewer"]: "viewer"}, now=now) is None  # its key was removed
    v, exp, nonce, mac = token.split(".")
    for bad in (f"{v}.{int(exp) + 3600}.{nonce}.{mac}", f"{v}.{exp}.{nonce}x.{mac}", f"{v}.{exp}.{nonce}.{mac[:-2]}AA",
                "v1.abc.def.ghi", "", "a.b", KEYS["planner"]):
        assert verify_token(bad, SETTINGS_KEYS, now=now) is None, bad
    with client(app) as c:
        c.cookies.set(COOKIE, issue_token(KEYS["planner"], 60, now=now - 120))  # expired
        assert c.get("/", headers=BROWSER).status_code == 401
        c.cookies.set(COOKIE, issue_token("some-removed-key-1", 600))
        assert c.get("/", headers=BROWSER).status_code == 401
        c.cookies.set(COOKIE, KEYS["admin"])  # the raw key is not a session
        assert_problem(c.get("/v1/datasets"), 401)
        # a header key wins over the cookie
        c.cookies.set(COOKIE, issue_token(KEYS["viewer"], 600))
        assert_problem(c.post("/v1/datasets/tiny/optimisations", json={}, headers=SAME), 403, "forbidden")
        assert c.post("/v1/datasets/tiny/optimisations", json={}, headers=hdr("planner")).status_code == 202


def test_local_open_demo_is_unchanged(tmp_path, tiny):
    app = make_app(tmp_path / "d", tiny, api_keys={})
    with client(app, "10.1.2.3") as c:  # not loopback: refused as before, as a problem (no login to offer)
        assert_problem(c.get("/", headers=BROWSER), 401)
        assert_problem(c.get("/v1/datasets/tiny/maps/coverage", headers=BROWSER), 401)
    with client(app) as c:  # loopback: admin without login
        page = c.get("/", headers=BROWSER)
        assert page.status_code == 200 and 'id="login-form"' not in page.text and 'id="logout-form"' not in page.text
        r = c.get("/login?next=/v1/datasets/tiny/maps/coverage", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/v1/datasets/tiny/maps/coverage"
        assert_problem(c.post("/login", data={"key": "whatever-123"}), 409, "login-not-needed")
        assert c.get("/v1/datasets/tiny/maps/coverage", headers=BROWSER).status_code == 200
        assert c.delete("/v1/datasets/tiny", headers=SAME).status_code == 204
        # another site's page cannot drive the loopback admin (cross-site form POST)
        assert_problem(c.post("/v1/datasets", files={"file": ("x.gpkg", b"x")},
                              headers={"Origin": "http://evil.example"}), 403, "csrf-refused")
