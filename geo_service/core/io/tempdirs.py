"""Per-process temporary folders under the data directory, and removal of those left by dead processes.

Uploads are written and unpacked under ``<data_dir>/tmp/<host>-<pid>-<start>/`` rather than the
system temp directory: a process killed mid-upload (OOM, SIGKILL, a crash) leaves its folder
there, and the next start on that data directory removes every folder whose process is gone
(:func:`remove_stale`). The process start time in the name tells a live process from a dead one
whose pid was reused.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

SUBDIR = "tmp"
_NAME = re.compile(r"^(?P<host>[A-Za-z0-9_.-]+)-(?P<pid>\d+)-(?P<start>\d+)$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname())[:64] or "host"


def _start_ticks(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux), None when unknown/gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:  # the command name (field 2) may hold spaces and parentheses: split after the last ')'
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def _alive(pid: int, start: int) -> bool:
    if Path("/proc").is_dir():
        return _start_ticks(pid) == start
    try:  # no /proc: pid only
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_tmp_dir(data_dir: str | os.PathLike) -> Path:
    """This process's temp folder under ``data_dir`` (created on first use)."""
    pid = os.getpid()
    d = Path(data_dir) / SUBDIR / f"{_host()}-{pid}-{_start_ticks(pid) or 0}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def remove_stale(data_dir: str | os.PathLike) -> list[Path]:
    """Remove the temp folders of dead processes of this host under ``data_dir``; the removed paths.

    Folders of live processes (another replica on the same data directory) and of other hosts
    (a shared volume) are left alone.
    """
    root = Path(data_dir) / SUBDIR
    if not root.is_dir():
        return []
    host, removed = _host(), []
    for d in root.iterdir():
        m = _NAME.match(d.name)
        if m is None or m["host"] != host or not d.is_dir():
            continue
        pid, start = int(m["pid"]), int(m["start"])
        if pid == os.getpid() and start == (_start_ticks(pid) or 0):
            continue
        if start and _alive(pid, start):
            continue
        if not start and pid != os.getpid():
            try:
                os.kill(pid, 0)
                continue  # start time unknown and the pid is in use: keep it
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


__all__ = ["process_tmp_dir", "remove_stale"]
