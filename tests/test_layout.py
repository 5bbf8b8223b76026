"""The floors of the code (README, "Layout") are folders, and the import-linter contract covers them all."""

from __future__ import annotations

import pkgutil
import re
import tomllib
from pathlib import Path

import geo_service

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> list[dict]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]["contracts"]


def test_geo_service_holds_only_its_three_floors():
    """geo_service/ is three floors, each a folder named for it: the CLI, the application services and
    the core. A module dropped beside them would sit on no floor and escape the layers contract."""
    found = {m.name for m in pkgutil.iter_modules(geo_service.__path__)}
    assert found == {"cli", "app", "core"}, f"modules outside the floors: {found - {'cli', 'app', 'core'}}"


def test_layers_name_the_packages_that_exist():
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    names = {n.strip() for layer in layers for n in layer.split("|")}
    assert names == {"geo_service.cli", "api", "geo_service.app", "maps", "solvers", "geo_service.core"}
    for n in names:
        assert (ROOT / n.replace(".", "/") / "__init__.py").exists(), n


def test_first_party_imports_sit_at_the_top_of_modules():
    """Imports of the project's own modules inside functions hide the real dependency graph from
    readers; each module says what it needs at its top. The one exception is the CLI (the
    composition root): its commands import the floors below inside themselves, so that
    ``geo-service --help`` and light commands start at once (import-linter still sees them)."""
    import ast

    first_party = ("geo_service", "solvers", "maps", "api")
    lazy_allowed = ROOT / "geo_service" / "cli"
    inside = []
    for pkg in first_party:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if lazy_allowed in path.parents:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for fn in ast.walk(tree):
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(fn):
                    if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").split(".")[0]
                                                             in first_party):
                        inside.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                    elif isinstance(node, ast.Import) and any(a.name.split(".")[0] in first_party
                                                              for a in node.names):
                        inside.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not inside, f"first-party imports inside functions: {inside}"


def test_no_dict_literal_repeats_a_key():
    """A repeated key in a dict literal silently drops the first value: in the glossary that gives a
    field the wrong name (two branches once both added ``distance_m``)."""
    import ast

    repeated = []
    for pkg in ("geo_service", "solvers", "maps", "api"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Dict):
                    keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                    repeated += [f"{path.relative_to(ROOT)}:{node.lineno} {k!r}"
                                 for k in sorted({k for k in keys if keys.count(k) > 1}, key=repr)]
    assert not repeated, f"dict literals with a repeated key: {repeated}"


