"""Shared plumbing of the CLI commands: the Typer app, common options, errors, progress, inputs."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..core.errors import validation_items
from ..core.glossary import import_problem_text, message, parameter_label, parameter_reason, parameters_text, value_label, word

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Geospatial coverage and assignment service for CPPCC liaison networks.")

DEFAULT_DATA_DIR = "var"

DataDirOpt = Annotated[Optional[str], typer.Option(
    "--data-dir", help="store location: a directory (embedded) or a postgresql:// URL "
                       "[env GEO_SERVICE_DATA_DIR, default ./var]")]
DatumOpt = Annotated[str, typer.Option(
    "--datum", help="datum of the input coordinates: wgs84, gcj02 (Gaode/Tencent) or bd09 (Baidu)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable JSON output")]


def _out_path(out: str, default_name: str) -> Path:
    """``--out`` as the user means it: ending in ``/`` or naming a folder -> ``default_name`` inside it
    (the folder is made); else the file. Relative to the current directory."""
    p = Path(out)
    if out.endswith(("/", os.sep)) or p.is_dir():
        p.mkdir(parents=True, exist_ok=True)
        return p / default_name
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _data_dir(value: Optional[str]) -> str:
    return (value or os.environ.get("GEO_SERVICE_DATABASE_URL") or os.environ.get("GEO_SERVICE_DATA_DIR")
            or DEFAULT_DATA_DIR)


def fail(text: str | BaseException, code: int = 1, lang: str = "zh") -> None:
    """Print ``错误：text`` (``error: text`` with ``lang="en"``) to stderr and exit with ``code``.

    ``text`` may be the exception itself: a wrong argument (``InvalidParameter``, ``InvalidQuery``:
    a ``ValueError`` with ``to_dict()``) whose code the glossary words is then said in Chinese (which
    argument, why); anything else, and every English answer, is the exception's own text."""
    lang = lang if lang in ("zh", "en") else "zh"
    item = text.to_dict() if isinstance(text, ValueError) and callable(getattr(text, "to_dict", None)) else None
    if lang == "zh" and isinstance(item, dict) and parameter_reason(item, lang):
        text = parameters_text([item], lang)
    typer.echo(message("cli_error", lang, text=str(text)), err=True)
    raise typer.Exit(code)


#: pydantic error types in words: type -> (zh, en) template over the error's ``ctx``
def params_text(exc, lang: str = "zh") -> str:
    """A parameters validation error (pydantic) in the user's words: each parameter by its glossary
    name (``每位委员值班月数下限：应不小于 0``), the reason after it, worded as the API words it
    (``glossary.REASONS``); a reason the glossary lacks keeps the validator's text."""
    parts = []
    for item in validation_items(exc):
        name = parameter_label(item["field"], lang) or item["field"]
        parts.append(name + word("sep_colon", lang) + (parameter_reason(item, lang) or item["message"]))
    return word("sep_semicolon", lang).join(parts)


def _params_file(path: Optional[Path], lang: str) -> dict:
    """The JSON object of ``--params`` (empty without one); exits 2 naming the file and line."""
    if path is None:
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        fail(message("cli_common_os_error", lang, path=path, os_error_text=os_error_text(e), strerror=e.strerror or e), 2, lang)
    except json.JSONDecodeError as e:
        fail(message("cli_common_not_valid_json", lang, path=path, lineno=e.lineno, colno=e.colno), 2, lang)
    if not isinstance(raw, dict):
        fail(message("cli_common_expected_json_object", lang, path=path), 2, lang)
    return raw


def os_error_text(e: OSError) -> str:
    """A file error in Chinese (没有这个文件, 没有权限 ...), else the system's own words."""
    for kind, words in ((FileNotFoundError, "没有这个文件"), (IsADirectoryError, "这是文件夹，不是文件"),
                        (PermissionError, "没有读写权限"), (NotADirectoryError, "路径中有一段不是文件夹")):
        if isinstance(e, kind):
            return words
    return str(e.strerror or e)


def counts_text(counts: dict[str, int], lang: str = "zh") -> str:
    """Layer counts in words: ``乡镇街道 12，村社区 178`` (zero counts left out)."""
    sep = word("sep_comma", lang)
    return sep.join(f"{value_label('layer', k, lang)} {v}" for k, v in counts.items() if v)


LangOpt = Annotated[str, typer.Option("--lang", help="text output: zh (default) or en; --json keys stay English")]


@contextmanager
def progress(description: str) -> Iterator[None]:
    """A spinner with elapsed time on stderr while a step runs (silent when not a terminal)."""
    console = Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        bar.add_task(description, total=None)
        yield


