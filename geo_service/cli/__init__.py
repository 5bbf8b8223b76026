"""Command-line interface (``geo-service ...``), the composition root of the project.

It may import every layer: :mod:`api` (``serve``), :mod:`geo_service.app` (demo, batch),
:mod:`solvers`, :mod:`maps` and the core. Every command prints one clear line on error and exits
non-zero (1: failure, 2: invalid input); long work shows a progress indicator on stderr.

- :mod:`.common`: the Typer ``app``, shared options, ``fail``/``progress``, reading inputs;
- one module per subject, each adding its commands to ``app`` with ``register(app)``:
  :mod:`.serve`, :mod:`.datasets` (demo, import, export, summary, validate), :mod:`.batch`,
  :mod:`.optimise`, :mod:`.coverage` (close-gaps, map, coverage), :mod:`.template`, :mod:`.roster`,
  :mod:`.review`, :mod:`.villages` (fill-sheet, fill-import), :mod:`.warm`, :mod:`.posters`.

A command imports the floors below inside its own function, so ``geo-service --help`` loads none of
them. The order of :data:`SUBJECTS` is the order ``--help`` lists the commands in.
"""

from __future__ import annotations

from . import batch, coverage, datasets, optimise, review, roster, serve, template, villages, warm
from .common import app

#: the command modules, in the order ``--help`` lists their commands
SUBJECTS = (serve, datasets, batch, optimise, coverage, template, roster, review, villages, warm)

for _subject in SUBJECTS:
    _subject.register(app)

from . import posters  # noqa: E402, F401 - registers ``posters`` on import (after the others)


def main() -> None:  # pragma: no cover - console entry
    app()


__all__ = ["app", "main"]
