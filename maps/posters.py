"""QR posters (码上议事) for stations, studios and contact points: one printable page each.

A poster (A4 or A5 portrait, PDF or PNG) shows the title, the station's name and kind, its township, a
small map of the station among the villages and stations around it (metres, 1 km scale bar), this
month's duty members and the reception days, and a QR code (made by ``segno``, error correction M, a
quiet zone of four modules) that opens the station's phone page. :func:`posters_pdf` puts many
posters in one PDF for the print shop.

The caller gives what the poster says in ``info`` (a station's answer of
:func:`geo_service.core.responsible.lookup` with ``station_id``): this module draws, it does not look
anything up. Every text is drawn as plain text (:func:`maps.static_render.plain`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import segno

from geo_service.core.dataset import Dataset
from geo_service.core.glossary import value_label, word

from .static_render import figure_context, new_figure, page_size, plain, save

POSTER_PAPERS = ("a4", "a5")
MAP_RADIUS_M = 4000.0
KIND_COLOURS = {"station_comprehensive": "#c0392b", "station_sector": "#d35400", "studio": "#2471a3",
                "contact_point": "#1e8449"}


def qr_matrix(url: str) -> np.ndarray:
    """The QR code of ``url`` as a 0/1 array (1 = dark) with a 4-module quiet zone."""
    if not isinstance(url, str) or not url or len(url) > 1000:
        raise ValueError("url must be text of 1-1000 characters")
    q = segno.make(url, error="m", micro=False)
    m = np.array([list(row) for row in q.matrix], dtype=np.uint8)
    return np.pad(m, 4)


def poster_lines(info: Mapping[str, Any], lang: str = "zh") -> tuple[list[str], list[str]]:
    """(duty lines, reception day lines) a poster prints for a station's answer."""
    return _lines(info, lang)


def _lines(info: Mapping[str, Any], lang: str) -> tuple[list[str], list[str]]:
    st = (info.get("stations") or [{}])[0]
    duty = st.get("duty") or []
    duty_lines = [f"{plain(m.get('name'))}（{plain(m.get('sector'))}）" if m.get("sector") else plain(m.get("name"))
                  for m in duty[:6]] or [word("qr_no_duty", lang)]
    days = []
    if st.get("duty_date"):
        days.append(plain(st["duty_date"]))
    nxt = st.get("next_reception") or (info.get("next_reception") or {}).get("date")
    if nxt and nxt not in days:
        days.append(plain(nxt))
    return duty_lines, days or [word("qr_no_reception", lang)]


def _small_map(ax, ds: Dataset, station_id: str) -> None:
    """Villages (grey) and stations (by kind) within :data:`MAP_RADIUS_M` of the station (star)."""
    st = ds.stations
    ids = st["id"].astype(str).tolist()
    ax.set_axis_off()
    if station_id not in ids or not len(st):
        return
    sxy = ds.xy_m("stations")
    c = sxy[ids.index(station_id)]
    if np.isnan(c).any():
        return
    v = ds.villages
    vg = v.geometry
    ok = (~(vg.isna() | vg.is_empty)).to_numpy()
    if ok.any():
        vxy = ds.to_metric("villages").geometry[ok]
        pts = np.column_stack([vxy.x.to_numpy(), vxy.y.to_numpy()]) - c
        near = np.hypot(*pts.T) <= MAP_RADIUS_M
        ax.scatter(pts[near, 0], pts[near, 1], s=10, c="#999999", zorder=2)
    rel = sxy - c
    near = np.hypot(*rel.T) <= MAP_RADIUS_M
    kinds = st["kind"].astype(str).to_numpy()
    for k, col in KIND_COLOURS.items():
        sel = near & (kinds == k)
        ax.scatter(rel[sel, 0], rel[sel, 1], s=30, c=col, marker="s", zorder=3)
    ax.scatter([0], [0], s=260, c="#c0392b", marker="*", edgecolors="white", linewidths=1, zorder=4)
    r = MAP_RADIUS_M
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_aspect("equal")
    ax.plot([-r * 0.9, -r * 0.9 + 1000], [-r * 0.9, -r * 0.9], c="black", lw=2)
    ax.text(-r * 0.9 + 500, -r * 0.86, "1 km", ha="center", fontsize=7)
    ax.add_patch(_frame(r))


def _frame(r: float):
    from matplotlib.patches import Rectangle

    return Rectangle((-r, -r), 2 * r, 2 * r, fill=False, lw=0.8, ec="#555555", clip_on=False)


