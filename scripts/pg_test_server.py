#!/usr/bin/env python3
"""Start and stop a throwaway PostgreSQL 15 + PostGIS 3 cluster for tests and benchmarks.

The cluster lives in a fresh temporary directory, listens on 127.0.0.1 at a free port (and a unix
socket in the same directory), trusts local connections, runs with ``fsync=off`` (test data only)
and has one database, ``geo_test``, with the ``postgis`` extension. PostgreSQL refuses to run as
root, so under root (CI) the server runs as the ``postgres`` OS user that the Debian package
creates, in a directory owned by that user. Startup takes about a second.

Command line (prints shell ``export`` lines, so ``eval "$(...)"`` sets the variables)::

    eval "$(.venv/bin/python scripts/pg_test_server.py start)"   # GEO_SERVICE_TEST_PG_URL, ..._DIR
    .venv/bin/pytest tests/test_store.py
    .venv/bin/python scripts/pg_test_server.py stop "$GEO_SERVICE_TEST_PG_DIR"

In Python (the pytest fixture in ``tests/test_store.py`` does this)::

    with pg_test_server() as url:   # postgresql://postgres@127.0.0.1:PORT/geo_test
        ...

Binaries are looked up in ``$PG_BINDIR``, then ``/usr/lib/postgresql/15/bin`` (Debian), then ``PATH``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DB_NAME = "geo_test"
DEBIAN_BINDIRS = ("/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")


class PGUnavailable(RuntimeError):
    """PostgreSQL/PostGIS cannot be started here; the message says why."""


def find_bindir() -> Path:
    """Directory holding ``initdb``, ``pg_ctl`` and ``postgres``; raise :class:`PGUnavailable` if none."""
    candidates = [os.environ.get("PG_BINDIR", ""), *DEBIAN_BINDIRS]
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).parent))
    for c in candidates:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    raise PGUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian "
                        "packages postgresql-15 and postgresql-15-postgis-3, or set PG_BINDIR")


def postgis_available(bindir: Path) -> bool:
    """True if the PostGIS extension files exist for the server in ``bindir``."""
    pg_config = bindir / "pg_config"
    if pg_config.is_file():
        share = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True).stdout.strip()
        if share:
            return (Path(share) / "extension" / "postgis.control").is_file()
    return any(Path(p).is_file() for p in ("/usr/share/postgresql/15/extension/postgis.control",
                                           "/usr/share/postgresql/16/extension/postgis.control"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    """Prefix ``cmd`` so it runs as ``postgres`` when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam("postgres")
    except KeyError as e:
        raise PGUnavailable("running as root but there is no 'postgres' OS user to run the server as "
                            "(it comes with the Debian postgresql package)") from e
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{c}'" for c in cmd)]


def _run(cmd: list[str], what: str) -> None:
    r = subprocess.run(_as_server_user(cmd), capture_output=True, text=True)
    if r.returncode != 0:
        raise PGUnavailable(f"{what} failed (exit {r.returncode}): {(r.stderr or r.stdout).strip()[-800:]}")


def start(base: str | None = None) -> tuple[str, Path]:
    """Create and start a cluster; return ``(url, directory)``. Stop it with :func:`stop`."""
    bindir = find_bindir()
    if not postgis_available(bindir):
        raise PGUnavailable("PostGIS extension files not found: install postgresql-15-postgis-3")
    if base is None and os.geteuid() == 0:
        base = "/tmp"  # the postgres user must reach the directory; root's TMPDIR may be private
    root = Path(tempfile.mkdtemp(prefix="geo-pg-", dir=base))
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
    os.chmod(root, 0o755)
    data, log = root / "data", root / "server.log"
    try:
        _run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
              "-E", "UTF8", "--locale=C.UTF-8"], "initdb")
        last = ""
        for _attempt in range(3):  # the free port can be taken between the check and the start
            port = free_port()
            opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            r = subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                                                "-w", "-t", "30", "-o", opts, "start"]),
                               capture_output=True, text=True)
            if r.returncode == 0:
                break
            last = (log.read_text(errors="replace") if log.exists() else r.stderr)[-800:]
        else:
            raise PGUnavailable(f"pg_ctl start failed: {last}")
        psql = [str(bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port),
                "-U", "postgres"]
        _run([*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DB_NAME}"], "CREATE DATABASE")
        _run([*psql, "-d", DB_NAME, "-c", "CREATE EXTENSION postgis"], "CREATE EXTENSION postgis")
    except BaseException:
        stop(root)
        raise
    (root / "url").write_text(url := f"postgresql://postgres@127.0.0.1:{port}/{DB_NAME}")
    return url, root


def stop(root: str | os.PathLike) -> None:
    """Stop the cluster in ``root`` (immediately: its data is throwaway) and delete the directory."""
    root = Path(root)
    data = root / "data"
    if (data / "postmaster.pid").exists():
        try:
            bindir = find_bindir()
            subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                            "-w", "-t", "30", "stop"]), capture_output=True, text=True)
        except PGUnavailable:
            pass
    for _ in range(20):  # the server may still be removing its socket
        shutil.rmtree(root, ignore_errors=True)
        if not root.exists():
            break
        time.sleep(0.1)


@contextmanager
def pg_test_server() -> Iterator[str]:
    """Context manager: a running throwaway cluster's URL; stopped and deleted on exit."""
    url, root = start()
    try:
        yield url
    finally:
        stop(root)


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "start":
        try:
            url, root = start()
        except PGUnavailable as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"export GEO_SERVICE_TEST_PG_URL={url}")
        print(f"export GEO_SERVICE_TEST_PG_DIR={root}")
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        stop(argv[1])
        return 0
    print("usage: pg_test_server.py start | stop DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
