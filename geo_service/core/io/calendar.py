"""iCalendar (.ics) files of duty days (委员接待日) and consultations (一季一协商), from plain records.

The one calendar writer: every ``.ics`` the service hands out is built here from plain dicts, so a
stored roster (its JSON) makes the same file as a fresh one.

- ``duties``: ``{"month", "station_id", "date", "member_id"}`` per duty (``date`` ISO ``YYYY-MM-DD``);
- ``consultations``: ``{"quarter", "township_id", "station_id", "date", "member_ids", "committee_id"}``;
- ``members``: ``{"id", "name"}``; ``platforms``: ``{"id", "name", "lon", "lat"}`` (WGS-84 degrees,
  optional).

UIDs are stable (a hash of the slot): the same duty slot keeps its UID across re-plans, so calendar
apps update an event instead of duplicating it; the stamp is fixed, so the same roster gives the
same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from icalendar import Calendar, Event

from geo_service.core.errors import InvalidParameter

__all__ = ["ICS_TEXT_MAX", "UID_DOMAIN", "duty_calendar", "ics_bytes", "ics_text", "write_ics", "write_ics_dir"]

UID_DOMAIN = "roster.geo-service"
#: longest text (characters) of one calendar field; lines are folded at 75 octets by icalendar
ICS_TEXT_MAX = 500
DEFAULT_TITLE = "政协委员值班"

Record = Mapping[str, Any]


def ics_text(value: object) -> str:
    """``value`` as the text of one iCalendar property: line breaks (CR, LF, CRLF, and the Unicode
    line and paragraph separators) become a space, other control characters are dropped, and the
    text is cut at :data:`ICS_TEXT_MAX` characters. icalendar then escapes ``, ; \\`` and folds
    long lines, so a name can never start a property or an event of its own."""
    text = str(value if value is not None else "")
    for br in ("\r\n", "\r", "\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c"):
        text = text.replace(br, " ")
    text = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    return text[:ICS_TEXT_MAX]


def _uid(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:24] + "@" + UID_DOMAIN


def _all_day(kind: str, uid_parts: Sequence[str], date: str, summary: str, description: str,
             location: str) -> Event:
    """One all-day event with a stable UID and the fixed stamp."""
    ev = Event()
    ev.add("uid", _uid(kind, *uid_parts))
    ev.add("dtstamp", dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))  # fixed: same roster, same file
    ev.add("dtstart", dt.date.fromisoformat(date))
    ev.add("dtend", dt.date.fromisoformat(date) + dt.timedelta(days=1))
    ev.add("summary", ics_text(summary))
    ev.add("description", ics_text(description))
    ev.add("location", ics_text(location))
    return ev


def duty_calendar(duties: Iterable[Record], consultations: Iterable[Record] = (), *, members: Iterable[Record],
                  platforms: Iterable[Record], member_id: str | None = None, title: str = DEFAULT_TITLE
                  ) -> Calendar:
    """An :class:`icalendar.Calendar`: one all-day event per duty day (per platform and date, listing
    the members; or, with ``member_id``, that member's duties) and per consultation.

    Raises
    ------
    InvalidParameter
        ``member_id`` is not one of ``members`` (a ``ValueError``).
    """
    mem = {m["id"]: m for m in members}
    plat = {p["id"]: p for p in platforms}
    if member_id is not None and member_id not in mem:
        raise InvalidParameter("member_id", f"member_id: unknown member {member_id!r}", "unknown_member")
    mine = [member_id] if member_id else []
    cal = Calendar()
    cal.add("prodid", "-//geo-service//roster//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", ics_text(title if member_id is None else f"{title}：{mem[member_id]['name']}"))
    slots: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r in duties:
        if member_id is None or r["member_id"] == member_id:
            slots[(r["month"], r["station_id"], r["date"])].append(r["member_id"])
    for (month, sid, date), mids in sorted(slots.items()):
        p = plat.get(sid, {"name": sid})
        ev = _all_day("duty", [month, sid, *mine], date, f"委员接待日：{p['name']}",
                      "值班委员：" + "、".join(str(mem.get(i, {}).get("name", i)) for i in mids), p["name"])
        if p.get("lat") is not None and p.get("lon") is not None:
            ev.add("geo", (p["lat"], p["lon"]))
        cal.add_component(ev)
    for c in consultations:
        if member_id is not None and member_id not in c["member_ids"]:
            continue
        p = plat.get(c["station_id"], {"name": c["station_id"]})
        cal.add_component(_all_day(
            "consultation", [c["quarter"], c["township_id"], *mine], c["date"], f"一季一协商：{p['name']}",
            f"{c['quarter']}；专委会：{c.get('committee_id') or '未定'}；委员："
            + "、".join(str(mem.get(i, {}).get("name", i)) for i in c["member_ids"]), p["name"]))
    return cal


def ics_bytes(duties: Iterable[Record], consultations: Iterable[Record] = (), *, members: Iterable[Record],
              platforms: Iterable[Record], member_id: str | None = None, title: str = DEFAULT_TITLE) -> bytes:
    """:func:`duty_calendar` as the bytes of an ``.ics`` file."""
    return duty_calendar(duties, consultations, members=members, platforms=platforms, member_id=member_id,
                         title=title).to_ical()


def write_ics(path: str | Path, duties: Iterable[Record], consultations: Iterable[Record] = (), *,
              members: Iterable[Record], platforms: Iterable[Record], member_id: str | None = None) -> Path:
    """Write :func:`ics_bytes` to ``path`` (returned)."""
    path = Path(path)
    path.write_bytes(ics_bytes(duties, consultations, members=members, platforms=platforms, member_id=member_id))
    return path


def write_ics_dir(folder: str | Path, duties: Sequence[Record], consultations: Sequence[Record] = (), *,
                  members: Sequence[Record], platforms: Sequence[Record]) -> list[Path]:
    """``all.ics`` plus one ``<member_id>.ics`` per member with a duty or consultation (folder created;
    an id is made safe for a file name)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = [write_ics(folder / "all.ics", duties, consultations, members=members, platforms=platforms)]
    ids = sorted({r["member_id"] for r in duties} | {i for c in consultations for i in c["member_ids"]})
    known = {m["id"] for m in members}
    for i in ids:
        if i in known:
            safe = re.sub(r"[^\w.-]", "_", i)[:80] or "member"
            out.append(write_ics(folder / f"{safe}.ics", duties, consultations, members=members, platforms=platforms,
                                 member_id=i))
    return out
