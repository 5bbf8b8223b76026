"""Output files of solver results: the solvers' frames and records composed with the io writers.

The solvers give tables (DataFrames) and plain records; every file and byte format is written by
:mod:`geo_service.core.io` (:mod:`~geo_service.core.io.sheets` for CSV/XLSX,
:mod:`~geo_service.core.io.calendar` for ``.ics``). The compositions the CLI and the API share live
here, so the 责任区 workbook and the 轮值表 are the same bytes whichever asks for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from geo_service.core import glossary as G
from geo_service.core.errors import InvalidParameter
from geo_service.core.io import calendar, sheets
from solvers.roster.outputs import calendar_records, duties_frame, roster_frames, roster_notes
from solvers.roster.types import RosterResult
from solvers.tables import responsibility_first

__all__ = ["roster_csv_bytes", "roster_ics_bytes", "roster_xlsx_bytes", "write_result_csv", "write_result_xlsx",
           "write_roster", "write_roster_calendars"]


# -- the 责任区 workbook of an optimisation run -------------------------------------------------------
def write_result_xlsx(tables: dict[str, pd.DataFrame], path: str | Path, lang: str = "zh",
                      notes: dict[str, Any] | None = None) -> Path:
    """A print-ready workbook of a run's tables (:func:`solvers.tables.result_tables`), a sheet per
    table, 界别责任区一览表 first; ``notes`` (:func:`solvers.tables.result_notes`) adds the 说明 sheet."""
    return sheets.write_xlsx(responsibility_first(tables), path, lang, title=G.table_title("responsibility", lang),
                             notes=notes)


def write_result_csv(tables: dict[str, pd.DataFrame], folder: str | Path, lang: str = "en") -> list[Path]:
    """One UTF-8 (with BOM, so Excel reads Chinese) CSV per table into ``folder``, formula-guarded."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [sheets.write_csv(df, folder / f"{key}.csv", lang) for key, df in responsibility_first(tables).items()]


# -- the 轮值表 of a roster -----------------------------------------------------------------------------
def roster_xlsx_bytes(result: RosterResult | Mapping, lang: str = "zh") -> bytes:
    """The 轮值表 workbook (轮值表, 委员值班, 接待日, 一季一协商, 说明) as bytes."""
    return sheets.xlsx_bytes(roster_frames(result, lang), lang, title=G.table_title("roster", lang),
                             notes=roster_notes(result, lang))


def roster_csv_bytes(result: RosterResult | Mapping, lang: str = "zh") -> bytes:
    """The duties as UTF-8 CSV with BOM (Excel reads Chinese); text cells formula-guarded."""
    return sheets.csv_bytes(duties_frame(result, "en"), lang)


def roster_ics_bytes(result: RosterResult | Mapping, member: str | None = None) -> bytes:
    """The roster's calendar (every duty day and consultation, or member id ``member``'s) as ``.ics``
    bytes; :class:`~geo_service.core.errors.InvalidParameter` naming ``member`` when the roster has
    no such member."""
    records = calendar_records(result)
    if member is not None and member not in {m["id"] for m in records["members"]}:
        raise InvalidParameter("member", f"member: unknown member {member!r}", "unknown_member")
    return calendar.ics_bytes(**records, member_id=member)


def write_roster(result: RosterResult | Mapping, path: str | Path, lang: str = "zh") -> Path:
    """Write the roster to ``path`` (folders created): the duties as CSV for a ``.csv`` name, else the
    轮值表 workbook."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    csv = path.suffix.lower() == ".csv"
    path.write_bytes(roster_csv_bytes(result, lang) if csv else roster_xlsx_bytes(result, lang))
    return path


def write_roster_calendars(result: RosterResult | Mapping, folder: str | Path) -> list[Path]:
    """``all.ics`` plus one ``<member_id>.ics`` per member with a duty or consultation into ``folder``."""
    return calendar.write_ics_dir(folder, **calendar_records(result))
