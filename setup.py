"""Build step: the region's data ships inside the wheel.

`knowledge/` and `contacts.yaml` stay at the repository root (where the
process leaders edit them); when a wheel is built, a copy goes into the
package as `bot/_data/`, so an installed Lotsen works on its own
(`bot.config.data_root`). An editable install reads the checkout instead.
Everything else about the build is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithRegionData(build_py):
    """build_py that also copies knowledge/ and contacts.yaml into bot/_data/ of the build."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "bot" / "_data"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(ROOT / "knowledge", target / "knowledge", ignore=shutil.ignore_patterns("*~", ".*"))
        shutil.copy2(ROOT / "contacts.yaml", target / "contacts.yaml")


setup(cmdclass={"build_py": BuildWithRegionData})
