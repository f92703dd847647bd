"""The bad-input contract, asserted once: status 2, one line naming what was wrong, no
traceback, nothing left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCNN = [sys.executable, "-c", "from scnn.cli import main; main()"]


def run_scnn(args: list[str], cwd: Path, env: dict | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess:
    """``scnn ARGS`` in ``cwd`` (an empty folder, so anything written shows)."""
    return subprocess.run(SCNN + args, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def assert_bad_input(res: subprocess.CompletedProcess, needles: str | tuple[str, ...],
                     folder: Path, keep: tuple[str, ...] = ()) -> None:
    """Status 2, one ``error:`` line holding every needle, and ``folder`` holds nothing
    but the names in ``keep`` (the inputs the test put there)."""
    line = res.stderr.strip()
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert len(line.splitlines()) == 1 and line.startswith("error: "), line
    assert "Traceback" not in line and not res.stdout.strip(), (line, res.stdout)
    for needle in (needles,) if isinstance(needles, str) else needles:
        assert needle in line, (needle, line)
    left = sorted(p.name for p in folder.iterdir() if p.name not in keep)
    assert not left, left
