"""The type checker on the core: scripts/test.sh runs mypy, and its settings mean something."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: modules left out for now, each with the reason beside its override in pyproject.toml
LEFT_OUT: set[str] = set()


def _mypy() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["mypy"]


def test_scripts_test_sh_runs_mypy_before_the_tests():
    script = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert ".venv/bin/mypy" in script
    assert script.index(".venv/bin/mypy") < script.index("-m pytest")


def test_mypy_checks_the_core_strictly():
    cfg = _mypy()
    assert cfg["packages"] == ["geo_service.core"]
    for flag in ("check_untyped_defs", "no_implicit_optional", "warn_unused_ignores", "disallow_incomplete_defs"):
        assert cfg.get(flag) is True, flag
    assert not cfg.get("ignore_errors"), "errors are ignored module by module, never for the whole core"


def test_only_the_named_modules_have_their_errors_ignored():
    """A module joins the list only with a reason in pyproject.toml; anything else is checked."""
    ignored = {m for o in _mypy().get("overrides", []) if o.get("ignore_errors")
               for m in ([o["module"]] if isinstance(o["module"], str) else o["module"])}
    assert ignored <= LEFT_OUT, f"errors ignored in {sorted(ignored - LEFT_OUT)}"
