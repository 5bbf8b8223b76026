"""Structured logs: one JSON object per line on stderr, with the request id when there is one.

Warnings and errors repeated faster than a few a second (a flood of "Too many open files", a
client hammering a broken route) are collapsed by :class:`RepeatFilter`: the first
``burst`` copies of one line per ``window_s`` pass, the rest are counted, and the next copy after
the window carries ``repeated`` (how many were dropped). Access logs (INFO) are never collapsed.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import OrderedDict
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_STD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Format a record as a JSON line: ``ts``, ``level``, ``logger``, ``msg``, ``request_id`` and
    any ``extra={...}`` fields given to the logging call."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            out["request_id"] = rid
        for k, v in record.__dict__.items():
            if k not in _STD and k not in out:
                out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class RepeatFilter(logging.Filter):
    """Drop copies of the same WARNING+ line beyond ``burst`` per ``window_s`` seconds and report
    how many were dropped on the next copy that passes (attribute ``repeated``, appended to the
    message). A line is its logger, level, message and exception type."""

    def __init__(self, burst: int = 5, window_s: float = 1.0, max_keys: int = 1000):
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self.max_keys = max_keys
        self._seen: OrderedDict[tuple, list] = OrderedDict()  # key -> [window start, passed, dropped]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        try:
            msg = record.getMessage()
        except Exception:  # a broken format: let the handler report it
            return True
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        key = (record.name, record.levelno, msg[:500], exc)
        now = time.monotonic()
        with self._lock:
            st = self._seen.get(key)
            if st is None or now - st[0] >= self.window_s:
                dropped = st[2] if st is not None else 0
                self._seen[key] = [now, 1, 0]
                self._seen.move_to_end(key)
                while len(self._seen) > self.max_keys:
                    self._seen.popitem(last=False)
                if dropped:
                    record.repeated = dropped
                    record.msg = f"{msg} (and {dropped} more like it in the last {self.window_s:g} s, not shown)"
                    record.args = None
                return True
            if st[1] < self.burst:
                st[1] += 1
                return True
            st[2] += 1
            return False


_REPEATS = RepeatFilter()
# loggers outside geo_service whose floods the filter also collapses (uvicorn's errors, asyncio's
# "socket.accept() out of system resource")
RATE_LIMITED_LOGGERS = ("uvicorn", "uvicorn.error", "asyncio")


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    """Send the ``geo_service`` loggers to stderr (JSON lines or plain text) at ``level``.

    Idempotent: a second call replaces the handler it installed before.
    """
    logger = logging.getLogger("geo_service")
    logger.setLevel(level.upper())
    for h in list(logger.handlers):
        if getattr(h, "_geo_service", False):
            logger.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._geo_service = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if json_lines else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_REPEATS)
    logger.addHandler(handler)
    logger.propagate = False
    for name in RATE_LIMITED_LOGGERS:
        other = logging.getLogger(name)
        if _REPEATS not in other.filters:
            other.addFilter(_REPEATS)
