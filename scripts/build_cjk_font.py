"""Build the CJK font subset bundled with the static maps (``maps/fonts``).

Source: Noto Sans CJK SC Regular (SIL Open Font License 1.1) from Debian's ``fonts-noto-cjk``
package (``NotoSansCJK-Regular.ttc``, face 2 = SC). Kept: printable ASCII, the GB2312 symbol rows
(punctuation, full-width forms, ①, ★ ...) and all 6,763 GB2312 hanzi (level 1 *and* level 2:
place names such as 桦南县 and surnames such as 覃/闫 are level 2). No layout features (matplotlib
does no shaping), no hinting; the family is renamed so it never shadows a system-wide Noto Sans CJK.
The CFF outlines are converted to TrueType (quadratic, cu2qu, 1 unit tolerance): matplotlib embeds
fonts in PDF as TrueType (``FontFile2``), where CFF outlines would not be valid.

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb x
    python scripts/build_cjk_font.py x/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

About 25 s and 1.5 MB out.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

OUT = Path(__file__).resolve().parents[1] / "maps" / "fonts" / "NotoSansSC-GB2312-Regular.ttf"
FAMILY = "Noto Sans SC GB2312"


def gb2312_codepoints() -> set[int]:
    """Code points of GB2312 rows 1-9 (symbols) and 16-87 (hanzi level 1 and 2)."""
    out = set()
    for b1 in list(range(0xA1, 0xAA)) + list(range(0xB0, 0xF8)):
        for b2 in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes([b1, b2]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return out


def cff_to_truetype(font) -> None:
    """Replace ``font``'s CFF outlines by quadratic TrueType ``glyf`` outlines (in place)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    quad = {}
    for name in order:
        tt_pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(tt_pen, 1.0, reverse_direction=True))
        quad[name] = tt_pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = quad
    del font["CFF "]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, g in glyf.glyphs.items():
        if hasattr(g, "xMin"):
            hmtx[name] = (hmtx[name][0], g.xMin)
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones",):
        setattr(maxp, attr, 1)
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 0)
    maxp.compile(font)
    post = font["post"]
    post.formatType = 3.0  # no glyph names (saves ~60 KB; nothing needs them)
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def build(ttc: str, out: Path = OUT) -> Path:
    coll = TTCollection(ttc)
    font = next(f for f in coll.fonts if f["name"].getDebugName(1) == "Noto Sans CJK SC")
    unicodes = gb2312_codepoints() | set(range(0x20, 0x7F)) | {0xA0, 0x2212, 0x2192, 0x2264, 0x2265}
    opts = subset.Options()
    opts.layout_features = []
    opts.hinting = False
    opts.notdef_outline = True
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]
    opts.drop_tables += ["VORG", "vhea", "vmtx", "DSIG"]
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=unicodes)
    sub.subset(font)
    name = font["name"]
    for rec in list(name.names):
        if rec.nameID in (1, 16):
            name.setName(FAMILY, rec.nameID, rec.platformID, rec.platEncID, rec.langID)
        elif rec.nameID == 4:
            name.setName(f"{FAMILY} Regular", 4, rec.platformID, rec.platEncID, rec.langID)
        elif rec.nameID == 6:
            name.setName("NotoSansSC-GB2312-Regular", 6, rec.platformID, rec.platEncID, rec.langID)
    cff_to_truetype(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    p = build(sys.argv[1])
    print(f"wrote {p} ({p.stat().st_size:,} bytes)")
