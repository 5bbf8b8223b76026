"""Problems and warnings of an import in the user's words.

The readers state each problem's detail in English beside its code; a county office reads
Chinese. :func:`problem_detail` rewords the details the readers write most often (a village far
from its township's seat, villages sharing coordinates, filled defaults, derived township shapes,
numbers that are not numbers, dropped rows) from the values they quote; any other detail is kept
as written after the problem's Chinese name.
"""

from __future__ import annotations

import re

#: code -> [(pattern of the English detail, Chinese template over its groups)]
_DETAILS: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "far_from_seat": [(re.compile(r"'(.*)' lies ([\d.]+) km from the seat of its township '(.*)' but ([\d.]+) km "
                                  r"from that of '(.*)': check its coordinates or township"),
                       "「{0}」离所属乡镇「{2}」驻地 {1} 公里，离「{4}」驻地只有 {3} 公里：请核对坐标或所属乡镇")],
    "shared_coordinates": [(re.compile(r"'(.*)' \((.*)\) has the same coordinates \((.*)\) as row (\d+) '(.*)' "
                                       r"\((.*)\): probably a geocoding mistake"),
                            "「{0}」（{1}）与第 {3} 行「{4}」（{5}）坐标完全相同 ({2})：可能是地址匹配错误"),
                           (re.compile(r"'(.*)' has the same coordinates as row (\d+) '(.*)': probably a geocoding "
                                       r"mistake"),
                            "「{0}」与第 {1} 行「{2}」坐标完全相同：可能是地址匹配错误")],
    "filled_default": [
        (re.compile(r"no population column.*"), "没有人口列：人口未知；在导入人口列之前，覆盖率按村数计算（每村计 1）"),
        (re.compile(r"no id column .*; ids set to the names"), "没有编号列（代码/编号）：以名称作为编号"),
        (re.compile(r"no id column .*; ids set to the row numbers"), "没有编号列（代码/编号）：以行号作为编号"),
        (re.compile(r"no '(\w+)' column; set to (.*)"), "没有「{0}」列：已设为 {1}"),
    ],
    "derived_polygons": [(re.compile(r"townships given as points.*?(, clipped to the county boundary)?$"),
                          "乡镇以驻地点给出：边界由其村社区的泰森多边形合并而成{0}")],
    "dropped_no_coordinates": [(re.compile(r"(?:'(.*)' )?has no seat coordinates .*; dropped"),
                                "{0}没有驻地坐标，也没有带坐标的村社区，无法生成边界"),
                               (re.compile(r"(?:'(.*)' )?has no coordinates; dropped"), "{0}没有坐标")],
    "bad_number": [(re.compile(r"(?:(.*?) )?'(.*)' is not a number"), "{0}「{1}」不是数字")],
}

_OPTIONAL = {"derived_polygons": {0: "，并裁剪到区县边界"}, "dropped_no_coordinates": {0: "「{}」"}}


def problem_detail(code: str | None, detail: str) -> str | None:
    """The Chinese wording of a reader's English ``detail`` for problem ``code``, or None when it
    has no known form (the caller then shows the detail as written)."""
    for pattern, template in _DETAILS.get(code or "", []):
        m = pattern.fullmatch(detail.strip())
        if m is None:
            continue
        groups = list(m.groups())
        for i, fill in _OPTIONAL.get(code or "", {}).items():
            groups[i] = fill.format(groups[i]) if groups[i] else ""
        return template.format(*["" if g is None else g for g in groups])
    return None


__all__ = ["problem_detail"]
