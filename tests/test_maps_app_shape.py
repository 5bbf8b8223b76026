"""The maps and the application floor stay in one-job functions and modules: no function over 80
lines (from ``def`` to its last line, docstring included), no module over 600 lines, and a job kind
registered beside its siblings is run by a job manager without further wiring."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from geo_service.app import jobs as J

ROOT = Path(__file__).resolve().parents[1]
FLOORS = (ROOT / "maps", ROOT / "geo_service" / "app")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600


def _modules() -> list[Path]:
    return sorted(p for floor in FLOORS for p in floor.rglob("*.py"))


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines) of every function of ``source`` longer than ``limit`` lines, def to last line."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            if n > limit:
                out.append((node.name, n))
    return out


def test_the_counter_sees_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}\n") == [("f", MAX_FUNCTION_LINES + 1)]
    assert long_functions("def g():\n    return 1\n") == []


def test_no_function_over_80_lines():
    found = [f"{p.relative_to(ROOT)}:{name} ({n} lines)" for p in _modules()
             for name, n in long_functions(p.read_text(encoding="utf-8"))]
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines: {found}"


def test_no_module_over_600_lines():
    found = [f"{p.relative_to(ROOT)} ({n} lines)" for p in _modules()
             if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not found, f"modules over {MAX_MODULE_LINES} lines: {found}"


def test_the_service_kinds_are_registered_beside_each_other():
    """The kinds the service runs are the runners of ``jobs/runners.py``, in their order there."""
    from geo_service.app.jobs import runners

    own = [k for k in J.JOB_KINDS if J.JOB_KINDS[k].runner.__module__ == runners.__name__]
    assert own[:3] == ["optimisation", "roster", "review"]
    assert J.JOB_KINDS["review"].inputs is runners.review_inputs
    assert all(getattr(J.JOB_KINDS[k].runner, "run_in_process", False) for k in own)


@pytest.fixture
def echo_kind():
    def run_echo(ds, params, previous, progress, cancel):
        progress(50.0, "half")
        return {"status": "done", "dataset": ds, "x": J.solver_params(params)["x"]}

    kind = J.register_kind("echo_shape", run_echo, in_process=False)
    yield kind
    J.JOB_KINDS.pop("echo_shape", None)


def test_a_registered_kind_runs_without_further_wiring(echo_kind, tmp_path):
    from geo_service.core.store import SQLiteStore

    store = SQLiteStore(tmp_path)
    m = J.JobManager(store, lambda dataset_id: dataset_id.upper(), isolation="thread")
    try:
        job = m.submit("d1", "echo_shape", {"x": 3, "batch_id": "b"})
        deadline = time.monotonic() + 20
        while store.get_job(job.id).status in J.ACTIVE and time.monotonic() < deadline:
            time.sleep(0.05)
        done = store.get_job(job.id)
        assert done.status == "successful", done
        assert done.result == {"status": "done", "dataset": "D1", "x": 3}
        assert done.message == "finished: done"
    finally:
        m.shutdown(wait=True)
