"""``geo-service review``: the yearly review (一年一考评) of a dataset's liaison ledger.

Registered on the main app by :func:`register`. The ledger comes from the store (the dataset's
records) and/or ``--ledger`` (an office's 台账 workbook or CSV, validated, every bad row named);
``--ledger`` with ``--save`` stores those rows in the dataset's ledger first (one transaction).
Writes the print-ready workbook (考评排名, 考评明细, 计分规则, 说明) through the one table writer;
``--json`` prints ``{"year", "members": [{"member_id", "score", "items": [...]}], "rules": {...}}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from pydantic import ValidationError


if TYPE_CHECKING:
    import pandas as pd

    from solvers.review import ReviewRules

from .common import (
    DataDirOpt,
    DatumOpt,
    JsonOpt,
    _data_dir,
    _load_source,
    _out_path,
    check_lang_opt,
    fail,
    params_text,
)
from ..core.glossary import message, word


def _rules(path: Optional[Path], lang: str = "zh") -> ReviewRules:
    from solvers.review import ReviewRules
    if path is None:
        return ReviewRules()
    try:
        return ReviewRules.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as e:  # ValidationError is a ValueError
        text = params_text(e, lang) if isinstance(e, ValidationError) else str(e)
        fail(f"--rules {path}{word('sep_colon', lang)}{text}", 2, lang)
        raise  # pragma: no cover - fail exits


def _file_rows(path: Path, ds, lang: str) -> pd.DataFrame:
    from ..core.ledger import ActivityError, read_activity_table, validate_activities
    try:
        frame = read_activity_table(path)
        return validate_activities(frame, ds, lang=lang)[0]
    except ActivityError as e:
        for p in e.problems[:200]:
            row = p["row"] + 1 if p["row"] else 0  # as numbered in the sheet (header = row 1)
            typer.echo(p["message"].replace(f"第 {p['row']} 行", f"第 {row} 行", 1) if lang == "zh"
                       else p["message"].replace(f"row {p['row']}", f"row {row}", 1), err=True)
        fail(message("cli_review_invalid_fields", lang, path=path, n_problems=len(e.problems)), 2, lang)
        raise  # pragma: no cover - fail exits
    except (OSError, ValueError, KeyError) as e:
        fail(f"{path}: {e}", 2)
        raise  # pragma: no cover - fail exits


def review_command(
    source: Annotated[Optional[str], typer.Argument(help="dataset id in the store, or a dataset file/folder "
                                                         "(then --ledger gives the rows)")] = None,
    year: Annotated[int, typer.Option("--year", help="the review year")] = 2027,
    ledger: Annotated[Optional[Path], typer.Option("--ledger", help="a 台账 workbook (.xlsx) or CSV to review "
                                                                    "(with the stored rows of a stored dataset)")] = None,
    save: Annotated[bool, typer.Option("--save", help="store the --ledger rows in the dataset's ledger first")] = False,
    rules_file: Annotated[Optional[Path], typer.Option("--rules", help="JSON of the scoring rules "
                                                                       "(base, points, caps, bonus, talk_below, quotas)")] = None,
    out: Annotated[str, typer.Option("--out", help="the review workbook (.xlsx), or a folder ending in /")] = "考评.xlsx",
    lang: Annotated[str, typer.Option("--lang", help="tables and messages: zh or en")] = "zh",
    datum: DatumOpt = "wgs84",
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score every member's year from the ledger (rules as data; each score traceable to its rows)."""
    import pandas as pd

    from solvers.review import REVIEW_COLUMNS, ReviewModel, ReviewParams, review_notes, review_tables

    from ..core.glossary import value_label
    from ..core.io.sheets import write_xlsx
    from ..core.jsonsafe import dumps_text
    from ..core.store import open_store

    check_lang_opt(lang)
    if not 1900 <= year <= 2200:
        fail(message("cli_review_year_must_be", lang, year=year),
             2, lang)
    rules = _rules(rules_file, lang)
    ds = _load_source(source, datum, data_dir, lang)
    stored = source is None or not Path(source).exists()
    frames = []
    if ledger is not None:
        rows = _file_rows(ledger, ds, lang)
        if save and stored:
            ids = open_store(_data_dir(data_dir)).ledger().add(source or "demo", rows, recorded_by="cli", validated=True)
            typer.echo(message("cli_review_stored", lang, n=len(ids)), err=True)
        else:
            frames.append(rows.assign(id=range(1, len(rows) + 1)))
    if stored:
        frames.append(open_store(_data_dir(data_dir)).ledger().frame(
            source or "demo", start=f"{year}-01-01", end=f"{year}-12-31", columns=REVIEW_COLUMNS))
    acts = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else \
        pd.DataFrame(columns=["id", *REVIEW_COLUMNS])
    res = ReviewModel.from_dataset(ds, ReviewParams(year=year, rules=rules), activities=acts).solve()
    target = _out_path(out, word("cli_review_file", lang))
    write_xlsx(review_tables(res), target, lang, title=f"{ds.name} {year}",
               notes=review_notes(res, ds.name, lang))
    if as_json:
        typer.echo(dumps_text(res.to_dict()))
        return
    talks = [m for m in res.members if m["talk"]]
    typer.echo(message("cli_review_summary", lang, year=year, n_members=len(res.members), n_acts=len(acts), n_talks=len(talks)))
    for m in res.members[:10]:
        items = "，".join(f"{value_label('review_rule', it['rule'], lang)} {it['points']:g}" for it in m["items"])
        typer.echo(f"  {m['rank']}. {m.get('name') or m['member_id']} {m['score']:g}（{items}）")
    typer.echo((word("cli_wrote_prefix", lang)) + str(target))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("review")(review_command)


__all__ = ["register", "review_command"]
