"""Size limits for reading untrusted files: real (measured) unpacked bytes and rows per table.

An upload's declared sizes are never trusted: zip entries are counted as they are decompressed
and the copy stops at the cap; the parts of an XLSX workbook (itself a zip: sheet XML, shared
strings) are measured the same way before openpyxl parses them; CSV files and XLSX sheets are read
with a row cap (pandas stops reading the sheet there, in openpyxl's read-only mode). Going over a
cap raises :class:`InputTooLarge`, naming the file or sheet, the cap and the setting behind it.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import BinaryIO

#: bytes read from a zip member at a time while measuring or extracting it
CHUNK = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    """Caps applied while reading; None means no cap.

    Parameters
    ----------
    max_unpacked_bytes : bytes all entries of a zip (or all parts of an XLSX workbook) may unpack
        to, counted as they are decompressed (API setting ``max_unpacked_bytes``).
    max_rows : data rows in one CSV file or one XLSX sheet (API setting ``max_table_rows``).
    """

    max_unpacked_bytes: int | None = None
    max_rows: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_unpacked_bytes", "max_rows"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v <= 0):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")


NO_LIMITS = ReadLimits()


class InputTooLarge(Exception):
    """An input went over a :class:`ReadLimits` cap while being read.

    Not a ``ValueError`` on purpose: readers turn those into per-file problems and go on, while
    this one must stop the whole import. ``source`` names the file (and sheet), ``limit`` the cap,
    ``setting`` the API setting that raises it, ``what`` ``"bytes"`` or ``"rows"``.
    """

    def __init__(self, message: str, *, source: str, limit: int, setting: str, what: str):
        super().__init__(message)
        self.source = source
        self.limit = limit
        self.setting = setting
        self.what = what

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "limit": self.limit, "setting": self.setting, "what": self.what}


class UnpackBudget:
    """Bytes left to unpack; :meth:`take` raises :class:`InputTooLarge` once they run out."""

    def __init__(self, limit: int | None, label: str):
        self.limit = limit
        self.used = 0
        self.label = label

    def take(self, n: int, member: str) -> None:
        self.used += n
        if self.limit is not None and self.used > self.limit:
            raise InputTooLarge(
                f"'{self.label}' unpacks to more than {self.limit} bytes (at '{member}'; the sizes it "
                f"declares are not trusted); the limit is the setting max_unpacked_bytes",
                source=f"{self.label}/{member}", limit=self.limit, setting="max_unpacked_bytes", what="bytes")


def copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dst: BinaryIO, budget: UnpackBudget) -> None:
    """Decompress one member into ``dst``, counting real bytes; stops at the budget's cap."""
    with zf.open(info) as src:
        while chunk := src.read(CHUNK):
            budget.take(len(chunk), info.filename)
            dst.write(chunk)


def measure_zip(path, limit: int | None, label: str) -> int:
    """Decompress every member of the zip at ``path`` without keeping it; the real total in bytes.

    Raises :class:`InputTooLarge` as soon as the total passes ``limit`` (so a bomb costs at most
    ``limit`` bytes of decompression, never memory). Used on XLSX workbooks before openpyxl,
    which loads the shared-strings part whole.
    """
    budget = UnpackBudget(limit, label)
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            with zf.open(info) as src:
                while chunk := src.read(CHUNK):
                    budget.take(len(chunk), info.filename)
    return budget.used


def too_many_rows(source: str, limit: int) -> InputTooLarge:
    return InputTooLarge(f"'{source}' has more than {limit} data rows; the limit is the setting max_table_rows "
                         "(split the table, or raise the setting)", source=source, limit=limit,
                         setting="max_table_rows", what="rows")


__all__ = ["InputTooLarge", "NO_LIMITS", "ReadLimits", "UnpackBudget", "copy_member", "measure_zip",
           "too_many_rows"]
