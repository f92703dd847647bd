"""docs/ matches the code: the CLI reference is the commands' own text, every Python
block runs, and every `scnn` command line in the docs names real commands and options."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from scnn.clidoc import cli_reference

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md"))


def test_cli_reference_is_current() -> None:
    assert (REPO / "docs" / "cli.md").read_text() == cli_reference(), \
        "docs/cli.md is stale: regenerate it with `make docs`"


def _options(reference: str) -> dict[str, set[str]]:
    """{'scnn eval': {'--data', ...}} from the reference's headings and option tables."""
    out: dict[str, set[str]] = {}
    for block in reference.split("\n## ")[1:]:
        name = block.split("`")[1]
        out[name] = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*|-[A-Za-z])\b", block))
    return out


def test_every_scnn_line_in_the_docs_names_real_options() -> None:
    known = _options(cli_reference())
    seen = 0
    for doc in [*DOCS, REPO / "README.md"]:
        for block in re.findall(r"```bash\n(.*?)```", doc.read_text(), re.S):
            for line in block.splitlines():
                words = shlex.split(line.split("#")[0])
                if not words or not words[0].endswith("scnn"):
                    continue
                cmd = " ".join(["scnn", *words[1:3]])
                name = next((c for c in sorted(known, key=len, reverse=True)
                             if cmd.startswith(c)), None)
                assert name is not None, f"{doc.name}: {line!r} names no scnn command"
                for word in words:
                    flag = word.split("=")[0]
                    if flag.startswith("-"):
                        assert flag in known[name], f"{doc.name}: {line!r}: {name} has no {flag}"
                seen += 1
    assert seen >= 10


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_python_blocks_run(doc: Path, fsdd_dir: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)
    for code in blocks:
        env = {**os.environ, "SCNN_DATA": str(fsdd_dir), "MPLBACKEND": "Agg"}
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=600, cwd=REPO, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
