"""People's messages (码上议事) and their follow-up, stored beside a store's datasets.

One implementation on SQLAlchemy Core serves both stores: the embedded store keeps the messages in
``<data_dir>/messages.sqlite`` (a file of its own, so a flood of messages never locks the catalog),
the PostGIS store in a ``messages`` table of its schema. :func:`open_messages` is the hook that picks
the place from a :class:`~geo_service.core.store.base.Store`.

A message follows 已收到 (``received``) → 已分派 (``assigned``) → 处理中 (``in_progress``) →
已答复 (``answered``) → 已办结 (``closed``); each step's time is kept (``*_at``, ISO 8601 UTC) and
``history`` lists every step (status, time, who). ``escalation`` is 0 (the assigned member), 1 (the
group's convener) or 2 (the office). The sender's ``phone`` and address fingerprint are personal:
the API shows them only to the assigned member and staff.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .base import NotFound, Store
from .postgis import PostGISStore, sqlalchemy_url

STATUSES = ("received", "assigned", "in_progress", "answered", "closed")
OPEN_STATUSES = ("received", "assigned", "in_progress")
#: the statuses a message may move to from each status
NEXT_STATUS = {"received": ("assigned", "in_progress", "answered", "closed"),
               "assigned": ("assigned", "in_progress", "answered", "closed"),
               "in_progress": ("assigned", "answered", "closed"),
               "answered": ("closed", "in_progress"), "closed": ()}
_TICKET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone
TICKET_LEN = 12


def new_ticket() -> str:
    """A random 12-character ticket code (60 bits: not guessable, easy to read out)."""
    return "".join(secrets.choice(_TICKET_ALPHABET) for _ in range(TICKET_LEN))


@dataclass
class MessageRecord:
    """One message. Times are ISO 8601 UTC strings; ``day`` the UTC date it came in (YYYY-MM-DD)."""

    dataset_id: str
    text: str
    topic: str = ""
    sector: str | None = None
    station_id: str | None = None
    village_id: str | None = None
    township_id: str | None = None
    lon: float | None = None
    lat: float | None = None
    phone: str | None = None
    sender: str | None = None  # a keyed hash of the sender's address (rate limits, abuse reviews)
    status: str = "received"
    member_id: str | None = None
    group_id: str | None = None
    reason: dict[str, Any] | None = None  # why this member (routing explanation)
    escalation: int = 0
    answer: str | None = None
    created_at: str = ""
    day: str = ""
    assigned_at: str | None = None
    started_at: str | None = None
    answered_at: str | None = None
    closed_at: str | None = None
    escalated_at: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ticket: str = field(default_factory=new_ticket)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


_JSON_FIELDS = ("reason", "history")
_FIELDS = tuple(MessageRecord.__dataclass_fields__)


def _table(metadata: Any, schema: str | None) -> Any:
    from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

    cols: list[Any] = [Column("id", String(32), primary_key=True), Column("ticket", String(16), nullable=False, unique=True),
            Column("dataset_id", String(64), nullable=False), Column("text", Text, nullable=False),
            Column("topic", Text, nullable=False), Column("escalation", Integer, nullable=False),
            Column("status", String(16), nullable=False), Column("created_at", String(32), nullable=False),
            Column("day", String(10), nullable=False)]
    named = {c.name for c in cols}
    for f in _FIELDS:
        if f in named:
            continue
        kind = Float if f in ("lon", "lat") else Text
        cols.append(Column(f, kind, nullable=True))
    t = Table("messages", metadata, *cols, schema=schema)
    Index("messages_dataset_status", t.c.dataset_id, t.c.status)
    Index("messages_station_day", t.c.dataset_id, t.c.station_id, t.c.day)
    Index("messages_member", t.c.dataset_id, t.c.member_id, t.c.status)
    return t


class MessageStore:
    """Messages in a SQL database (``url``: SQLAlchemy URL; ``schema``: PostgreSQL schema or None).

    Thread-safe. Every method is one short transaction."""

    def __init__(self, url: str, *, schema: str | None = None):
        from sqlalchemy import MetaData, create_engine, event

        kw: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kw["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kw |= {"pool_size": 4, "max_overflow": 4, "pool_pre_ping": True}
        self.engine = create_engine(url, **kw)
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _wal(con, _rec):  # readers never wait for the writer
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
        self.metadata = MetaData()
        self.table = _table(self.metadata, schema)
        self._lock = threading.Lock()
        self.metadata.create_all(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    # -- rows ---------------------------------------------------------------------------------
    @staticmethod
    def _row(rec: MessageRecord) -> dict[str, Any]:
        d = rec.to_dict()
        for f in _JSON_FIELDS:
            d[f] = None if d[f] is None else json.dumps(d[f], ensure_ascii=False)
        return d

    @staticmethod
    def _rec(row: Mapping[Any, Any]) -> MessageRecord:
        d: dict[str, Any] = dict(row)
        for f in _JSON_FIELDS:
            d[f] = json.loads(d[f]) if d.get(f) else ([] if f == "history" else None)
        d["escalation"] = int(d.get("escalation") or 0)
        vals: dict[str, Any] = {k: d.get(k) for k in _FIELDS}
        return MessageRecord(**vals)

    def add(self, rec: MessageRecord) -> MessageRecord:
        """Insert ``rec`` (its ``id`` and ``ticket`` must be new)."""
        with self.engine.begin() as con:
            con.execute(self.table.insert().values(**self._row(rec)))
        return rec

    def add_capped(self, rec: MessageRecord, cap: int, dataset_cap: int | None = None) -> MessageRecord | None:
        """Insert ``rec`` unless its station (or, without one, its village) already holds ``cap`` open
        messages of the same day, or the dataset ``dataset_cap`` of them; None when refused. Counted and
        inserted under one lock (per process: replicas sharing a database may pass a cap by a few)."""
        t = self.table
        from sqlalchemy import func, select

        key = t.c.station_id if rec.station_id else t.c.village_id
        value = rec.station_id or rec.village_id
        today = (t.c.dataset_id == rec.dataset_id, t.c.day == rec.day, t.c.status.in_(OPEN_STATUSES))
        with self._lock, self.engine.begin() as con:
            q = select(func.count()).select_from(t).where(*today, key == value if value is not None else key.is_(None))
            if con.execute(q).scalar_one() >= cap:
                return None
            if dataset_cap is not None and \
                    con.execute(select(func.count()).select_from(t).where(*today)).scalar_one() >= dataset_cap:
                return None
            con.execute(t.insert().values(**self._row(rec)))
        return rec

    def get(self, message_id: str) -> MessageRecord:
        return self._one(self.table.c.id == message_id, f"no message '{message_id}'")

    def by_ticket(self, ticket: str) -> MessageRecord:
        return self._one(self.table.c.ticket == ticket, "no message with this ticket")

    def _one(self, cond: Any, missing: str) -> MessageRecord:
        from sqlalchemy import select

        with self.engine.connect() as con:
            row = con.execute(select(self.table).where(cond)).mappings().first()
        if row is None:
            raise NotFound(missing)
        return self._rec(row)

    def update(self, message_id: str, **fields: Any) -> MessageRecord:
        """Set ``fields`` of one message (names of :class:`MessageRecord`)."""
        bad = set(fields) - set(_FIELDS) | ({"id", "ticket"} & set(fields))
        if bad:
            raise ValueError(f"fields: unknown or fixed message fields {sorted(bad)}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"status: unknown message status {fields['status']!r}")
        row = {k: (json.dumps(v, ensure_ascii=False) if k in _JSON_FIELDS and v is not None else v)
               for k, v in fields.items()}
        with self.engine.begin() as con:
            n = con.execute(self.table.update().where(self.table.c.id == message_id).values(**row)).rowcount
        if not n:
            raise NotFound(f"no message '{message_id}'")
        return self.get(message_id)

    def list(self, dataset_id: str, *, statuses: Sequence[str] | None = None, member_id: str | None = None,
             since: str | None = None, until: str | None = None, limit: int = 10_000) -> list[MessageRecord]:
        """Messages of ``dataset_id``, newest first; ``since``/``until`` compare ``created_at``."""
        from sqlalchemy import select

        t = self.table
        q = select(t).where(t.c.dataset_id == dataset_id)
        if statuses:
            q = q.where(t.c.status.in_(list(statuses)))
        if member_id is not None:
            q = q.where(t.c.member_id == member_id)
        if since:
            q = q.where(t.c.created_at >= since)
        if until:
            q = q.where(t.c.created_at < until)
        q = q.order_by(t.c.created_at.desc()).limit(limit)
        with self.engine.connect() as con:
            return [self._rec(r) for r in con.execute(q).mappings()]

    def open_counts(self, dataset_id: str) -> dict[str, int]:
        """member id -> number of open messages assigned to them."""
        from sqlalchemy import func, select

        t = self.table
        q = (select(t.c.member_id, func.count()).where(t.c.dataset_id == dataset_id, t.c.status.in_(OPEN_STATUSES),
                                                       t.c.member_id.is_not(None)).group_by(t.c.member_id))
        with self.engine.connect() as con:
            return {m: int(n) for m, n in con.execute(q)}

    def count(self, dataset_id: str | None = None) -> int:
        from sqlalchemy import func, select

        q = select(func.count()).select_from(self.table)
        if dataset_id is not None:
            q = q.where(self.table.c.dataset_id == dataset_id)
        with self.engine.connect() as con:
            return int(con.execute(q).scalar_one())


_OPENED: dict[str, MessageStore] = {}
_OPEN_LOCK = threading.Lock()


def open_messages(store: Store) -> MessageStore:
    """The message store beside ``store`` (one per place and process): ``messages.sqlite`` in an
    embedded store's data directory, the ``messages`` table in a PostGIS store's schema."""
    if isinstance(store, PostGISStore):
        url, schema = sqlalchemy_url(store.url), store.schema
        key = f"{url}#{schema}"
    else:
        data_dir = getattr(store, "data_dir", None)
        if data_dir is None:
            raise ValueError(f"store: {store!r} keeps no messages (neither a data directory nor PostGIS)")
        path = Path(data_dir) / "messages.sqlite"
        url, schema, key = f"sqlite:///{path}", None, str(path.resolve())
    with _OPEN_LOCK:
        ms = _OPENED.get(key)
        if ms is None:
            ms = _OPENED[key] = MessageStore(url, schema=schema)
        return ms


__all__ = ["NEXT_STATUS", "OPEN_STATUSES", "STATUSES", "TICKET_LEN", "MessageRecord", "MessageStore", "new_ticket",
           "open_messages"]
