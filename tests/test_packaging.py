"""A wheel built from the repository works on its own: installed outside the checkout it answers and validates.

The fresh venv sees the test venv's site-packages through a .pth file (so the
runtime dependencies need no download) and gets the wheel with --no-deps. The
editable install of the checkout is not visible there: .pth files inside a
directory named by another .pth file are not processed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOTSEN_", "PYTHON"))}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-v", "-w", str(out)], cwd=out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    build_log = result.stdout + result.stderr
    assert "project.license" not in build_log and "SetuptoolsDeprecationWarning" not in build_log
    (found,) = out.glob("lotsen-*.whl")
    return found


def test_the_wheel_carries_the_region_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "bot/_data/contacts.yaml" in names
    shipped = {f"bot/_data/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / "knowledge").rglob("*.yaml")}
    assert shipped and shipped <= names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in metadata


def test_an_installed_wheel_answers_and_validates_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path).returncode == 0
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path).stdout.strip())
    (site / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    install = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                    str(wheel)], cwd=tmp_path)
    assert install.returncode == 0, install.stderr

    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    lotsen = str(venv / "bin" / "lotsen")
    where = _run([str(python), "-c", "import bot.config as c; print(c.__file__); print(c.data_root())"], cwd=cwd)
    module, data = where.stdout.split()
    assert module.startswith(str(venv)) and data.startswith(str(venv)), where.stdout

    validate = _run([lotsen, "validate"], cwd=cwd)
    assert validate.returncode == 0, validate.stderr
    assert validate.stdout.startswith("Kunskapsbasen är giltig")
    ask = _run([lotsen, "ask", "Eleven har hög frånvaro och vill inte komma till skolan", "--kommun", "flen"],
               cwd=cwd)
    assert ask.returncode == 0, ask.stderr
    assert "Flen" in ask.stdout

    init = _run([lotsen, "init", "region"], cwd=cwd)
    assert init.returncode == 0, init.stderr
    assert (cwd / "region" / "knowledge" / "topics").is_dir() and (cwd / "region" / "contacts.yaml").is_file()
