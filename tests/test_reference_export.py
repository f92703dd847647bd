"""Hardware-accuracy regression: the committed FSDD networks (LIF and SDNN) still compute
what their cards say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scnn.export import load_card
from scnn.features import FeatureConfig
from scnn.hweval import evaluate_netx, predict_netx, spread
from scnn.sim.netx import read_netx
from scnn.train import load_features

EXPORTS = Path(__file__).resolve().parents[1] / "netx_exports"
NETS = pytest.mark.parametrize("path", [EXPORTS / "fsdd_scnn.net", EXPORTS / "fsdd_sdnn.net"],
                               ids=("lif", "sdnn"))


@NETS
def test_reference_network_loads_and_card_is_consistent(path: Path) -> None:
    card = load_card(path)
    net = read_netx(path)
    assert card["readout"]["layer"] == len(net.layers) - 1
    assert card["run_steps"] == card["steps"] + card["synapse_layers"]
    assert net.layers[0].shape == (32, 32, 2)  # (W = frames, H = MFCCs, C = ON/OFF)
    assert card["accuracy"]["bit_exact"]["accuracy"] >= 0.99


@NETS
def test_bit_exact_accuracy_on_fsdd_equals_the_card(fsdd_dir: Path, path: Path) -> None:
    rep = evaluate_netx(path, fsdd_dir, "fast", None, "test", progress=False)
    card = load_card(path)
    assert rep["n"] == card["accuracy"]["bit_exact"]["n"] == 300
    assert rep["accuracy"] == card["accuracy"]["bit_exact"]["accuracy"]


@pytest.mark.lava
@NETS
def test_lava_readout_equals_fast_on_reference_clips(fsdd_dir: Path, path: Path) -> None:
    card = load_card(path)
    net = read_netx(path)
    raw, _ = load_features(fsdd_dir, FeatureConfig.from_dict(card["features"]), ("test",),
                           progress=False)
    x = raw["test"][0][spread(300, 3)]
    pred_fast, v_fast = predict_netx(net, card, x, "fast")
    pred_lava, v_lava = predict_netx(net, card, x, "lava")
    assert np.array_equal(v_fast, v_lava)  # readout voltages (LIF) or sigmas, bit for bit
    assert np.array_equal(pred_fast, pred_lava)


STREAM = EXPORTS / "fsdd_stream.net"


def test_streamed_reference_network_bit_exact_as_its_card(fsdd_dir: Path) -> None:
    from scnn.stream import load_stream_net

    _, card = load_stream_net(STREAM)  # the card checked against the network
    rep = evaluate_netx(STREAM, fsdd_dir, "fast", None, "test", progress=False)
    assert rep["n"] == card["accuracy"]["bit_exact"]["n"] == 300
    assert rep["accuracy"] == card["accuracy"]["bit_exact"]["accuracy"] >= 0.98


def test_streamed_reference_detects_as_its_card_says(fsdd_dir: Path, tmp_path: Path) -> None:
    from badinput import run_scnn

    from scnn.export import load_card
    from scnn.stream import stream_recording

    wav = tmp_path / "r.wav"
    res = run_scnn(["data", "recording", "--data", str(fsdd_dir), "--out", str(wav),
                    "--seconds", "30", "--gap", "0.5:1.0", "--seed", "0"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    out = stream_recording(STREAM, wav, wav.with_suffix(".csv"))
    want = load_card(STREAM)["stream"]["test_recording"]
    for key in ("precision", "recall", "correct", "utterances", "detections"):
        assert out["score"][key] == want[key], key
    assert out["profile"]["dynamic_uj_per_s"] == pytest.approx(want["dynamic_uj_per_s"])
