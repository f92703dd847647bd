"""Streamed sigma-delta networks: the host's leaky readout rule, the deadband the float
model trains through, the plan's units against the chip (sim.fast, reference, Lava),
the CLI and its bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from badinput import assert_bad_input, run_scnn
from conftest import tone, tone_fsdd, write_wav

import scnn
from scnn.export import readout_signal
from scnn.features import FeatureConfig, Normalizer
from scnn.hw.errors import ScnnError
from scnn.sim import fast, reference
from scnn.sim.network import networks_equal
from scnn.sim.netx import read_netx, write_netx
from scnn.stream import card_frames, stream_spikes
from scnn.stream_sdnn import (
    StreamSDNN,
    StreamSDNNConfig,
    bands,
    deadband,
    layer_stats,
    leak_weights,
    plan_stream,
    plan_weights,
    stream_sdnn_card,
    stream_sdnn_network,
)


def test_host_rule_is_the_leaky_average_in_integers() -> None:
    card = {"readout": {"state": "sigma", "leak_shift": 2}}
    x = np.array([[0, 100, 100, -7, 0]])
    # y = y + ((x - y) >> 2), arithmetic (floor) shift: -50 >> 2 = -13, -30 >> 2 = -8
    assert readout_signal(card, x).tolist() == [[0, 25, 43, 30, 22]]
    assert readout_signal({"readout": {"state": "sigma", "leak_shift": 0}}, x).tolist() == \
        x.tolist()
    assert readout_signal({"readout": {"state": "v"}}, x).dtype == np.int64
    for bad in (16, -1, 2.0, True, "4"):
        with pytest.raises(ScnnError, match="leak_shift"):
            readout_signal({"readout": {"state": "sigma", "leak_shift": bad}}, x)
    with pytest.raises(ScnnError, match="sigma readout only"):
        readout_signal({"readout": {"state": "v", "leak_shift": 3}}, x)


def test_leak_weights_are_the_float_rule() -> None:
    o = torch.randn(8, 3, dtype=torch.float64)
    y = torch.zeros(3, dtype=torch.float64)
    for t in range(17):  # 3 lead steps of frame 0, then frames 1-7 held two steps each
        y = y + (o[0 if t < 3 else 1 + (t - 3) // 2] - y) / 8
    assert torch.allclose(leak_weights(14, 2, 3, lead=3) @ o, y)


def test_deadband_sends_what_a_sigma_delta_neuron_sends() -> None:
    h = torch.tensor([[0.0, 0.3, 0.6, 0.65, 0.2, 1.0, 1.2]]).reshape(1, 7, 1)
    h.requires_grad_(True)
    out = deadband(h, 0.5)
    assert out[0, :, 0].tolist() == pytest.approx([0.0, 0.0, 0.6, 0.6, 0.6, 0.6, 1.2])
    out.sum().backward()
    assert torch.equal(h.grad, torch.ones_like(h))  # straight through
    assert deadband(h, 0.0) is h


def _toy(threshold: float = 0.0, seed: int = 0, steps_per_frame: int = 1):
    torch.manual_seed(seed)
    cfg = StreamSDNNConfig(n_in=8, n_frames=6, hidden=(20, 12), n_classes=4,
                           steps_per_frame=steps_per_frame, leak_shift=2, threshold=threshold)
    model = StreamSDNN(cfg)
    with torch.no_grad():
        model.in_gain.uniform_(0.5, 2.0)
        model.in_offset.uniform_(-0.3, 0.6)
        for syn in model.synapses:
            syn.bias.uniform_(-0.1, 0.3)
    model.eval()
    x = torch.randn(24, 1, 8, 6)
    plan = plan_stream(model, layer_stats(model, x))
    ws, bs = plan_weights(model, plan)
    return model, plan, stream_sdnn_network(ws, bs, plan), x


def _chip_input(model, plan, x) -> np.ndarray:
    card = {"drive": {"steps_per_frame": model.cfg.steps_per_frame},
            "synapse_layers": model.cfg.synapse_layers}
    d = model.drive(x).detach().double() / plan.units[0]
    return stream_spikes(card, torch.round(d).clamp(-127, 127).numpy().astype(np.int32))


@pytest.mark.parametrize("steps_per_frame", [1, 3])
def test_chip_readout_is_the_float_model_in_the_plans_units(steps_per_frame: int) -> None:
    model, plan, net, x = _toy(steps_per_frame=steps_per_frame)
    u = _chip_input(model, plan, x)
    res = fast.simulate(net, u.shape[-1], spikes=u, record=("sigma",))
    last = len(net.layers) - 1
    sigma = res[f"layer{last}/sigma"]
    lat = model.cfg.synapse_layers  # one step per synapse layer before the first frame
    with torch.no_grad():
        logits = model.layers(x)[-1].double().numpy()[:, 1:]  # (B, F, classes)
    scale = 64 * plan.weight_scales[-1] / plan.units[-1]  # sigma per float logit
    chip = sigma[..., lat::steps_per_frame].transpose(0, 2, 1)[:, : logits.shape[1]]
    err = np.abs(chip - scale * logits).mean() / np.abs(scale * logits).mean()
    assert err < 0.03, err  # 8-bit weights, unit biases, 6 payload fraction bits; a wrong
    # unit would be off by a factor
    card = {"readout": {"state": "sigma", "leak_shift": 2}}
    y = readout_signal(card, sigma)[..., -1]
    with torch.no_grad():
        want = model(x).double().numpy() * scale
    assert np.abs(y - want).mean() / np.abs(want).mean() < 0.05
    assert (y.argmax(1) == want.argmax(1)).mean() > 0.9


def test_reference_and_lava_order_agree_with_fast_on_thresholds() -> None:
    model, plan, net, x = _toy(threshold=0.2, seed=1)
    assert all(v > 0 for v in plan.vth[1:])
    u = _chip_input(model, plan, x[:3])
    scnn.assert_same(reference.simulate(net, u.shape[-1], spikes=u),
                     fast.simulate(net, u.shape[-1], spikes=u))


@pytest.mark.lava
def test_lava_runs_the_streamed_sdnn_bit_for_bit() -> None:
    from scnn.sim import lava_backend

    model, plan, net, x = _toy(threshold=0.1, seed=2)
    u = _chip_input(model, plan, x[:2])
    scnn.assert_same(lava_backend.simulate(net, u.shape[-1], spikes=u),
                     fast.simulate(net, u.shape[-1], spikes=u))


def test_deadband_model_follows_the_chip_with_thresholds() -> None:
    model, plan, net, x = _toy(threshold=0.2, seed=3)
    model.deadbands = bands(plan)
    u = _chip_input(model, plan, x)
    sigma = fast.simulate(net, u.shape[-1], spikes=u, record=("sigma",))[
        f"layer{len(net.layers) - 1}/sigma"]
    lat = model.cfg.synapse_layers
    scale = 64 * plan.weight_scales[-1] / plan.units[-1]
    with torch.no_grad():
        with_db = model.layers(x)[-1].double().numpy()[:, 1:] * scale
        model.deadbands = None
        without = model.layers(x)[-1].double().numpy()[:, 1:] * scale
    chip = sigma[..., lat:].transpose(0, 2, 1)[:, : with_db.shape[1]]
    # the deadband model is the chip up to rounding; without it the thresholds show
    assert np.abs(chip - with_db).mean() < 0.5 * np.abs(chip - without).mean()


def test_plan_keeps_the_chip_limits() -> None:
    model, plan, net, x = _toy(threshold=0.1)
    ws, bs = plan_weights(model, plan)
    assert all(np.abs(w).max() <= 254 for w in ws)
    u = _chip_input(model, plan, x)
    assert np.abs(u).max() <= 127
    res = fast.simulate(net, u.shape[-1], spikes=u, record=("act", "sigma"))
    for k in (1, 2):  # hidden activations stay within the 16-bit payload (12 fraction bits)
        assert np.abs(res[f"layer{k}/act"]).max() >> 12 <= 511
    assert np.abs(res["layer3/sigma"]).max() < 1 << 30
    path = write_netx(net, Path(__import__("tempfile").mkdtemp()) / "s.net")
    assert networks_equal(read_netx(path), net)
    with pytest.raises(ScnnError, match="leak shift"):
        replace(model.cfg, leak_shift=16)
    with pytest.raises(ScnnError, match="--sdnn-threshold"):
        replace(model.cfg, threshold=1.0)


def test_card_drives_the_network_as_built() -> None:
    model, plan, net, x = _toy()
    fcfg = replace(FeatureConfig(kind="logmel"), n_mels=8)
    norm = Normalizer(torch.zeros(8), torch.ones(8))
    card = stream_sdnn_card(model, plan, net, fcfg, norm, list("abcd"), "s.net")
    assert card["readout"] == {**card["readout"], "state": "sigma", "leak_shift": 2,
                               "layer": 3}
    raw = x * norm.std[None, None, :, None] + norm.mean[None, None, :, None]
    assert np.array_equal(card_frames(card, raw)[..., None],
                          _chip_input(model, plan, x)[:, :, :6, None])


# ---------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def sdnn_net(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sdnndata")
    tone_fsdd(root, freq_step=700.0)
    out = root / "net" / "s.net"
    res = run_scnn(["train-stream", "--neuron", "sdnn", "--out", str(out), "--data",
                    str(root / "fsdd"), "--hidden", "24", "--epochs", "12", "--qat-epochs",
                    "2", "--lr", "0.01", "--leak-shift", "3"], cwd=root)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "bit-exact" in res.stdout and out.exists()
    return out


def test_cli_trains_and_streams_an_sdnn(sdnn_net: Path, tmp_path: Path) -> None:
    card = json.loads(sdnn_net.with_suffix(".json").read_text())
    assert card["drive"]["kind"] == "stream" and card["input_message_bits"] == 0
    assert card["readout"]["state"] == "sigma" and card["readout"]["leak_shift"] == 3
    assert card["stream"]["detector"]["threshold"] > 0
    assert card["accuracy"]["bit_exact"]["accuracy"] > 0.5  # 3 tones, 30 test clips
    data = sdnn_net.parent.parent / "fsdd"
    wav = tmp_path / "r.wav"
    res = run_scnn(["data", "recording", "--out", str(wav), "--data", str(data), "--seconds",
                    "12", "--gap", "0.4:0.8"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    res = run_scnn(["stream", str(sdnn_net), str(wav), "--labels", str(tmp_path / "r.csv"),
                    "--json", str(tmp_path / "o.json")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads((tmp_path / "o.json").read_text())
    assert out["score"]["recall"] > 0 and out["profile"]["dynamic_uj_per_s"] > 0
    res = run_scnn(["eval", str(sdnn_net), "--data", str(data), "--json",
                    str(tmp_path / "e.json")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    ev = json.loads((tmp_path / "e.json").read_text())
    assert ev["accuracy"] == pytest.approx(card["accuracy"]["bit_exact"]["accuracy"])
    res = run_scnn(["profile", str(sdnn_net), "--data", str(data), "--json",
                    str(tmp_path / "p.json")], cwd=tmp_path)
    assert res.returncode == 0 and "per second of audio" in res.stdout, res.stderr[-2000:]
    prof = json.loads((tmp_path / "p.json").read_text())
    assert prof["stream"]["dynamic_uj_per_s"] == pytest.approx(prof["energy_uj"]["dynamic"])


@pytest.mark.lava
def test_lava_streams_the_same_sdnn_readout(sdnn_net: Path) -> None:
    from scnn.stream import load_stream_net, run_recording

    net, card = load_stream_net(sdnn_net)
    wave = np.concatenate([np.zeros(2000, np.float32), tone(0.4, freq=1000),
                           np.zeros(3000, np.float32), tone(0.3, freq=300)])
    assert np.array_equal(run_recording(net, card, wave, "lava"), run_recording(net, card, wave))


def test_train_stream_sdnn_bad_input(tmp_path: Path) -> None:
    out = str(tmp_path / "x.net")
    cases = [
        (["train-stream", "--out", out, "--neuron", "rf"], ("--neuron", "'rf'")),
        (["train-stream", "--out", out, "--neuron", "sdnn", "--leak-shift", "16"],
         ("--leak-shift", "0..15")),
        (["train-stream", "--out", out, "--neuron", "sdnn", "--sdnn-threshold", "1"],
         ("--sdnn-threshold", "[0, 1)")),
        (["train-stream", "--out", out, "--neuron", "sdnn", "--sdnn-threshold", "nan"],
         ("--sdnn-threshold",)),
        (["train-stream", "--out", out, "--neuron", "sdnn", "--beta", "0.9"],
         ("--beta", "does not apply to --neuron sdnn")),
        (["train-stream", "--out", out, "--leak-shift", "3"],
         ("--leak-shift", "does not apply to --neuron lif")),
        (["train-stream", "--out", out, "--neuron", "sdnn", "--hidden", "0"], ("--hidden",)),
    ]
    for args, needles in cases:
        assert_bad_input(run_scnn(args, cwd=tmp_path, timeout=120), needles, tmp_path)


@pytest.mark.parametrize("edit, needle", [
    (lambda c: c["readout"].pop("leak_shift"), "'sigma' with a 'leak_shift'"),
    (lambda c: c["readout"].update(leak_shift=99), "'readout.leak_shift' must be an integer"),
    (lambda c: c["readout"].update(state="v"), "leak_shift' applies to a sigma readout"),
    (lambda c: (c["readout"].update(state="v"), c["readout"].pop("leak_shift")),
     "'readout' must read 'sigma'"),
    (lambda c: c["drive"].update(max=300), "'drive.max' must be an integer in [1, 255]"),
    (lambda c: c.update(input_message_bits=8), "input_message_bits"),
    (lambda c: c.update(synapse_layers=3), "'synapse_layers'"),
])
def test_bad_streamed_sdnn_cards_are_refused(sdnn_net: Path, tmp_path: Path, edit,
                                             needle) -> None:
    import shutil

    net = tmp_path / "c.net"
    shutil.copy(sdnn_net, net)
    card = json.loads(sdnn_net.with_suffix(".json").read_text())
    edit(card)
    net.with_suffix(".json").write_text(json.dumps(card))
    wav = write_wav(tmp_path / "a.wav", tone(1.5))
    res = run_scnn(["stream", str(net), str(wav), "--threshold", "5"], cwd=tmp_path)
    assert_bad_input(res, ("c.json", needle), tmp_path, keep=("a.wav", "c.net", "c.json"))
