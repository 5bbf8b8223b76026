"""The message tables on both stores (SQLite beside the catalog, PostGIS in the store's schema): insert,
tickets, updates, filters, open counts per member and the per-station daily cap."""

from __future__ import annotations

import threading

import pytest
from test_store import pg_factory, pg_url  # noqa: F401 - the PostGIS fixtures

from geo_service.core.store import NotFound, SQLiteStore
from geo_service.core.store.messages import MessageRecord, open_messages


@pytest.fixture(params=["sqlite", "postgis"])
def messages(request, tmp_path):
    if request.param == "postgis":
        store = request.getfixturevalue("pg_factory").open()
    else:
        store = SQLiteStore(tmp_path / "store")
    return open_messages(store)


def _rec(i: int, **kw) -> MessageRecord:
    base = {"dataset_id": "d", "text": f"留言{i}", "station_id": "S1", "created_at": f"2031-01-0{1 + i % 3}T08:00:00+00:00",
            "day": f"2031-01-0{1 + i % 3}"}
    return MessageRecord(**{**base, **kw})


def test_add_get_update_list(messages):
    a = messages.add(_rec(0, member_id="M1", status="assigned", phone="138", reason={"basis": "place"}))
    b = messages.add(_rec(1, member_id="M2", status="assigned"))
    messages.add(_rec(2, member_id="M1", status="closed", dataset_id="other"))
    assert messages.get(a.id).phone == "138" and messages.by_ticket(a.ticket).id == a.id
    assert messages.get(a.id).reason == {"basis": "place"}
    with pytest.raises(NotFound):
        messages.by_ticket("NOPE")
    got = messages.update(b.id, status="answered", answer="好的", history=[{"status": "answered"}])
    assert got.status == "answered" and got.history == [{"status": "answered"}]
    assert messages.open_counts("d") == {"M1": 1}
    assert [r.id for r in messages.list("d")] == [b.id, a.id]  # newest first
    assert [r.id for r in messages.list("d", statuses=["answered"])] == [b.id]
    assert [r.id for r in messages.list("d", since="2031-01-02", until="2031-01-03")] == [b.id]
    assert messages.count("d") == 2 and messages.count() >= 3
    for bad in ({"status": "lost"}, {"ticket": "X"}, {"colour": 1}):
        with pytest.raises(ValueError):
            messages.update(a.id, **bad)


def test_cap_per_station_and_day_holds_under_threads(messages):
    results = []

    def send(i):
        results.append(messages.add_capped(_rec(0, text=f"t{i}"), cap=7))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 7
    assert messages.add_capped(_rec(0, station_id="S2"), cap=7) is not None  # another station
    assert messages.add_capped(_rec(1), cap=7) is not None  # another day
    assert messages.add_capped(_rec(0, station_id="S3"), cap=7, dataset_cap=8) is None  # the dataset's day is full
