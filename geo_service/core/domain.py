"""Domain vocabulary: layers, their fields, station kinds and CPPCC sectors (界别).

Everything here is plain data, so importers, validation, the store, the solvers and the API all
agree on one schema. Coordinates are WGS-84 lon/lat (EPSG:4326) throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

WGS84 = "EPSG:4326"

# --- station kinds -----------------------------------------------------------------------------
StationKind = Literal["station_comprehensive", "station_sector", "studio", "contact_point"]
STATION_KINDS: tuple[str, ...] = ("station_comprehensive", "station_sector", "studio", "contact_point")

STATION_KIND_LABELS: dict[str, dict[str, str]] = {
    "station_comprehensive": {"zh": "综合型委员工作站", "en": "Comprehensive work station"},
    "station_sector": {"zh": "界别型委员工作站", "en": "Sector work station"},
    "studio": {"zh": "委员工作室", "en": "Member studio"},
    "contact_point": {"zh": "界别联系点", "en": "Sector contact point"},
}

# Spellings seen in the field (and in English) mapped to the canonical kind.
STATION_KIND_ALIASES: dict[str, str] = {
    **{k: k for k in STATION_KINDS},
    "comprehensive": "station_comprehensive",
    "sector": "station_sector",
    "综合型": "station_comprehensive",
    "综合型工作站": "station_comprehensive",
    "综合型委员工作站": "station_comprehensive",
    "综合": "station_comprehensive",
    "界别型": "station_sector",
    "界别型工作站": "station_sector",
    "界别型委员工作站": "station_sector",
    "界别": "station_sector",
    "工作室": "studio",
    "委员工作室": "studio",
    "联系点": "contact_point",
    "界别联系点": "contact_point",
}

# --- sectors (界别) -------------------------------------------------------------------------------
# Short names used by local committees; the canonical form is the first column.
SECTORS: tuple[str, ...] = (
    "中共", "民革", "民盟", "民建", "民进", "农工党", "致公党", "九三学社", "台盟", "无党派",
    "共青团", "工会", "妇联", "青联", "工商联", "科协", "台联", "侨联",
    "文化艺术", "科技", "社会科学", "经济", "农业", "教育", "体育", "新闻出版", "医药卫生",
    "对外友好", "社会福利和社会保障", "少数民族", "宗教", "特邀", "环境资源",
)

SECTOR_ALIASES: dict[str, str] = {
    **{s: s for s in SECTORS},
    "中国共产党": "中共", "中共党员": "中共",
    "中国国民党革命委员会": "民革", "中国民主同盟": "民盟", "中国民主建国会": "民建",
    "中国民主促进会": "民进", "中国农工民主党": "农工党", "农工": "农工党",
    "中国致公党": "致公党", "九三": "九三学社", "台湾民主自治同盟": "台盟",
    "无党派人士": "无党派", "总工会": "工会", "科学技术": "科技", "医卫": "医药卫生",
    "医疗卫生": "医药卫生", "文艺": "文化艺术", "社会福利": "社会福利和社会保障",
    "特别邀请人士": "特邀", "特邀人士": "特邀", "民族": "少数民族",
    # English
    "ccp": "中共", "cpc": "中共", "economy": "经济", "economics": "经济", "agriculture": "农业",
    "education": "教育", "health": "医药卫生", "medicine": "医药卫生", "culture": "文化艺术",
    "arts": "文化艺术", "science": "科技", "technology": "科技", "sports": "体育",
    "religion": "宗教", "ethnic minorities": "少数民族", "minorities": "少数民族",
    "nonpartisan": "无党派", "invited": "特邀", "environment": "环境资源",
    "commerce": "工商联", "press": "新闻出版", "social welfare": "社会福利和社会保障",
}


def canonical_sector(value: str) -> str | None:
    """Canonical sector (界别) name.

    Parameters
    ----------
    value : str
        A sector name or alias, Chinese or English, any case.

    Returns
    -------
    str or None
        The name in :data:`SECTORS`, or None when unknown.
    """
    v = str(value).strip()
    return SECTOR_ALIASES.get(v) or SECTOR_ALIASES.get(v.lower())


def canonical_station_kind(value: str) -> str | None:
    """Canonical station kind.

    Parameters
    ----------
    value : str
        A kind or alias, Chinese or English (``工作室``, ``studio``).

    Returns
    -------
    str or None
        The kind in :data:`STATION_KINDS`, or None when unknown.
    """
    v = str(value).strip()
    return STATION_KIND_ALIASES.get(v) or STATION_KIND_ALIASES.get(v.lower())


# --- layers ------------------------------------------------------------------------------------
GeomType = Literal["Point", "Polygon", "LineString", None]


@dataclass(frozen=True)
class FieldSpec:
    """One attribute column of a layer.

    ``dtype`` is one of ``str``, ``int``, ``float``, ``bool``, ``list`` (a list of strings, written
    to files as ``a;b;c``). ``ref`` names the layer whose ``id`` this column refers to.
    ``personal`` marks personal data that only privileged roles may see.
    """

    name: str
    dtype: str = "str"
    required: bool = True
    ref: str | None = None
    personal: bool = False
    description: str = ""


@dataclass(frozen=True)
class LayerSpec:
    """A layer: its name, geometry type (None for a plain table) and attribute fields."""

    name: str
    geometry: GeomType
    fields: tuple[FieldSpec, ...]
    geometry_required: bool = True
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> FieldSpec:
        """The spec of one field.

        Parameters
        ----------
        name : str
            A field of this layer.

        Returns
        -------
        FieldSpec

        Raises
        ------
        KeyError
            When the layer has no such field.
        """
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


LAYERS: dict[str, LayerSpec] = {
    "counties": LayerSpec(
        "counties", "Polygon",
        (FieldSpec("id"), FieldSpec("name")),
        description="County-level divisions (区县), optional.",
        labels={"zh": "区县", "en": "Counties"},
    ),
    "townships": LayerSpec(
        "townships", "Polygon",
        (FieldSpec("id"), FieldSpec("name"),
         FieldSpec("county_id", required=False, ref="counties"),
         FieldSpec("boundary_source", required=False,
                   description="one of BOUNDARY_SOURCES: given, derived (from village cells) or none")),
        geometry_required=False,
        description="Townships and streets (乡镇/街道); a township without point or polygon is kept (未定位).",
        labels={"zh": "乡镇街道", "en": "Townships"},
    ),
    "villages": LayerSpec(
        "villages", "Point",
        (FieldSpec("id"), FieldSpec("name"),
         FieldSpec("township_id", ref="townships"),
         FieldSpec("population", "int", required=False,
                   description="residents (persons); blank = unknown (coverage then counts villages)"),
         FieldSpec("is_seat", "bool", required=False,
                   description="the township's seat (镇政府驻地)"),
         FieldSpec("location_source", required=False,
                   description="one of LOCATION_SOURCES: where the point comes from")),
        geometry_required=False,
        description="Villages and communities (村/社区); every row of the list, point missing where unknown.",
        labels={"zh": "村社区", "en": "Villages"},
    ),
    "stations": LayerSpec(
        "stations", "Point",
        (FieldSpec("id"), FieldSpec("name"),
         FieldSpec("kind", description="one of STATION_KINDS"),
         FieldSpec("sectors", "list", required=False, description="sectors hosted (界别)"),
         FieldSpec("capacity", "int", required=False, description="groups it can host"),
         FieldSpec("township_id", required=False, ref="townships")),
        description="Work stations, studios and contact points.",
        labels={"zh": "站点", "en": "Stations"},
    ),
    "members": LayerSpec(
        "members", "Point",
        (FieldSpec("id"), FieldSpec("name"), FieldSpec("sector"),
         FieldSpec("group_id", required=False, ref="groups"),
         FieldSpec("committee_id", required=False, ref="committees"),
         FieldSpec("station_id", required=False, ref="stations",
                   description="pinned station, optional"),
         FieldSpec("village_id", required=False, ref="villages",
                   description="pinned village, optional"),
         FieldSpec("role", required=False,
                   description="'convener' (召集人), 'deputy_convener' (副召集人) or empty"),
         FieldSpec("location_source", required=False,
                   description="one of LOCATION_SOURCES; without a point: the home village's")),
        geometry_required=False,
        description="CPPCC members (委员); the point is the member's home/work place, else their village's.",
        labels={"zh": "委员", "en": "Members"},
    ),
    "groups": LayerSpec(
        "groups", None,
        (FieldSpec("id"), FieldSpec("name"), FieldSpec("sectors", "list"),
         FieldSpec("convener_id", required=False, ref="members"),
         FieldSpec("station_id", required=False, ref="stations")),
        description="Sector activity groups (界别活动组).",
        labels={"zh": "界别活动组", "en": "Groups"},
    ),
    "committees": LayerSpec(
        "committees", None,
        (FieldSpec("id"), FieldSpec("name")),
        description="Special committees (专委会).",
        labels={"zh": "专委会", "en": "Committees"},
    ),
    "constituents": LayerSpec(
        "constituents", "Point",
        (FieldSpec("id"), FieldSpec("sector"),
         FieldSpec("village_id", required=False, ref="villages"),
         FieldSpec("name", required=False, personal=True),
         FieldSpec("phone", required=False, personal=True),
         FieldSpec("location_source", required=False,
                   description="one of LOCATION_SOURCES; without a point: the village's")),
        geometry_required=False,
        description="People of the sectors (界别群众); located by village or by their own point.",
        labels={"zh": "界别群众", "en": "Constituents"},
    ),
    "roads": LayerSpec(
        "roads", "LineString",
        (FieldSpec("id"), FieldSpec("class", required=False),
         FieldSpec("speed_kmh", "float", required=False, description="km/h")),
        description="Road network (optional).",
        labels={"zh": "道路", "en": "Roads"},
    ),
}

LAYER_ORDER: tuple[str, ...] = tuple(LAYERS)

# --- where a location comes from -----------------------------------------------------------------
#: ``given``: from the file; ``township_seat``: placed at its township's seat; ``township_centre``:
#: the centre of its township's polygon; ``placed``: set by a planner; ``unknown``: nothing known
#: (no point). Only ``given`` and ``placed`` are real locations; the two township ones are approximate.
LOCATION_SOURCES: tuple[str, ...] = ("given", "township_seat", "township_centre", "placed", "unknown")
APPROXIMATE_SOURCES: tuple[str, ...] = ("township_seat", "township_centre")
#: A township polygon: ``given`` in the file, ``derived`` from village cells (not an official
#: boundary), ``none`` (no point, no polygon).
BOUNDARY_SOURCES: tuple[str, ...] = ("given", "derived", "none")
# Stations may be absent: a county planning its first stations still imports (it is all gap).
REQUIRED_LAYERS: tuple[str, ...] = ("townships", "villages")
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in spec.fields if f.personal) for name, spec in LAYERS.items()
}

MEMBER_ROLES: dict[str, str] = {
    "convener": "convener", "召集人": "convener",
    "deputy_convener": "deputy_convener", "副召集人": "deputy_convener",
    "member": "", "委员": "", "": "",
}

# Road classes and their default speeds (km/h) when a file gives none.
ROAD_SPEEDS_KMH: dict[str, float] = {
    "motorway": 100.0, "trunk": 80.0, "primary": 60.0, "secondary": 50.0,
    "tertiary": 40.0, "residential": 30.0, "track": 15.0,
    "高速": 100.0, "国道": 80.0, "省道": 60.0, "县道": 50.0, "乡道": 40.0, "村道": 30.0,
}


__all__ = ["APPROXIMATE_SOURCES", "BOUNDARY_SOURCES", "LOCATION_SOURCES", "LAYERS", "LAYER_ORDER", "MEMBER_ROLES", "PERSONAL_FIELDS", "REQUIRED_LAYERS", "ROAD_SPEEDS_KMH",
           "SECTORS", "SECTOR_ALIASES", "STATION_KINDS", "STATION_KIND_ALIASES", "STATION_KIND_LABELS", "WGS84",
           "FieldSpec", "GeomType", "LayerSpec", "canonical_sector", "canonical_station_kind"]
