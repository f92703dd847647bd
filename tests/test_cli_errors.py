"""The CLI's one error boundary: usage errors, Ctrl-C and SIGTERM as one line and a status,
no traceback, no output left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SCNN = [sys.executable, "-c", "from scnn.cli import main; main()"]


@pytest.mark.parametrize("args, needle", [
    (["sim", "x.net", "--steps", "abc", "--out", "o.npz"], "Invalid value for '--steps'"),
    (["sim", "x.net", "--frobnicate"], "No such option: --frobnicate"),
    (["sim", "--steps", "3", "--out", "o.npz"], "Missing argument"),
    (["sim", "x.net", "--steps", "3"], "Missing option '--out'"),
    (["profile", "x.net", "--chip"], "requires an argument"),
    (["nosuch"], "No such command 'nosuch'"),
])
def test_usage_errors_are_one_line_status_2(tmp_path: Path, args: list[str], needle: str) -> None:
    res = subprocess.run(SCNN + args, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("error: ") and needle in line, line
    assert "usage: scnn" in line and "--help" in line and "Traceback" not in line
    assert not list(tmp_path.iterdir())


def test_no_arguments_prints_the_help() -> None:
    res = subprocess.run(SCNN, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "Usage: scnn" in res.stdout and "sim" in res.stdout


def _interrupt(args: list[str], sig: int, after: float, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(SCNN + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd)
    time.sleep(after)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@pytest.mark.parametrize(("sig", "after", "status", "word"), [
    (signal.SIGINT, 0.2, 130, "interrupted"),   # during the imports
    (signal.SIGINT, 4.0, 130, "interrupted"),   # while simulating
    (signal.SIGTERM, 4.0, 143, "terminated"),
])
def test_interruption_is_an_honest_failure(lava_gts: Path, tmp_path: Path, sig: int,
                                           after: float, status: int, word: str) -> None:
    """A long `scnn sim` (PilotNet LIF, 16 samples x 3,000 steps: ~10 s, 3 GB) stopped by a
    signal: the status says so, one line, no output and no temporary file beside it."""
    net = lava_gts / "pilotnet_lif" / "network.net"
    bias = tmp_path / "in" / "bias.npy"
    bias.parent.mkdir()
    np.save(bias, np.repeat(np.load(lava_gts / "pilotnet_lif" / "image.npy")[None], 16, 0))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    res = _interrupt(["sim", str(net), "--bias", str(bias), "--steps", "3000", "--record", "s",
                      "--out", str(out_dir / "res.npz")], sig, after, tmp_path)
    assert res.returncode == status, res.stderr
    assert res.stderr.strip() == word, res.stderr
    assert not list(out_dir.iterdir())


def test_help_imports_no_heavy_library() -> None:
    """Building the CLI (what `scnn --help` does) imports neither torch, numba nor Lava."""
    code = ("import sys; from scnn.cli import get_app; get_app(); "
            "print(sorted(m for m in ('torch', 'numba', 'lava', 'ray', 'matplotlib') "
            "if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr


def test_cli_defaults_are_the_library_defaults() -> None:
    from scnn import defaults
    from scnn.convert import METHODS
    from scnn.models.scnn import FAMILY
    from scnn.qat import QAT_EPOCHS, QAT_LR
    from scnn.runner import STAGES
    from scnn.train import TrainConfig

    cfg = TrainConfig()
    assert (cfg.epochs, cfg.batch_size, cfg.lr) == (defaults.TRAIN_EPOCHS,
                                                    defaults.TRAIN_BATCH_SIZE, defaults.TRAIN_LR)
    assert (QAT_EPOCHS, QAT_LR, METHODS) == (defaults.QAT_EPOCHS, defaults.QAT_LR,
                                             defaults.CONVERT_METHODS)
    assert tuple(sorted(FAMILY)) == defaults.MODEL_FAMILY
    assert tuple(name for name, _ in STAGES) == defaults.STAGE_NAMES


@pytest.mark.parametrize("out, needle", [
    ("{tmp}", "is a folder; give a file name"),
    ("{tmp}/afile/x.npz", "afile is a file, not a folder"),
    ("/proc/x.npz", "/proc does not take new files"),
    ("/dev/null", "not a regular file"),
])
@pytest.mark.parametrize("command", ["sim", "profile"])
def test_output_paths_are_checked(lava_gts: Path, tmp_path: Path, out: str, needle: str,
                                  command: str) -> None:
    """An --out/--json that is a folder, under a file or unwritable: one line, status 2,
    nothing written (checked before the simulation starts)."""
    (tmp_path / "afile").write_text("x")
    d = lava_gts / "pilotnet_lif"
    flag = "--out" if command == "sim" else "--json"
    res = subprocess.run(SCNN + [command, str(d / "network.net"), "--bias", str(d / "image.npy"),
                                 "--steps", "2", flag, out.format(tmp=tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("error: ") and needle in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


NET = Path(__file__).resolve().parents[1] / "netx_exports" / "fsdd_scnn.net"


@pytest.mark.parametrize("args, needles", [
    (["eval", str(NET), "--workers", "0"], ("'--workers'", "greater than or equal to 1")),
    (["profile", str(NET), "--json", "p.json", "--workers", "-1"], ("'--workers'",)),
    (["eval", str(NET), "--limit", "-5"], ("'--limit'", "greater than or equal to 1")),
    (["profile", str(NET), "--json", "p.json", "--limit", "0"], ("'--limit'",)),
    (["eval", str(NET), "--json", "f.txt/e.json"], ("f.txt", "is a file, not a folder")),
    (["eval", str(NET), "--json", "."], ("is a folder; give a file name",)),
    (["run", "--out", "r", "--lava-clips", "-1"], ("'--lava-clips'", "greater than or")),
])
def test_counts_and_report_paths_checked_before_the_work(tmp_path: Path, args: list[str],
                                                         needles: tuple[str, ...]) -> None:
    from badinput import assert_bad_input, run_scnn

    (tmp_path / "f.txt").write_text("a file where a folder should be")
    res = run_scnn(args, tmp_path, timeout=120)
    assert_bad_input(res, needles, tmp_path, keep=("f.txt",))
