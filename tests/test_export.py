"""Export to NetX + model card, read back, evaluate on audio in bit-exact simulation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli_data import scnn

from scnn.export import card_drive, export_netx, load_card
from scnn.features import FeatureConfig, Normalizer
from scnn.hw.quantize import quantize_model, to_network
from scnn.hweval import predict_netx, spread
from scnn.models.scnn import SCNN, get_config
from scnn.sim.network import networks_equal
from scnn.sim.netx import read_netx, write_netx
from scnn.train import TrainConfig, train_run


def _tiny_run(tmp_path: Path, steps: int = 4) -> Path:
    gen = torch.Generator().manual_seed(0)
    fcfg = FeatureConfig(n_mels=16, n_mfcc=8, hop_length=1024)  # (1, 8, 8) maps
    y = torch.arange(40) % 10
    x = torch.randn(40, *fcfg.shape, generator=gen) + y.view(-1, 1, 1, 1) % 3
    norm = Normalizer.fit(x)
    tensors = {"train": (norm(x[:30]), y[:30]), "test": (norm(x[30:]), y[30:])}
    cfg = get_config("model_b", input_shape=fcfg.shape, steps=steps)
    out = tmp_path / "run"
    train_run(cfg, TrainConfig(epochs=3, batch_size=10), tensors, norm, fcfg,
              [str(i) for i in range(10)], out, progress=False)
    torch.save({"x": x, "y": y}, tmp_path / "raw.pt")
    return out


def test_netx_round_trip_of_quantised_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    q = quantize_model(SCNN(get_config("scnn", input_shape=(1, 12, 12), steps=3)))
    net = to_network(q)
    write_netx(net, tmp_path / "a.net")
    assert networks_equal(read_netx(tmp_path / "a.net"), net)


def test_export_card_and_bit_exact_predictions_match_qat(tmp_path: Path) -> None:
    run = _tiny_run(tmp_path)
    card = export_netx(run, tmp_path / "out" / "tiny.net")
    assert load_card(tmp_path / "out" / "tiny.net") == json.loads(json.dumps(card))
    # layers: input, conv, flatten, dense, readout; 3 synapse layers delay by 3 steps
    assert card["run_steps"] == 4 + 3 and card["readout"]["layer"] == 4
    raw = torch.load(tmp_path / "raw.pt", weights_only=True)
    net = read_netx(tmp_path / "out" / "tiny.net")
    pred, volts = predict_netx(net, card, raw["x"], batch=16)
    from scnn.qat import load_loihi
    from scnn.train import load_run

    lr = load_run(run)
    q = load_loihi(lr)
    with torch.no_grad():
        _, _, v_out = q(lr.normalizer(raw["x"]), record=True)
    assert np.array_equal(volts, v_out.numpy().astype(np.int64))
    assert np.array_equal(pred, v_out.argmax(1).numpy())
    bias = card_drive(card, raw["x"][:2])
    assert bias.shape == (2, 8, 8, 2) and bias.dtype == np.int64  # (B, W=N, H=F, C'=2)


def test_card_errors(tmp_path: Path) -> None:
    from scnn.hw.errors import ScnnError

    (tmp_path / "x.net").write_bytes(b"")
    with pytest.raises(ScnnError, match="no model card"):
        load_card(tmp_path / "x.net")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ScnnError, match="not a model card"):
        load_card(tmp_path / "x.net")


def test_spread_covers_the_split() -> None:
    assert spread(300, None).tolist() == list(range(300))
    idx = spread(300, 50)
    assert len(idx) == 50 and idx[0] == 0 and idx[-1] == 299


def test_cli_export_and_eval_on_audio(mini_fsdd: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = scnn("train", "--data", str(mini_fsdd), "--model", "model_b", "--epochs", "2",
               "-T", "3", "--out", str(out), "--qat", "--qat-epochs", "1")
    assert res.returncode == 0, res.stderr
    assert "Loihi-exact test accuracy" in res.stdout
    assert (out / "loihi.pt").exists() and (out / "loihi.json").exists()
    net = tmp_path / "exp" / "m.net"
    res = scnn("export", str(out), "--netx", str(net))
    assert res.returncode == 0, res.stderr
    res = scnn("eval", str(net), "--data", str(mini_fsdd), "--json", str(tmp_path / "e.json"))
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "e.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert rep["backend"] == "fast" and rep["n"] == 30
    assert rep["accuracy"] == metrics["qat_accuracy"]  # the chip computes what QAT reported
    res = scnn("eval", str(tmp_path / "nope.net"), "--data", str(mini_fsdd))
    assert res.returncode == 2 and "no such file" in res.stderr
