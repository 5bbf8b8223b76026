"""``geo-service warm``: compile the numba kernels ahead and cache them on disk.

Registered on the main app by :func:`register`. Run once after installing (``serve`` also does it
in a background thread at start-up), so that no user's first lookup or optimisation waits 4-7 s
for numba to compile; ``--json`` prints the seconds per kernel group.
"""

from __future__ import annotations

import json

import typer

from ..core.glossary import message
from .common import JsonOpt, LangOpt, check_lang_opt


def warm_command(lang: LangOpt = "zh", as_json: JsonOpt = False) -> None:
    """Compile the compiled kernels (nearest grids, p-median, maximal covering) once, cached on disk."""
    from ..app.warm import warm

    check_lang_opt(lang)
    report = warm()
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    if not report["numba"]:
        typer.echo(message("cli_warm_none", lang))
        return
    done = len(report["kernels"]) - len(report["errors"])
    typer.echo(message("cli_warm_done", lang, n=done, time_s=report["time_s"]))
    for name, err in report["errors"].items():
        typer.echo(message("cli_warm_failed", lang, name=name, error=err))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("warm")(warm_command)


__all__ = ["register", "warm_command"]
