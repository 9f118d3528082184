"""The README documents every command and setting, and CI runs exactly the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

from bot.cli.main import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_subcommand_is_in_the_readme():
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    for name in subcommands:
        assert f"`lotsen {name}" in README, name


def test_every_lotsen_setting_is_in_the_readme():
    config = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    for name in set(re.findall(r'"(LOTSEN_[A-Z_]+)"', config)):
        assert f"`{name}`" in README, name


def test_ci_runs_the_readme_test_command():
    assert "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
