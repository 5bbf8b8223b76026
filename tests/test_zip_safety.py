"""One zip-safety rule for every unzip (upload check, dataset reader, workbook measuring)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from geo_service.core.io.limits import InputTooLarge, UnsafeZip, safe_zip_members

PART = st.sampled_from(["a", "b.csv", "..", ".", "村", "C:", "", "__MACOSX", "x\\..\\y"])
NAME = st.lists(PART, min_size=1, max_size=4).map("/".join) | st.sampled_from(["/etc/passwd", "\\x", "C:\\w"])


def _zip(names: list[str]) -> zipfile.ZipFile:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n in names:
            zf.writestr(n, b"12345")
    buf.seek(0)
    return zipfile.ZipFile(buf)


@settings(max_examples=200, deadline=None)
@given(st.lists(NAME, min_size=1, max_size=5, unique=True))
def test_every_member_kept_lands_inside_the_folder(tmp_path_factory, names):
    assume(all(n.strip("/") for n in names))  # zipfile itself cannot store an empty name
    dest = tmp_path_factory.mktemp("unzip")
    zf = _zip(names)
    try:
        members = safe_zip_members(zf, "t.zip", dest=dest)
    except UnsafeZip as e:
        assert any(".." in Path(n.replace("\\", "/")).parts or n.startswith(("/", "\\")) or n[1:2] == ":"
                   or all(p in (".", "") for p in n.split("/")) for n in names), e  # a file named the folder
        return
    for info, name in members:
        target = (dest / name).resolve()
        assert dest.resolve() in target.parents
        assert not info.is_dir() and "__MACOSX" not in Path(name).parts


@pytest.mark.parametrize("bad", ["../x.csv", "a/../../x.csv", "/abs.csv", "\\abs.csv", "C:/w.csv", "a\\..\\..\\x"])
def test_escaping_names_are_refused(bad, tmp_path):
    with pytest.raises(UnsafeZip, match="outside the archive"):
        safe_zip_members(_zip(["ok.csv", bad]), "t.zip", dest=tmp_path)


def test_declared_size_is_capped_before_unpacking():
    zf = _zip(["a.csv", "b.csv"])  # 10 bytes declared
    assert len(safe_zip_members(zf, "t.zip", max_declared_bytes=10)) == 2
    with pytest.raises(InputTooLarge, match="declares 10 bytes"):
        safe_zip_members(zf, "t.zip", max_declared_bytes=9)


def test_gbk_names_from_chinese_windows_are_decoded():
    class Legacy(zipfile.ZipInfo):  # how old Windows zip tools store names: code page bytes, no UTF-8 flag
        def _encodeFilenameFlags(self):
            return self.filename.encode("cp437"), self.flag_bits

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(Legacy("村社区.csv".encode("gb18030").decode("cp437")), b"id\n")
    buf.seek(0)
    [(_, name)] = safe_zip_members(zipfile.ZipFile(buf), "t.zip")
    assert name == "村社区.csv"
