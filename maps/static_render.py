"""Print-ready static maps (matplotlib): page, map frame, scale bar, north arrow, legend, source line.

The static maps (:mod:`maps.static_coverage`, :mod:`maps.static_gaps`,
:mod:`maps.static_assignment`) draw with the helpers here, offline: no tiles, no network. Every
figure is drawn in the dataset's local metric projection (``ds.metric_crs``, a transverse
Mercator centred on the county), so the scale bar is measured in metres on the page, never in
degrees, and north is up at the centre of the map (the arrow is rotated by the grid convergence,
a fraction of a degree across a county).

Text: labels and names use the bundled CJK font (:data:`FONT_PATH`, a GB2312 subset of Noto Sans
CJK SC, OFL licence beside it), falling back to DejaVu Sans for symbols it lacks. User text is
plain text: mathtext parsing is off for every figure (``text.parse_math``), so a name such as
``$x^2$`` prints as written, and :func:`plain` also escapes ``$`` for text drawn elsewhere.

Size: A4 landscape (297 x 210 mm) at 300 dpi by default; :func:`page_size` checks sizes and DPI
and refuses a page whose raster would exceed :data:`MAX_PIXELS` (the memory budget: matplotlib
holds 4 bytes per pixel while it draws).
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geo_service.core.errors import InvalidParameter
from geo_service.core.glossary import UNITS, message, word

FONT_PATH = Path(__file__).with_name("fonts") / "NotoSansSC-GB2312-Regular.ttf"
FONT_FAMILY = "Noto Sans SC GB2312"
FALLBACK_FAMILY = "DejaVu Sans"
FORMATS: dict[str, str] = {"png": "image/png", "pdf": "application/pdf", "svg": "image/svg+xml"}
PAPER_MM: dict[str, tuple[float, float]] = {"a5": (210.0, 148.0), "a4": (297.0, 210.0), "a3": (420.0, 297.0),
                                           "a2": (594.0, 420.0)}  # landscape (width, height)
DEFAULT_DPI = 300
DPI_RANGE = (50, 600)
SIDE_MM_RANGE = (50.0, 1200.0)
# width_in x height_in x dpi^2: an A2 landscape page at 300 dpi (34.8 Mpx, ~140 MB RGBA) fits
MAX_PIXELS = 36_000_000
MM_PER_INCH = 25.4

_lock = threading.Lock()  # matplotlib's font manager and pyplot-free figures: one draw at a time is safest
_font_registered = False


class PixelBudgetError(InvalidParameter):
    """The requested page (width x height x dpi²) exceeds :data:`MAX_PIXELS` (names ``dpi``)."""

    def __init__(self, message: str):
        super().__init__("dpi", message, "pixel_budget")


@dataclass(frozen=True)
class PageSize:
    """A page: width and height in millimetres, resolution in dots per inch."""

    width_mm: float
    height_mm: float
    dpi: int

    @property
    def inches(self) -> tuple[float, float]:
        return self.width_mm / MM_PER_INCH, self.height_mm / MM_PER_INCH

    @property
    def pixels(self) -> tuple[int, int]:
        """(width, height) of the raster in pixels (what a PNG will measure)."""
        w, h = self.inches
        return int(round(w * self.dpi)), int(round(h * self.dpi))


def page_size(paper: str = "a4", *, orientation: str = "landscape", width_mm: float | None = None,
              height_mm: float | None = None, dpi: int = DEFAULT_DPI) -> PageSize:
    """The checked page for ``paper`` (a5, a4, a3, a2) in ``orientation`` (landscape/portrait),
    or ``width_mm`` x ``height_mm`` (both given, 50-1200 mm each) at ``dpi`` (50-600).

    Raises :class:`~geo_service.core.errors.InvalidParameter` (a ``ValueError``) naming the bad
    argument, code ``invalid_size``; :class:`PixelBudgetError` (one, naming ``dpi``) when
    width x height x dpi² (in inches and dots per inch) exceeds :data:`MAX_PIXELS`.
    """
    if (width_mm is None) != (height_mm is None):
        raise InvalidParameter("width_mm", "width_mm and height_mm must be given together", "size_pair")
    if width_mm is not None:
        w, h = float(width_mm), float(height_mm)  # type: ignore[arg-type]
        for name, v in (("width_mm", w), ("height_mm", h)):
            if not (math.isfinite(v) and SIDE_MM_RANGE[0] <= v <= SIDE_MM_RANGE[1]):
                raise InvalidParameter(name, f"{name} must be between {SIDE_MM_RANGE[0]:g} and "
                                             f"{SIDE_MM_RANGE[1]:g} mm, got {v}", "between_mm",
                                       ctx={"lo": f"{SIDE_MM_RANGE[0]:g}", "hi": f"{SIDE_MM_RANGE[1]:g}"})
    else:
        if paper not in PAPER_MM:
            raise InvalidParameter("paper", f"paper must be one of {', '.join(PAPER_MM)}, got {paper!r}",
                                   "literal_error", ctx={"expected": ", ".join(PAPER_MM)})
        if orientation not in ("landscape", "portrait"):
            raise InvalidParameter("orientation", f"orientation must be landscape or portrait, got "
                                   f"{orientation!r}", "literal_error", ctx={"expected": "landscape, portrait"})
        w, h = PAPER_MM[paper]
        if orientation == "portrait":
            w, h = h, w
    if isinstance(dpi, bool) or not isinstance(dpi, (int, np.integer)) or not DPI_RANGE[0] <= dpi <= DPI_RANGE[1]:
        raise InvalidParameter("dpi", f"dpi must be an integer between {DPI_RANGE[0]} and {DPI_RANGE[1]}, got "
                               f"{dpi!r}", "between_int", ctx={"lo": DPI_RANGE[0], "hi": DPI_RANGE[1]})
    size = PageSize(w, h, int(dpi))
    px = size.pixels[0] * size.pixels[1]
    if px > MAX_PIXELS:
        raise PixelBudgetError(
            f"width x height x dpi² = {size.inches[0]:.2f} in x {size.inches[1]:.2f} in x {dpi}² = "
            f"{px / 1e6:.1f} million pixels exceeds the limit of {MAX_PIXELS / 1e6:.0f} million "
            "(lower dpi or the page size)")
    return size


def plain(text: Any) -> str:
    """User text for a figure: ``None`` -> ``""``; ``$`` escaped so it can never start mathtext.

    (Figures are drawn with mathtext off anyway; this guards text drawn outside :func:`figure_context`.)
    """
    return "" if text is None else str(text).replace("$", r"\$")


def _register_font() -> None:
    global _font_registered
    if not _font_registered:
        from matplotlib import font_manager

        font_manager.fontManager.addfont(str(FONT_PATH))
        _font_registered = True


def font_families(cjk_font: str | Path | None = FONT_PATH) -> list[str]:
    """The font family list for a figure: the CJK font (``cjk_font``: a font file, default the
    bundled subset; ``None``: none, for comparisons) then DejaVu Sans for the rest."""
    if cjk_font is None:
        return [FALLBACK_FAMILY]
    from matplotlib import font_manager

    if Path(cjk_font) == FONT_PATH:
        _register_font()
        return [FONT_FAMILY, FALLBACK_FAMILY]
    p = Path(cjk_font)
    if not p.is_file():
        raise ValueError(f"cjk_font must be a font file, got {str(cjk_font)!r}")
    font_manager.fontManager.addfont(str(p))
    return [font_manager.FontProperties(fname=str(p)).get_name(), FALLBACK_FAMILY]


@contextmanager
def figure_context(cjk_font: str | Path | None = FONT_PATH):
    """matplotlib settings for one figure (thread-serialised): our fonts, mathtext off, no TeX,
    fonts embedded as TrueType/CFF subsets in PDF, text as paths in SVG (no font needed to view)."""
    import matplotlib

    with _lock, matplotlib.rc_context({
        "font.family": font_families(cjk_font), "text.parse_math": False, "text.usetex": False,
        "axes.unicode_minus": False, "pdf.fonttype": 42, "svg.fonttype": "path",
        "svg.hashsalt": "geo-service", "path.simplify": True,
    }):
        yield


def new_figure(size: PageSize):
    """A pyplot-free figure (thread-safe, nothing global kept) of ``size``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size.inches, dpi=size.dpi)
    FigureCanvasAgg(fig)  # a renderer to measure legends with while laying out
    return fig


