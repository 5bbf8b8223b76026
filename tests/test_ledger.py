"""The liaison ledger: validation naming every bad field, both stores (revisions, history, filters),
and a process killed in the middle of a large import losing nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo_service.app.synthetic.ledger import generate_year
from geo_service.core.io.sheets import write_xlsx
from geo_service.core.ledger import FIELDS, ActivityError, period_bounds, read_activity_table, template_frame, \
    validate_activities
from geo_service.core.store import Conflict, NotFound, SQLiteStore
from test_store import StoreFactory, factory, pg_factory, pg_url  # noqa: F401 - both stores' fixtures

ROOT = Path(__file__).resolve().parents[1]


def _contact(**kw):
    return {"kind": "contact", "member_id": "M1", "village_id": "V1", "date": "2027-03-05", "way": "走访", **kw}


def test_validation_accepts_chinese_words_and_names_every_bad_field(tiny):
    m = tiny.members["id"].iloc[0]
    v = tiny.villages["id"].iloc[0]
    good = _contact(member_id=m, village_id=v, satisfaction="满意", date="2027/3/5")
    df, probs = validate_activities([good], tiny)
    assert probs == []
    assert df.loc[0, "kind"] == "contact" and df.loc[0, "way"] == "visit"
    assert df.loc[0, "date"] == "2027-03-05" and df.loc[0, "satisfaction"] == 4 and df.loc[0, "people"] == 1
    bad = [good, {"kind": "聚餐", "date": "2027-02-30", "satisfaction": "9", "status": "adopted"},
           {"kind": "duty", "member_id": "nobody", "date": "2027-01-01", "status": "lost"},
           _contact(member_id=m, village_id=None)]
    with pytest.raises(ActivityError) as e:
        validate_activities(bad, tiny)
    got = {(p["row"], p["field"], p["code"]) for p in e.value.problems}
    assert (2, "kind", "ledger_bad_choice") in got
    assert (2, "date", "ledger_bad_date") in got
    assert (2, "satisfaction", "ledger_bad_number") in got
    assert (3, "member_id", "ledger_unknown_ref") in got
    assert (3, "status", "ledger_bad_choice") in got
    assert (4, "constituent_id", "ledger_needs_target") in got
    assert not any(p["row"] == 1 for p in e.value.problems)
    assert all("第" in p["message"] for p in e.value.problems)  # Chinese by default


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({f: st.one_of(st.none(), st.text(max_size=12), st.integers(-5, 50),
                                                    st.floats(allow_nan=True))
                                       for f in ("kind", "date", "way", "satisfaction", "people", "status")}),
                min_size=1, max_size=6))
def test_validation_never_crashes_and_every_problem_names_a_row_and_field(rows):
    df, probs = validate_activities(rows, raise_errors=False)
    assert len(df) == len(rows)
    for p in probs:
        assert 1 <= p["row"] <= len(rows) and p["field"] in FIELDS and p["message"]
    bad_rows = {p["row"] for p in probs}
    for i, r in df.iterrows():  # a row without problems is complete for its kind
        if i + 1 not in bad_rows:
            assert r["kind"] is not None and r["date"] is not None


def test_numeric_ids_read_as_whole_numbers_at_any_size():
    """A spreadsheet column of numbers keeps whole ids whole, however large (no int64 wrap-around)."""
    frame = pd.DataFrame({"kind": ["contact"] * 4, "date": ["2027-05-01"] * 4,
                          "member_id": [1001.0, 1e20, float("nan"), 2.5]})
    df, _ = validate_activities(frame, raise_errors=False)
    assert list(df["member_id"])[:2] == ["1001", "100000000000000000000"]
    assert df["member_id"].iloc[2] is None and df["member_id"].iloc[3] == "2.5"


def test_periods():
    assert period_bounds("2027") == ("2027-01-01", "2027-12-31")
    assert period_bounds("2027-Q2") == ("2027-04-01", "2027-06-30")
    assert period_bounds("2028-02") == ("2028-02-01", "2028-02-29")
    assert period_bounds("2027-01-05~2027-01-09") == ("2027-01-05", "2027-01-09")
    for bad in ("2027-Q5", "yesterday", "2027-05-01~2027-01-01"):
        with pytest.raises(ValueError, match="period"):
            period_bounds(bad)


def test_template_imports_back(tmp_path):
    path = write_xlsx({"ledger_template": template_frame("zh")}, tmp_path / "t.xlsx", "zh")
    frame = read_activity_table(path)
    df, probs = validate_activities(frame)
    assert probs == [] and list(df["kind"]) == ["contact", "duty", "reception", "consultation", "opinion"]


def test_store_round_trip_revisions_and_history(factory):  # noqa: F811 - fixture
    store = factory.open()
    led = store.ledger()
    ids = led.add("d1", [_contact(topic="=cmd|' /C calc'!A0"), _contact(member_id="M2", date="2027-06-01"),
                         {"kind": "opinion", "member_id": "M1", "date": "2027-07-01", "topic": "路灯", "status": "adopted"}],
                  recorded_by="k1")
    assert ids == [1, 2, 3]
    assert led.get("d1", 1)["topic"] == "=cmd|' /C calc'!A0"  # text stays data
    with pytest.raises(Conflict):
        led.edit("d1", 1, {"topic": "x"}, expected_revision=7)
    new = led.edit("d1", 1, {"topic": "农资", "satisfaction": 5}, expected_revision=1, recorded_by="k2")
    assert new["revision"] == 2 and new["topic"] == "农资"
    with pytest.raises(ActivityError):
        led.edit("d1", 1, {"date": "not a date"})
    hist = led.history("d1", 1)
    assert [h["revision"] for h in hist] == [1, 2] and hist[0]["topic"].startswith("=cmd")
    assert [h["recorded_by"] for h in hist] == ["k1", "k2"]
    led.delete("d1", 3, expected_revision=1)
    with pytest.raises(NotFound):
        led.get("d1", 3)
    assert len(led.history("d1", 3)) == 2 and led.history("d1", 3)[-1]["deleted"] is True
    assert led.count("d1") == 2 and led.count("other") == 0
    df = led.frame("d1", start="2027-05-01")
    assert list(df["id"]) == [2] and df["member_id"].iloc[0] == "M2"
    assert list(led.frame("d1", member_id="M1")["id"]) == [1]
    again = factory.open().ledger()  # another process's view: the same rows
    assert list(again.frame("d1")["id"]) == [1, 2]
    assert again.add("d1", [_contact()]) == [4]  # ids keep growing past deleted ones


def test_a_bad_row_stores_nothing(factory):  # noqa: F811 - fixture
    led = factory.open().ledger()
    with pytest.raises(ActivityError):
        led.add("d1", [_contact(), _contact(date="2027-99-01")])
    assert led.count("d1") == 0


def _child(factory: StoreFactory, n_rows: int, marker: Path) -> subprocess.Popen:  # noqa: F811
    cls = "SQLiteLedger" if factory.kind == "sqlite" else "PostGISLedger"
    mod = "geo_service.core.store.ledger" if factory.kind == "sqlite" else "geo_service.core.store.ledger_postgis"
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from geo_service.app.synthetic.ledger import generate_year
        from geo_service.core.ledger import validate_activities
        from geo_service.core.store import SQLiteStore
        from geo_service.core.store.postgis import PostGISStore
        import {mod} as L
        members = [f"M{{i}}" for i in range({n_rows} // 60)]
        frame = validate_activities(generate_year(members, 2027, seed=3))[0]
        store = {factory.subprocess_args()}
        real = L.{cls}._insert
        def slow(self, cur, rows):  # announce the write has begun, write, and stay in the transaction
            real(self, cur, rows)
            Path({str(marker)!r}).write_text(str(len(rows)))
            import time; time.sleep(30)
        L.{cls}._insert = slow
        store.ledger().add("d1", frame, validated=True)
    """)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


