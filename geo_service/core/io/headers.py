"""Column-header and layer-name aliases: Chinese and English spellings mapped to the schema.

Users export tables from Excel, WPS or a statistics bureau with headers like ``名称``, ``经度`` or
``Longitude``; files are named ``村社区.csv`` or ``stations.geojson``. This module maps every such
spelling to the canonical names of :data:`geo_service.core.domain.LAYERS`, and gives the Chinese
headers used when writing tables with ``lang="zh"``. The Chinese names come from the one glossary
(:mod:`geo_service.core.glossary`); the extra spellings here are only ever read. Pure functions, no IO.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..domain import LAYERS
from ..glossary import header, zh_aliases

#: Pseudo-fields that are not layer attributes but carry the geometry in tables.
LON, LAT, WKT = "lon", "lat", "wkt"

# Aliases valid in every layer (canonical field -> spellings). Lower-cased before lookup.
_COMMON: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "代码", "编码", "code", "区划代码", "统计用区划代码"),
    "name": ("name", "名称", "名字", "姓名", "title"),
    LON: ("lon", "lng", "long", "longitude", "x", "经度", "东经", "经度(°)", "经度（°）"),
    LAT: ("lat", "latitude", "y", "纬度", "北纬", "纬度(°)", "纬度（°）"),
    WKT: ("wkt", "geometry", "geom", "the_geom", "几何", "空间位置"),
    "population": ("population", "pop", "人口", "人口数", "常住人口", "户籍人口", "人数"),
    "kind": ("kind", "type", "类型", "类别", "站点类型"),
    "sector": ("sector", "界别", "所属界别"),
    "sectors": ("sectors", "界别列表", "服务界别", "联系界别", "涉及界别", "所含界别"),
    "township_id": ("township_id", "township", "township_i", "乡镇", "乡镇街道", "所属乡镇", "乡镇id",
                    "乡镇编号", "乡镇代码", "街道"),
    "village_id": ("village_id", "village", "村", "所属村", "村id", "村编号", "村代码", "所在村"),
    "county_id": ("county_id", "county", "区县", "所属区县", "县", "区县代码"),
    "capacity": ("capacity", "容量", "可容纳活动组", "承载活动组数"),
    "group_id": ("group_id", "group", "活动组", "界别活动组", "所属活动组", "活动组id"),
    "committee_id": ("committee_id", "committee", "committee_", "专委会", "所属专委会", "专委会id"),
    "convener_id": ("convener_id", "convener", "convener_i", "召集人", "召集人id", "召集人编号"),
    "station_id": ("station_id", "station", "站点", "工作站", "所属站点", "站点id", "站点编号"),
    "class": ("class", "highway", "等级", "道路等级", "道路类型"),
    "speed_kmh": ("speed_kmh", "speed", "maxspeed", "速度", "设计速度", "时速", "速度(km/h)",
                  "速度（km/h）"),
    "role": ("role", "角色", "职务", "组内职务"),
    "is_seat": ("is_seat", "seat", "驻地", "是否驻地", "乡镇驻地", "政府驻地"),
    "phone": ("phone", "tel", "telephone", "mobile", "电话", "手机", "联系电话", "手机号"),
    "urban_rural_class": ("urban_rural_class", "urban_rura", "城乡分类代码", "城乡分类"),
}

# where a location / boundary comes from (shapefile names cut to 10 characters)
_COMMON.update({"location_source": ("location_source", "location_s", "位置来源", "坐标来源"),
                "boundary_source": ("boundary_source", "boundary_s", "边界来源")})

# Layer-specific overrides: in the villages table "乡镇" is the township reference, but in the
# townships table "乡镇" or "乡镇名称" is the township's own name.
_PER_LAYER: dict[str, dict[str, tuple[str, ...]]] = {
    "townships": {"name": ("乡镇", "乡镇街道", "乡镇名称", "街道名称")},
    "villages": {"name": ("村", "村名", "村社区", "村庄", "村名称", "社区")},
    "stations": {"name": ("站点", "工作站", "站名", "站点名称"), "sectors": ("界别", "sector")},
    "groups": {"name": ("活动组", "界别活动组", "活动组名称"), "sectors": ("界别", "sector")},
    "committees": {"name": ("专委会", "专委会名称")},
    "counties": {"name": ("区县", "县", "区县名称")},
    "members": {"name": ("委员", "委员姓名")},
    "constituents": {"name": ("群众", "群众姓名")},
}

# Every field's glossary name (and name with unit, e.g. 人口(人)) is accepted too; the spellings
# above stay accepted, so files written before the glossary still import.
for _field, _names in list(_COMMON.items()):
    _COMMON[_field] = tuple(dict.fromkeys((*_names, *zh_aliases(_field))))

#: Chinese headers used when writing tables with ``lang="zh"`` (from the glossary; the reader maps them back).
ZH_HEADERS: dict[str, str] = {f: header(f, "zh") for f in _COMMON}

# Layer names as users write them in file names, sheet names and GeoPackage layer names.
LAYER_ALIASES: dict[str, tuple[str, ...]] = {
    "counties": ("counties", "county", "区县", "县", "县区", "区", "boundary", "边界", "县界"),
    "townships": ("townships", "township", "towns", "乡镇", "乡镇街道", "街道", "镇"),
    "villages": ("villages", "village", "村", "村社区", "村庄", "社区", "村居"),
    "stations": ("stations", "station", "站点", "工作站", "委员工作站", "委员工作室", "联系点"),
    "members": ("members", "member", "委员"),
    "groups": ("groups", "group", "活动组", "界别活动组"),
    "committees": ("committees", "committee", "专委会"),
    "constituents": ("constituents", "constituent", "群众", "界别群众"),
    "roads": ("roads", "road", "道路", "路网"),
}
_LAYER_LOOKUP = {a.lower(): layer for layer, names in LAYER_ALIASES.items() for a in names}
for _layer, _spec in LAYERS.items():
    for _lang, _label in _spec.labels.items():
        _LAYER_LOOKUP.setdefault(_label.lower(), _layer)


def _key(header: object) -> str:
    """Lookup key for a header: trimmed, lower-case, full-width brackets and spaces removed."""
    s = str(header).strip().lower().replace("\ufeff", "")
    return re.sub(r"[\s_\-]+", "_", s)


#: A datum named in a coordinate header, as exports write it: ``经度(GCJ-02)``, ``lon (WGS-84)``.
DATUM_SUFFIX = re.compile(r"\s*[(（]\s*(gcj[-_ ]?02|wgs[-_ ]?84|bd[-_ ]?09)\s*[)）]\s*$", re.I)
DATUM_LABELS = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09"}


def header_datum(header: object) -> str | None:
    """The datum a header names (``经度(GCJ-02)`` -> ``"gcj02"``), else None."""
    m = DATUM_SUFFIX.search(str(header))
    return None if m is None else re.sub(r"[-_ ]", "", m.group(1).lower())


def datum_header(header: str, datum: str) -> str:
    """``header`` with ``datum`` named in it (``经度`` -> ``经度(GCJ-02)``)."""
    return f"{header}({DATUM_LABELS[datum]})"


def header_aliases(layer: str) -> dict[str, str]:
    """Map of lower-cased spelling -> canonical field name for ``layer`` (layer-specific first)."""
    out: dict[str, str] = {}
    for canon, names in _PER_LAYER.get(layer, {}).items():
        for n in names:
            out[_key(n)] = canon
    for canon, names in _COMMON.items():
        for n in names:
            out.setdefault(_key(n), canon)
    return out


def canonical_headers(layer: str, columns: Iterable[object]) -> dict[str, str]:
    """Rename map ``{original header: canonical name}`` for the columns of one table of ``layer``.

    Headers that are not recognised keep their name (they travel as extra columns). When two
    headers map to the same canonical name (say ``名称`` and ``name``), the first one wins and the
    later ones keep their original header. A column called ``wkt_2``, ``wkt_3`` ... continues a WKT
    geometry split over several cells (spreadsheet cells hold at most 32,767 characters).
    """
    aliases = header_aliases(layer)
    rename: dict[Any, str] = {}
    taken: set[str] = set()
    for col in columns:
        if isinstance(col, str) and re.fullmatch(r"(wkt|几何)_\d+", col.strip().lower()):
            rename[col] = "wkt_" + col.strip().split("_")[-1]
            continue
        canon = aliases.get(_key(DATUM_SUFFIX.sub("", str(col)) if header_datum(col) else col))
        if canon is None or canon in taken:
            continue
        rename[col] = canon
        taken.add(canon)
    return rename


def normalise_headers(layer: str, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its columns renamed to canonical field names (see :func:`canonical_headers`)."""
    rename = canonical_headers(layer, df.columns)
    out = df.rename(columns=rename)
    out.columns = [str(c).strip() for c in out.columns]
    return out


