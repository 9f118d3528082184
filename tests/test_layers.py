"""The package layers hold: no module imports a layer above its own, and no two packages of one layer import each other.

The layers, lowest first (each package's `__init__` docstring says the same in words):

    bot.errors, bot.config            base: every layer may use them
    bot.text                          words and identifiers
    bot.knowledge | bot.storage       the knowledge base | the database (never each other)
    bot.core                          the pure router: text in, Answer out
    bot.ops                           running Lotsen: health, snapshots, logs, reports
    bot.telegram                      the Telegram adapter
    bot.cli                           the command line (starts the bot with `lotsen kor`)

Imports are read from the source (`ast`), so an import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"

LAYERS: dict[str, int] = {
    "bot": 0, "bot.errors": 0, "bot.config": 0, "bot.__main__": 7,
    "bot.text": 1,
    "bot.knowledge": 2, "bot.storage": 2,
    "bot.core": 3,
    "bot.ops": 4,
    "bot.telegram": 5,
    "bot.cli": 6,
}
# Libraries that only some layers may use.
ONLY_IN = {"telegram": {"bot.telegram", "bot.cli"}, "aiosqlite": {"bot.storage"}}


def layer_of(module: str) -> str:
    """The package of the layer table a module belongs to (its longest listed prefix)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in LAYERS:
            return name
    raise AssertionError(f"{module} is in no layer of LAYERS")


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(BOT.rglob("*.py")):
        rel = path.relative_to(BOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def imports(path: Path, module: str) -> list[str]:
    """Every module `path` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.append(base)
            found += [f"{base}.{alias.name}" for alias in node.names if base in ("bot",) or base.count(".") == 1]
    return found


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_no_module_imports_a_layer_above_its_own(module: str, path: Path) -> None:
    mine = layer_of(module)
    for name in imports(path, module):
        root = name.split(".")[0]
        if root in ONLY_IN:
            assert mine in ONLY_IN[root], f"{module} imports {name}, which only {sorted(ONLY_IN[root])} may use"
        if root != "bot" or name == "bot":
            continue
        try:
            theirs = layer_of(name)
        except AssertionError:
            continue  # `from bot.x import name`: the name is checked as part of bot.x
        if theirs == mine:
            continue
        assert LAYERS[theirs] < LAYERS[mine] or LAYERS[mine] == 0 and theirs in ("bot.errors", "bot.config"), (
            f"{module} ({mine}, layer {LAYERS[mine]}) imports {name} ({theirs}, layer {LAYERS[theirs]}): "
            "a module may import only from layers below its own"
        )


def test_every_package_says_what_it_may_import() -> None:
    for package in sorted(p for p in BOT.iterdir() if (p / "__init__.py").exists()):
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "May import" in doc, f"bot/{package.name}/__init__.py: say what the package may import"


def test_the_layer_test_catches_an_upward_import(tmp_path: Path) -> None:
    """The check itself works: a core module importing the Telegram adapter would be reported."""
    fake = tmp_path / "router.py"
    fake.write_text("from bot.telegram.app import build_application\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="only from layers below"):
        test_no_module_imports_a_layer_above_its_own("bot.core.router", fake)


MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 400
MAX_FUNCTION_LINES = 60  # a screen


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_modules_classes_and_functions_stay_readable(module: str, path: Path) -> None:
    """No module over 600 lines, no class over 400, no function longer than a screen (60 lines)."""
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{module}: {len(text.splitlines())} lines; split it by concept"
    for node in ast.walk(ast.parse(text)):
        size = (node.end_lineno or node.lineno) - node.lineno + 1 if hasattr(node, "end_lineno") else 0
        if isinstance(node, ast.ClassDef):
            assert size <= MAX_CLASS_LINES, f"{module}.{node.name}: class of {size} lines"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert size <= MAX_FUNCTION_LINES, f"{module}.{node.name}: function of {size} lines"
