"""``geo-service roster``: the duty roster (一月一轮值, 委员接待日, 一季一协商).

Registered on the main app by :func:`register`. Writes the 轮值表 workbook (one table writer), and
with ``--ics DIR`` one calendar per member plus ``all.ics``; ``--json`` prints the roster as
``{"status", "outcome", "objective", "bound", "gap", "duties", "consultations", "diagnostics"}``.
The common rules have their own flags beside ``--params`` (flags win). On a stored dataset the
consultations follow the committees of the latest optimisation run (the same plan as its 责任区
workbook), and the run is recorded as a ``roster`` job that the web page lists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from ..core.glossary import UNITS, message, word
from .common import (
    DataDirOpt,
    DatumOpt,
    JsonOpt,
    _data_dir,
    _load_source,
    _out_path,
    _params_file,
    check_lang_opt,
    fail,
    params_text,
    progress_bar,
)

#: flag -> RosterParams field of the common rules (flags override --params)
RULE_FLAGS = ("per_platform_min", "per_platform_max", "member_min", "member_max", "sectors_min", "platforms")


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
    per_platform_min: Annotated[Optional[int], typer.Option("--per-platform-min", help="members on duty per "
                                                            "platform and month, min (每平台每月值班人数下限)")] = None,
    per_platform_max: Annotated[Optional[int], typer.Option("--per-platform-max", help="members on duty per "
                                                            "platform and month, max (每平台每月值班人数上限)")] = None,
    member_min: Annotated[Optional[int], typer.Option("--member-min", help="duty months per member, min "
                                                      "(每位委员值班月数下限)")] = None,
    member_max: Annotated[Optional[int], typer.Option("--member-max", help="duty months per member, max "
                                                      "(每位委员值班月数上限)")] = None,
    sectors_min: Annotated[Optional[int], typer.Option("--sectors-min", help="different sectors per platform "
                                                       "over the period (每平台界别数下限)")] = None,
    platforms: Annotated[Optional[str], typer.Option("--platforms", help="stations (comprehensive stations) or "
                                                     "townships (one per township)")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="solver seconds")] = None,
    lang: Annotated[str, typer.Option("--lang", help="tables and messages: zh or en")] = "zh",
    datum: DatumOpt = "wgs84",
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan the duty roster (轮值表): members on duty at the platforms each month, reception days off
    public holidays, and a consultation per township each quarter; outcome with objective, bound, gap."""
    from solvers.roster import plan_roster
    from solvers.roster.outputs import roster_outcome, roster_summary

    from ..app.outputs import write_roster, write_roster_calendars

    from .runs import fail_job, finish_job, start_job

    check_lang_opt(lang)
    raw = _params_file(params_file, lang)
    raw.update({"months": months})
    flags = dict(per_platform_min=per_platform_min, per_platform_max=per_platform_max, member_min=member_min,
                 member_max=member_max, sectors_min=sectors_min, platforms=platforms)
    raw.update({k: v for k, v in flags.items() if v is not None})
    if start is not None:
        raw["start"] = start
    if max_distance_km is not None:
        raw["max_distance_m"] = max_distance_km * 1000
    if time_limit is not None:
        raw["time_limit_s"] = time_limit
    ds = _load_source(source, datum, data_dir, lang)
    params = _roster_params(raw, ds, source, availability, data_dir, lang)
    job = start_job(data_dir, source, "roster", params.model_dump(mode="json"))
    with progress_bar(word("cli_roster_planning", lang), 1.0, quiet=as_json) as update:
        try:
            res = plan_roster(ds, params, progress=lambda f, msg: update(f))
        except ValueError as e:
            fail_job(job, "ValueError", str(e))
            fail(e, 2, lang)
    job_id = finish_job(job, {**res.to_dict(), "outcome": roster_outcome(res)})
    target = _out_path(out, word("cli_roster_file", lang))
    written = [write_roster(res, target, lang)]
    if ics is not None:
        written += write_roster_calendars(res, ics)
    if as_json:
        typer.echo(json.dumps({**roster_summary(res, lang), "job_id": job_id}, ensure_ascii=False, indent=2))
        return
    _print_roster(res, written, ics, lang)
    if job_id:
        typer.echo(message("cli_job", lang, id=job_id))


def _roster_params(raw: dict, ds, source: Optional[str], availability: Optional[Path], data_dir: Optional[str],
                   lang: str):
    """``RosterParams`` from the options in ``raw``, the latest run's committees of a stored dataset
    and the ``--availability`` file; exit 2 when invalid."""
    from api.rosters import committees_from_latest
    from solvers.roster import RosterParams
    from solvers.roster.availability import availability_from_records

    from ..core.io.availability import read_availability_records
    from ..core.store import open_store
    from .runs import stored_dataset_id

    stored = stored_dataset_id(source)
    if stored is not None and "township_committees" not in raw:  # one committee plan: the latest run's
        found, _ = committees_from_latest(open_store(_data_dir(data_dir)), stored)
        if found:
            raw["township_committees"] = found
    try:
        if availability is not None:
            leave = availability_from_records(read_availability_records(availability, lang), ds.members, lang,
                                              source=availability)
            raw["availability"] = [u.model_dump(mode="json") for u in leave]
        return RosterParams.model_validate(raw)
    except ValidationError as e:
        fail(message("cli_bad_params", lang, text=params_text(e, lang)), 2, lang)
    except ValueError as e:
        fail(e, 2, lang)


def _print_roster(res, written: list[Path], ics: Optional[Path], lang: str) -> None:
    """The outcome, objective/bound/gap, counts, diagnostics and the files written."""
    from solvers.roster.outputs import outcome_text

    gap = "-" if res.gap is None else f"{res.gap:.2%}"
    unit = {"m": word("unit_metre", lang), "s": getattr(UNITS["s"], lang)}.get(res.unit, res.unit)
    num = (lambda v: "-" if v is None else f"{v:,.0f} {unit}")
    typer.echo((word("cli_roster_outcome_prefix", lang)) + outcome_text(res, lang))
    typer.echo((message("cli_roster_objective_bound_gap", lang, num=num(res.objective), num2=num(res.bound), gap=gap, time_s=res.time_s)))
    typer.echo((message("cli_roster_months_platforms_duties", lang, n_months=len(res.months), n_platforms=len(res.platforms), n_duties=len(res.duties), n_consultations=len(res.consultations))))
    key = f"message_{lang}"
    for d in res.diagnostics:
        typer.echo(f"  - {d.get(key) or d.get('code')}")
    n_ics = len(written) - 1
    typer.echo((word("cli_wrote_prefix", lang)) + str(written[0])
               + ((message("cli_roster_calendar", lang, n_ics=n_ics, ics=ics)) if ics else ""))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("roster")(roster)


__all__ = ["register", "roster"]
