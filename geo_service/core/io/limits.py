"""Size limits for reading untrusted files: real (measured) unpacked bytes and rows per table.

An upload's declared sizes are never trusted: zip entries are counted as they are decompressed
and the copy stops at the cap; the parts of an XLSX workbook (itself a zip: sheet XML, shared
strings) are measured the same way before openpyxl parses them; CSV files and XLSX sheets are read
with a row cap (pandas stops reading the sheet there, in openpyxl's read-only mode). Going over a
cap raises :class:`InputTooLarge`, naming the file or sheet, the cap and the setting behind it.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
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


class UnsafeZip(ValueError):
    """A zip entry would land outside the extraction folder; ``member`` names it."""

    def __init__(self, member: str):
        super().__init__(f"unsafe path in zip: {member!r} points outside the archive")
        self.member = member


_DRIVE = re.compile(r"^[A-Za-z]:")


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its maker meant it: zips made on Chinese Windows store names in GBK
    without the UTF-8 flag."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("gb18030")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def safe_zip_members(zf: zipfile.ZipFile, label: str, *, dest: Path | None = None,
                     max_declared_bytes: int | None = None) -> list[tuple[zipfile.ZipInfo, str]]:
    """The one safety check of every unzip: the file entries of ``zf`` with their names.

    Every entry is checked, directories included: an absolute name (``/``, ``\\``, ``C:``), a
    ``..`` part, or (with ``dest``) a name resolving outside ``dest`` raises :class:`UnsafeZip`.
    Directories and macOS ``__MACOSX`` resource entries are left out of the answer. With
    ``max_declared_bytes``, an archive whose declared sizes add up to more raises
    :class:`InputTooLarge` before anything is decompressed (declared sizes only refuse early: the
    real bytes are counted while copying, :func:`copy_member`).

    Parameters
    ----------
    zf : zipfile.ZipFile
        The open archive.
    label : str
        The archive's name in messages.
    dest : pathlib.Path, optional
        The extraction folder.
    max_declared_bytes : int, optional
        Cap on the declared unpacked size, bytes (setting ``max_unpacked_bytes``).
    """
    root = dest.resolve() if dest is not None else None
    out, declared = [], 0
    for info in zf.infolist():
        name = zip_member_name(info)
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts:
            raise UnsafeZip(info.filename)
        if root is not None:
            target = (root / name).resolve()
            if root not in target.parents and (target != root or not info.is_dir()):
                raise UnsafeZip(info.filename)
        declared += info.file_size
        if info.is_dir() or "__MACOSX" in parts:
            continue
        out.append((info, name))
    if max_declared_bytes is not None and declared > max_declared_bytes:
        raise InputTooLarge(f"'{label}' declares {declared} bytes unpacked, over the limit of {max_declared_bytes} "
                            "bytes (setting max_unpacked_bytes)", source=label, limit=max_declared_bytes,
                            setting="max_unpacked_bytes", what="bytes")
    return out


def copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dst: BinaryIO, budget: UnpackBudget) -> None:
    """Decompress one member into ``dst``, counting real bytes; stops at the budget's cap."""
    with zf.open(info) as src:
        while chunk := src.read(CHUNK):
            budget.take(len(chunk), info.filename)
            dst.write(chunk)


def measure_zip(path: str | os.PathLike | BinaryIO, limit: int | None, label: str) -> int:
    """Decompress every member of the zip at ``path`` without keeping it; the real total in bytes.

    Raises :class:`InputTooLarge` as soon as the total passes ``limit`` (so a bomb costs at most
    ``limit`` bytes of decompression, never memory). Used on XLSX workbooks before openpyxl,
    which loads the shared-strings part whole.
    """
    budget = UnpackBudget(limit, label)
    with zipfile.ZipFile(path) as zf:
        for info, _name in safe_zip_members(zf, label):
            with zf.open(info) as src:
                while chunk := src.read(CHUNK):
                    budget.take(len(chunk), info.filename)
    return budget.used


def too_many_rows(source: str, limit: int) -> InputTooLarge:
    return InputTooLarge(f"'{source}' has more than {limit} data rows; the limit is the setting max_table_rows "
                         "(split the table, or raise the setting)", source=source, limit=limit,
                         setting="max_table_rows", what="rows")


__all__ = ["InputTooLarge", "NO_LIMITS", "ReadLimits", "UnpackBudget", "UnsafeZip", "copy_member", "measure_zip",
           "safe_zip_members", "too_many_rows", "zip_member_name"]
