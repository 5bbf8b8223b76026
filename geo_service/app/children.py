"""Solver child processes: started by fork, bound to their parent, limited by themselves.

A job solves in a child process (:func:`run_in_child`) that relays progress over a pipe and is
terminated on cancel or far past its time limit. The child must never outlive the service or
block its restart, so at start-up (:func:`_child_setup`) it

- asks the kernel for ``SIGKILL`` when its parent dies (Linux ``PR_SET_PDEATHSIG`` through
  ``prctl``), and exits at once if the parent is already gone;
- becomes the leader of its own process group, so :func:`stop_process` ends it and anything it
  started in one signal, and a signal to the service's group does not reach it;
- lets go of every socket it inherited (the listening socket above all): each is replaced by
  ``/dev/null`` in place, so the port is free the moment the service dies;
- arms its own hard limit: a real-time timer (``SIGALRM``, default action: terminate) at the
  job's :func:`hard_deadline_s`, and ``RLIMIT_CPU`` at that many seconds per core as a backstop,
  both enforced by the kernel even when the parent is stopped or dead.

Each running child is written down in a process record beside the job records
(``<data_dir>/job-processes/<job id>.json``: pid and the kernel's start time of that pid).
:func:`kill_strays` (called at start-up) kills, by those records, every child whose job is no
longer running in a live service (a child that survived a ``kill -9`` on a system without
parent-death signals), checking the start time so a reused pid is never hit.
"""

from __future__ import annotations

import ctypes
import json
import logging
import multiprocessing
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger("geo_service.jobs")

Runner = Callable[..., dict[str, Any]]

#: start method of job processes: fork shares the loaded dataset and road network copy-on-write
#: (spawn/forkserver would pickle a whole county, and a road network, per job)
PROCESS_START = "fork"
#: seconds a job process gets to exit after SIGTERM before SIGKILL
TERMINATE_GRACE_S = 2.0
#: a process still running this long past its ``time_limit_s`` (s; plus half the limit) is killed
OVERRUN_GRACE_S = 30.0
#: Linux ``prctl`` option: signal sent to this process when its parent thread dies
PR_SET_PDEATHSIG = 1
#: failures whose detail is written in words by the service itself (anything else is an internal error)
PUBLIC_FAILURES = frozenset({"ValueError", "ValidationError", "MissingLayer", "TimeLimitExceeded",
                             "WorkerDied", "Interrupted", "Infeasible"})


class JobCancelled(Exception):
    """The job was dismissed (here or on another replica) while its process was solving."""


class JobFailed(Exception):
    """A runner failed in its worker process: ``title`` is its exception's type name."""

    def __init__(self, title: str, detail: str):
        super().__init__(detail)
        self.title = title


def public_failure(title: str, detail: str, ref: str) -> tuple[str, str]:
    """``(title, detail)`` as a job record shows them: the service's own failures as they are,
    anything else (a type error deep in a solver library) as one line without its internals,
    pointing to the log entry ``ref``."""
    if title in PUBLIC_FAILURES:
        return title, detail
    return "SolverError", (f"the solver failed unexpectedly; the service log has the details "
                           f"(reference {ref})")


def hard_deadline_s(params: dict[str, Any]) -> float | None:
    """Wall-clock seconds after which a job's process is killed: its ``time_limit_s`` plus half of it
    plus :data:`OVERRUN_GRACE_S` (the solvers check their limit between stages, not within one)."""
    try:
        t = float(params.get("time_limit_s", 60.0))
        t += float(params.get("consultation_time_limit_s", 0.0) or 0.0)
    except (TypeError, ValueError):
        return None
    if not t > 0 or t == float("inf"):
        return None
    return t * 1.5 + OVERRUN_GRACE_S


# -- inside the child -----------------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    """``PR_SET_PDEATHSIG`` = SIGKILL (Linux); exit at once when ``parent`` is already gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the watchdog covers it
            pass
    if os.getppid() != parent:  # the parent died between fork and prctl
        os._exit(70)


def _release_sockets(keep: Iterable[int]) -> int:
    """Point every inherited socket descriptor (but ``keep``) at ``/dev/null``; return how many.

    The descriptor numbers stay taken, so a Python object that later closes "its" socket closes
    ``/dev/null`` and never a descriptor the child opened since."""
    keep = set(keep)
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:  # pragma: no cover - no /proc: probe the usual range
        fds = list(range(3, 1024))
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    n = 0
    try:
        for fd in fds:
            if fd < 3 or fd in keep or fd == null:
                continue
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.dup2(null, fd, inheritable=False)
                    n += 1
            except OSError:
                continue
    finally:
        os.close(null)
    return n


