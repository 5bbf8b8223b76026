"""Batches on a real Dask set-up (``dask scheduler`` + two ``dask worker`` processes) killed mid-run.

- ``kill -9`` of a worker: the batch finishes every county; the report names the lost worker and
  the counties Dask ran again.
- ``kill -9`` of the scheduler: ``geo-service batch`` ends with a clean message and exit code 3,
  no job record is left accepted/running, and ``--resume BATCH_ID`` on a new cluster runs exactly
  the counties that had not finished.
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

import pytest

pytest.importorskip("distributed")  # the optional "batch" extra

from geo_service.app.batch import EXIT_CLUSTER_LOST, LOST, batch_summary, run_batch, store_province  # noqa: E402
from geo_service.app.province import generate_province  # noqa: E402
from geo_service.core.store import SQLiteStore  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).parent / "dask"
N = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and ``n`` workers (no nanny: a killed worker stays dead) as child processes."""

    def __init__(self, logs: Path, n: int = 2):
        from distributed import Client

        self.address = f"tcp://127.0.0.1:{_free_port()}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        logs.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        self.scheduler = self._start([str(DASK), "scheduler", "--host", "127.0.0.1", "--port",
                                      self.address.rsplit(":", 1)[1], "--no-dashboard"], logs / "scheduler.log", env)
        self.workers = [self._start([str(DASK), "worker", self.address, "--nthreads", "1", "--no-nanny",
                                     "--no-dashboard", "--memory-limit", "0", "--death-timeout", "30"],
                                    logs / f"worker{i}.log", env) for i in range(n)]
        with Client(self.address, timeout=60) as c:  # bounded: raises when the set-up does not come up
            c.wait_for_workers(n, timeout=60)

    def _start(self, cmd, log, env):
        p = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait(timeout=20)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """30 small counties (~30 villages, 30 members each) in one embedded store: ten generated, each
    stored under three ids (s-a-C001, s-b-C001, ...), which saves generating the other twenty."""
    store = SQLiteStore(tmp_path_factory.mktemp("survival") / "store")
    ten = generate_province(N // 3, seed=3, county_share=0.03, km2_per_village=300.0)
    ids = [i for prefix in ("s-a-", "s-b-", "s-c-") for i in store_province(store, ten, prefix=prefix)]
    assert len(ids) == N
    return store, ids


def _batch_jobs(store, batch_id):
    return [j for j in store.list_jobs(limit=100_000) if j.params.get("batch_id") == batch_id]


def test_a_killed_worker_is_reported_and_the_batch_finishes(stored, tmp_path):
    store, ids = stored
    cluster = Cluster(tmp_path / "logs")
    try:
        victim = cluster.workers[0]

        def kill_a_worker(outcome):  # mid-run: each worker has a county in hand
            if len(seen) == 4:
                os.kill(victim.pid, signal.SIGKILL)
            seen.append(outcome.dataset_id)

        seen: list[str] = []
        report = run_batch(store, ids, {"optimisation": {"time_limit_s": 5}}, scheduler=cluster.address,
                           progress=False, on_outcome=kill_a_worker, load_on_workers=True, check_every_s=0.3)
    finally:
        cluster.close()
    assert victim.returncode == -signal.SIGKILL
    assert [o.status for o in report.outcomes] == ["successful"] * N and report.cluster_lost is None
    assert report.exit_code == 0 and report.workers == 2
    (lost,) = report.workers_lost  # the one killed, with the counties it had in hand
    assert lost["worker"].startswith("tcp://127.0.0.1:") and lost["counties"]
    assert set(lost["counties"]) <= set(ids)
    retried = {o.dataset_id for o in report.retried}
    assert retried == set(lost["counties"])
    d = report.to_dict()
    assert d["workers_lost"] == report.workers_lost and sorted(d["retried"]) == sorted(retried)
    assert all(j.status == "successful" for j in _batch_jobs(store, report.batch_id))


def test_a_killed_scheduler_ends_cleanly_and_resume_runs_only_the_missing(stored, tmp_path):
    store, ids = stored
    cluster = Cluster(tmp_path / "logs1")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # a time limit of its own: the parameters differ from the other test's, so none of its results count
    cmd = [sys.executable, "-m", "geo_service.cli", "batch", "s-*", "--scheduler", cluster.address,
           "--time-limit", "6", "--data-dir", str(store.data_dir), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            done = [j for j in store.list_jobs(limit=100_000)
                    if j.kind == "batch" and j.status == "successful" and j.params["optimisation"]["time_limit_s"] == 6]
            if len(done) >= 5:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the batch ended before the scheduler could be killed"
        cluster.scheduler.kill()  # kill -9, mid-run
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        cluster.close()
    err = err.decode()
    assert proc.returncode == EXIT_CLUSTER_LOST, err
    assert "Traceback" not in err and "Dask 集群丢失" in err and "--resume" in err, err[:2500]
    report = json.loads(out)
    batch_id = report["batch_id"]
    assert report["cluster_lost"] and report["exit_code"] == EXIT_CLUSTER_LOST
    assert report["counties"] == N and report["succeeded"] + report["lost"] == N and report["failed"] == 0
    assert 5 <= report["succeeded"] < N
    jobs = _batch_jobs(store, batch_id)
    assert len(jobs) == N and not [j for j in jobs if j.status in ("accepted", "running")]
    lost = {j.dataset_id for j in jobs if j.status == "failed"}
    assert lost == {o["dataset_id"] for o in report["outcomes"] if o["status"] == "lost"}
    assert all(j.error["title"] == LOST and f"--resume {batch_id}" in j.message
               for j in jobs if j.status == "failed")
    summary = batch_summary(store, batch_id)
    assert summary["lost"] == len(lost) and sorted(summary["to_resume"]) == sorted(lost)

    from typer.testing import CliRunner

    from geo_service.cli import app

    cluster = Cluster(tmp_path / "logs2")
    try:
        r = CliRunner().invoke(app, ["batch", "--resume", batch_id, "--scheduler", cluster.address,
                                     "--data-dir", str(store.data_dir), "--json"])
    finally:
        cluster.close()
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    assert again["batch_id"] == batch_id and again["counties"] == len(lost) == N - report["succeeded"]
    assert {o["dataset_id"] for o in again["outcomes"]} == lost and again["skipped"] == report["succeeded"]
    assert again["succeeded"] == len(lost)
    summary = batch_summary(store, batch_id)
    assert summary["counts"] == {"successful": N} and summary["to_resume"] == [] and summary["runs"] == 2
