"""The service as a real server process for attack tests: ``geo-service serve``'s own server set-up
(:func:`api.server.uvicorn_config`, the guarded protocol and its limits) on a port of the test's
choosing, restartable on the same port.

``python tests/live_server.py '<json>'`` runs it; the JSON gives ``data_dir``, ``port`` and
``settings`` (keyword arguments of :class:`api.settings.Settings`). With ``"stand_in": true`` the
optimisation kind answers by its ``seed``: 1 spins (ignoring its time limit, as a solver stuck
inside one stage would), 2 answers at once; other seeds run the real optimisation. ``"grace_s"``
sets the overrun grace of the solver's hard limit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stand_in(ds, params, previous, progress, cancel, network=None):
    from geo_service.app.jobs import run_optimisation_job

    if params.get("seed") == 1:
        progress(1.0, "solving")
        while True:  # a stage that never returns, limits or not
            sum(i * i for i in range(10_000))
    if params.get("seed") == 2:
        return {"status": "optimal", "tables": {}}
    return run_optimisation_job(ds, params, previous, progress, cancel, network=network)


def main(spec: dict) -> None:
    import uvicorn

    from api.app import create_app
    from api.server import raise_open_file_limit, uvicorn_config
    from api.settings import Settings
    from geo_service.app import children
    from geo_service.app.jobs import register_kind
    from solvers.pipeline import OptimisationParams

    if spec.get("grace_s") is not None:
        children.OVERRUN_GRACE_S = float(spec["grace_s"])
    if spec.get("stand_in"):
        _stand_in.run_in_process = True
        register_kind("optimisation", _stand_in, OptimisationParams)
    settings = Settings(data_dir=spec["data_dir"], **spec.get("settings", {}))
    raise_open_file_limit(settings.limit_concurrency + 1024)
    config = uvicorn_config(create_app(settings), settings, host="127.0.0.1", port=int(spec["port"]),
                            log_level="warning")
    uvicorn.Server(config).run()


class LiveServer:
    """One server process; :meth:`start` (again after :meth:`kill`) on the same port."""

    def __init__(self, data_dir: Path, *, port: int | None = None, stand_in: bool = False,
                 grace_s: float | None = None, **settings):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.spec = {"data_dir": str(self.data_dir), "port": self.port, "stand_in": stand_in,
                     "grace_s": grace_s, "settings": {"log_level": "WARNING", **settings}}
        self.proc: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> LiveServer:
        import httpx

        env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
        env["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__)), json.dumps(self.spec)], cwd=ROOT,
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.proc.stderr.read().decode()[-3000:]}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not start")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def solver_pids(self) -> dict[str, int]:
        """Job id -> pid, from the service's process records."""
        out = {}
        for f in (self.data_dir / "job-processes").glob("*.json"):
            try:
                rec = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            out[rec["job_id"]] = int(rec["pid"])
        return out


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(json.loads(sys.argv[1]))
