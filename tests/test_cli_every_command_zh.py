"""Every CLI command speaks Chinese by default: no English word in any line it prints.

Runs each command (demo, import with its warnings, a failing import, validate, summary, export,
coverage, optimise, close-gaps, map as HTML and PNG, template, roster, batch, serve's first line)
on the demo county and on a real county (../shared/real/chongyang, GCJ-02, no population), and
fails on any run of three or more Latin letters that is not a file the user named, a flag, a file
type, a product name or an id. ``--lang en`` then says the same in English.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geo_service.app.demo import generate_demo
from geo_service.cli import app
from geo_service.core.io.gpkg import write_gpkg
from shared_data import real_county, require_shared

ROOT = Path(__file__).resolve().parents[1]
REAL = real_county("chongyang")

#: What may stay Latin in a Chinese line: the command's own name, protocols, file types and products.
ALLOWED = {"geo", "service", "http", "https", "csv", "xlsx", "json", "gpkg", "html", "png", "pdf", "svg", "ics",
           "shp", "zip", "GeoJSON", "GeoPackage", "Shapefile", "Geofabrik", "gis", "osm", "roads", "free",
           "Dask", "XLSX", "CSV", "JSON", "template", "out", "county",
           "coverage", "gaps", "stations", "townships",  # option values the user types
           "WGS", "GCJ"}  # datums' standard names (WGS-84, GCJ-02)
STRIP = [re.compile(p) for p in (
    r"\S*/\S*",                       # paths the user chose
    r"\S+\.(?:csv|xlsx|gpkg|json|geojson|html|png|pdf|svg|ics|shp)\b",  # file names
    r"--[\w-]+",                      # flags named in advice
    r"\b[0-9a-f]{12,}\b",             # job and batch ids
    r"`[^`]*`",                       # a command quoted in advice
    r"geo-service(?: [^\s\u4e00-\u9fff，。；：（）]+)*",  # a command line the user is told to type
)]
WORD = re.compile(r"[A-Za-z]{3,}")
runner = CliRunner(env={"COLUMNS": "200"})


def english_words(text: str, user: set[str]) -> list[str]:
    """Latin words of ``text`` that are neither allowed nor the user's own names."""
    out = []
    for line in text.splitlines():
        for pat in STRIP:
            line = pat.sub(" ", line)
        out += [w for w in WORD.findall(line) if w not in ALLOWED and w not in user]
    return out


def run(args: list[str], user: set[str], ok: tuple[int, ...] = (0,)) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code in ok, (args, r.output)
    leaks = english_words(r.output, user)
    assert not leaks, f"{args[0]}: English words {sorted(set(leaks))[:20]} in:\n{r.output[:3000]}"
    assert re.search(r"[\u4e00-\u9fff]", r.output), (args, r.output)
    return r.output


@pytest.fixture(scope="module")
def demo_gpkg(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo1.gpkg"
    write_gpkg(generate_demo(counties=["230882"]), path)
    return path


#: the commands the test below runs (serve: its own test); a new command is added here
TESTED = {"serve", "demo", "import", "export", "summary", "validate", "batch", "optimise", "close-gaps", "map",
          "coverage", "template", "roster", "posters", "review", "fill-sheet", "fill-import", "warm"}


def test_every_registered_command_is_checked():
    names = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands}
    assert names <= TESTED, f"commands without a Chinese-output check here: {sorted(names - TESTED)}"


@pytest.mark.slow
def test_every_command_prints_chinese(demo_gpkg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = ["--data-dir", str(tmp_path / "store")]
    user = {"demo", "nosuch"}
    run(["demo", "--out", "demo.gpkg"], user)
    run(["import", str(demo_gpkg), "--name", "demo1", *data], user)
    run(["import", str(demo_gpkg), "--name", "demo1", *data], user, ok=(1,))  # exists: says so in Chinese
    run(["import", "nosuch.gpkg", *data], user, ok=(2,))
    run(["validate", str(demo_gpkg)], user)
    run(["summary", "demo1", *data], user)
    run(["export", "demo1", "--out", "demo1.xlsx", *data], user)
    run(["coverage", "demo1", *data], user)
    run(["optimise", "demo1", "--out", "r.xlsx", "--params", "nosuch.json", *data], user, ok=(2,))
    out = run(["optimise", "demo1", "--out", "r.xlsx", *data], user)
    assert "已记录为任务" in out
    run(["close-gaps", "demo1", "--out", "proposals.csv", "--time-limit", "20", *data], user)
    run(["map", "demo1", "--out", "m.html", *data], user)
    run(["map", "demo1", "--out", "m.png", "--dpi", "50", *data], user)
    run(["map", "demo1", "--kind", "nosuch", *data], user, ok=(2,))
    run(["template", "--out", "county/"], user)
    run(["roster", "demo1", "--start", "2027-01", "--months", "3", "--time-limit", "10", "--out", "ro.xlsx",
         "--per-platform-max", "3", *data], user)
    run(["roster", "demo1", "--member-min", "-1", *data], user, ok=(2,))
    run(["batch", "demo1", "--threads", "--workers", "1", "--time-limit", "10", *data], user)
    run(["posters", "demo1", "--out", "posters/", "--base-url", "https://zx.example.cn", "--kind", "studio", *data],
        user | {"https", "example"})
    run(["review", "demo1", "--year", "2027", *data], user)
    run(["fill-sheet", "demo1", "--out", "fill.xlsx", *data], user)
    run(["fill-import", "demo1", "fill.xlsx", *data], user, ok=(0, 1, 2))
    if require_shared(REAL / "villages.csv", "the real county list"):  # its warnings, no population
        real = ["--layer", f"villages={REAL / 'villages.csv'}", "--layer", f"townships={REAL / 'townships.csv'}"]
        run(["import", "--name", "chongyang", "--datum", "gcj02", "--missing-points", "drop", *real, *data],
            user | {"chongyang"})
        for cmd in (["close-gaps", "chongyang", "--time-limit", "20"], ["coverage", "chongyang"]):
            out = run([*cmd, *data], user | {"chongyang"})
            figures = [x for x in out.splitlines() if not x.startswith("说明：")]  # the note asks for 人口
            assert figures and not any("人口" in x for x in figures), figures  # villages counted, not people
        out = run(["summary", "chongyang", *data], user | {"chongyang"})
        assert "未知" in next(x for x in out.splitlines() if "人口" in x)  # never 人口 0


@pytest.mark.slow  # starts the service
def test_serve_says_where_in_chinese(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "geo_service.cli", "serve", "--port", "0", "--no-demo",
                             "--data-dir", str(tmp_path / "store")], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "数据存放在" in line and not english_words(line, set()), line


def test_lang_en_says_the_same_in_english(demo_gpkg, tmp_path):
    data = ["--data-dir", str(tmp_path / "store")]
    r = runner.invoke(app, ["import", str(demo_gpkg), "--name", "demo1", "--lang", "en", *data])
    assert r.exit_code == 0 and "stored dataset 'demo1' version 1" in r.output
    r = runner.invoke(app, ["import", str(demo_gpkg), "--name", "demo1", "--lang", "en", *data])
    assert r.exit_code == 1 and "error: dataset 'demo1' already exists" in r.output
    assert not re.search(r"[\u4e00-\u9fff]", r.output)
    r = runner.invoke(app, ["import", str(demo_gpkg), "--name", "demo1", *data])
    assert r.exit_code == 1 and "错误：数据集「demo1」已存在" in r.output
