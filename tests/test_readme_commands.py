"""The README's command list runs as written, top to bottom, in an empty folder.

Every line of the ``Command line`` block (continuations joined, comments dropped) runs through the
real CLI in a fresh folder with a fresh store; lines with a ``<placeholder>`` and ``serve`` (it runs
until stopped) are the only ones left out, and there must be few of them. Each line must exit 0
and the files it names must exist afterwards.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geo_service.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def command_lines() -> list[str]:
    """The command list of the README: one string per command, continuations joined."""
    text = README.read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line:
            out.append(line)
    return out


def test_command_list_is_parsed():
    lines = command_lines()
    assert len(lines) >= 15 and all(x.startswith("geo-service ") for x in lines)
    skipped = [x for x in lines if "<" in x or " serve" in x]
    assert len(skipped) <= 3, skipped  # placeholders are marked and few


@pytest.mark.slow
def test_readme_commands_run_in_an_empty_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GEO_SERVICE_DATA_DIR", raising=False)
    monkeypatch.delenv("GEO_SERVICE_DATABASE_URL", raising=False)
    runner = CliRunner(env={"COLUMNS": "200"})
    ran = 0
    for line in command_lines():
        if "<" in line or " serve" in line:
            continue
        args = shlex.split(line)[1:]
        r = runner.invoke(app, args)
        assert r.exit_code == 0, f"{line}\n{r.output[-3000:]}"
        for i, a in enumerate(args):  # what it was told to write is there
            if a == "--out":
                assert Path(args[i + 1]).exists(), line
        ran += 1
    assert ran >= 14
    assert (tmp_path / "var").is_dir() and (tmp_path / "calendars").is_dir()
