"""``geo-service optimise``: the assignment optimisation and its responsibility tables.

Registered on the main app by :func:`register`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from ..core.glossary import diagnostic_text, message, relaxation_text, value_label, word
from .common import (
    DataDirOpt,
    DatumOpt,
    JsonOpt,
    _load_source,
    _params_file,
    check_lang_opt,
    fail,
    params_text,
    progress_bar,
)


def optimise(
    source: Annotated[str, typer.Argument(help="dataset id in the store, or a dataset file (GPKG, folder, .xlsx, .zip)")],
    out: Annotated[Path, typer.Option("--out", help="an .xlsx workbook, or a folder for CSV files + result.json")],
    params_file: Annotated[Optional[Path], typer.Option("--params", help="JSON file of OptimisationParams")] = None,
    tiers: Annotated[Optional[str], typer.Option(help="comma list: constituents,villages,townships,stations")] = None,
    mode: Annotated[Optional[str], typer.Option(help="straight (metres) or road (seconds)")] = None,
    previous: Annotated[Optional[Path], typer.Option(help="result.json of an earlier run (minimal change)")] = None,
    lang: Annotated[str, typer.Option(help="table headers and text output: zh or en")] = "zh",
    datum: DatumOpt = "wgs84",
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the assignment optimisation and write the responsibility tables (界别责任区一览表)."""
    from solvers.pipeline import run_optimisation

    from .runs import fail_job, finish_job, start_job
    check_lang_opt(lang)
    p, prev = _optimise_params(params_file, tiers, mode, previous, lang)
    ds = _load_source(source, datum, data_dir, lang)
    job = start_job(data_dir, source, "optimisation", p.model_dump(mode="json"))  # the page lists CLI runs too
    with progress_bar(word("cli_optimise_optimising", lang), 100, quiet=as_json) as update:
        try:
            result = run_optimisation(ds, p, previous=prev, progress=lambda pct, msg: update(pct))
        except ValueError as e:
            fail_job(job, "ValueError", str(e))
            fail(e, 2, lang)
    job_id = finish_job(job, result.to_dict())
    written = _write_result(result, ds, out, lang)
    if as_json:
        typer.echo(json.dumps({"status": result.status, "outcome": result.outcome, "job_id": job_id,
                               "files": [str(w) for w in written],
                               "tiers": {k: {"status": t.status, "objective": t.objective, "bound": t.bound,
                                             "gap": t.gap, "moved": t.moved, "relaxations": t.relaxations,
                                             "diagnostics": [d.get("message") for d in t.diagnostics]}
                                         for k, t in result.tiers.items()}}, ensure_ascii=False, indent=2))
        return
    _print_tiers(result, lang)
    _print_outcome(result.outcome, result, lang)
    typer.echo(message("cli_wrote", lang, files=", ".join(str(w) for w in written)))
    if job_id:
        typer.echo(message("cli_job", lang, id=job_id))


def _optimise_params(params_file: Optional[Path], tiers: Optional[str], mode: Optional[str],
                     previous: Optional[Path], lang: str):
    """``(OptimisationParams, previous result or None)`` from the options; exit 2 when invalid."""
    from solvers.pipeline import OptimisationParams

    try:
        raw = _params_file(params_file, lang)
        if tiers:
            raw["tiers"] = [t.strip() for t in tiers.split(",") if t.strip()]
        if mode:
            raw["mode"] = mode
        prev = json.loads(previous.read_text(encoding="utf-8")) if previous else None
        if prev is not None:
            raw.setdefault("minimal_change", True)
        p = OptimisationParams.model_validate(raw)
    except ValidationError as e:
        fail(message("cli_bad_params", lang, text=params_text(e, lang)), 2, lang)
    except (OSError, ValueError) as e:
        fail(e, 2, lang)
    return p, prev


def _write_result(result, ds, out: Path, lang: str) -> list[Path]:
    """The responsibility tables as one ``.xlsx`` workbook, or CSV files + ``result.json`` in ``out``."""
    from solvers.tables import result_notes

    from ..app.outputs import write_result_csv, write_result_xlsx
    from ..core.jsonsafe import dumps_text

    tables = result.tables(ds)  # schema names; the one table writer localises them for ``lang``
    if out.suffix.lower() == ".xlsx":
        write_result_xlsx(tables, out, lang=lang, notes=result_notes(result, ds, lang))
        return [out]
    written = write_result_csv(tables, out, lang=lang)
    (out / "result.json").write_text(dumps_text(result.to_dict()), encoding="utf-8")
    written.append(out / "result.json")
    return written


def _print_tiers(result, lang: str) -> None:
    """One line per tier (outcome, gap, time, moves), its relaxations and diagnostics."""
    for k, t in result.tiers.items():
        gap = "-" if t.gap is None else f"{t.gap:.1e}"
        moved = message("cli_moved", lang, n=t.moved["moved"]) if t.moved else ""
        typer.echo(message("cli_tier", lang, tier=value_label("tier", k, lang),
                           outcome=value_label("outcome", t.status, lang), gap=gap, time_s=t.time_s, moved=moved))
        for x in t.relaxations:
            typer.echo(f"  ! {relaxation_text(x, lang, k)}")
        for d in t.diagnostics:
            if "relaxed_min" in d or "relaxed_max" in d:  # said once, as its relaxation above
                continue
            typer.echo(f"  - {diagnostic_text(d, lang)}")
    for d in result.diagnostics:
        if d.get("quota") == "nothing_to_do":
            typer.echo(f"  - {diagnostic_text(d, lang)}")


def _print_outcome(oc: dict, result, lang: str) -> None:
    """The outcome line: the outcome, its text, and the first relaxation or the diagnosis behind it."""
    first = next((d for t in result.tiers.values() for d in t.diagnostics if d.get("message") == oc["diagnosis"]),
                 next((d for d in result.diagnostics if d.get("message") == oc["diagnosis"]), None))
    diagnosis = "" if not oc["diagnosis"] else ((word("sep_colon", lang))
                                                 + (diagnostic_text(first, lang) if first else oc["diagnosis"]))
    if oc.get("relaxations"):  # a relaxed rule is the first thing to know about the answer
        diagnosis = (word("sep_colon", lang)) + relaxation_text(oc["relaxations"][0], lang)
    text = oc["text"] if lang == "zh" else oc.get("text_en") or value_label("outcome", oc["outcome"], "en")
    typer.echo(message("cli_outcome", lang, outcome=value_label("outcome", oc["outcome"], lang), text=text,
                       diagnosis=diagnosis))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(optimise)


__all__ = ["register", "optimise"]
