"""The project installs as one import package, `errata`, with every subpackage in it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

SOURCE_FOLDERS = ("flows", "generators", "schemas", "store", "testing")


def _declared_packages() -> set[str]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return set(pyproject["tool"]["setuptools"]["packages"])


def test_every_source_folder_is_a_declared_subpackage_of_errata() -> None:
    found = {"errata"}
    for folder in SOURCE_FOLDERS:
        for init in (REPO / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO).parts
            found.add(".".join(("errata", *parts)))
    assert found == _declared_packages()


@pytest.mark.slow
def test_the_wheel_holds_only_the_errata_import_package(tmp_path: Path) -> None:
    # Built from a copy: setuptools builds in the source tree and would leave build/ there.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("errata", *SOURCE_FOLDERS):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    build = subprocess.run(
        [*pip_wheel, "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("errata-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    dist_info = {t for t in top_level if t.endswith(".dist-info")}
    assert top_level - dist_info == {"errata"}
    assert "errata/flows/cli.py" in names and "errata/schemas/records.py" in names
    packages = {
        ".".join(Path(name).parent.parts) for name in names if name.endswith("/__init__.py")
    }
    assert packages == _declared_packages()