def save(fig, fmt: str, *, metadata_title: str = "") -> bytes:
    """``fig`` as ``fmt`` (png, pdf, svg) bytes at the figure's DPI."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    buf = io.BytesIO()
    meta: dict[str, Any] = {"png": {"Software": "geo-service"}, "pdf": {"Creator": "geo-service"},
                            "svg": {"Creator": "geo-service"}}[fmt]
    if metadata_title:
        meta["Title"] = metadata_title
    if fmt == "pdf":
        meta["CreationDate"] = None  # reproducible bytes for the same map
    if fmt == "svg":
        meta["Date"] = None
    if fmt == "png":
        # matplotlib truncates width x dpi to whole pixels: aim a hair above the rounded count so an
        # A4 page at 300 dpi is 3508 x 2480 px as everyone expects, not 3507 (PDF/SVG keep exact sizes)
        w, h = fig.get_size_inches()
        px_w, px_h = round(w * fig.dpi), round(h * fig.dpi)
        fig.set_size_inches((px_w + 0.01) / fig.dpi, (px_h + 0.01) / fig.dpi)
        try:
            fig.savefig(buf, format=fmt, dpi=fig.dpi, metadata=meta)
        finally:
            fig.set_size_inches(w, h)
    else:
        fig.savefig(buf, format=fmt, dpi=fig.dpi, metadata=meta)
    return buf.getvalue()


# --- layout ------------------------------------------------------------------------------------------

@dataclass
class Layout:
    """The figure's parts: ``ax`` the map frame (metres), ``panel`` the legend column, font sizes."""

    fig: Any
    ax: Any
    panel: Any
    fs: float  # base font size in points

    @property
    def fs_title(self) -> float:
        return self.fs * 1.7

    @property
    def fs_small(self) -> float:
        return self.fs * 0.8


