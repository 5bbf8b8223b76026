"""Command-line interface: ``geo-service serve | demo | import | export | summary | validate | ...``.

Every command prints one clear line on error and exits non-zero; long work shows a progress bar.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Geospatial coverage and assignment service for CPPCC liaison networks.")

DEFAULT_DATA_DIR = "var"


def _data_dir(value: Optional[str]) -> str:
    return value or os.environ.get("GEO_SERVICE_DATA_DIR") or DEFAULT_DATA_DIR


def fail(message: str, code: int = 1) -> None:
    """Print ``error: message`` to stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


# --- commands added by area engineers above ---


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