def draw_poster(fig, ds: Dataset, station_id: str, url: str, info: Mapping[str, Any], lang: str = "zh") -> None:
    """Draw one poster on ``fig`` (portrait page): see the module for its parts."""
    st = (info.get("stations") or [{}])[0]
    fig.text(0.5, 0.95, word("qr_title", lang), ha="center", va="top", fontsize=30, color="#c0392b")
    fig.text(0.5, 0.885, plain(st.get("name") or station_id), ha="center", va="top", fontsize=20, wrap=True)
    kind = value_label("station_kind", st.get("kind"), lang) if st.get("kind") else st.get("kind_text")
    sub = " · ".join(x for x in (plain(kind), plain((info.get("township") or {}).get("name"))) if x)
    fig.text(0.5, 0.845, sub, ha="center", va="top", fontsize=12, color="#444444")
    w, h = fig.get_size_inches()
    side = 0.40 * w / h  # square boxes: 40 % of the page width
    qax = fig.add_axes((0.06, 0.81 - side, 0.40, side))
    qax.imshow(1 - qr_matrix(url), cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    qax.set_axis_off()
    fig.text(0.26, 0.80 - side, word("qr_scan", lang), ha="center", va="top", fontsize=11)
    fig.text(0.26, 0.775 - side, plain(url), ha="center", va="top", fontsize=6, color="#555555")
    max_ = fig.add_axes((0.54, 0.81 - side, 0.40, side))
    _small_map(max_, ds, station_id)
    fig.text(0.74, 0.80 - side, word("qr_map", lang), ha="center", va="top", fontsize=9, color="#555555")
    duty, days = _lines(info, lang)
    y = 0.72 - side
    fig.text(0.08, y, word("qr_duty", lang), fontsize=14, va="top")
    for i, line in enumerate(duty):
        fig.text(0.10, y - 0.035 - i * 0.028, line, fontsize=12, va="top")
    fig.text(0.56, y, word("qr_reception", lang), fontsize=14, va="top")
    for i, line in enumerate(days[:6]):
        fig.text(0.58, y - 0.035 - i * 0.028, line, fontsize=12, va="top")
    people = info.get("members") or []
    if people:
        y2 = y - 0.06 - max(len(duty), len(days[:6])) * 0.028
        fig.text(0.08, y2, word("qr_responsible", lang), fontsize=14, va="top")
        for i, m in enumerate(people[:12]):
            col, row = i % 2, i // 2
            fig.text(0.10 + col * 0.46, y2 - 0.035 - row * 0.026,
                     f"{plain(m.get('sector'))}：{plain(m.get('name'))}", fontsize=11, va="top")
    month = plain(info.get("month"))
    fig.text(0.5, 0.04, month, ha="center", fontsize=8, color="#777777")


def poster(ds: Dataset, station_id: str, url: str, info: Mapping[str, Any], *, paper: str = "a4",
           fmt: str = "pdf", dpi: int = 150, lang: str = "zh") -> bytes:
    """One poster as PDF or PNG bytes.

    Parameters
    ----------
    ds : Dataset
        The dataset (for the small map).
    station_id : str
        The station the poster is for.
    url : str
        What the QR code opens (the station's phone page).
    info : mapping
        The station's responsibility answer (name, kind, township, duty, reception days).
    paper : {"a4", "a5"}
        Portrait page size.
    fmt : {"pdf", "png"}
        Output format.
    dpi : int
        Raster resolution (PNG), dots per inch (72-300).
    """
    if paper not in POSTER_PAPERS:
        raise ValueError(f"paper must be one of {', '.join(POSTER_PAPERS)}, got {paper!r}")
    if fmt not in ("pdf", "png"):
        raise ValueError(f"fmt must be pdf or png, got {fmt!r}")
    if not 72 <= int(dpi) <= 300:
        raise ValueError(f"dpi must be between 72 and 300, got {dpi}")
    size = page_size(paper, orientation="portrait", dpi=int(dpi))
    with figure_context():
        fig = new_figure(size)
        draw_poster(fig, ds, station_id, url, info, lang)
        return save(fig, fmt, metadata_title=f"{word('qr_title', lang)} {station_id}")


def posters_pdf(ds: Dataset, items: Iterable[tuple[str, str, Mapping[str, Any]]], *, paper: str = "a4",
                lang: str = "zh") -> bytes:
    """Many posters (``(station_id, url, info)`` each) as one PDF, a page each."""
    from matplotlib.backends.backend_pdf import PdfPages

    if paper not in POSTER_PAPERS:
        raise ValueError(f"paper must be one of {', '.join(POSTER_PAPERS)}, got {paper!r}")
    size = page_size(paper, orientation="portrait", dpi=150)
    buf = io.BytesIO()
    with figure_context(), PdfPages(buf, metadata={"Creator": "geo-service", "Title": word("qr_title", lang),
                                                   "CreationDate": None}) as pdf:
        for station_id, url, info in items:
            fig = new_figure(size)
            draw_poster(fig, ds, station_id, url, info, lang)
            pdf.savefig(fig)
    return buf.getvalue()


__all__ = ["MAP_RADIUS_M", "POSTER_PAPERS", "draw_poster", "poster", "poster_lines", "posters_pdf", "qr_matrix"]
