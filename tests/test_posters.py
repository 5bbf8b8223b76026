"""QR posters: rendered as PDF and PNG, their QR codes decoded back (zxing-cpp) to the station's phone page,
over HTTP and from the command line."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import zxingcpp
from PIL import Image
from test_api_support import client, hdr, make_app
from typer.testing import CliRunner

from geo_service.cli import app as cli_app
from geo_service.core.responsible import DutyIndex, ResponsibilityIndex, lookup
from geo_service.core.store import SQLiteStore
from maps.posters import poster, poster_lines, posters_pdf, qr_matrix


def decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


@pytest.mark.parametrize("paper", ["a4", "a5"])
def test_poster_png_decodes_to_its_url(tiny, paper):
    info = lookup(ResponsibilityIndex(tiny), station_id="S3")
    url = "https://zx.example.cn/m/tiny/S3"
    png = poster(tiny, "S3", url, info, paper=paper, fmt="png", dpi=100)
    img = Image.open(io.BytesIO(png))
    assert img.size == ({"a4": (827, 1169), "a5": (583, 827)}[paper])
    assert decode(png) == [url]


def test_poster_pdf_and_bad_arguments(tiny):
    info = lookup(ResponsibilityIndex(tiny), station_id="S1")
    pdf = poster(tiny, "S1", "http://h/m/tiny/S1", info, fmt="pdf")
    assert pdf.startswith(b"%PDF")
    many = posters_pdf(tiny, [(s, f"http://h/m/tiny/{s}", lookup(ResponsibilityIndex(tiny), station_id=s))
                              for s in ("S1", "S2", "S3")])
    assert len(re.findall(rb"/Type\s*/Page(?!s)", many)) == 3
    for kw, name in (({"paper": "a3"}, "paper"), ({"fmt": "svg"}, "fmt"), ({"dpi": 20}, "dpi")):
        with pytest.raises(ValueError, match=name):
            poster(tiny, "S1", "http://h", info, **kw)
    with pytest.raises(ValueError, match="url"):
        qr_matrix("")


def test_posters_over_http(tmp_path, tiny):
    app = make_app(tmp_path, tiny, public_base_url="https://zx.example.cn")
    with client(app) as c:
        r = c.get("/v1/datasets/tiny/posters/S2.png", params={"dpi": 100}, headers=hdr("viewer"))
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert decode(r.content) == ["https://zx.example.cn/m/tiny/S2"]
        r = c.get("/v1/datasets/tiny/posters/S2.pdf", params={"paper": "a5"}, headers=hdr("viewer"))
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
        r = c.get("/v1/datasets/tiny/posters.pdf", params={"kind": "studio"}, headers=hdr("viewer"))
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
        assert c.get("/v1/datasets/tiny/posters/NOPE.png", headers=hdr("viewer")).status_code == 404
        assert c.get("/v1/datasets/tiny/posters/S2.png").status_code == 401
        assert c.get("/v1/datasets/tiny/posters/S2.png", params={"paper": "a0"}, headers=hdr("viewer")).status_code == 422


@pytest.mark.slow
def test_posters_command(tmp_path, tiny, monkeypatch):
    SQLiteStore(tmp_path / "var").put_dataset("tiny", tiny)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli_app, ["posters", "tiny", "--data-dir", "var", "--out", "out/", "--format", "png",
                                     "--base-url", "https://zx.example.cn", "--dpi", "100"])
    assert r.exit_code == 0, r.output
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["S1.png", "S2.png", "S3.png", "posters.pdf"]
    assert decode((tmp_path / "out" / "S1.png").read_bytes()) == ["https://zx.example.cn/m/tiny/S1"]
    r = CliRunner().invoke(cli_app, ["posters", "tiny", "--data-dir", "var", "--paper", "a3"])
    assert r.exit_code == 2 and "a4 或 a5" in r.output


def test_poster_says_this_months_duty_and_reception_days(tiny):
    duty = DutyIndex.from_result({"duties": [{"month": "2031-03", "station_id": "S2", "member_id": "M3",
                                              "date": "2031-03-12"},
                                             {"month": "2031-04", "station_id": "S2", "member_id": "M4",
                                              "date": "2031-04-09"}], "members": []})
    ix = ResponsibilityIndex(tiny)
    duty_lines, days = poster_lines(lookup(ix, station_id="S2", duty=duty, today=dt.date(2031, 3, 1)))
    assert duty_lines == ["李强（农业）"] and days == ["2031-03-12"]
    duty_lines, days = poster_lines(lookup(ix, station_id="S2", duty=duty, today=dt.date(2031, 3, 20)))
    assert days == ["2031-03-12", "2031-04-09"]  # this month's day has passed: the next one too
    duty_lines, days = poster_lines(lookup(ix, station_id="S1", today=dt.date(2031, 3, 1)))
    assert duty_lines == ["本月值班安排待定"] and days == ["接待日待定"]
    assert poster_lines(lookup(ix, station_id="S1"), "en")[1] == ["No reception day set"]
