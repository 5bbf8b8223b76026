"""Every word users see comes from the glossary: pages declare their language, texts moved to the
glossary read the same in both languages."""

from __future__ import annotations

import re

import pytest

from maps.render import PageFigure


@pytest.mark.parametrize(("lang", "tag"), [("zh", "zh-CN"), ("en", "en")])
def test_a_map_page_declares_its_language(lang, tag):
    """Screen readers and browsers pick fonts and hyphenation from ``<html lang>``: a Chinese map
    says zh-CN, an English one en."""
    html = PageFigure(title="t", lang=lang).render()
    assert re.search(r'<html lang="([^"]+)">', html).group(1) == tag
