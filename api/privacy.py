"""The one rule for personal fields: what viewers and anonymous callers never get.

Personal data (个人信息) in a dataset:

- **homes**: a member's point is their home or work place (``members`` layer geometry);
- **phones** and **names of constituents** (``constituents`` fields marked ``personal`` in
  :data:`geo_service.core.domain.PERSONAL_FIELDS`);
- **constituents** altogether: each row is a person of a sector, placed where they live.

Only roles that may see personal data (:func:`sees_personal`: planner and admin) get them. For
everyone else (viewer, anonymous, and any role added later that is not granted explicitly) every
route, map and export goes through this module:

- :func:`check_layer`: reading the ``constituents`` layer is 403 ``personal-data``;
- :func:`features`: GeoJSON features with personal fields dropped and members' homes removed
  (``geometry: null``);
- :func:`dataset_view`: a dataset for maps and exports with members' homes removed (no point),
  constituents' names and phones blanked (their counts per village stay, for coverage);
- :func:`homes`: whether a map may draw members' homes.

The table in ``docs/security.md`` ("Personal fields") is this module in words; the test
``tests/test_privacy_routes.py`` walks every route of the app for each role against it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from geo_service.core.dataset import Dataset
from geo_service.core.domain import PERSONAL_FIELDS

from . import geojson as gj
from .problems import ProblemError

#: layers that are personal as a whole (a row is a person where they live)
PERSONAL_LAYERS: frozenset[str] = frozenset({"constituents"})
#: layers whose geometry is a person's home
HOME_LAYERS: frozenset[str] = frozenset({"members"})
#: the roles that may see personal data
PERSONAL_ROLES: frozenset[str] = frozenset({"planner", "admin"})


def sees_personal(who: Any) -> bool:
    """True when ``who`` (an :class:`api.auth.Principal`) may see homes, phones and constituents."""
    return getattr(who, "role", None) in PERSONAL_ROLES


def homes(who: Any) -> bool:
    """True when a map or table for ``who`` may show members' homes."""
    return sees_personal(who)


def check_layer(layer: str, who: Any) -> None:
    """403 ``personal-data`` when ``who`` may not read ``layer`` at all."""
    if layer in PERSONAL_LAYERS and not sees_personal(who):
        raise ProblemError(403, f"layer '{layer}' holds personal data (people, where they live, phones): "
                                "planner or admin only", code="personal-data", layer=layer)


def features(df: pd.DataFrame, layer: str, who: Any) -> list[dict[str, Any]]:
    """Rows of ``df`` as GeoJSON features as ``who`` may see them."""
    personal = sees_personal(who)
    feats = gj.features(df, layer, personal=personal)
    if not personal and layer in HOME_LAYERS:
        for f in feats:
            f["geometry"] = None
    return feats


def public_layer(df: pd.DataFrame, layer: str) -> pd.DataFrame:
    """``df`` without its personal content: homes emptied, personal fields blanked."""
    fields = PERSONAL_FIELDS.get(layer, ())
    if not fields and layer not in HOME_LAYERS:
        return df
    out = df.copy()
    for f in fields:
        if f in out.columns:
            out[f] = pd.Series([None] * len(out), index=out.index, dtype=object)
    if layer in HOME_LAYERS and "geometry" in out.columns:
        out["geometry"] = None
    return out


def dataset_view(ds: Dataset, who: Any) -> Dataset:
    """``ds`` as ``who`` may see it in a map or an export (unchanged for planner and admin)."""
    if sees_personal(who):
        return ds
    layers = {name: public_layer(df, name) for name, df in ds.layers.items()}
    return dataclasses.replace(ds, layers=layers)


__all__ = ["HOME_LAYERS", "PERSONAL_LAYERS", "PERSONAL_ROLES", "check_layer", "dataset_view", "features",
           "homes", "public_layer", "sees_personal"]
