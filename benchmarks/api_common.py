"""Shared by the HTTP benchmarks: run the service with uvicorn in a subprocess on loopback.

The server gets a fresh data directory holding the demo county as dataset ``demo``, API keys
enforced (the benchmark client sends a viewer key) and its JSON logs sent to a file.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

KEY = "bench-viewer-key-0001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(workers: int = 1):
    """Start ``uvicorn api.app:create_app --factory`` on 127.0.0.1; yield its base URL."""
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="geo-bench-"))
    env = {**os.environ, "GEO_SERVICE_DATA_DIR": str(data), "GEO_SERVICE_LOAD_DEMO": "true",
           "GEO_SERVICE_API_KEYS": f"{KEY}:viewer", "GEO_SERVICE_MAX_BODY_BYTES": str(200 * 2**20)}
    log = open(data / "server.log", "wb")
    cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=Path(__file__).resolve().parents[1])
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: see {data / 'server.log'}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - t0 > 180:
                raise RuntimeError("server did not start within 180 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def headers() -> dict[str, str]:
    return {"X-API-Key": KEY}
