"""The installed package: one `scnn` namespace over the design card's folders, nothing else."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomli

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"scnn": "pipeline", "scnn.sim": "sim", "scnn.hw": "hw", "scnn.models": "models"}


def _config() -> dict:
    return tomli.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_package_dirs_are_the_design_card_folders() -> None:
    assert _config()["package-dir"] == FOLDERS


def test_every_source_package_is_installed() -> None:
    """A new subpackage (a folder with __init__.py) must be listed, or it is not installed."""
    found = set()
    for name, folder in FOLDERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((name, *rel)))
    assert set(_config()["packages"]) == found


def test_scnn_is_the_only_top_level_name_in_the_wheel(tmp_path: Path) -> None:
    """`pip install .` puts `scnn` (and its dist-info) into site-packages, nothing else."""
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "No matching distribution" in done.stderr:
        pytest.skip("the package registry is unreachable (setuptools for the build)")
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"scnn"}
    for module in ("scnn/cli.py", "scnn/sim/fast.py", "scnn/hw/chips.py", "scnn/models/scnn.py",
                   "scnn/nir/importer.py", "scnn/data/fsdd-v1.0.10.sha256"):
        assert module in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "scnn = scnn.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
