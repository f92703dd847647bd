"""Energy-aware training: the penalty counts what the profiler counts, its gradient cuts
spikes, and every training option is checked before any work."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from badinput import assert_bad_input, run_scnn

from scnn.energy_loss import EnergyPenalty, fan_outs
from scnn.hw.energy import cost_table
from scnn.hw.errors import ScnnError
from scnn.hw.quantize import quantize_model, to_network
from scnn.models.scnn import SCNN, get_config, with_width
from scnn.sim.activity import fan_out
from scnn.sim.network import Conv, Dense
from scnn.train import TrainConfig, fit


@pytest.mark.parametrize("name, shape", [("scnn", (1, 32, 32)), ("model_a", (1, 13, 11)),
                                         ("model_b", (1, 9, 16))])
def test_fan_outs_are_the_profilers_fan_outs(name: str, shape: tuple) -> None:
    torch.manual_seed(0)
    cfg = get_config(name, input_shape=shape, steps=2)
    net = to_network(quantize_model(SCNN(cfg)))
    synapses = [layer for layer in net.layers if isinstance(layer, (Conv, Dense))]
    fans = fan_outs(cfg)
    assert len(fans) == len(synapses)
    for fan, syn in zip(fans, synapses, strict=True):
        chip = fan_out(syn, "all")  # Lava order: (W, H, C) maps, flattened C-major vectors
        ours = fan.permute(2, 1, 0).numpy() if fan.dim() == 3 else fan.numpy()
        if isinstance(syn, Dense) and chip.ndim == 1 and ours.ndim == 3:
            ours = ours.reshape(-1)
        assert np.array_equal(ours.reshape(chip.shape), chip)


def test_penalty_is_spikes_times_cost_per_spike() -> None:
    cfg = get_config("model_b", input_shape=(1, 8, 8), steps=3)
    pen = EnergyPenalty(cfg, "loihi1")
    table = cost_table("loihi1")
    spikes = [torch.ones(2, 3, *f.shape) for f in fan_outs(cfg)]
    spikes[1][1] = 0  # the second clip's hidden layer is silent
    fans = fan_outs(cfg)
    per_clip = [sum(3 * (f.sum() * table.synop + f.numel() * table.message) * 1e6
                    for f in fans)]
    per_clip.append(per_clip[0] - 3 * float(fans[1].sum() * table.synop
                                            + fans[1].numel() * table.message) * 1e6)
    expected = float(sum(per_clip)) / 2
    assert math.isclose(float(pen(spikes)), expected, rel_tol=1e-6)  # float32 spikes
    with pytest.raises(ValueError, match="2 spike records for 3 layers"):
        pen(spikes[:2])


def _synthetic(n: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 4
    x = torch.randn(n, 1, 8, 8, generator=gen) * 0.3
    x[torch.arange(n), 0, 2 * y, :] += 2.0  # class k: a band at row 2k
    return x, y


def test_energy_weight_cuts_spike_energy_and_keeps_accuracy() -> None:
    x, y = _synthetic()
    cfg = get_config("model_b", input_shape=(1, 8, 8), steps=4, n_classes=4)
    result = {}
    for weight in (0.0, 3.0):
        torch.manual_seed(0)
        model = SCNN(cfg)
        tcfg = TrainConfig(epochs=20, batch_size=10, lr=1e-2, seed=0, energy_weight=weight,
                           shift=0, freq_mask=0, time_mask=0)
        rows = fit(model, tcfg, (x, y), progress=False)
        assert ("energy_uj" in rows[-1]) == (weight > 0)
        with torch.no_grad():
            logits, spikes = model(x, record=True)
        result[weight] = (float(EnergyPenalty(cfg)(spikes)),
                          float((logits.argmax(1) == y).double().mean()))
    (e0, acc0), (e1, acc1) = result[0.0], result[3.0]
    assert e1 < 0.7 * e0, result  # measured: 0.050 vs 0.087 uJ
    assert acc0 >= 0.9 and acc1 >= 0.9, result


def test_with_width_scales_hidden_layers_only() -> None:
    cfg = with_width(get_config("scnn"), 0.5)
    assert [c.channels for c in cfg.convs] == [16, 32] and cfg.dense == (128,)
    assert cfg.n_classes == 10 and cfg.input_shape == (1, 32, 32)
    assert with_width(get_config("model_a"), 0.01).convs[0].channels == 1


@pytest.mark.parametrize("kwargs, needle", [
    ({"epochs": -1}, "epochs (--epochs) must be an integer >= 0, got -1"),
    ({"epochs": 2.5}, "epochs (--epochs) must be an integer"),
    ({"batch_size": 0}, "batch_size (--batch-size) must be an integer >= 1, got 0"),
    ({"lr": float("nan")}, "lr (--lr) must be a finite number > 0, got nan"),
    ({"lr": 0.0}, "lr (--lr) must be a finite number > 0"),
    ({"lr": -1e-3}, "lr (--lr) must be a finite number > 0"),
    ({"weight_decay": float("inf")}, "weight_decay (--weight-decay) must be a finite number"),
    ({"shift": -1}, "shift (--shift) must be an integer >= 0"),
    ({"threads": 0}, "threads (--threads) must be an integer >= 1"),
    ({"threads": 100000}, "threads (--threads) 100000: this machine gives the process"),
    ({"label_smoothing": 1.0}, "label_smoothing must be in [0, 1)"),
    ({"energy_weight": -0.1}, "energy_weight (--energy-weight) must be a finite number >= 0"),
    ({"energy_weight": float("nan")}, "energy_weight (--energy-weight) must be a finite"),
    ({"energy_chip": "loihi3"}, "energy_chip (--energy-chip) 'loihi3': expected one of"),
    ({"energy_warmup": 1.5}, "energy_warmup (--energy-warmup) must be in [0, 1]"),
])
def test_train_config_checks_every_value(kwargs: dict, needle: str) -> None:
    with pytest.raises(ScnnError) as err:
        TrainConfig(**kwargs)
    assert needle in str(err.value)


def test_fit_refuses_zero_epochs_and_cnn_penalty() -> None:
    x, y = _synthetic(8)
    cfg = get_config("model_b", input_shape=(1, 8, 8), steps=2, n_classes=4)
    with pytest.raises(ScnnError, match="must be >= 1 to train"):
        fit(SCNN(cfg), TrainConfig(epochs=0), (x, y), progress=False)
    twin = get_config("cnn_model_b", input_shape=(1, 8, 8), n_classes=4)
    with pytest.raises(ScnnError, match="needs spikes; cnn_model_b is a CNN twin"):
        fit(SCNN(twin), TrainConfig(epochs=1, energy_weight=0.1), (x, y), progress=False)


@pytest.mark.parametrize("args, needles", [
    (["--energy-weight", "-1"], "energy_weight (--energy-weight) must be a finite number >= 0"),
    (["--energy-weight", "nan"], "energy_weight (--energy-weight)"),
    (["--energy-chip", "tpu"], "energy_chip (--energy-chip) 'tpu'"),
    (["--model", "cnn_scnn", "--energy-weight", "0.1"], "cnn_scnn is a CNN twin"),
    (["--width", "0"], "width (--width) must be a finite number > 0, got 0.0"),
    (["--width", "nan"], "width (--width) must be a finite number > 0"),
    (["--epochs", "-1"], ("Invalid value for '--epochs'", "greater than or equal to 1")),
    (["--epochs", "0"], ("Invalid value for '--epochs'", "usage: scnn train")),
    (["--batch-size", "0"], "batch_size (--batch-size) must be an integer >= 1"),
    (["--lr", "nan"], "lr (--lr) must be a finite number > 0, got nan"),
    (["--slope", "-5"], "surrogate slope must be a finite number > 0, got -5.0"),
    (["--threshold", "nan"], "threshold must be a finite number > 0"),
    (["--beta", "1.5"], "beta must be in (0, 1]"),
    (["--steps", "0"], "time steps must be in 1..1024"),
    (["--qat-epochs", "-2"], ("--qat-epochs", "greater than or equal to 0", "usage: scnn")),
])
def test_train_refuses_bad_options_before_any_work(tmp_path: Path, args: list[str],
                                                   needles) -> None:
    data = tmp_path / "nodata"  # never opened: the options are checked first
    res = run_scnn(["train", "--data", str(data), "--out", "runs/x", *args], tmp_path)
    assert_bad_input(res, needles, tmp_path)


@pytest.mark.parametrize("command, args, needles", [
    ("run", ["--energy-weight", "-2"], "energy_weight (--energy-weight)"),
    ("run", ["--width", "-1"], "width (--width)"),
    ("run", ["--qat-epochs", "-1"], "--qat-epochs"),
    ("run", ["--energy-warmup", "2"], "energy_warmup (--energy-warmup) must be in [0, 1]"),
    ("run", ["--epochs", "0"], "Invalid value for '--epochs'"),
    ("finetune", ["runs/x", "--epochs", "-3"], "--epochs"),
    ("convert", ["runs/x", "--out", "y", "--retrain-epochs", "-1"], "--retrain-epochs"),
])
def test_other_training_commands_refuse_bad_options(tmp_path: Path, command: str,
                                                    args: list[str], needles) -> None:
    res = run_scnn([command, *args], tmp_path)
    assert_bad_input(res, needles, tmp_path)