def test_the_cli_starts_without_the_heavy_floors():
    """``geo-service --help`` loads no solver, map, API server or geopandas: the commands import
    them when they run."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from typer.testing import CliRunner\n"
            "from geo_service.cli import app\n"
            "r = CliRunner().invoke(app, ['--help'])\n"
            "assert r.exit_code == 0 and 'roster' in r.output, r.output\n"
            "r = CliRunner().invoke(app, ['optimise', '--help'])\n"
            "assert r.exit_code == 0, r.output\n"
            "heavy = ('geopandas', 'shapely', 'solvers', 'maps', 'api', 'uvicorn', 'matplotlib', 'ortools', 'dask')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"--help imported: {out.stdout.strip()}"


#: production floors whose functions and modules are held to the size limits
PRODUCTION = ("geo_service", "solvers", "maps", "api")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600
#: functions and modules allowed over the limits ("path name" / path): none; a new entry needs a reason
LONG_FUNCTIONS_ALLOWED: set[str] = set()
LONG_MODULES_ALLOWED: set[str] = set()


def long_functions(root: Path = ROOT, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """``{"path name": lines}`` of every function of the production floors longer than ``limit`` lines
    (from ``def`` to its last line, decorators excluded, docstring included)."""
    import ast

    found = {}
    for pkg in PRODUCTION:
        for path in sorted((root / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > limit:
                        found[f"{path.relative_to(root).as_posix()} {node.name}"] = lines
    return found


def long_modules(root: Path = ROOT, limit: int = MAX_MODULE_LINES) -> dict[str, int]:
    """``{path: lines}`` of every module of the production floors longer than ``limit`` lines."""
    found = {}
    for pkg in PRODUCTION:
        for path in sorted((root / pkg).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                found[path.relative_to(root).as_posix()] = lines
    return found


def test_no_function_over_80_lines():
    """A function longer than a screen or two does several jobs; each becomes a named helper. The
    allow-list names the ones still being split, and a name that has been split must leave it."""
    found = long_functions()
    assert not set(found) - LONG_FUNCTIONS_ALLOWED, \
        f"functions over {MAX_FUNCTION_LINES} lines: {dict(sorted((k, v) for k, v in found.items() if k not in LONG_FUNCTIONS_ALLOWED))}"


def test_no_module_over_600_lines():
    found = long_modules()
    assert not set(found) - LONG_MODULES_ALLOWED, \
        f"modules over {MAX_MODULE_LINES} lines: {dict(sorted((k, v) for k, v in found.items() if k not in LONG_MODULES_ALLOWED))}"


def test_the_size_check_finds_a_long_function(tmp_path):
    """The check itself can fail: a generated 81-line function is found, an 80-line one is not."""
    pkg = tmp_path / "solvers"
    pkg.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(79))
    (pkg / "big.py").write_text(f"def big():\n{body}\n    return 0\n", encoding="utf-8")
    (pkg / "ok.py").write_text(f"def ok():\n{body}\n", encoding="utf-8")
    assert long_functions(tmp_path) == {"solvers/big.py big": 81}
    assert long_modules(tmp_path, limit=80) == {"solvers/big.py": 81}


#: where the choice between a Chinese and an English word belongs (the glossary), and the API,
#: whose problem texts move into the glossary separately
WORDING_EXEMPT = (Path("geo_service") / "core" / "glossary",)


#: literals that name a language rather than say something (``"en" if ... else "zh"``, ``"?lang=en"``)
LANGUAGE_TAGS = {"zh", "en", "zh-CN", "", "?lang=en", "&lang=en"}


def _text_literal(node) -> bool:
    import ast

    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)
                                               and node.value not in LANGUAGE_TAGS)


def _tests_language(node) -> bool:
    """``zh``, ``self.zh``, ``lang == "zh"``, ``lang != "en"`` and the like."""
    import ast

    if isinstance(node, ast.Name):
        return node.id in ("zh", "is_zh")
    if isinstance(node, ast.Attribute):
        return node.attr in ("zh", "is_zh")
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
        return any(isinstance(s, ast.Constant) and s.value in ("zh", "en") for s in (node.left, *node.comparators))
    return False


def inline_wording(root: Path = ROOT) -> list[str]:
    """``path:line`` of every conditional expression in the production floors that picks between two
    string literals on the language (``"是" if zh else "yes"``), outside the glossary and the API."""
    import ast

    found = []
    for pkg in PRODUCTION:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root)
            if any(rel.is_relative_to(e) for e in WORDING_EXEMPT):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.IfExp) and _tests_language(node.test) and _text_literal(node.body)
                        and _text_literal(node.orelse)):
                    found.append(f"{rel.as_posix()}:{node.lineno}")
    return found


def test_every_text_comes_from_the_glossary():
    """A word chosen inline (``"已写出" if zh else "wrote"``) escapes the glossary: it has no code,
    no English counterpart checked beside it, and drifts from the same word elsewhere. Each text
    is a word (``word(key, lang)``) or a message (``message(code, lang, **params)``) instead."""
    found = inline_wording()
    assert not found, f"texts chosen inline on the language instead of through the glossary: {found}"


def test_the_wording_check_finds_an_inline_text(tmp_path):
    """The check itself can fail: inline choices in a floor are found, in the glossary they are not,
    and a choice between two non-literals or on another condition passes."""
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "m.py").write_text(
        'def f(lang, zh, n, a, b):\n'
        '    x = "北" if lang == "zh" else "N"\n'
        '    y = f"{n} 个" if zh else f"{n} sites"\n'
        '    z = "N" if lang != "zh" else "北"\n'
        '    ok1 = a if zh else b\n'
        '    ok2 = "a" if n else "b"\n'
        '    return x, y, z, ok1, ok2\n', encoding="utf-8")
    gloss = tmp_path / "geo_service" / "core" / "glossary"
    gloss.mkdir(parents=True)
    (gloss / "text.py").write_text('def w(lang):\n    return "是" if lang == "zh" else "yes"\n', encoding="utf-8")
    assert inline_wording(tmp_path) == ["maps/m.py:2", "maps/m.py:3", "maps/m.py:4"]


def inline_diagnostics(root: Path = ROOT) -> list[str]:
    """``path:line`` of every dict literal in the production floors whose ``message_zh`` is written
    inline (a string or f-string literal, alone or joined to more), and of every call of a
    diagnostic helper (``*diag*``) given a Chinese and an English literal, outside the glossary."""
    import ast

    found = []
    for pkg in PRODUCTION:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root)
            if any(rel.is_relative_to(e) for e in WORDING_EXEMPT):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Dict):
                    vals = {k.value: v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)}
                    if "message_zh" in vals and _inline_text(vals["message_zh"]):
                        found.append(f"{rel.as_posix()}:{node.lineno}")
                elif isinstance(node, ast.Call) and "diag" in ast.unparse(node.func) and _zh_en_pair(node.args):
                    found.append(f"{rel.as_posix()}:{node.lineno}")
    return found


def _inline_text(node) -> bool:
    """A text literal, or one joined to something (``f"{n} 个：" + "；".join(parts)``)."""
    import ast

    if isinstance(node, ast.BinOp):
        return _inline_text(node.left) or _inline_text(node.right)
    return _text_literal(node)


def _zh_en_pair(args) -> bool:
    """Two text literals side by side in a diagnostic's call, Chinese then not (``_diag(code, "缺人", "short")``)."""
    import ast

    def text(node) -> str:
        parts = node.values if isinstance(node, ast.JoinedStr) else [node]
        return "".join(p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str))

    lit = [_text_literal(a) for a in args]
    return any(lit[i] and lit[i + 1] and re.search("[\u4e00-\u9fff]", text(args[i]))
               and not re.search("[\u4e00-\u9fff]", text(args[i + 1])) and text(args[i + 1]).strip()
               for i in range(len(args) - 1))