def _arm_own_limit(deadline_s: float | None) -> None:
    """The kernel ends this process ``deadline_s`` seconds from now (SIGALRM) and after that many CPU
    seconds per core (RLIMIT_CPU), whatever its parent does."""
    if deadline_s is None:
        return
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, float(deadline_s))
    try:
        import resource

        cpu = int(deadline_s * max(1, os.cpu_count() or 1)) + 5
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            cpu = min(cpu, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))
    except (ImportError, ValueError, OSError):  # pragma: no cover - the timer still holds
        pass


def _child_setup(parent: int, keep_fd: int, deadline_s: float | None) -> None:
    """Everything a job process does before it solves (see the module docstring)."""
    # the server's signal handlers (uvicorn's graceful shutdown) came along with fork: a job
    # process must die on SIGTERM/SIGINT, not start a shutdown of a server it does not run
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _die_with_parent(parent)
    try:
        os.setpgid(0, 0)
    except OSError:  # pragma: no cover - already a group leader
        pass
    _release_sockets([keep_fd])
    _arm_own_limit(deadline_s)


def _child_main(conn, runner: Runner, ds: Any, params: dict[str, Any], previous: dict[str, Any] | None,
                extra: dict[str, Any], parent: int, deadline_s: float | None) -> None:
    """Body of a job process: run ``runner`` and send ``("progress", pct, msg)`` messages, then
    ``("ok", result)`` or ``("error", title, detail)`` over ``conn``."""
    _child_setup(parent, conn.fileno(), deadline_s)
    last = [0.0, -2.0]

    def progress(percent: float, message: str = "") -> None:
        now = time.monotonic()
        pct = float(percent)
        if pct - last[1] >= 1.0 or now - last[0] >= 0.25 or message:
            last[:] = [now, pct]
            conn.send(("progress", pct, str(message)[:500]))

    try:
        result = runner(ds, params, previous, progress, threading.Event(), **extra)
        conn.send(("ok", result))
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent as a job failure
        try:
            conn.send(("error", type(e).__name__, str(e) or type(e).__name__))
        except Exception:
            pass
    finally:
        conn.close()


# -- in the service -------------------------------------------------------------------------------
def _died(proc) -> JobFailed:
    if proc.exitcode in (-signal.SIGALRM, -signal.SIGXCPU):
        return JobFailed("TimeLimitExceeded", "the solver stopped itself far past its time_limit_s")
    return JobFailed("WorkerDied", f"the solver process ended without an answer (exit code "
                                   f"{proc.exitcode}; out of memory?)")


