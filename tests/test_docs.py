"""The README documents every command and setting, and CI runs exactly the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

from bot.cli.main import build_parser
from bot.cli.parser import COMMAND_NAMES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_subcommand_is_in_the_readme_with_its_other_names():
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(subcommands) == set(COMMAND_NAMES) | {alias for aliases in COMMAND_NAMES.values() for alias in aliases}
    for name, aliases in COMMAND_NAMES.items():
        assert f"`lotsen {name}" in README, name
        for alias in aliases:
            assert f"`{alias}`" in README, f"{name}: the alias {alias} is not in the README"


def test_the_names_of_lotsen_0_6_still_work():
    """A region's scripts and unit files say `lotsen run`, `lotsen health`, `lotsen backup` …: they keep working."""
    parser = build_parser()
    for old, new in (("run", "kor"), ("health", "halsa"), ("backup", "sakerhetskopiera"), ("validate", "kontrollera"),
                     ("ask", "fraga"), ("stats", "statistik"), ("export", "exportera"), ("purge", "rensa")):
        extra = {"backup": ["/tmp/x"], "ask": ["hej"]}.get(old, [])
        assert parser.parse_args([old, *extra]).func is parser.parse_args([new, *extra]).func, old


def test_every_lotsen_setting_is_in_the_readme():
    config = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    for name in set(re.findall(r'"(LOTSEN_[A-Z_]+)"', config)):
        assert f"`{name}`" in README, name


def test_ci_runs_the_readme_test_command():
    assert "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
