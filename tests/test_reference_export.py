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
