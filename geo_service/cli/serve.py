"""``geo-service serve``: the HTTP service (API, maps, web page) on uvicorn.

Registered on the main app by :func:`register`.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ..core.glossary import message
from .common import (
    DataDirOpt,
    LangOpt,
    _data_dir,
    check_lang_opt,
)


def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    data_dir: DataDirOpt = None,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="do not load the demo county into an empty store")] = False,
    lang: LangOpt = "zh",
) -> None:
    """Start the HTTP service (API, maps and web page). An empty store gets the demo county.

    Limits against slow or numerous clients come from the settings (``limit_concurrency``,
    ``backlog``, ``timeout_keep_alive_s``, ``header_timeout_s``, ``h11_max_incomplete_event_size``,
    ``max_connections_per_ip``; see docs/security.md)."""
    import uvicorn
    from api.app import create_app

    from ..app.warm import warm_in_background
    from api.server import raise_open_file_limit, uvicorn_config
    from api.settings import Settings
    from ..core.store import POSTGRES_SCHEMES
    where = _data_dir(data_dir)
    if where.startswith(POSTGRES_SCHEMES):
        os.environ["GEO_SERVICE_DATABASE_URL"] = where
    else:
        os.environ["GEO_SERVICE_DATA_DIR"] = where
    if no_demo:
        os.environ["GEO_SERVICE_LOAD_DEMO"] = "false"
    settings = Settings()
    shown = where.split("@")[-1] if "://" in where else where  # never print a password
    check_lang_opt(lang)
    typer.echo(message("cli_serve", lang, where=shown, host=host, port=port), err=True)
    raise_open_file_limit(settings.limit_concurrency + 1024)
    warm_in_background()  # numba compiles while the service starts, not in the first request
    uvicorn.Server(uvicorn_config(create_app(settings), settings, host=host, port=port, log_level="info")).run()


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(serve)


__all__ = ["register", "serve"]