def canonical_layer(name: str) -> str | None:
    """Layer for a file, sheet or GeoPackage layer name (``村社区``, ``stations``, ``county_boundary``).

    Tries the whole name first, then its first word (split on ``_``, ``-``, ``.``, space), so
    ``villages_2024`` and ``county_boundary_gcj02`` are recognised. None when unknown.
    """
    s = str(name).strip().lower()
    if s in _LAYER_LOOKUP:
        return _LAYER_LOOKUP[s]
    if s.startswith("gis_osm_roads"):  # Geofabrik's gis_osm_roads_free_1.shp
        return "roads"
    first = re.split(r"[_\-.\s]+", s)[0]
    return _LAYER_LOOKUP.get(first)


def output_headers(columns: Iterable[str], lang: str) -> dict[str, str]:
    """Rename map for writing tables: identity for ``lang="en"``, Chinese headers for ``"zh"``."""
    if lang not in ("en", "zh"):
        raise ValueError(f"lang must be 'en' or 'zh', got {lang!r}")
    if lang == "en":
        return {}
    return {c: ZH_HEADERS[c] for c in columns if c in ZH_HEADERS}


__all__ = ["DATUM_LABELS", "LAYER_ALIASES", "ZH_HEADERS", "LON", "LAT", "WKT", "canonical_headers",
           "canonical_layer", "datum_header", "header_aliases", "header_datum", "normalise_headers", "output_headers"]
