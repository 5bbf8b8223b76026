"""``geo-service roster``: the duty roster (一月一轮值, 委员接待日, 一季一协商).

Registered on the main app by :func:`register`. Writes the 轮值表 workbook (one table writer), and
with ``--ics DIR`` one calendar per member plus ``all.ics``; ``--json`` prints the roster as
``{"status", "outcome", "objective", "bound", "gap", "duties", "consultations", "diagnostics"}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .common import DataDirOpt, DatumOpt, JsonOpt, _load_source, _out_path, fail


def _validation_text(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, x['loc'])) or 'params'}: {x['msg']}" for x in e.errors())


def roster(
    source: Annotated[Optional[str], typer.Argument(help="dataset id in the store, or a dataset file/folder "
                                                         "(default: demo)")] = None,
    start: Annotated[Optional[str], typer.Option("--start", help="first month, YYYY-MM (default: next month)")] = None,
    months: Annotated[int, typer.Option("--months", help="number of months")] = 12,
    availability: Annotated[Optional[Path], typer.Option(
        "--availability", help="CSV/XLSX of when members are NOT available: 委员 (id or name), 月份 "
                               "(2027-03;2027-04 or 2027-03~2027-05) or 开始日期/结束日期")] = None,
    out: Annotated[str, typer.Option("--out", help="the 轮值表 workbook (.xlsx), or a folder ending in / "
                                                  "(轮值表.xlsx inside); .csv writes the duties as CSV")] = "轮值表.xlsx",
    ics: Annotated[Optional[Path], typer.Option("--ics", help="folder for calendars: all.ics + one per member")] = None,
    params_file: Annotated[Optional[Path], typer.Option("--params", help="JSON file of RosterParams "
                                                                        "(options here override it)")] = None,
    max_distance_km: Annotated[Optional[float], typer.Option("--max-distance-km", help="no duty farther from "
                                                                                     "home (km)")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="solver seconds")] = None,
    lang: Annotated[str, typer.Option("--lang", help="tables and messages: zh or en")] = "zh",
    datum: DatumOpt = "wgs84",
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan the duty roster (轮值表): members on duty at the platforms each month, reception days off
    public holidays, and a consultation per township each quarter; outcome with objective, bound, gap."""
    from solvers.roster import plan_roster, RosterParams
    from solvers.roster.availability import read_availability
    from solvers.roster.outputs import outcome_text, roster_summary, write_csv, write_ics_dir, write_xlsx
    if lang not in ("zh", "en"):
        fail(f"--lang must be zh or en, got {lang!r}", 2)
    try:
        raw = json.loads(params_file.read_text(encoding="utf-8")) if params_file else {}
        if not isinstance(raw, dict):
            raise ValueError(f"--params {params_file}: expected a JSON object")
    except (OSError, ValueError) as e:
        fail(str(e), 2)
    raw.update({"months": months})
    if start is not None:
        raw["start"] = start
    if max_distance_km is not None:
        raw["max_distance_m"] = max_distance_km * 1000
    if time_limit is not None:
        raw["time_limit_s"] = time_limit
    ds = _load_source(source, datum, data_dir)
    try:
        if availability is not None:
            raw["availability"] = [u.model_dump(mode="json") for u in read_availability(availability, ds.members, lang)]
        params = RosterParams.model_validate(raw)
    except ValidationError as e:
        fail(("参数无效：" if lang == "zh" else "invalid parameters: ") + _validation_text(e), 2)
    except ValueError as e:
        fail(str(e), 2)
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=as_json or not console.is_terminal) as bar:
        task = bar.add_task("排班中" if lang == "zh" else "planning", total=1.0)
        try:
            res = plan_roster(ds, params, progress=lambda f, msg: bar.update(task, completed=f, description=msg))
        except ValueError as e:
            fail(str(e), 2)
    target = _out_path(out, "轮值表.xlsx" if lang == "zh" else "roster.xlsx")
    written = [write_csv(res, target, lang) if target.suffix.lower() == ".csv" else write_xlsx(res, target, lang)]
    if ics is not None:
        written += write_ics_dir(res, ics)
    if as_json:
        typer.echo(json.dumps(roster_summary(res, lang), ensure_ascii=False, indent=2))
        return
    zh = lang == "zh"
    gap = "-" if res.gap is None else f"{res.gap:.2%}"
    unit = {"m": "米" if zh else "m", "s": "秒" if zh else "s"}.get(res.unit, res.unit)
    num = (lambda v: "-" if v is None else f"{v:,.0f} {unit}")
    typer.echo(("排班结果：" if zh else "outcome: ") + outcome_text(res, lang))
    typer.echo((f"目标值 {num(res.objective)}，下界 {num(res.bound)}，间隙 {gap}，用时 {res.time_s:.1f} 秒" if zh else
                f"objective {num(res.objective)}, bound {num(res.bound)}, gap {gap}, {res.time_s:.1f} s"))
    typer.echo((f"{len(res.months)} 个月，{len(res.platforms)} 个值班平台，{len(res.duties)} 人次值班，"
                f"{len(res.consultations)} 次协商" if zh else
                f"{len(res.months)} months, {len(res.platforms)} platforms, {len(res.duties)} duties, "
                f"{len(res.consultations)} consultations"))
    key = "message_zh" if zh else "message_en"
    for d in res.diagnostics:
        typer.echo(f"  - {d.get(key) or d.get('code')}")
    n_ics = len(written) - 1
    typer.echo(("已写出 " if zh else "wrote ") + str(written[0])
               + ((f"，日历 {n_ics} 个（{ics}）" if zh else f", {n_ics} calendar(s) in {ics}") if ics else ""))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("roster")(roster)


__all__ = ["register", "roster"]
