"""Synthetic but plausible Chinese names: people, townships, villages, communities, phone numbers.

Used by the demo generator (:mod:`geo_service.app.demo`). Every function takes a NumPy
``Generator`` so results are reproducible from a seed. Surnames follow their real frequency in
China (2020 household register, top 100, in per mille, rounded); given names are one or two
characters drawn from common pools. Place names follow the patterns of Heilongjiang: township
names from auspicious or descriptive two-character stems (兴隆镇, 四马架乡), villages as
``王家屯``/``三合村``/``东河村``, urban communities as ``光明社区``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# --- people ------------------------------------------------------------------------------------
# (surname, per-mille share of the population), top 100, 2020.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 73), ("李", 72), ("张", 68), ("刘", 54), ("陈", 45), ("杨", 32), ("黄", 24), ("赵", 23),
    ("吴", 21), ("周", 21), ("徐", 17), ("孙", 16), ("马", 15), ("朱", 14), ("胡", 13), ("郭", 13),
    ("何", 12), ("林", 12), ("高", 12), ("罗", 11), ("郑", 11), ("梁", 10), ("谢", 8), ("宋", 8),
    ("唐", 8), ("许", 7), ("韩", 7), ("邓", 7), ("冯", 7), ("曹", 7), ("彭", 6), ("曾", 6),
    ("肖", 6), ("田", 6), ("董", 6), ("潘", 5), ("袁", 5), ("蔡", 5), ("蒋", 5), ("余", 5),
    ("于", 5), ("杜", 5), ("叶", 4), ("程", 4), ("魏", 4), ("苏", 4), ("吕", 4), ("丁", 4),
    ("任", 4), ("卢", 4), ("姚", 4), ("沈", 4), ("钟", 4), ("姜", 4), ("崔", 3), ("谭", 3),
    ("陆", 3), ("范", 3), ("汪", 3), ("廖", 3), ("石", 3), ("金", 3), ("韦", 3), ("贾", 3),
    ("夏", 3), ("付", 3), ("方", 3), ("邹", 2), ("熊", 2), ("白", 2), ("孟", 2), ("秦", 2),
    ("邱", 2), ("侯", 2), ("江", 2), ("尹", 2), ("薛", 2), ("闫", 2), ("段", 2), ("雷", 2),
    ("龙", 2), ("黎", 2), ("史", 2), ("陶", 2), ("贺", 2), ("毛", 2), ("郝", 2), ("顾", 2),
    ("龚", 2), ("邵", 2), ("万", 2), ("覃", 2), ("武", 2), ("钱", 2), ("戴", 2), ("严", 2),
    ("莫", 2), ("孔", 2), ("向", 2), ("常", 2),
)
# Heilongjiang minorities: Manchu (满), Korean (朝鲜), Hezhe (赫哲, along the Songhua and Amur).
MINORITY_SURNAMES: tuple[str, ...] = ("关", "那", "佟", "富", "金", "朴", "崔", "尤", "毕", "傅", "葛", "付")

MALE_CHARS = ("伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华",
              "飞", "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "东",
              "志", "国", "建", "文", "海", "春", "立", "晓", "庆", "德", "成", "永", "利", "长", "忠",
              "福", "生", "峰", "振", "宏", "广", "学", "兴", "新", "博", "锋", "亮", "松", "江", "山")
FEMALE_CHARS = ("芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "婷", "雪", "慧", "莉", "红",
                "梅", "琳", "颖", "洁", "萍", "倩", "晶", "丹", "云", "凤", "秀", "英", "华", "月", "佳",
                "欣", "宁", "岩", "悦", "璐", "楠", "雯", "琴", "春", "晓", "玉", "淑", "桂", "兰", "荣")


_SURNAME_NAMES: tuple[str, ...] = tuple(s for s, _ in SURNAMES)
_SURNAME_P: np.ndarray = np.array([p for _, p in SURNAMES], dtype=float) / sum(p for _, p in SURNAMES)


def _draw_names(rng: np.random.Generator, minority: np.ndarray) -> list[str]:
    """One full name per flag in ``minority``, all drawn at once (vectorised)."""
    k = len(minority)
    sur = rng.choice(len(_SURNAME_NAMES), size=k, p=_SURNAME_P)
    use_min = minority & (rng.random(k) < 0.6)
    min_sur = rng.integers(len(MINORITY_SURNAMES), size=k)
    male = rng.random(k) < 0.55
    two = rng.random(k) >= 0.2
    c1, c2 = rng.random(k), rng.random(k)
    out = []
    for i in range(k):
        pool = MALE_CHARS if male[i] else FEMALE_CHARS
        given = pool[int(c1[i] * len(pool))] + (pool[int(c2[i] * len(pool))] if two[i] else "")
        surname = MINORITY_SURNAMES[min_sur[i]] if use_min[i] else _SURNAME_NAMES[sur[i]]
        out.append(surname + given)
    return out


def person_name(rng: np.random.Generator, *, minority: bool = False) -> str:
    """One full name: a surname by real frequency (or, for ``minority``, often a Manchu, Korean or
    Hezhe one) and a one- or two-character given name."""
    return _draw_names(rng, np.array([minority]))[0]


def person_names(rng: np.random.Generator, n: int, *, unique: bool = True,
                 minority: Iterable[bool] | None = None, taken: Iterable[str] = ()) -> list[str]:
    """``n`` full names; with ``unique`` no name repeats (nor any name in ``taken``).

    ``minority`` flags (one per name) give a share of Manchu/Korean/Hezhe surnames.
    """
    flags = np.array(list(minority) if minority is not None else [False] * n, dtype=bool)
    if len(flags) != n:
        raise ValueError(f"minority has {len(flags)} flags for {n} names")
    out: list[str | None] = [None] * n
    todo = np.arange(n)
    seen = set(taken)
    for _ in range(100):
        if not len(todo):
            break
        names = _draw_names(rng, flags[todo])
        retry = []
        for i, name in zip(todo, names):
            if unique and name in seen:
                retry.append(i)
                continue
            seen.add(name)
            out[i] = name
        todo = np.array(retry, dtype=int)
    else:  # pragma: no cover - 60 x 60 given names per surname make this practically unreachable
        raise RuntimeError("ran out of unique person names")
    if len(todo):  # pragma: no cover
        raise RuntimeError("ran out of unique person names")
    return out  # type: ignore[return-value]


def phone_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct, plausible (fake) mainland mobile numbers such as ``13845671234``."""
    prefixes = np.array(["130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150",
                         "151", "152", "155", "156", "157", "158", "159", "177", "180", "181", "182",
                         "183", "185", "186", "187", "188", "189", "199"])
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        k = n - len(out)
        pre = rng.choice(prefixes, size=k)
        tail = rng.integers(0, 100_000_000, size=k)
        for p, t in zip(pre, tail):
            s = f"{p}{t:08d}"
            if s not in seen:
                seen.add(s)
                out.append(s)
    return out


