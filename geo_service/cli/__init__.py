"""Command-line interface (``geo-service ...``), the composition root of the project.

It may import every layer: :mod:`api` (``serve``), :mod:`geo_service.app` (demo, batch),
:mod:`solvers`, :mod:`maps` and the core. Every command prints one clear line on error and exits
non-zero (1: failure, 2: invalid input); long work shows a progress indicator on stderr.

- :mod:`.common`: the Typer ``app``, shared options, ``fail``/``progress``, reading inputs;
- :mod:`.commands`: the commands themselves (registered on ``app`` when imported).
"""

from __future__ import annotations

from . import commands  # noqa: F401 - registers the commands on ``app``
from . import posters  # noqa: F401 - registers ``posters``
from .common import app


def main() -> None:  # pragma: no cover - console entry
    app()


__all__ = ["app", "main"]