def run_in_child(runner: Runner, ds: Any, params: dict[str, Any], previous: dict[str, Any] | None,
                 progress: Callable[..., None], should_stop: Callable[[], bool], *,
                 extra: dict[str, Any] | None = None, launch: Callable[[Any], None] | None = None,
                 name: str = "geo-job", record: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Run ``runner`` in a forked child process; relay its progress; stop it on request or far past its
    time limit; return its result.

    ``should_stop()`` is polled about every 0.1 s: once true, the child is terminated and
    :class:`JobCancelled` raised. A child still running :func:`hard_deadline_s` seconds after it
    started is terminated (here, and by its own timer should this process be stopped) with
    :class:`JobFailed` ``TimeLimitExceeded``; one that dies without an answer (OOM killer,
    ``os._exit``) gives :class:`JobFailed` ``WorkerDied``; an exception in the runner gives
    :class:`JobFailed` titled with its type name. ``launch(proc)`` starts the process (default
    ``proc.start()``): a caller that must register it atomically with its own cancel check passes
    one. ``record(proc)`` is called once it started (process records). The child is always reaped
    before this returns.
    """
    ctx = multiprocessing.get_context(PROCESS_START)
    here, there = ctx.Pipe(duplex=False)
    limit = hard_deadline_s(params)
    proc = ctx.Process(target=_child_main, args=(there, runner, ds, params, previous, extra or {},
                                                 os.getpid(), limit), name=name, daemon=True)
    try:
        (launch or (lambda p: p.start()))(proc)
    except BaseException:
        here.close()
        there.close()
        raise
    there.close()
    try:  # the child does this too; from here as well, so its group is set before anyone looks
        os.setpgid(proc.pid, proc.pid)
    except (OSError, TypeError):  # already its own group leader, already gone, or not started by fork
        pass
    if record is not None:
        record(proc)
    t0 = time.monotonic()
    log.info("job process started", extra={"job": name, "pid": proc.pid})
    try:
        while True:
            if should_stop():
                raise JobCancelled(name)
            now = time.monotonic()
            if limit is not None and now - t0 > limit:
                raise JobFailed("TimeLimitExceeded", f"the solver ran {now - t0:.0f} s, far past its "
                                                     f"time_limit_s of {params.get('time_limit_s')} s; stopped")
            if not here.poll(0.1):
                if not proc.is_alive() and not here.poll(0):
                    proc.join(TERMINATE_GRACE_S)
                    raise _died(proc)
                continue
            try:
                msg = here.recv()
            except EOFError:
                proc.join(TERMINATE_GRACE_S)
                raise _died(proc) from None
            if msg[0] == "progress":
                progress(msg[1], msg[2])
            elif msg[0] == "ok":
                return msg[1]
            else:
                raise JobFailed(msg[1], msg[2])
    finally:
        here.close()
        stop_process(proc)
        log.info("job process ended", extra={"job": name, "pid": proc.pid, "exitcode": proc.exitcode})


def _signal_group(pid: int, sig: int) -> None:
    """``sig`` to the process group led by ``pid`` (the child and what it started), else to ``pid``."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except (ProcessLookupError, PermissionError, OSError):
        pass
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_process(proc) -> None:
    """Terminate a job process and its group (SIGTERM, then SIGKILL after :data:`TERMINATE_GRACE_S`)
    and reap it."""
    if proc.pid is None:
        return
    if proc.is_alive():
        _signal_group(proc.pid, signal.SIGTERM)
        proc.join(TERMINATE_GRACE_S)
        if proc.is_alive():
            _signal_group(proc.pid, signal.SIGKILL)
    proc.join(TERMINATE_GRACE_S)


# -- process records and the start-up watchdog ----------------------------------------------------
def process_start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot; Linux), or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    try:
        return int(raw[raw.rindex(b")") + 2:].split()[19])
    except (ValueError, IndexError):  # pragma: no cover - unexpected format
        return None


class ProcessRecords:
    """One small file per running job process in ``folder`` (``<job id>.json``: pid, start time)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def add(self, job_id: str, pid: int) -> None:
        """Write down that ``pid`` solves ``job_id``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{job_id}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"job_id": job_id, "pid": pid, "start": process_start_time(pid),
                                   "service_pid": os.getpid()}))
        os.replace(tmp, self.folder / f"{job_id}.json")

    def remove(self, job_id: str) -> None:
        (self.folder / f"{job_id}.json").unlink(missing_ok=True)

    def items(self) -> list[dict[str, Any]]:
        out = []
        if not self.folder.is_dir():
            return out
        for f in self.folder.glob("*.json"):
            try:
                rec = json.loads(f.read_text())
                int(rec["pid"])
                out.append(rec)
            except (OSError, ValueError, KeyError, TypeError):
                f.unlink(missing_ok=True)
        return out


def kill_strays(records: ProcessRecords, still_running: Callable[[str, int], bool]) -> list[int]:
    """Kill the job processes of ``records`` whose job is no longer running in a live service; return
    their pids.

    ``still_running(job_id, service_pid)`` says whether a live service still runs that job (then
    its record is kept). A record whose pid now names another process (a different start time) is
    only removed."""
    killed = []
    for rec in records.items():
        job_id, pid = str(rec.get("job_id")), int(rec["pid"])
        if still_running(job_id, int(rec.get("service_pid") or 0)):
            continue
        start = process_start_time(pid)
        if start is not None and rec.get("start") is not None and start == rec.get("start"):
            _signal_group(pid, signal.SIGKILL)
            killed.append(pid)
            log.warning("killed a solver process left by a previous service", extra={"job_id": job_id,
                                                                                      "pid": pid})
        records.remove(job_id)
    return killed


__all__ = [
    "OVERRUN_GRACE_S",
    "PROCESS_START",
    "TERMINATE_GRACE_S",
    "JobCancelled",
    "JobFailed",
    "ProcessRecords",
    "hard_deadline_s",
    "kill_strays",
    "process_start_time",
    "public_failure",
    "run_in_child",
    "stop_process",
]