def layout(size: PageSize, title: str, subtitle: str = "") -> Layout:
    """Title across the top, the map frame on the left, a legend column on the right."""
    fig = new_figure(size)
    w_in, h_in = size.inches
    fs = max(6.0, min(w_in, h_in * 1.414) * 0.9)  # 10.5 pt on A4, scaled with the page
    portrait = h_in > w_in
    if portrait:
        ax = fig.add_axes((0.04, 0.30, 0.92, 0.60))
        panel = fig.add_axes((0.04, 0.05, 0.92, 0.23))
    else:
        ax = fig.add_axes((0.025, 0.07, 0.70, 0.80))
        panel = fig.add_axes((0.745, 0.07, 0.235, 0.80))
    panel.set_axis_off()
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_linewidth(0.8)
    fig.text(0.025, 0.965, plain(title), fontsize=fs * 1.7, va="top", ha="left")
    if subtitle:
        fig.text(0.025, 0.915, plain(subtitle), fontsize=fs, va="top", ha="left", color="#333")
    return Layout(fig, ax, panel, fs)


def fit_extent(ax, bounds: Sequence[float], pad: float = 0.04) -> None:
    """Fit the map frame to ``bounds`` (minx, miny, maxx, maxy metres) with ``pad`` margin at equal
    scale; the frame keeps its place on the page and the limits grow on the roomier side."""
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    w, h = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    ax.set_xlim(minx - w * pad, maxx + w * pad, auto=True)
    ax.set_ylim(miny - h * pad, maxy + h * pad, auto=True)
    ax.set_aspect("equal", adjustable="datalim")
    ax.apply_aspect()  # widens one side so the frame fills its box at equal scale
    ax.set_xlim(*ax.get_xlim(), auto=False)  # then freeze: later artists must not rescale the map
    ax.set_ylim(*ax.get_ylim(), auto=False)


def nice_length(max_m: float) -> float:
    """The largest 1/2/5 x 10^k metres not above ``max_m`` (a scale bar length)."""
    if not max_m > 0:
        raise ValueError(f"max_m must be positive, got {max_m}")
    k = 10 ** math.floor(math.log10(max_m))
    for f in (5, 2, 1):
        if f * k <= max_m:
            return float(f * k)
    return float(k)