# --- places ------------------------------------------------------------------------------------
TOWNSHIP_STEMS: tuple[str, ...] = (
    "兴隆", "太平", "长发", "永安", "新城", "东兴", "大来", "平安", "沿江", "望江", "长青", "红旗",
    "胜利", "建国", "永发", "双河", "三道", "四马架", "五林", "六合", "七星", "八岔", "福利", "聚宝",
    "宏伟", "向阳", "前进", "东风", "金沙", "银川", "青山", "松江", "柳河", "杨树", "榆林", "桦林",
    "梨树", "驼腰", "鸭南", "浓桥", "寒葱", "海青", "乌苏", "别拉", "通江", "上街", "二龙山", "锦山",
    "头林", "大榆树", "长安", "砚山", "二九", "兴华", "庆丰", "富民", "丰收", "星火", "东河", "西岗",
    "南岗", "北山", "石头", "土龙", "孟家", "敖其", "莲江", "望山", "鹤立", "香兰", "竹帘", "振兴",
    "永丰", "宝山", "安邦", "德胜", "利民", "太和", "新华", "民主", "和平", "团结", "育林", "清河",
)
STREET_STEMS: tuple[str, ...] = (
    "西林", "建设", "长安", "保卫", "桥南", "佳东", "港湾", "南岗", "亚麻", "永安", "晓云", "佳南",
    "建国", "东风", "长青", "松江", "铁路", "站前", "滨江", "光复", "友谊", "中山", "胜利", "和平",
    "新华", "朝阳", "春光", "红旗", "文化", "民主", "解放", "人民", "北岗", "江北", "城西", "城东",
)
VILLAGE_STEMS: tuple[str, ...] = (
    "永丰", "新立", "太平", "东升", "靠山", "三合", "五星", "双河", "四方台", "红星", "光明", "长胜",
    "前锋", "后进", "富强", "集贤", "全胜", "保安", "共和", "民安", "同心", "永胜", "长兴", "兴旺",
    "复兴", "明德", "新发", "大兴", "立新", "双胜", "万宝", "丰产", "西河", "东河", "南岗", "北岗",
    "柳树", "杨林", "榆树", "梨园", "山前", "山后", "河口", "江湾", "岗上", "洼里", "南泡", "北泡",
    "三道岗", "二道河", "头道沟", "八里", "十八户", "三家子", "五间房", "七号", "九队", "腰屯", "新民",
    "德兴", "庆丰", "永乐", "福兴", "安乐", "平原", "青山", "林场", "宏图", "金星", "银河", "新河",
    "友好", "团山", "东胜", "西胜", "中和", "仁和", "永和", "协和", "新兴", "长发", "发展", "幸福",
)
COMMUNITY_STEMS: tuple[str, ...] = (
    "光明", "幸福", "和平", "长安", "建设", "友谊", "民主", "繁荣", "铁路", "站前", "滨江", "江北",
    "永红", "新华", "中山", "朝阳", "春光", "阳光", "锦绣", "华新", "安居", "康乐", "祥和", "丽园",
    "景苑", "学府", "杏林", "工农", "红岸", "东方", "新城", "向阳", "文林", "兴华", "丰源", "港湾",
    "北市", "南市", "西山", "东山", "松园", "柳园", "泰和", "金港", "龙湾", "欣苑", "惠民", "荣华",
)
VILLAGE_SUFFIXES = ("村", "村", "村", "屯")
_FAMILY_SUFFIXES = ("家屯", "家村", "家店", "家窝棚")


