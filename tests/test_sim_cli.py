"""``scnn sim``: outputs, layouts, backends and one-line errors (exit status 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scnn.sim import fast
from scnn.sim.network import LIF, Conv, Dense, Flatten, Input, Network
from scnn.sim.netx import netx_dense_weights, read_netx, write_netx

SCNN = [sys.executable, "-c", "from scnn.cli import main; main()"]


def scnn(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SCNN, *args], capture_output=True, text=True, timeout=600)


def _small_net() -> Network:
    rng = np.random.default_rng(1)
    conv = Conv((5, 4, 2), (3, 2, 3), rng.integers(-60, 60, (3, 3, 3, 2)),
                neuron=LIF(100, 300, 10, rng.integers(-5, 20, 3)))
    weight, bits, exp = netx_dense_weights(rng.integers(-50, 50, (4, 18)) * 2)
    dense = Dense((18,), (4,), weight, exp, bits, LIF(4095, 0, 20, np.arange(4)))
    return Network((Input((5, 4, 2), LIF(0, 512, 3)), conv, Flatten((3, 2, 3)), dense), (5, 4, 2))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    net = _small_net()
    rng = np.random.default_rng(2)
    paths = {"net": write_netx(net, tmp_path / "small.net"), "bias": tmp_path / "b.npy",
             "spikes": tmp_path / "s.npy"}
    np.save(paths["bias"], rng.integers(0, 90, (2, 5, 4, 2)))
    np.save(paths["spikes"], (rng.random((2, 5, 4, 2, 7)) < 0.3).astype(np.int8))
    return paths


def test_sim_writes_every_layer_in_lava_order(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out" / "res.npz"
    res = scnn("sim", str(files["net"]), "--bias", str(files["bias"]), "--input",
               str(files["spikes"]), "--steps", "7", "--reset-interval", "4",
               "--reset-offset", "1", "--threads", "2", "--out", str(out))
    assert res.returncode == 0, res.stderr
    got = np.load(out)
    want = fast.simulate(read_netx(files["net"]), 7, spikes=np.load(files["spikes"]),
                         bias=np.load(files["bias"]), reset_interval=4, reset_offset=1)
    assert sorted(got.files) == sorted(want) == sorted(
        f"layer{i}/{v}" for i in (0, 1, 3) for v in "suv")
    assert got["layer1/u"].shape == (2, 3, 2, 3, 7)  # (batch, W, H, C, time)
    for key in want:
        assert np.array_equal(got[key], want[key]), key


def test_sim_record_subset_and_silicon_v(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "v.npz"
    res = scnn("sim", str(files["net"]), "--bias", str(files["bias"]), "--steps", "5",
               "--record", "v", "--silicon-v", "--out", str(out))
    assert res.returncode == 0, res.stderr
    got = np.load(out)
    assert sorted(got.files) == ["layer0/v", "layer1/v", "layer3/v"]
    plain = fast.simulate(read_netx(files["net"]), 5, bias=np.load(files["bias"]))
    s, v = plain["layer0/s"], plain["layer0/v"]
    assert np.array_equal(got["layer0/v"], np.where(s, 128, v)) and s.any()


@pytest.mark.parametrize("args, needle", [
    (["--bias", "{bad_bias}"], "input bias of shape (3, 4, 2)"),
    (["--input", "{spikes}", "--steps", "9"], "x 9 steps"),
    (["--bias", "{missing}"], "missing.npy"),
    (["--backend", "gpu"], "unknown backend 'gpu'"),
    (["--record", "s,w"], "--record s,w"),
    (["--threads", "0"], "--threads 0"),
    (["--threads", "100000"], "--threads 100000: this machine gives the process"),
    (["--spike-exp", "8"], "--spike-exp 8: must be in [0, 7]"),
    (["--record", "s,sigma,phase"], "choose from s,u,v,sigma,act,residue,real,imag or all"),
    (["--input", "{graded}"], "input spikes must be 0 or 1"),
    (["--input-message-bits", "40"], "--input-message-bits 40: must be in [0, 32]"),
    (["--input-message-bits", "8"], "input_message_bits applies to external input into a "
                                    "synapse"),
])
def test_sim_bad_input_is_one_line_error(files: dict[str, Path], tmp_path: Path,
                                         args: list[str], needle: str) -> None:
    np.save(tmp_path / "bad_bias.npy", np.zeros((3, 4, 2)))
    np.save(tmp_path / "graded.npy", np.full((5, 4, 2, 7), 3))
    subs = {"bad_bias": tmp_path / "bad_bias.npy", "spikes": files["spikes"],
            "missing": tmp_path / "missing.npy", "graded": tmp_path / "graded.npy"}
    args = [a.format(**subs) for a in args]
    if "--steps" not in args:
        args += ["--steps", "7"]
    out = tmp_path / "never.npz"
    res = scnn("sim", str(files["net"]), *args, "--out", str(out))
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("error: ") and needle in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not out.exists()


def test_sim_pilotnet_sdnn_graded(lava_gts: Path, tmp_path: Path) -> None:
    """lava-dl's PilotNet SDNN through the CLI: graded payloads out, sigma-delta states."""
    d = lava_gts / "pilotnet_sdnn"
    frames = tmp_path / "frames.npy"
    np.save(frames, np.repeat(np.load(d / "input.npy"), 9, axis=-1))
    out = tmp_path / "sdnn.npz"
    res = scnn("sim", str(d / "network.net"), "--input", str(frames), "--steps", "9",
               "--out", str(out))
    assert res.returncode == 0, res.stderr
    got = np.load(out)
    assert np.array_equal(got["layer9/s"], np.load(d / "output.npy"))
    assert {"layer1/sigma", "layer1/act", "layer1/residue", "layer9/sigma"} <= set(got.files)
    assert "layer1/u" not in got.files and got["layer1/s"].dtype == np.int32