@contextmanager
def progress_bar(description: str, total: float, quiet: bool = False) -> Iterator[Callable[[float], None]]:
    """A bar with percentage and elapsed time on stderr while a solver runs; yields ``update(done)``.

    ``done`` is on the scale of ``total`` (1.0 for a fraction, 100 for percent). Silent when
    ``quiet`` (``--json``) or when stderr is not a terminal.
    """
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=quiet or not console.is_terminal) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.update(task, completed=done)


def check_lang_opt(lang: str) -> None:
    """Exit 2 with a clear line unless ``--lang`` is zh or en."""
    if lang not in ("zh", "en"):
        fail(message("cli_bad_lang", "zh", value=repr(lang)), 2)


def _report_problems(exc, limit: int = 50, lang: str = "zh") -> None:
    errors = [p for p in exc.problems if p.severity == "error"]
    typer.echo(message("cli_common_input_problems", lang, n=len(errors)), err=True)
    for p in errors[:limit]:
        typer.echo(f"  - {_where(p, lang)}", err=True)
    if len(errors) > limit:
        typer.echo(message("cli_common_and_more", lang, n=len(errors) - limit), err=True)


def _where(p, lang: str) -> str:
    """A problem with its place in the user's words (layer, 第 N 行, 编号, 字段, the glossary's detail)."""
    return import_problem_text(p, lang)


def _parse_layer_opts(layers: list[str], lang: str = "zh") -> dict[str, str]:
    out = {}
    for item in layers:
        if "=" not in item:
            fail(message("cli_layer_opt_form", lang, item=item), 2, lang)
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _read_input(path: Optional[Path], layer_files: dict[str, str], datum: str, name: str,
                missing_points: str, lang: str = "zh"):
    from ..core.io import read_dataset, read_layers_from_files
    if layer_files:
        return read_layers_from_files(layer_files, datum=datum, name=name, missing_points=missing_points,
                                      base=path)
    if path is None:
        fail(message("cli_need_input", lang), 2, lang)
    if not path.exists():
        fail(message("cli_no_such_path", lang, path=path) + "\n" + message("cli_county_folder_help", lang), 2, lang)
    return read_dataset(path, datum=datum, name=name, missing_points=missing_points)


def stored_dataset(store, dataset_id: str):
    """A stored dataset with its catalog metadata (the import report) in ``meta``."""
    ds = store.get_dataset(dataset_id)
    info = store.dataset_info(dataset_id)
    return dataclasses.replace(ds, meta={**(info.meta or {}), **dict(ds.meta or {}), "version": info.version})


def _store_has(data_dir: Optional[str], source: str):
    """The store when it holds a dataset named ``source`` (never creates a store folder), else None."""
    from ..core.store import open_store

    where = _data_dir(data_dir)
    if "://" not in where and not Path(where).is_dir():
        return None
    try:
        store = open_store(where)
        return store if store.has_dataset(source) else None
    except (ValueError, OSError):  # not a dataset id (a path with a suffix, slashes ...)
        return None


def _load_source(source: Optional[str], datum: str = "wgs84", data_dir: Optional[str] = None,
                 lang: str = "zh"):
    """The dataset a command works on: the stored dataset of that name when there is one; else the
    file or folder of that name (the command says which it used when both could be meant); default
    ``demo``, stored on first use. Exits 2 on invalid files, 1 if unknown."""
    from ..app.seed import ensure_demo
    from ..core.dataset import DatasetValidationError
    from ..core.store import NotFound, open_store
    source = source or "demo"
    src = Path(source)
    if source != "demo":
        store = _store_has(data_dir, source)
        if store is not None:
            if src.exists():
                typer.echo(message("cli_note", lang, text=message("source_used_dataset", lang, name=source)), err=True)
            return stored_dataset(store, source)
    if src.exists():
        if src.is_dir():
            typer.echo(message("cli_note", lang, text=message("source_used_folder", lang, name=source, path=src)),
                       err=True)
        try:
            return _read_input(src, {}, datum, src.stem, "keep", lang)
        except DatasetValidationError as e:
            _report_problems(e, lang=lang)
            raise typer.Exit(2) from None
    store = open_store(_data_dir(data_dir))
    if source == "demo":
        with progress(word("cli_loading_demo", lang)):
            ensure_demo(store, only_if_empty=False)
    try:
        return stored_dataset(store, source)
    except (NotFound, ValueError):
        fail(message("cli_common_no_source", lang, source=source), 1, lang)
