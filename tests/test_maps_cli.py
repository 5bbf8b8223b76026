"""``geo-service map``: one self-contained page that works from disk, or a print-ready PNG/PDF/SVG."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.core.store import SQLiteStore


def test_map_command_writes_one_self_contained_page(tmp_path, tiny, monkeypatch):
    store_dir = tmp_path / "store"
    SQLiteStore(str(store_dir)).put_dataset("tiny", tiny)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = tmp_path / "out" / "coverage.html"
    r = CliRunner().invoke(app, ["map", "tiny", "--out", str(out), "--lang", "en", "--data-dir", str(store_dir)])
    assert r.exit_code == 0, r.output
    html = out.read_text(encoding="utf-8")
    assert "Covered population" in html
    # no linked script or stylesheet at all: Leaflet and the search plugin are in the page
    assert re.findall(r'<script[^>]+src=|<link[^>]+rel="stylesheet"', html) == []
    assert "L.Control.Search" in html and "leaflet-control-layers" in html
    assert "url(images/" not in html and "data:image/png;base64," in html
    assert sorted(p.name for p in out.parent.iterdir()) == ["coverage.html"]  # nothing beside it
    assert list(cwd.iterdir()) == []  # nothing in the current directory (no static/)


@pytest.mark.slow  # > 3 s
def test_map_command_static_formats(tmp_path, tiny, monkeypatch):
    store_dir = tmp_path / "store"
    SQLiteStore(str(store_dir)).put_dataset("tiny", tiny)
    monkeypatch.chdir(tmp_path)
    for fmt, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")):
        out = tmp_path / f"m.{fmt}"
        r = CliRunner().invoke(app, ["map", "tiny", "--format", fmt, "--dpi", "60", "--out", str(out),
                                     "--data-dir", str(store_dir)])
        assert r.exit_code == 0, r.output
        assert out.read_bytes().startswith(magic)
    r = CliRunner().invoke(app, ["map", "tiny", "--format", "gif", "--data-dir", str(store_dir)])
    assert r.exit_code == 2 and "--format" in r.output
    r = CliRunner().invoke(app, ["map", "tiny", "--format", "png", "--paper", "a2", "--dpi", "600",
                                 "--data-dir", str(store_dir)])
    assert r.exit_code == 2 and "dpi" in r.output and "像素数超过上限" in r.output
    for lang, said in (("zh", "错误：参数 dpi"), ("zh", "应为 50 到 600 之间的整数"),
                       ("en", "dpi must be an integer between 50 and 600, got 601")):
        r = CliRunner().invoke(app, ["map", "tiny", "--format", "png", "--dpi", "601", "--lang", lang,
                                     "--data-dir", str(store_dir)])
        assert r.exit_code == 2 and said in r.output, (lang, r.output)


def test_map_command_errors(tmp_path, tiny):
    store_dir = tmp_path / "store"
    SQLiteStore(str(store_dir)).put_dataset("tiny", tiny)
    base = ["--out", str(tmp_path / "m.html"), "--data-dir", str(store_dir)]
    r = CliRunner().invoke(app, ["map", "nope", *base])
    assert r.exit_code == 1
    r = CliRunner().invoke(app, ["map", "tiny", *base, "--kind", "heat"])
    assert r.exit_code == 2 and "--kind 只能是 coverage、gaps" in r.output
    r = CliRunner().invoke(app, ["map", "tiny", *base, "--tiles", "tianditu"])
    assert r.exit_code == 2 and "tianditu_key" in r.output
