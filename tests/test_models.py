"""SCNN family: shapes, Loihi-ordered LIF, overfitting, checkpoints, determinism."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from scnn.features import FeatureConfig, Normalizer
from scnn.hw.errors import ScnnError
from scnn.models.lif import lif_step
from scnn.models.scnn import FAMILY, SCNN, SCNNConfig, get_config
from scnn.train import TrainConfig, fit, load_run, predict, shift_frames, train_run


@pytest.mark.parametrize("name", sorted(FAMILY) + ["cnn_scnn", "cnn_model_a"])
def test_shapes(name: str) -> None:
    model = SCNN(get_config(name, steps=3))
    logits, spikes = model(torch.randn(5, 1, 32, 32), record=True)
    assert logits.shape == (5, 10)
    shapes = model.cfg.layer_shapes()
    if model.cfg.neuron == "lif":
        assert [tuple(s.shape) for s in spikes] == [(5, 3, *sh) for sh in shapes]
        assert all(set(s.unique().tolist()) <= {0.0, 1.0} for s in spikes)
    else:  # the CNN twin records its ReLU activations per layer
        assert [tuple(a.shape) for a in spikes] == [(5, *sh) for sh in shapes]
        assert all(float(a.min()) >= 0 for a in spikes)


def test_lif_step_resets_on_the_step_it_fires() -> None:
    from snntorch import surrogate

    fn = surrogate.fast_sigmoid(25.0)
    v = torch.tensor([0.5, 0.9, 0.0])
    v0 = v.clone()
    s, v2 = lif_step(torch.tensor([0.2, 0.2, -1.0]), v, torch.tensor(0.5), 0.5, fn)
    assert s.tolist() == [0.0, 1.0, 0.0]  # v = 0.45, 0.65, -1.0; spike where v > 0.5
    assert torch.allclose(v2, torch.tensor([0.45, 0.0, -1.0]))
    assert torch.equal(v, v0)  # inputs untouched


def test_config_validation_and_names() -> None:
    with pytest.raises(ScnnError, match="unknown model"):
        get_config("resnet")
    with pytest.raises(ScnnError, match="drive"):
        get_config("scnn", drive="delta")
    with pytest.raises(ScnnError, match="beta"):
        SCNNConfig(beta=1.5)
    cfg = get_config("cnn_model_b", steps=4)
    assert cfg.neuron == "relu" and cfg.steps == 4 and cfg.convs == FAMILY["model_b"].convs
    assert SCNNConfig.from_dict(cfg.to_dict()) == cfg


def _tiny_data(n: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = torch.randn(n, 1, 16, 16, generator=gen) + 2.0 * (y.view(n, 1, 1, 1) % 3 - 1)
    return x, y


def test_tiny_overfit_learns_20_clips() -> None:
    torch.manual_seed(0)
    cfg = get_config("scnn", input_shape=(1, 16, 16), steps=6)
    model = SCNN(cfg)
    x, y = _tiny_data()
    fit(model, TrainConfig(epochs=60, batch_size=10, lr=1e-2, shift=0), (x, y), progress=False)
    assert (predict(model, x) == y).all()


def test_checkpoint_round_trip_and_determinism(tmp_path: Path) -> None:
    x, y = _tiny_data(40)
    tensors = {"train": (x[:30], y[:30]), "test": (x[30:], y[30:])}
    fcfg = FeatureConfig()
    norm = Normalizer.fit(x)
    cfg = get_config("model_b", input_shape=(1, 16, 16), steps=4)
    tcfg = TrainConfig(epochs=2, batch_size=8)
    m1 = train_run(cfg, tcfg, tensors, norm, fcfg, [str(i) for i in range(10)], tmp_path / "a",
                   progress=False)
    m2 = train_run(cfg, tcfg, tensors, norm, fcfg, [str(i) for i in range(10)], tmp_path / "b",
                   progress=False)
    run_a, run_b = load_run(tmp_path / "a"), load_run(tmp_path / "b")
    for (ka, va), (kb, vb) in zip(run_a.model.state_dict().items(),
                                  run_b.model.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb), ka  # same seed, same weights
    assert m1["test_accuracy"] == m2["test_accuracy"]
    train_run(cfg, replace(tcfg, seed=1), tensors, norm, fcfg, [str(i) for i in range(10)],
              tmp_path / "c", progress=False)
    assert not torch.equal(load_run(tmp_path / "c").model.readout.weight,
                           run_a.model.readout.weight)
    with torch.no_grad():
        assert torch.equal(run_a.model(x), load_run(tmp_path / "a").model(x))
    assert run_a.normalizer == norm and run_a.features == fcfg
    for name in ("model.pt", "config.json", "metrics.json", "curve.csv", "curve.png"):
        assert (tmp_path / "a" / name).exists()


def test_load_run_rejects_non_runs(tmp_path: Path) -> None:
    with pytest.raises(ScnnError, match="not a run directory"):
        load_run(tmp_path)


def test_shift_frames_repeats_edges() -> None:
    x = torch.arange(5.0).view(1, 1, 1, 5).repeat(50, 1, 1, 1)
    out = shift_frames(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    for row in out[:, 0, 0]:
        d = row - x[0, 0, 0]
        assert d.abs().max() <= 2 and len(set(row.diff().tolist()) - {0.0, 1.0}) == 0
