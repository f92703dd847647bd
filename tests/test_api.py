"""The Python API (``import scnn``): simulate on each backend, compare and assert_same, profile;
the README's Python block runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scnn
from scnn.hw.errors import ScnnError
from scnn.sim.network import LIF, Dense, Input, Network
from scnn.sim.netx import netx_dense_weights

REPO = Path(__file__).resolve().parents[1]


def _net() -> Network:
    w, bits, exp = netx_dense_weights(np.random.default_rng(1).integers(-90, 90, (4, 6)))
    return Network((Input((6,), LIF(0, 100, 4)), Dense((6,), (4,), w, exp, bits,
                                                       LIF(300, 200, 2))), (6,))


def test_simulate_backends_agree_and_compare_finds_nothing() -> None:
    bias = np.random.default_rng(2).integers(0, 80, (6,))
    fast = scnn.simulate(_net(), 10, bias=bias)
    ref = scnn.simulate(_net(), 10, bias=bias, backend="reference", threads=2)
    assert scnn.compare(fast, ref) is None
    scnn.assert_same(fast, ref)
    with pytest.raises(ScnnError, match="backend 'gpu'"):
        scnn.simulate(_net(), 10, bias=bias, backend="gpu")


def test_compare_reports_the_earliest_step_then_the_lowest_layer() -> None:
    bias = np.random.default_rng(3).integers(0, 80, (6,))
    fast = scnn.simulate(_net(), 10, bias=bias)
    bad = {k: v.copy() for k, v in fast.items()}
    bad["layer1/v"][2, 7] += 1        # later step, higher layer
    bad["layer0/u"][5, 7] -= 3        # same step, lower layer: this one is first
    bad["layer1/u"][3, 9] += 1
    d = scnn.compare(fast, bad)
    assert (d.key, d.step, d.index) == ("layer0/u", 7, (5,))
    assert (d.expected, d.got) == (int(fast["layer0/u"][5, 7]), int(fast["layer0/u"][5, 7]) - 3)
    with pytest.raises(AssertionError, match=r"layer0/u: first difference at step 7"):
        scnn.assert_same(fast, bad)
    with pytest.raises(ScnnError, match="only in the first"):
        scnn.compare(fast, {k: v for k, v in fast.items() if k != "layer1/s"})


def test_profile_matches_the_cli_profile() -> None:
    bias = np.random.default_rng(4).integers(0, 80, (6,))
    rec = scnn.profile(_net(), 10, bias=bias, chips=("loihi1", "loihi2"))
    assert [r["chip"] for r in rec] == ["loihi1", "loihi2"] and rec[0]["spikes"] > 0


def test_import_scnn_is_light() -> None:
    code = ("import sys, scnn; "
            "print(sorted(m for m in ('torch', 'numba', 'lava') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.stdout.strip() == "[]", res.stderr


@pytest.mark.lava
def test_readme_python_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert blocks
    script = tmp_path / "readme.py"
    script.write_text("\n\n".join(blocks))
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=600, cwd=REPO, env=os.environ.copy())
    assert res.returncode == 0, res.stderr
    assert re.search(r"\d+ cores, [\d.]+ uJ dynamic", res.stdout)


def test_api_names_are_not_shadowed_by_submodules() -> None:
    """Importing every scnn submodule leaves the API functions callable: no module of
    the package is named like one of them (``scnn.profile`` was once both)."""
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(scnn.__path__):  # the package's own children
        assert mod.name not in scnn.API, f"scnn.{mod.name} shadows the API's {mod.name}"
    importlib.import_module("scnn.profiling")
    assert callable(scnn.profile) and scnn.profile.__module__ == "scnn.api"


def test_evaluate_is_scnn_eval(fsdd_dir: Path, tmp_path: Path) -> None:
    """scnn.evaluate gives the figures of `scnn eval NET.net --json`, clean, on a held-out
    speaker and in noise; bad values are the CLI's one-line errors."""
    import json

    net = REPO / "netx_exports" / "fsdd_scnn.net"
    for kwargs, flags in (({}, []), ({"test_speakers": ["theo"]}, ["--test-speaker", "theo"]),
                          ({"noise": "babble", "snr": 5}, ["--noise", "babble", "--snr", "5"])):
        got = scnn.evaluate(net, fsdd_dir, limit=12, **kwargs)
        out = tmp_path / "e.json"
        subprocess.run([sys.executable, "-c", "from scnn.cli import main; main()", "eval",
                        str(net), "--data", str(fsdd_dir), "--limit", "12", "--json", str(out),
                        *flags], check=True, capture_output=True)
        want = json.loads(out.read_text())
        for key in ("accuracy", "n", "clips", "predictions", "split_spec", "noise"):
            assert got.get(key) == want.get(key), (kwargs, key)
    with pytest.raises(ScnnError, match="--noise and --snr go together"):
        scnn.evaluate(net, fsdd_dir, noise="pink")


def test_stream_recording_is_scnn_stream(fsdd_dir: Path, tmp_path: Path) -> None:
    from scnn.stream import stream_recording

    net = REPO / "netx_exports" / "fsdd_stream.net"
    rec = tmp_path / "r.wav"
    subprocess.run([sys.executable, "-c", "from scnn.cli import main; main()", "data",
                    "recording", "--data", str(fsdd_dir), "--out", str(rec), "--seconds", "6"],
                   check=True, capture_output=True)
    got = scnn.stream_recording(net, rec, rec.with_suffix(".csv"), profile=False)
    want = stream_recording(net, rec, rec.with_suffix(".csv"), profile=False)
    assert got == want and got["score"]["utterances"] >= 2