def test_sim_record_of_no_layer_is_an_error(lava_gts: Path, tmp_path: Path) -> None:
    frames = tmp_path / "frames.npy"
    np.save(frames, np.repeat(np.load(lava_gts / "pilotnet_sdnn" / "input.npy"), 2, axis=-1))
    out = tmp_path / "o.npz"
    res = scnn("sim", str(lava_gts / "pilotnet_sdnn" / "network.net"), "--input", str(frames),
               "--steps", "2", "--record", "u,v", "--out", str(out))
    assert res.returncode == 2 and not out.exists()
    assert "record u,v: no recorded layer has these variables (they have s,sigma,act,residue)" \
        in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_sim_bad_network_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.net"
    junk.write_bytes(b"not hdf5")
    res = scnn("sim", str(junk), "--steps", "3", "--out", str(tmp_path / "o.npz"))
    assert res.returncode == 2 and "junk.net" in res.stderr and "Traceback" not in res.stderr


def test_sim_unsupported_layer_names_index(lava_gts: Path, tmp_path: Path) -> None:
    import h5py

    path = tmp_path / "avg.net"
    path.write_bytes((lava_gts / "tinynet" / "tiny.net").read_bytes())
    with h5py.File(path, "r+") as f:
        del f["layer/1/type"]
        f["layer/1"].create_dataset("type", data=np.array([b"average"], dtype="S10"))
    res = scnn("sim", str(path), "--steps", "3", "--out", str(tmp_path / "o.npz"))
    assert res.returncode == 2 and "layer 1" in res.stderr and "'average'" in res.stderr


@pytest.mark.lava
def test_sim_lava_backend_matches_fast(files: dict[str, Path], tmp_path: Path) -> None:
    outs = {}
    for backend in ("fast", "lava"):
        outs[backend] = tmp_path / f"{backend}.npz"
        res = scnn("sim", str(files["net"]), "--bias", str(files["bias"]), "--input",
                   str(files["spikes"]), "--steps", "7", "--backend", backend,
                   "--out", str(outs[backend]))
        assert res.returncode == 0, res.stderr
        assert res.stderr == "" and res.stdout.count("\n") == 1  # no lava-dl import notices
    fast_out, lava_out = np.load(outs["fast"]), np.load(outs["lava"])
    assert sorted(fast_out.files) == sorted(lava_out.files)
    for key in fast_out.files:
        assert np.array_equal(fast_out[key], lava_out[key]), key