@pytest.mark.slow  # a child process generating and writing ~24,000 rows
def test_killed_mid_import_loses_nothing(factory, tmp_path):  # noqa: F811 - fixture
    store = factory.open()
    led = store.ledger()
    before = led.add("d1", generate_year(["M1", "M2"], 2027, seed=1))
    marker = tmp_path / "writing"
    proc = _child(factory, 30_000, marker)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the import never began writing"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert int(marker.read_text()) > 20_000  # every row of the batch was written, not committed, when killed
    led = factory.open().ledger()
    deadline = time.monotonic() + 30
    while led.count("d1") != len(before) and time.monotonic() < deadline:
        time.sleep(0.2)  # PostgreSQL notices the dropped connection and rolls back
    assert led.count("d1") == len(before)  # the earlier rows, all of them, and nothing half-written
    assert list(led.frame("d1")["id"]) == before
    if factory.kind == "sqlite":
        with SQLiteStore(factory.location)._conn() as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert led.add("d1", [_contact()]) == [len(before) + 1]  # and it takes writes again


def test_generated_year_is_valid_and_reproducible():
    links = pd.DataFrame({"constituent_id": [f"C{i}" for i in range(40)], "member_id": [f"M{i % 4}" for i in range(40)]})
    a = generate_year([f"M{i}" for i in range(4)], 2027, links=links, seed=5)
    b = generate_year([f"M{i}" for i in range(4)], 2027, links=links, seed=5)
    pd.testing.assert_frame_equal(a, b)
    df, probs = validate_activities(a, raise_errors=False)
    assert probs == [] and set(df["kind"]) == {"contact", "duty", "reception", "consultation", "opinion"}
    assert df["date"].str.startswith("2027-").all()