def scale_bar(ax, *, lang: str = "zh", fs: float = 9.0, fraction: float = 0.25) -> float:
    """A scale bar in the lower left of the frame, about ``fraction`` of its width, in four
    alternating segments; labelled in km (m below 1 km). Axis units must be metres.
    Returns its length in metres."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = nice_length((x1 - x0) * fraction)
    seg = length / 4
    bx, by = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.05
    hgt = (y1 - y0) * 0.008
    from matplotlib.patches import Rectangle

    for i in range(4):
        ax.add_patch(Rectangle((bx + i * seg, by), seg, hgt, facecolor="#222" if i % 2 == 0 else "white",
                               edgecolor="#222", linewidth=0.6, zorder=20))
    unit_km, unit_m = getattr(UNITS["km"], lang), word("unit_metre", lang)

    def label(v: float) -> str:
        return f"{v / 1000:g}" if length >= 1000 else f"{v:g}"

    for v in (0, length / 2, length):
        ax.text(bx + v, by + hgt * 1.8, label(v), ha="center", va="bottom", fontsize=fs * 0.8, zorder=20)
    ax.text(bx + length + seg * 0.3, by + hgt / 2, unit_km if length >= 1000 else unit_m, ha="left",
            va="center", fontsize=fs * 0.8, zorder=20)
    return length


def north_arrow(ax, metric_crs, *, lang: str = "zh", fs: float = 9.0) -> float:
    """A north arrow in the upper right of the frame pointing to true north at the frame's
    centre (rotated by the grid convergence of ``metric_crs``). Returns that angle in degrees
    (counter-clockwise from the frame's up)."""
    from pyproj import Transformer

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    to_ll = Transformer.from_crs(metric_crs, "EPSG:4326", always_xy=True)
    to_m = Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
    lon, lat = to_ll.transform(cx, cy)
    nx, ny = to_m.transform(lon, min(lat + 0.01, 89.9))
    angle = math.degrees(math.atan2(-(nx - cx), ny - cy))
    ax_x, ax_y, L = 0.94, 0.86, 0.08  # axes fraction
    aspect = (ax.get_position().width * ax.figure.get_figwidth()) / (ax.get_position().height * ax.figure.get_figheight())
    dx, dy = -math.sin(math.radians(angle)) * L / aspect, math.cos(math.radians(angle)) * L
    ax.annotate("", xy=(ax_x + dx / 2, ax_y + dy / 2), xytext=(ax_x - dx / 2, ax_y - dy / 2),
                xycoords="axes fraction", textcoords="axes fraction", zorder=20,
                arrowprops={"arrowstyle": "-|>,head_length=0.8,head_width=0.4", "color": "#222", "lw": 1.6})
    import matplotlib.patheffects as pe

    ax.text(ax_x + dx / 2 * 1.25, ax_y + dy / 2 * 1.25, word("maps_north", lang), transform=ax.transAxes,
            ha="center", va="bottom", fontsize=fs * 1.1, zorder=20,
            path_effects=[pe.withStroke(linewidth=3, foreground="white")])
    return angle


def source_line(fig, text: str, *, fs: float = 8.0) -> None:
    """The source line along the bottom edge (dataset, version, date, software)."""
    fig.text(0.025, 0.022, plain(text), fontsize=fs, color="#444", ha="left", va="bottom")


def source_text(ds_name: Any, *, dataset_id: str | None = None, version: Any = None, date: str | None = None,
                lang: str = "zh", extra: str = "") -> str:
    """``数据来源：佳木斯演示（demo）· 第 3 版 · 2026-11-29 · geo-service`` (plain text)."""
    import datetime as _dt

    day = (date or _dt.date.today().isoformat())[:10]
    name = "" if ds_name is None else str(ds_name)
    named = dataset_id and dataset_id != name
    parts = [message("maps_source_named" if named else "maps_source", lang, name=name, id=dataset_id)]
    if version is not None:
        parts.append(message("maps_source_version", lang, version=version))
    parts.append(message("maps_source_date", lang, day=day))
    parts.append(word("maps_source_crs", lang))
    if extra:
        parts.append(extra)
    parts.append("geo-service")
    return " · ".join(parts)


def legend(panel, handles: list, labels: list[str], *, title: str, fs: float, loc: str = "upper left",
           anchor: tuple[float, float] = (0.0, 1.0)):
    """A legend block in the side ``panel`` (labels are plain text); returns the Legend artist."""
    lg = panel.legend(handles, [plain(x) for x in labels], title=plain(title), loc=loc, bbox_to_anchor=anchor,
                      fontsize=fs, title_fontsize=fs * 1.05, frameon=False, alignment="left",
                      handlelength=1.6, borderaxespad=0.0, labelspacing=0.45)
    panel.add_artist(lg)
    return lg


def stack_legends(panel, blocks: list[tuple[str, list, list[str]]], *, fs: float, gap: float = 0.03) -> list:
    """Legends one below the other in ``panel`` (title, handles, labels per block); returns them.

    Each block is placed below the rendered height of the previous one."""
    fig = panel.figure
    renderer = fig.canvas.get_renderer()
    y = 1.0
    out = []
    for title, handles, labels in blocks:
        lg = legend(panel, handles, labels, title=title, fs=fs, anchor=(0.0, y))
        bb = lg.get_window_extent(renderer).transformed(panel.transAxes.inverted())
        y = bb.y0 - gap
        out.append(lg)
    return out


def wrap(text: str, width_pt: float, fs: float) -> list[str]:
    """``text`` broken into lines that fit ``width_pt`` points at font size ``fs`` (a CJK character
    is about ``fs`` wide, others about half); breaks between any two CJK characters or at spaces."""
    out, line, w = [], "", 0.0
    for ch in str(text):
        cw = fs if ord(ch) > 0x2E80 else fs * 0.55
        if w + cw > width_pt and line:
            cut = line.rfind(" ") if ord(ch) <= 0x2E80 and " " in line else -1
            if cut > 0:
                out.append(line[:cut])
                line = line[cut + 1:]
            else:
                out.append(line)
                line = ""
            w = sum(fs if ord(c) > 0x2E80 else fs * 0.55 for c in line)
        line += ch
        w += cw
    out.append(line)
    return out


def text_block(panel, y: float, lines: list[str], *, fs: float, bold_first: bool = True) -> float:
    """Lines of text in ``panel`` from axes-fraction ``y`` down (the first darker, a heading);
    lines that would run below the panel are dropped for one "…". Returns the y below them."""
    renderer = panel.figure.canvas.get_renderer()
    width_pt = panel.get_position().width * panel.figure.get_figwidth() * 72.0
    lines = [part for line in lines for part in wrap(line, width_pt, fs)]
    for i, line in enumerate(lines):
        t = panel.text(0.0, y, plain(line), fontsize=fs, va="top", ha="left", transform=panel.transAxes,
                       color="#000" if (bold_first and i == 0) else "#222")
        bb = t.get_window_extent(renderer).transformed(panel.transAxes.inverted())
        if bb.y0 < 0 and i:
            t.set_text("…")
            return bb.y0
        y = bb.y0 - 0.006
    return y - 0.02


def point_handle(marker: str, size_pt: float, facecolor: str, edgecolor: str, edgewidth: float | None = None):
    """A legend handle showing one point marker (``size_pt`` points, no line); ``edgewidth`` in
    points (None: matplotlib's default)."""
    from matplotlib.lines import Line2D

    edge = {} if edgewidth is None else {"markeredgewidth": edgewidth}
    return Line2D([], [], linestyle="none", marker=marker, markersize=size_pt, markerfacecolor=facecolor,
                  markeredgecolor=edgecolor, **edge)


def legend_bottom(panel, artists: list) -> float:
    """The lowest axes-fraction y of ``artists`` in ``panel`` (1.0 if none)."""
    if not artists:
        return 1.0
    renderer = panel.figure.canvas.get_renderer()
    return min(a.get_window_extent(renderer).transformed(panel.transAxes.inverted()).y0 for a in artists)


def to_metric(gdf, metric_crs):
    """``gdf`` (WGS-84) in ``metric_crs`` without empty geometries (a copy)."""
    if len(gdf) == 0:
        return gdf
    g = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    return g.to_crs(metric_crs)


def plot_polygons(ax, geoms, *, facecolor="none", edgecolor="#555", linewidth=0.6, linestyle="-",
                  alpha=1.0, zorder=1) -> None:
    """Draw (Multi)Polygons (metres) as patches; colours may be one value or one per geometry."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    patches = []
    fcs = []
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        polys = getattr(g, "geoms", [g])
        for p in polys:
            if p.geom_type != "Polygon":
                continue
            verts, codes = [], []
            for ring in [p.exterior, *p.interiors]:
                xy = np.asarray(ring.coords)[:, :2]
                verts.append(xy)
                codes += [MPath.MOVETO] + [MPath.LINETO] * (len(xy) - 2) + [MPath.CLOSEPOLY]
            patches.append(PathPatch(MPath(np.concatenate(verts), codes)))
            fcs.append(facecolor[i] if isinstance(facecolor, (list, tuple, np.ndarray)) else facecolor)
    if not patches:
        return
    pc = PatchCollection(patches, facecolors=fcs, edgecolors=edgecolor, linewidths=linewidth,
                         linestyles=linestyle, alpha=alpha, zorder=zorder)
    ax.add_collection(pc)


def boundaries(ax, ds, *, label_townships: bool = True, fs: float = 8.0, tolerance_m: float = 30.0) -> list:
    """Township boundaries (dashed grey, names at their centre) and the county outline (black);
    returns the township name labels (for :func:`declutter`)."""
    labels = []
    tw = to_metric(ds.townships, ds.metric_crs)
    if len(tw):
        g = tw.geometry.simplify(tolerance_m)
        derived = (tw["boundary_source"] == "derived").to_numpy() if "boundary_source" in tw else np.zeros(len(tw), bool)
        plot_polygons(ax, g[~derived], edgecolor="#777", linewidth=0.6, linestyle=(0, (4, 3)), zorder=2)
        if derived.any():  # derived from village cells: dotted and lighter, never an official line
            plot_polygons(ax, g[derived], edgecolor="#999", linewidth=0.5, linestyle=(0, (1, 3)), zorder=2)
        if label_townships:
            import matplotlib.patheffects as pe

            for name, pt in zip(tw["name"], tw.geometry.representative_point()):
                labels.append(ax.text(pt.x, pt.y, plain(name), fontsize=fs, color="#555", ha="center",
                                      va="center", zorder=3, clip_on=True,
                                      path_effects=[pe.withStroke(linewidth=2.5, foreground="white")]))
    co = to_metric(ds.counties, ds.metric_crs)
    if len(co):
        plot_polygons(ax, co.geometry.simplify(tolerance_m), edgecolor="#111", linewidth=1.6, zorder=4)
    return labels


def map_bounds(ds, extra=None) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) in metres holding everything drawn: the county, every township,
    village and station (a station outside every township shape is not cut off), and ``extra``
    (a GeoSeries/GeoDataFrame in WGS-84, e.g. proposed sites)."""
    boxes = []
    frames = [ds.layers[layer] for layer in ("counties", "townships", "villages", "stations")]
    if extra is not None:
        frames.append(extra)
    for f in frames:
        g = to_metric(f, ds.metric_crs) if len(f) else f
        if len(g):
            geo = g.geometry if hasattr(g, "geometry") else g
            geo = geo[~(geo.isna() | geo.is_empty)]
            if len(geo):
                b = geo.total_bounds
                if np.all(np.isfinite(b)):
                    boxes.append(b)
    if not boxes:
        raise InvalidParameter("dataset_id", "the dataset has no geometry to draw (no counties, townships, villages "
                               "or stations)", "no_geometry", where="path")
    b = np.vstack(boxes)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def declutter(ax, labels: Sequence, *, obstacles: np.ndarray | None = None, obstacle_px: float = 6.0,
              pad_px: float = 1.5) -> int:
    """Keep ``labels`` (matplotlib Text, most important first) from overlapping each other or the
    ``obstacles`` (N x 2 data coordinates, e.g. station symbols, ``obstacle_px`` pixels around each).

    An annotation (a label placed at an offset from its point) tries the other sides of its point
    before it gives way; a label that still collides is hidden (its name stays in the legend or
    list). Returns how many labels were hidden."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    taken: list[tuple[float, float, float, float]] = []
    if obstacles is not None and len(obstacles):
        pts = ax.transData.transform(np.asarray(obstacles, dtype=float))
        taken += [(x - obstacle_px, y - obstacle_px, x + obstacle_px, y + obstacle_px) for x, y in pts]
    axbox = ax.get_window_extent(renderer)

    def box(t):
        bb = t.get_window_extent(renderer)
        return (bb.x0 - pad_px, bb.y0 - pad_px, bb.x1 + pad_px, bb.y1 + pad_px)

    def free(b) -> bool:
        if b[0] < axbox.x0 or b[2] > axbox.x1 or b[1] < axbox.y0 or b[3] > axbox.y1:
            return False
        return not any(b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3] for o in taken)

    hidden = 0
    for t in labels:
        if not t.get_visible():
            continue
        tries = [None]
        if hasattr(t, "xyann"):  # an annotation: try its point's other sides
            dx, dy = t.xyann
            tries += [(-dx, dy), (dx, -dy), (-dx, -dy)]
        placed = False
        for off in tries:
            if off is not None:
                t.xyann = off
                t.set_ha("right" if off[0] < 0 else "left")
            b = box(t)
            if free(b):
                taken.append(b)
                placed = True
                break
        if not placed:
            t.set_visible(False)
            hidden += 1
    return hidden


def finish_frame(lay: Layout, ds, *, lang: str, source: str) -> None:
    """Scale bar, north arrow and source line (after the extent is fixed)."""
    scale_bar(lay.ax, lang=lang, fs=lay.fs)
    north_arrow(lay.ax, ds.metric_crs, lang=lang, fs=lay.fs)
    source_line(lay.fig, source, fs=lay.fs_small)
