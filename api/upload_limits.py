"""Limits on what an upload may hold beyond its size: zip entries and text lengths.

- :func:`check_zip_entries`: the number of entries a zip declares, read from its end record
  before the central directory is parsed, so a zip of 60,000 tiny entries is refused at once
  (413 naming the setting ``max_zip_entries``).
- :func:`check_text_lengths`: names (``name`` fields, ids) of at most ``max_name_chars``
  characters and any other text (notes, sectors) of at most ``max_text_chars``; every row over
  the limit is a validation problem naming the layer, row, feature and field (422), so a 20 MB
  village name never reaches the store or a map.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from geo_service.core.dataset import Dataset, DatasetValidationError, Problem

from .problems import ProblemError

#: fields held to the shorter name limit
NAME_FIELDS = frozenset({"id", "name"})
_EOCD = b"PK\x05\x06"


def declared_entries(path: str | Path) -> int | None:
    """Entries a zip file declares in its end-of-central-directory record (None: not found).

    ZIP64 archives (more than 65,535 entries) are read from their ZIP64 end record."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - (22 + 65535)))
        tail = f.read()
        at = len(tail)
        while True:  # the real end record is the one whose comment runs exactly to the end of the file
            at = tail.rfind(_EOCD, 0, at)
            if at < 0:
                return None
            if len(tail) >= at + 22 and at + 22 + struct.unpack("<H", tail[at + 20:at + 22])[0] == len(tail):
                break
        n = struct.unpack("<H", tail[at + 10:at + 12])[0]
        if n != 0xFFFF:
            return n
        loc = tail.rfind(b"PK\x06\x07", 0, at)  # ZIP64 locator -> ZIP64 end record
        if loc < 0:
            return None
        off = struct.unpack("<Q", tail[loc + 8:loc + 16])[0]
        f.seek(off)
        rec = f.read(56)
        if rec[:4] != b"PK\x06\x06" or len(rec) < 40:
            return None
        return struct.unpack("<Q", rec[32:40])[0]


def check_zip_entries(path: str | Path, max_entries: int, filename: str) -> None:
    """413 when the zip at ``path`` declares more than ``max_entries`` entries (checked before the
    archive's directory is read)."""
    n = declared_entries(path)
    if n is None:
        raise ProblemError(422, f"'{filename}' is not a valid zip archive (no end record)",
                           code="unreadable-upload", field="file")
    if n > max_entries:
        raise ProblemError(413, f"'{filename}' holds {n} entries, over the limit of {max_entries} "
                                "(setting max_zip_entries)", code="upload-too-large", field="file",
                           limit=max_entries, setting="max_zip_entries", limit_kind="entries")
    with zipfile.ZipFile(path) as zf:  # the directory agrees with the end record
        if len(zf.infolist()) > max_entries:
            raise ProblemError(413, f"'{filename}' holds more than {max_entries} entries (setting "
                                    "max_zip_entries)", code="upload-too-large", field="file",
                               limit=max_entries, setting="max_zip_entries", limit_kind="entries")


def _lengths(col: pd.Series) -> np.ndarray:
    vals = col.to_numpy(dtype=object)
    return np.fromiter((len(v) if isinstance(v, str) else 0 for v in vals), dtype=np.int64, count=len(vals))


def text_problems(ds: Dataset | Mapping[str, pd.DataFrame], *, max_name_chars: int, max_text_chars: int,
                  max_listed: int = 1000) -> list[Problem]:
    """One problem per text value of ``ds`` (a dataset or its layers by name) over its limit (at most
    ``max_listed``)."""
    out: list[Problem] = []
    layers = ds.layers if isinstance(ds, Dataset) else ds
    for layer, df in layers.items():
        if not len(df):
            continue
        ids = df["id"].astype(str).to_numpy() if "id" in df.columns else None
        for field in df.columns:
            if field == "geometry" or df[field].dtype != object:
                continue
            limit = max_name_chars if field in NAME_FIELDS or field.endswith("_id") else max_text_chars
            n = _lengths(df[field])
            for i in np.flatnonzero(n > limit):
                fid = None if ids is None else str(ids[i])[:64]
                out.append(Problem(layer, f"{field} has {int(n[i])} characters, over the limit of {limit}",
                                   "too_long", row=int(i) + 1, feature_id=fid, field=str(field)))
                if len(out) >= max_listed:
                    return out
    return out


def check_text_lengths(ds: Dataset | Mapping[str, pd.DataFrame], *, max_name_chars: int, max_text_chars: int) -> None:
    """``DatasetValidationError`` listing every text of ``ds`` over its length limit."""
    problems = text_problems(ds, max_name_chars=max_name_chars, max_text_chars=max_text_chars)
    if problems:
        raise DatasetValidationError(problems)


__all__ = ["NAME_FIELDS", "check_text_lengths", "check_zip_entries", "declared_entries", "text_problems"]
