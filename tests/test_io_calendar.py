"""The one calendar writer works from plain records: duty days grouped per platform and date, a
member's own calendar, stable UIDs and bytes."""

from __future__ import annotations

import pytest
from icalendar import Calendar

from geo_service.core.io.calendar import duty_calendar, ics_bytes, write_ics_dir

MEMBERS = [{"id": "M1", "name": "王芳"}, {"id": "M2", "name": "李强"}, {"id": "M/3", "name": "赵敏"}]
PLATFORMS = [{"id": "S1", "name": "长安街道综合型委员工作站", "lon": 130.3, "lat": 46.8},
             {"id": "S2", "name": "永安街道综合型委员工作站"}]
DUTIES = [{"month": "2027-01", "station_id": "S1", "date": "2027-01-13", "member_id": "M1"},
          {"month": "2027-01", "station_id": "S1", "date": "2027-01-13", "member_id": "M2"},
          {"month": "2027-02", "station_id": "S2", "date": "2027-02-10", "member_id": "M1"}]
CONSULTATIONS = [{"quarter": "2027Q1", "township_id": "T1", "station_id": "S1", "date": "2027-02-24",
                  "member_ids": ["M2", "M/3"], "committee_id": None}]
REC = {"members": MEMBERS, "platforms": PLATFORMS}


def _events(data: bytes) -> list:
    return list(Calendar.from_ical(data).walk("VEVENT"))


def test_one_event_per_duty_day_listing_its_members():
    ev = _events(ics_bytes(DUTIES, CONSULTATIONS, **REC))
    assert [str(e["SUMMARY"]) for e in ev] == ["委员接待日：长安街道综合型委员工作站", "委员接待日：永安街道综合型委员工作站",
                                               "一季一协商：长安街道综合型委员工作站"]
    assert str(ev[0]["DESCRIPTION"]) == "值班委员：王芳、李强"
    assert str(ev[0].decoded("DTSTART")) == "2027-01-13" and str(ev[0].decoded("DTEND")) == "2027-01-14"
    assert "GEO" in ev[0] and "GEO" not in ev[1]  # a platform without a point has no GEO
    assert str(ev[2]["DESCRIPTION"]) == "2027Q1；专委会：未定；委员：李强、赵敏"


def test_a_members_calendar_holds_only_their_days():
    mine = _events(ics_bytes(DUTIES, CONSULTATIONS, **REC, member_id="M1"))
    assert [str(e.decoded("DTSTART")) for e in mine] == ["2027-01-13", "2027-02-10"]
    assert Calendar.from_ical(ics_bytes(DUTIES, CONSULTATIONS, **REC, member_id="M1"))["X-WR-CALNAME"] == "政协委员值班：王芳"
    with pytest.raises(ValueError, match="member_id"):
        duty_calendar(DUTIES, **REC, member_id="M9")


def test_uids_are_stable_across_replans_and_bytes_repeat():
    a = ics_bytes(DUTIES, CONSULTATIONS, **REC)
    moved = [dict(DUTIES[0], date="2027-01-20", member_id="M2"), *DUTIES[2:]]  # same slot, another day
    b = ics_bytes(moved, CONSULTATIONS, **REC)
    assert a == ics_bytes(DUTIES, CONSULTATIONS, **REC)
    assert [str(e["UID"]) for e in _events(a)] == [str(e["UID"]) for e in _events(b)]


def test_a_folder_holds_all_and_one_file_per_member(tmp_path):
    files = write_ics_dir(tmp_path / "ics", DUTIES, CONSULTATIONS, **REC)
    assert sorted(p.name for p in files) == ["M1.ics", "M2.ics", "M_3.ics", "all.ics"]
    assert len(_events((tmp_path / "ics" / "M_3.ics").read_bytes())) == 1
