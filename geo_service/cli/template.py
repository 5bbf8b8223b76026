"""Commands for real county data: ``template`` (the import template a county office
fills in). Registered on the main app by :func:`register`; the main CLI stays the composition root."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def template(
    out: Annotated[str, typer.Option("--out", help="a folder (one CSV per layer + 说明.csv) or a .xlsx "
                                                  "workbook; relative to the current directory")] = "county-template/",
    fmt: Annotated[str, typer.Option("--format", help="csv (a file per layer) or xlsx (a sheet per layer)")] = "csv",
    lang: Annotated[str, typer.Option("--lang", help="headers and notes: zh or en")] = "zh",
) -> None:
    """Write the import template (导入模板): headers, one example row per layer, and notes saying for each
    column whether it is required, its unit and its datum. The example rows import as they are."""
    from ..core.glossary import message
    from ..core.io.template import write_template
    if fmt not in ("csv", "xlsx"):
        typer.echo(f"error: --format must be csv or xlsx, got {fmt!r}", err=True)
        raise typer.Exit(2)
    if lang not in ("zh", "en"):
        typer.echo(f"error: --lang must be zh or en, got {lang!r}", err=True)
        raise typer.Exit(2)
    target = Path(out)
    if fmt == "csv" and target.suffix.lower() == ".xlsx":
        fmt = "xlsx"
    written = write_template(target, fmt, lang)
    files = ", ".join(str(p) for p in written)
    check = "geo-service validate " + (str(written[0]) if fmt == "xlsx" else str(target))
    typer.echo(message("cli_template_wrote", lang, n=len(written), files=files))
    typer.echo(message("cli_template_then", lang, check=check))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("template")(template)
