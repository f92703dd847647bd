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
NETS = pytest.mark.parametrize("path", [EXPORTS / "fsdd_scnn.net", EXPORTS / "fsdd_sdnn.net",
                                        EXPORTS / "fsdd_sdnn_w05.net"],
                               ids=("lif", "sdnn", "sdnn_w05"))


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


STREAMS = pytest.mark.parametrize("stream", [EXPORTS / "fsdd_stream.net",
                                             EXPORTS / "fsdd_stream_sdnn.net"],
                                   ids=("lif", "sdnn"))


@STREAMS
def test_streamed_reference_network_bit_exact_as_its_card(fsdd_dir: Path, stream: Path) -> None:
    from scnn.stream import load_stream_net

    _, card = load_stream_net(stream)  # the card checked against the network
    rep = evaluate_netx(stream, fsdd_dir, "fast", None, "test", progress=False)
    assert rep["n"] == card["accuracy"]["bit_exact"]["n"] == 300
    assert rep["accuracy"] == card["accuracy"]["bit_exact"]["accuracy"] >= 0.98


def _test_recording(fsdd_dir: Path, folder: Path) -> Path:
    from badinput import run_scnn

    wav = folder / "r.wav"
    res = run_scnn(["data", "recording", "--data", str(fsdd_dir), "--out", str(wav),
                    "--seconds", "30", "--gap", "0.5:1.0", "--seed", "0"], cwd=folder)
    assert res.returncode == 0, res.stderr[-2000:]
    return wav


@pytest.mark.lava
def test_lava_streams_the_sdnn_reference_as_fast(fsdd_dir: Path, tmp_path: Path) -> None:
    from scnn.data.audio import load_audio
    from scnn.stream import load_stream_net, run_recording

    net, card = load_stream_net(EXPORTS / "fsdd_stream_sdnn.net")
    wave = load_audio(_test_recording(fsdd_dir, tmp_path))[0][: 3 * 8000]  # 3 s, 94 frames
    assert np.array_equal(run_recording(net, card, wave, "lava"), run_recording(net, card, wave))


@STREAMS
def test_streamed_reference_detects_as_its_card_says(fsdd_dir: Path, tmp_path: Path,
                                                     stream: Path) -> None:
    from scnn.stream import stream_recording

    wav = _test_recording(fsdd_dir, tmp_path)
    out = stream_recording(stream, wav, wav.with_suffix(".csv"))
    want = load_card(stream)["stream"]["test_recording"]
    for key in ("precision", "recall", "correct", "utterances", "detections"):
        assert out["score"][key] == want[key], key
    assert out["profile"]["dynamic_uj_per_s"] == pytest.approx(want["dynamic_uj_per_s"])
