"""CNN-to-SNN conversion: normalisation factors by hand, convergence with T, the CLI path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli_data import scnn

from scnn.convert import (
    activation_scale,
    convert,
    data_factors,
    max_positive_fan_in,
    model_factors,
    normalisation,
)
from scnn.hw.errors import ScnnError
from scnn.models.scnn import SCNN, SCNNConfig, get_config


def _hand_cnn() -> SCNN:
    """Input (1, 1, 2), polarity 1, gain 2, offset 0 -> dense 2 -> readout 2."""
    cfg = SCNNConfig(name="cnn_hand", input_shape=(1, 1, 2), convs=(), dense=(2,), n_classes=2,
                     neuron="relu", polarity=1)
    m = SCNN(cfg)
    with torch.no_grad():
        m.in_gain.fill_(2.0)
        m.in_offset.zero_()
        m.synapses[0].weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
        m.readout.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 1.0]]))
    return m


X_HAND = torch.tensor([[[[1.0, 0.5]]], [[[-1.0, 3.0]]]])  # (2, 1, 1, 2)


def test_factors_of_a_hand_computed_network() -> None:
    cnn = _hand_cnn()
    # layer 0 = relu(2x): [2, 1], [0, 6]; layer 1 = relu(W l0): [1, 3], [0, 12]
    assert data_factors(cnn, X_HAND) == [6.0, 12.0]
    # percentile of the non-zero activations: {1, 2, 6} -> 2; {1, 3, 12} -> 3
    assert data_factors(cnn, X_HAND, percentile=50) == [2.0, 3.0]
    # model-based: lambda1 = lambda0 * max(1 + 0, 0.5 + 2) = 6 * 2.5
    assert model_factors(cnn, 6.0) == [6.0, 15.0]
    assert normalisation(cnn, "model", X_HAND) == [6.0, 15.0]
    snn = convert(cnn, [6.0, 12.0], steps=5, max_rate=0.5)
    assert snn.cfg.neuron == "lif" and snn.cfg.steps == 5 and snn.cfg.threshold == 1.0
    assert snn.cfg.name == "hand_converted"
    assert torch.allclose(snn.in_gain, torch.full_like(snn.in_gain, 2 * 0.5 / 6))
    assert torch.allclose(snn.synapses[0].weight, cnn.synapses[0].weight * 6 / 12)
    assert torch.allclose(snn.readout.weight, cnn.readout.weight * 12 / 0.5)
    assert float(snn.neurons[1].beta) > 0.9999 - 1e-6


def test_fan_in_of_a_convolution_and_percentile_rules() -> None:
    w = torch.zeros(2, 1, 2, 2)
    w[0] = torch.tensor([[1.0, -2.0], [0.5, 0.25]])  # positive sum 1.75
    w[1] = torch.tensor([[3.0, -1.0], [-1.0, 0.0]])  # positive sum 3.0
    assert max_positive_fan_in(w) == 3.0
    a = np.array([0, 0, 0, 1, 2, 3, 4], dtype=np.float32)
    assert activation_scale(a, 100) == 4.0
    assert activation_scale(a, 50) == 2.5  # median of the non-zero ones
    assert activation_scale(np.zeros(3, np.float32), 99.9) == 0.0


def test_conversion_errors() -> None:
    cnn = _hand_cnn()
    with pytest.raises(ScnnError, match="dead layer"):
        convert(cnn, [6.0, 0.0], steps=4)
    with pytest.raises(ScnnError, match="already an SNN"):
        convert(SCNN(get_config("model_b", input_shape=(1, 8, 8))), [1.0, 1.0, 1.0], 4)
    with pytest.raises(ScnnError, match="unknown normalisation"):
        normalisation(cnn, "layer", X_HAND)
    with pytest.raises(ScnnError, match="max rate"):
        convert(cnn, [6.0, 12.0], steps=4, max_rate=1.5)


def _toy_errors(dense: tuple[int, ...], steps: tuple[int, ...]) -> tuple[list, list]:
    """Relative logit error and argmax agreement of the converted toy vs its CNN, per T."""
    torch.manual_seed(0)
    cnn = SCNN(SCNNConfig(name="cnn_toy", input_shape=(1, 4, 4), convs=(), dense=dense,
                          n_classes=4, neuron="relu"))
    x = torch.randn(64, 1, 4, 4)
    with torch.no_grad():
        ref = cnn(x)
    lams = data_factors(cnn, x)
    errors, agree = [], []
    for t in steps:
        with torch.no_grad():
            out = convert(cnn, lams, t, max_rate=0.05)(x)
        errors.append(float((out - ref).norm() / ref.norm()))
        agree.append(float((out.argmax(1) == ref.argmax(1)).double().mean()))
    return errors, agree


def test_converted_snn_approaches_the_cnn_as_t_grows() -> None:
    steps = (32, 128, 512, 1024)
    # input layer + readout: only the rate quantisation of constant drives remains
    errors, agree = _toy_errors((), steps)
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False)), errors
    assert errors[-1] < 0.1 and agree[-1] >= 0.9, (errors, agree)
    # a hidden IF layer adds the reset-to-zero loss (spike overshoot is discarded)
    errors, agree = _toy_errors((16,), steps)
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False)), errors
    assert errors[0] > 0.9 and errors[-1] < 0.3 and agree[-1] >= 0.95, (errors, agree)


def test_cnn_twin_records_relu_activations() -> None:
    cnn = _hand_cnn()
    logits, acts = cnn(X_HAND, record=True)
    assert torch.equal(acts[0], torch.tensor([[[[2.0, 1.0]]], [[[0.0, 6.0]]]]))
    assert torch.equal(acts[1], torch.tensor([[1.0, 3.0], [0.0, 12.0]]))
    assert torch.equal(logits, torch.tensor([[1.0, 2.0], [0.0, 12.0]]))


def test_cli_convert_then_export_and_bit_exact_eval(mini_fsdd: Path, tmp_path: Path) -> None:
    cnn_run, snn_run = tmp_path / "cnn", tmp_path / "snn"
    res = scnn("train", "--data", str(mini_fsdd), "--model", "cnn_model_b", "--epochs", "3",
               "--out", str(cnn_run))
    assert res.returncode == 0, res.stderr
    res = scnn("convert", str(cnn_run), "--data", str(mini_fsdd), "--method", "data",
               "--percentile", "99.9", "-T", "6", "--retrain-epochs", "1", "--out", str(snn_run))
    assert res.returncode == 0, res.stderr
    assert "converted" in res.stdout and "retraining" in res.stdout
    metrics = json.loads((snn_run / "metrics.json").read_text())
    assert metrics["conversion"]["method"] == "data" and len(metrics["conversion"]["factors"]) == 3
    net = tmp_path / "snn.net"
    res = scnn("export", str(snn_run), "--netx", str(net))
    assert res.returncode == 0, res.stderr
    card = json.loads(net.with_suffix(".json").read_text())
    assert card["conversion"]["percentile"] == 99.9 and card["steps"] == 6
    assert card["quantization"]["layers"][1]["dv"] == 0  # integrate-and-fire on the chip
    res = scnn("eval", str(net), "--data", str(mini_fsdd), "--json", str(tmp_path / "e.json"))
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "e.json").read_text())["n"] == 30
    res = scnn("convert", str(snn_run), "--data", str(mini_fsdd), "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "already an SNN" in res.stderr