def test_every_diagnostic_is_worded_by_the_glossary():
    """A diagnostic with its two texts written inline has no message code a reader can word again
    in another language; each is ``message(code, lang, **params)`` in both languages instead."""
    found = inline_diagnostics()
    assert not found, f"diagnostics worded inline instead of through the glossary: {found}"


def test_the_diagnostic_check_finds_an_inline_pair(tmp_path):
    """The check itself can fail: a dict with its Chinese text as a literal or f-string (alone or
    joined), or a diagnostic call given a Chinese and an English literal side by side, is found;
    texts from the glossary, or the same dict inside the glossary, pass."""
    (tmp_path / "solvers").mkdir()
    (tmp_path / "solvers" / "d.py").write_text(
        'def f(n, message):\n'
        '    a = {"code": "x", "message_zh": f"{n} 个", "message_en": f"{n} sites"}\n'
        '    b = {"message_zh": "缺", "message_en": "short"}\n'
        '    ok1 = {"message_zh": message("x", "zh"), "message_en": message("x", "en")}\n'
        '    c = _diag("x", f"{n} 个", f"{n} sites", "warning")\n'
        '    d = {"message": "far", "message_zh": f"{n} 名：" + "；".join(n)}\n'
        '    ok2 = {"message_zh": message("x", "zh") + "；".join(n), "severity": "error"}\n'
        '    ok3 = _diag("x", "x_code", {"n": n})\n'
        '    return a, b, c, d, ok1, ok2, ok3\n', encoding="utf-8")
    gloss = tmp_path / "geo_service" / "core" / "glossary"
    gloss.mkdir(parents=True)
    (gloss / "m.py").write_text('D = {"message_zh": "是", "message_en": "yes"}\n', encoding="utf-8")
    assert inline_diagnostics(tmp_path) == ["solvers/d.py:2", "solvers/d.py:3", "solvers/d.py:5", "solvers/d.py:6"]
