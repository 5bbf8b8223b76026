"""``geo-service map``: a map page that works from disk, with its assets beside it."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.store import SQLiteStore


def test_map_command_writes_a_standalone_page(tmp_path, tiny):
    store_dir = tmp_path / "store"
    SQLiteStore(str(store_dir)).put_dataset("tiny", tiny)
    out = tmp_path / "out" / "coverage.html"
    r = CliRunner().invoke(app, ["map", "tiny", "--out", str(out), "--lang", "en", "--data-dir", str(store_dir)])
    assert r.exit_code == 0, r.output
    html = out.read_text(encoding="utf-8")
    assert "Population covered" in html
    urls = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert urls
    for u in urls:
        assert u.startswith("static/vendor/"), u
        assert (out.parent / u).is_file(), u


def test_map_command_errors(tmp_path, tiny):
    store_dir = tmp_path / "store"
    SQLiteStore(str(store_dir)).put_dataset("tiny", tiny)
    base = ["--out", str(tmp_path / "m.html"), "--data-dir", str(store_dir)]
    r = CliRunner().invoke(app, ["map", "nope", *base])
    assert r.exit_code == 1
    r = CliRunner().invoke(app, ["map", "tiny", *base, "--kind", "heat"])
    assert r.exit_code == 2 and "coverage or gaps" in r.output
    r = CliRunner().invoke(app, ["map", "tiny", *base, "--tiles", "tianditu"])
    assert r.exit_code == 2 and "tianditu_key" in r.output
