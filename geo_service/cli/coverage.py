"""Coverage commands: ``close-gaps`` (new contact points where stations do not reach), ``map``
(a coverage or gap-closing map) and ``coverage`` (population-weighted coverage by threshold).

Registered on the main app by :func:`register`.
"""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..core.glossary import cost_text, label, message, value_label, word
from .common import (
    DataDirOpt,
    DatumOpt,
    JsonOpt,
    LangOpt,
    _load_source,
    _out_path,
    check_lang_opt,
    fail,
    progress,
)


def close_gaps_cmd(
    source: Annotated[Optional[str], typer.Argument(help="dataset id in the store or a dataset file (default: demo)")] = None,
    model: Annotated[str, typer.Option(help="lscp (fewest points), mclp (k points, most people) or pmedian")] = "lscp",
    threshold_m: Annotated[float, typer.Option(help="service distance in metres (straight mode)")] = 10000,
    threshold_s: Annotated[float, typer.Option(help="service time in seconds (road mode)")] = 1800,
    k: Annotated[Optional[int], typer.Option(help="number of new points (mclp, pmedian)")] = None,
    mode: Annotated[str, typer.Option(help="straight or road")] = "straight",
    candidates: Annotated[str, typer.Option(help="villages, seats, or comma-separated village ids")] = "villages",
    time_limit: Annotated[float, typer.Option(help="solver seconds")] = 60,
    out: Annotated[Optional[str], typer.Option(help="write proposed points: .geojson or .csv, or a folder "
                                                   "(ending in /) for proposals.geojson")] = None,
    datum: DatumOpt = "wgs84",
    data_dir: DataDirOpt = None,
    lang: LangOpt = "zh",
    as_json: JsonOpt = False,
) -> None:
    """Propose new contact points where stations do not reach; print coverage before and after."""
    from ..core.io.writers import export_datum, in_datum
    from ..core.locations import location_line
    from ..core.io.sheets import write_csv as write_csv_table
    from solvers.gaps import close_gaps
    check_lang_opt(lang)
    ds = _load_source(source, datum, data_dir, lang)
    cands = candidates if candidates in ("villages", "seats") else [c.strip() for c in candidates.split(",")]
    try:
        with progress(message("cli_coverage_solving", lang, model=model)):
            r = close_gaps(ds, threshold_m=threshold_m, k=k, mode=mode, candidates=cands, model=model,
                           time_limit=time_limit, threshold_s=threshold_s)
    except ValueError as e:
        fail(e, 2, lang)
    by_people = r.params.get("weight") != "villages"
    if out is not None:
        out = _out_path(out, "proposals.geojson")
        if out.suffix.lower() == ".csv":  # the user's language, in the datum the data came in (named in the header)
            prop = r.tables()["proposed"]
            prop = prop if by_people else prop.drop(columns="population_gained", errors="ignore")
            write_csv_table(in_datum(prop, export_datum(ds, datum if datum != "wgs84" else None), lang), out, lang)
        else:
            out.write_text(json.dumps(r.to_geojson(), ensure_ascii=False), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
        return
    for note in [r.params.get("weight_note")] + list(r.params.get("notes") or []):
        if note:
            typer.echo(message("cli_note", lang, text=note), err=True)
    typer.echo(location_line(ds.villages, lang))
    if r.params.get("unconsidered"):
        typer.echo(message("gaps_unconsidered", lang, n=r.params["unconsidered"]))
    sol = r.solution
    why = message(sol.message_code, lang, **sol.message_params) if getattr(sol, "message_code", None) else sol.message
    typer.echo(message("cli_gaps_result", lang, outcome=value_label("outcome", r.status, lang), message=why,
                       n=len(r.proposed))
               + ("" if by_people else message("cli_gaps_weight_villages", lang)))
    cov = r.coverage.drop(columns=["unit", "weight"], errors="ignore").assign(
        threshold=[cost_text(x, r.params.get("unit", "m"), lang) for x in r.coverage["threshold"]])
    if not by_people:  # the figures count villages: the columns say so
        cov = cov.rename(columns={"population": "total_villages", "covered_before": "covered_villages_before",
                                  "covered_after": "covered_villages_after"})
    for c in ("share_before", "share_after"):
        cov[c] = [("-" if x is None or x != x else f"{x * 100:.1f}%") for x in cov[c]]
    if len(cov):
        typer.echo(cov.rename(columns={c: label(c, lang) for c in cov.columns}).to_string(index=False))
    for row in r.uncovered.head(20).itertuples():
        typer.echo(message("cli_uncovered", lang, id=row.id, name=row.name, message=_uncovered_text(row, r.params, lang)))


def map_cmd(
    source: Annotated[Optional[str], typer.Argument(help="dataset id in the store or a dataset file (default: demo)")] = None,
    out: Annotated[Optional[str], typer.Option("--out", help="output file, or a folder ending in / (default "
                                               "map.html, map.png, ...); HTML is one self-contained page")] = None,
    kind: Annotated[str, typer.Option(help="coverage or gaps (proposed contact points)")] = "coverage",
    fmt: Annotated[str, typer.Option("--format", help="html (interactive), png, pdf or svg (print-ready)")] = "html",
    lang: Annotated[str, typer.Option(help="labels: zh or en")] = "zh",
    tiles: Annotated[str, typer.Option(help="html: osm, gaode, gaode_satellite, tianditu or none")] = "osm",
    tianditu_key: Annotated[Optional[str], typer.Option(help="Tianditu key (tiles=tianditu)")] = None,
    threshold_m: Annotated[Optional[float], typer.Option(help="gap threshold in metres")] = None,
    paper: Annotated[str, typer.Option(help="png/pdf/svg: a5, a4, a3 or a2")] = "a4",
    orientation: Annotated[str, typer.Option(help="png/pdf/svg: landscape or portrait")] = "landscape",
    dpi: Annotated[int, typer.Option(help="png/pdf/svg: dots per inch (50-600)")] = 300,
    data_dir: DataDirOpt = None,
) -> None:
    """Write a coverage or gap-closing map: one offline HTML page, or a print-ready PNG/PDF/SVG."""
    import maps
    from maps.static_maps import render
    from maps.static_render import page_size
    from solvers.gaps import close_gaps
    check_lang_opt(lang)
    if fmt not in ("html", "png", "pdf", "svg"):
        fail(message("cli_bad_choice", lang, option="--format", choices="html、png、pdf、svg", value=repr(fmt)), 2, lang)
    if kind not in ("coverage", "gaps"):
        fail(message("cli_bad_choice", lang, option="--kind", choices="coverage、gaps", value=repr(kind)), 2, lang)
    ds = _load_source(source, "wgs84", data_dir, lang)
    out_path = _out_path(out or f"map.{fmt}", f"{kind}.{fmt}")
    try:
        with progress(message("cli_coverage_drawing_map", lang, kind=kind)):
            if fmt != "html":
                size = page_size(paper, orientation=orientation, dpi=dpi)
                gap_result = close_gaps(ds, threshold_m=threshold_m or 10000.0) if kind == "gaps" else None
                r = render(kind, ds, fmt=fmt, size=size, lang=lang, gap_result=gap_result, threshold_m=threshold_m)
                out_path.write_bytes(r.data)
            else:
                if kind == "coverage":
                    m = maps.coverage_map(ds, lang=lang, tiles=tiles, tianditu_key=tianditu_key,
                                          gap_threshold=threshold_m)
                else:
                    thr = threshold_m or 10000.0
                    m = maps.gaps_map(ds, close_gaps(ds, threshold_m=thr), threshold_m=thr, lang=lang, tiles=tiles,
                                      tianditu_key=tianditu_key)
                maps.write_standalone(m, out_path)
    except ValueError as e:
        fail(e, 2, lang)
    if fmt != "html":
        typer.echo(message("cli_map_wrote", lang, out=out_path, w=r.pixels[0], h=r.pixels[1], dpi=dpi, s=r.seconds))
    else:
        typer.echo(message("cli_map_wrote_html", lang, out=out_path))


def coverage_cmd(
    source: Annotated[Optional[str], typer.Argument(help="dataset id in the store or a dataset file (default: demo)")] = None,
    mode: Annotated[str, typer.Option(help="straight (metres) or road (seconds, door to door)")] = "straight",
    thresholds: Annotated[Optional[str], typer.Option(
        help="comma list: metres (straight, default 5000,10000,20000) or seconds (road, default 900,1800,3600)")] = None,
    level: Annotated[str, typer.Option(help="table to print: total, county, township or sector")] = "township",
    kinds: Annotated[Optional[str], typer.Option(help="comma list of station kinds (default: all)")] = None,
    datum: DatumOpt = "wgs84",
    data_dir: DataDirOpt = None,
    lang: LangOpt = "zh",
    as_json: JsonOpt = False,
) -> None:
    """Population-weighted last-mile coverage by threshold (per county, township, sector)."""
    from ..core.locations import location_line
    from ..core.coverage import coverage_summary
    check_lang_opt(lang)
    if level not in ("total", "county", "township", "sector"):
        fail(message("cli_bad_choice", lang, option="--level", choices="total, county, township, sector",
                     value=level), 2, lang)
    ds = _load_source(source, datum, data_dir, lang)
    try:
        thr = [float(t) for t in thresholds.split(",") if t.strip()] if thresholds else None
        kw = {"thresholds_m": thr} if mode == "straight" and thr else {}
        if mode == "road" and thr:
            kw = {"thresholds_s": thr}
        kind_list = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
        with progress(message("cli_coverage_measuring", lang, mode=mode)):
            s = coverage_summary(ds, mode=mode, kinds=kind_list, **kw)
    except ValueError as e:  # InvalidQuery and bad numbers
        fail(e, 2, lang)
    if as_json:
        typer.echo(json.dumps(s, ensure_ascii=False, indent=2))
        return

    unit = s["unit"]
    unit_text = cost_text(1, unit, lang).split(" ", 1)[1]
    for note in [s.get("weight_note")] + list(s.get("notes") or []):
        if note:
            typer.echo(message("cli_note", lang, text=note), err=True)
    typer.echo(location_line(ds.villages, lang))
    if s["unlocated"]:
        names = dict(zip(ds.villages["id"], ds.villages["name"]))
        typer.echo(message("unlocated_villages", lang, names=(word("sep_list", lang)).join(
            f"{names.get(i, '')}（{i}）" for i in s["unlocated"][:30]) + (" …" if len(s["unlocated"]) > 30 else "")))
    keys = {"total": [], "county": ["county_id", "county_name"], "township": ["township_id", "township_name"],
            "sector": ["sector", "stations"]}[level]
    basis = word("cli_basis_population" if s.get("weight", "population") == "population" else "cli_basis_villages",
                 lang)
    t = Table(title=word("cli_coverage_title", lang).format(
        name=ds.name, mode=word(f"map_{mode}", lang), unit=unit_text, basis=basis))
    names = {"villages": "n_villages", "sector": "sector", "stations": "stations"}
    by_people = s.get("weight", "population") == "population"  # else no 人口 columns holding zeros
    people = ["population", "covered_population"] if by_people else []
    for c in keys + ["threshold", "villages", "covered_villages", "covered_given_villages", *people, "share"]:
        t.add_column(label(names.get(c, c), lang), justify="left" if c in keys else "right")
    for r in s[level]:
        share = "-" if r["share"] is None else f"{r['share'] * 100:.1f}%"
        t.add_row(*[str(r[c]) for c in keys], cost_text(r["threshold"], unit, lang), str(r["villages"]),
                  str(r["covered_villages"]), str(r["covered_given_villages"]), *[f"{r[c]:,}" for c in people], share)
    Console().print(t)


def _uncovered_text(row, params: dict, lang: str) -> str:
    """An uncovered village's reason in ``lang`` (its code's template), else the solver's message."""
    code = getattr(row, "code", None)
    if not isinstance(code, str):
        return str(row.message)
    return message(code, lang, threshold=params.get("threshold"), nearest=row.nearest_cost,
                   cost_unit=params.get("unit", "m"))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("close-gaps")(close_gaps_cmd)
    app.command("map")(map_cmd)
    app.command("coverage")(coverage_cmd)


__all__ = ["register", "close_gaps_cmd", "map_cmd", "coverage_cmd"]
