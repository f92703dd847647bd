"""Atomic outputs: complete file with normal permissions, or nothing at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scnn.sim.atomic import atomic_output


def test_success_replaces_with_umask_permissions(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.json"
    with atomic_output(target) as tmp:
        tmp.write_text("{}")
        assert not target.exists()
    assert target.read_text() == "{}"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]


def test_failure_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.net"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.net"]
