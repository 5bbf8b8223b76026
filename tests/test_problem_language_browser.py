"""A failing action on the planners' page shows the problem's detail in the page's language
(headless Chromium, at a desktop and a phone width)."""

from __future__ import annotations

import re

import pytest
from browser import live_server, make_app

from geo_service.core.dataset import Dataset

pytestmark = pytest.mark.browser
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import make_tiny_layers

    app = make_app(tmp_path_factory.mktemp("browser"), {"tiny": Dataset.from_layers(make_tiny_layers(), name="tiny")})
    with live_server(app) as base:
        yield base


def _fail_a_rerun(chromium, url: str, width: int, shot):
    page, log = chromium.page()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(url)
    page.fill("#c_min", "12")  # each field within its range, but the minimum over the maximum: refused
    page.fill("#c_max", "8")
    page.click("#rerun-submit")
    page.wait_for_selector("body[data-run-state='failed']", state="attached", timeout=30_000)
    page.locator("#error").scroll_into_view_if_needed()
    page.screenshot(path=str(shot))
    text = page.locator("#error").inner_text()
    assert page.locator("#progress").is_hidden()  # a refused run does not stay "queued"
    assert log.page_errors == [] and log.dialogs == []
    page.close()
    return text


@pytest.mark.slow  # > 3 s
@pytest.mark.parametrize("width", [1280, 375])
def test_a_refused_rerun_shows_the_chinese_detail(chromium, server, tmp_path, width):
    text = _fail_a_rerun(chromium, f"{server}/?dataset=tiny", width, tmp_path / f"refused-zh-{width}.png")
    assert text == "请求参数无效：参数 constituents_max（每位委员联系群众上限）无效：不应小于每位委员联系群众下限（12）。", text
    assert not re.search(r"\b(invalid|request|parameters)\b", text), text


@pytest.mark.slow  # > 3 s
def test_the_english_page_shows_the_english_detail(chromium, server, tmp_path):
    text = _fail_a_rerun(chromium, f"{server}/?dataset=tiny&lang=en", 1280, tmp_path / "refused-en.png")
    assert text.startswith("Invalid request parameters: ") and "constituents_max" in text, text
    assert not CJK.search(text), text