def _unique_draw(rng: np.random.Generator, n: int, make, taken: set[str]) -> list[str]:
    out: list[str] = []
    for _ in range(n):
        for attempt in range(2000):
            name = make(attempt)
            if name not in taken:
                break
        else:  # pragma: no cover - pools are large
            raise RuntimeError("ran out of unique place names")
        taken.add(name)
        out.append(name)
    return out


def _stem(name: str) -> str:
    for suffix in ("街道", "镇", "乡"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def township_names(rng: np.random.Generator, kinds: list[str],
                   taken: Iterable[str] = ()) -> list[str]:
    """A name per township; ``kinds`` holds ``"镇"``, ``"乡"`` or ``"街道"`` for each.

    Stems are unique among the result and ``taken`` (pass the names already used in the same
    county), so a county never has both 兴隆镇 and 兴隆乡.
    """
    used = {_stem(t) for t in taken}
    out: list[str] = []
    for kind in kinds:
        pool = STREET_STEMS if kind == "街道" else TOWNSHIP_STEMS
        free = [s for s in pool if s not in used]
        if free:
            stem = free[int(rng.integers(len(free)))]
        else:  # pool exhausted (very large counties): blend two stems
            for _ in range(10_000):
                stem = str(rng.choice(pool))[0] + str(rng.choice(pool))[-1]
                if stem not in used:
                    break
            else:  # pragma: no cover
                raise RuntimeError("ran out of unique township names")
        used.add(stem)
        out.append(stem + kind)
    return out


def village_names(rng: np.random.Generator, n: int, *, community: bool = False,
                  taken: Iterable[str] = ()) -> list[str]:
    """``n`` village names (``…村``/``…屯``, ``王家屯``) or community names (``…社区``)."""
    seen = set(taken)

    def make_village(attempt: int) -> str:
        r = rng.random()
        if r < 0.35:
            sur = _SURNAME_NAMES[int(rng.choice(len(_SURNAME_NAMES), p=_SURNAME_P))]
            return sur + str(rng.choice(_FAMILY_SUFFIXES))
        stem = str(rng.choice(VILLAGE_STEMS))
        if attempt > 100 or r > 0.9:
            stem = str(rng.choice(("东", "西", "南", "北", "前", "后", "新", "大", "小"))) + stem
        return stem + str(rng.choice(VILLAGE_SUFFIXES))

    def make_community(attempt: int) -> str:
        stem = str(rng.choice(COMMUNITY_STEMS))
        if attempt > 30:
            stem += str(rng.choice(("一", "二", "三", "东", "西", "南", "北", "新")))
        return stem + "社区"

    return _unique_draw(rng, n, make_community if community else make_village, seen)


__all__ = ["SURNAMES", "MINORITY_SURNAMES", "person_name", "person_names", "phone_numbers",
           "township_names", "village_names"]
