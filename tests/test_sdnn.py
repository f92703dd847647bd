"""CNN twin -> SDNN conversion: the chip's limits, the readout against the CNN, one message
per layer on a static input, fast == reference == Lava, the CLI and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from badinput import assert_bad_input, run_scnn
from test_cli_data import scnn

from scnn.hw.errors import ScnnError
from scnn.hw.quantize import torch_to_lava_map
from scnn.models.loihi import graded_mantissa
from scnn.models.scnn import SCNN, ConvSpec, SCNNConfig
from scnn.sdnn import (
    CONV_UNITS,
    PAYLOAD_UNITS,
    READOUT_LIMIT,
    layer_stats,
    plan_units,
    sdnn_network,
)
from scnn.sim import fast, reference
from scnn.sim.network import Conv, Dense, Sigma, SigmaDelta


def _toy(seed: int = 0) -> tuple[SCNN, torch.Tensor]:
    """A random CNN twin (conv 4 -> dense 12 -> 5 classes) on 8x8 inputs, with data."""
    torch.manual_seed(seed)
    cfg = SCNNConfig(name="cnn_toy", input_shape=(1, 8, 8), convs=(ConvSpec(4),), dense=(12,),
                     n_classes=5, neuron="relu")
    cnn = SCNN(cfg)
    with torch.no_grad():
        cnn.in_gain.uniform_(0.5, 2.0)
        cnn.in_offset.uniform_(-0.2, 0.5)
    return cnn.eval(), torch.randn(96, 1, 8, 8)


def _graded_input(cnn: SCNN, plan, x: torch.Tensor, steps: int) -> np.ndarray:
    """The card's drive rule (scnn.export.card_drive): clamp(round(gain / u0 * xs +
    offset / u0), 0, max) in float64, half to even; held for every step."""
    gain = cnn.in_gain.detach().double() / plan.units[0]
    offset = cnn.in_offset.detach().double() / plan.units[0]
    units = graded_mantissa(x, gain, offset, cnn.cfg.polarity, plan.input_max)
    xi = torch_to_lava_map(units.detach().numpy()).astype(np.int32)
    return np.repeat(xi[..., None], steps, axis=-1)


def _run(cnn: SCNN, x: torch.Tensor, threshold: float, steps: int = 1, sim=fast):
    stats, logit_max = layer_stats(cnn, x, 99.99)
    plan = plan_units(cnn, stats, logit_max, threshold)
    net = sdnn_network(cnn, plan)
    run_steps = steps + len(net.layers) - 2  # one step per synapse layer (not the Flatten)
    out = sim.simulate(net, run_steps, spikes=_graded_input(cnn, plan, x, run_steps))
    return net, plan, stats, out


def test_plan_keeps_the_chips_limits() -> None:
    cnn, x = _toy()
    net, plan, stats, out = _run(cnn, x, 0.0)
    assert isinstance(net.layers[1], Conv) and isinstance(net.layers[1].neuron, SigmaDelta)
    assert isinstance(net.layers[-1], Dense) and isinstance(net.layers[-1].neuron, Sigma)
    for layer in net.layers[1:]:
        if isinstance(layer, Conv):
            w = layer.weight
        elif isinstance(layer, Dense):
            w = layer.weight >> -layer.weight_exp if layer.weight_exp < 0 else layer.weight
        else:
            continue
        m = np.abs(w).max()  # 8 bits: any integer up to 127, else the even grid to 254
        assert m <= 127 or (m <= 256 and not np.any(w % 2)), (layer.kind, m)
    for k, (s, u) in enumerate(zip(stats, plan.units, strict=True)):
        assert s.act_max / u < PAYLOAD_UNITS, k  # 16-bit payloads with 6 fraction bits
    assert stats[1].pre_max / plan.units[1] <= CONV_UNITS  # 24-bit conv sums
    readout = f"layer{len(net.layers) - 1}"
    for key, value in out.items():
        if key.endswith("/s") and not key.startswith(readout):  # the readout's state is read
            assert np.abs(value).max() < 1 << 15, key
    assert np.abs(out[f"layer{len(net.layers) - 1}/sigma"]).max() < READOUT_LIMIT


def test_readout_follows_the_cnn_logits() -> None:
    cnn, x = _toy()
    net, plan, _, out = _run(cnn, x, 0.0)
    with torch.no_grad():
        logits = cnn(x).double().numpy()
    sigma = out[f"layer{len(net.layers) - 1}/sigma"][..., -1].astype(np.float64)
    # sigma = r_out * 64 / u_last * logit, up to the rounding of weights and activations
    est = sigma * plan.units[-1] / (64 * plan.weight_scales[-1])
    err = np.linalg.norm(est - logits) / np.linalg.norm(logits)
    assert err < 0.05, err
    assert (est.argmax(1) == logits.argmax(1)).mean() >= 0.95


def test_static_input_sends_once_per_layer_and_more_steps_change_nothing() -> None:
    cnn, x = _toy(1)
    net, _, _, out = _run(cnn, x[:16], 0.0, steps=1)
    neuron_layers = [i for i, layer in enumerate(net.layers) if layer.neuron is not None]
    for order, i in enumerate(neuron_layers[:-1]):  # the readout's Sigma sends every step
        live = np.flatnonzero(out[f"layer{i}/s"].reshape(-1, out[f"layer{i}/s"].shape[-1])
                              .any(axis=0))
        assert live.tolist() == [order], (i, live)  # one step of delay per synapse layer
    _, _, _, longer = _run(cnn, x[:16], 0.0, steps=6)
    last = f"layer{neuron_layers[-1]}/sigma"
    assert np.array_equal(out[last][..., -1], longer[last][..., -1])


def test_threshold_trades_messages_for_accuracy() -> None:
    cnn, x = _toy(2)
    with torch.no_grad():
        ref = cnn(x).argmax(1).numpy()
    counts, agree = [], []
    for th in (0.0, 0.05, 0.3):
        net, _, _, out = _run(cnn, x, th)
        counts.append(sum(int(np.count_nonzero(v)) for k, v in out.items()
                          if k.endswith("/s") and k != f"layer{len(net.layers) - 1}/s"))
        sigma = out[f"layer{len(net.layers) - 1}/sigma"][..., -1]
        agree.append(float((sigma.argmax(1) == ref).mean()))
    assert counts[0] > counts[1] > counts[2], counts
    assert agree[0] >= agree[2], agree


@pytest.mark.parametrize("backend", ["reference", pytest.param("lava", marks=pytest.mark.lava)])
def test_fast_equals_the_other_backends_on_a_converted_net(backend: str) -> None:
    import scnn
    from scnn.sim import lava_backend

    cnn, x = _toy(3)
    other = {"reference": reference, "lava": lava_backend}[backend]
    _, _, _, a = _run(cnn, x[:3], 0.05, steps=2)
    _, _, _, b = _run(cnn, x[:3], 0.05, steps=2, sim=other)
    scnn.assert_same(b, a)  # every layer's payloads and sigma-delta states, every step


def test_plan_refuses_values_outside_its_rules() -> None:
    cnn, x = _toy()
    stats, logit_max = layer_stats(cnn, x, 99.99)
    for th in (1.0, -0.1, float("nan")):
        with pytest.raises(ScnnError, match="SDNN threshold must be a fraction"):
            plan_units(cnn, stats, logit_max, th)
    for levels in (0, PAYLOAD_UNITS + 1):
        with pytest.raises(ScnnError, match="act_levels must be in"):
            plan_units(cnn, stats, logit_max, 0.0, levels)
    dead = [stats[0], type(stats[1])(0.0, 0.0, 1.0), *stats[2:]]
    with pytest.raises(ScnnError, match="dead layer"):
        plan_units(cnn, dead, logit_max, 0.0)
    with torch.no_grad():
        cnn.synapses[1].weight.zero_()
    with pytest.raises(ScnnError, match="synapse layer 1 has only zero weights"):
        plan_units(cnn, stats, logit_max, 0.0)


@pytest.fixture(scope="module")
def twin_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from conftest import tone_fsdd

    root = tmp_path_factory.mktemp("sdnn")
    tone_fsdd(root)
    res = scnn("train", "--data", str(root / "fsdd"), "--model", "cnn_model_b", "--epochs", "3",
               "--out", str(root / "cnn"))
    assert res.returncode == 0, res.stderr
    return root / "cnn", root / "fsdd"


def test_cli_convert_to_sdnn_eval_and_profile(twin_run: tuple[Path, Path], tmp_path: Path) -> None:
    run, data = twin_run
    net = tmp_path / "sdnn.net"
    res = scnn("convert", str(run), "--to", "sdnn", "--data", str(data), "--out", str(net),
               "--sdnn-threshold", "0.02", "--retrain-epochs", "1", "--energy-weight", "0.1")
    assert res.returncode == 0, res.stderr
    assert "after 1 epochs of Loihi-exact training" in res.stdout, res.stdout
    assert "bit-exact on 30 clips" in res.stdout, res.stdout
    assert (tmp_path / "sdnn_curve.png").is_file()
    card = json.loads(net.with_suffix(".json").read_text())
    tuned = card["conversion"]["finetune"]
    assert tuned["epochs"] == 1 and tuned["energy_weight"] == 0.1
    # the training forward is the chip's: its test accuracy is the bit-exact one
    assert tuned["test_accuracy_exact_forward"] == card["accuracy"]["bit_exact"]["accuracy"]
    assert card["drive"]["kind"] == "graded" and card["readout"]["state"] == "sigma"
    assert card["run_steps"] == 1 + 3 and card["conversion"]["threshold"] == 0.02
    res = scnn("eval", str(net), "--data", str(data), "--json", str(tmp_path / "e.json"))
    assert res.returncode == 0, res.stderr
    e = json.loads((tmp_path / "e.json").read_text())
    assert e["accuracy"] == card["accuracy"]["bit_exact"]["accuracy"] and e["n"] == 30
    res = scnn("profile", str(net), "--data", str(data), "--chip", "all", "--json",
               str(tmp_path / "p.json"))
    assert res.returncode == 0, res.stderr
    assert "loihi1: not profiled: loihi1 cannot run layer 0 (input, Delta neurons, graded" \
        in res.stdout
    profs = json.loads((tmp_path / "p.json").read_text())
    assert [p["chip"] for p in profs] == ["loihi2"]  # graded spikes are Loihi 2's
    assert profs[0]["spikes"] > 0 and profs[0]["energy_uj"]["dynamic"] > 0
    bad = tmp_path / "bad"
    bad.mkdir()
    res = run_scnn(["profile", str(net), "--data", str(data), "--chip", "loihi1", "--json",
                    "p.json"], bad)
    assert_bad_input(res, ("loihi1 cannot run layer 0", "profile on loihi2"), bad)


@pytest.mark.parametrize(("args", "needles"), [
    (["--to", "spiking"], ("--to 'spiking'", "lif, sdnn")),
    (["--to", "sdnn", "--out", "x.h5"], ("--out x.h5", "ending in .net")),
    (["--to", "sdnn", "--method", "model"], ("--method", "not for --to sdnn")),
    (["--to", "sdnn", "--max-rate", "0.5"], ("--max-rate", "not for --to sdnn")),
    (["--sdnn-threshold", "0.1"], ("--sdnn-threshold", "--to sdnn only")),
    (["--to", "sdnn", "--sdnn-threshold", "1.5"], ("SDNN threshold", "[0, 1)", "1.5")),
    (["--to", "sdnn", "--percentile", "0"], ("percentile", "(0, 100]")),
    (["--to", "sdnn", "-T", "0"], ("'--steps'", "greater than or equal to 1")),
    (["--to", "sdnn", "--percentile", "nan"], ("--percentile", "(0, 100]", "nan")),
    (["--to", "sdnn", "--sdnn-threshold", "nan"], ("--sdnn-threshold", "[0, 1)")),
    (["--to", "sdnn", "--seed", "3"], ("--seed", "give --retrain-epochs N")),
    (["--to", "sdnn", "--energy-weight", "0.1"], ("--energy-weight", "--retrain-epochs")),
    (["--retrain-lr", "0.1"], ("--retrain-lr", "options of the retraining")),
    (["--to", "sdnn", "--out", "f.txt/x.net"], ("f.txt", "is a file, not a folder")),
])
def test_cli_convert_to_sdnn_bad_input(twin_run: tuple[Path, Path], tmp_path: Path,
                                       args: list[str], needles: tuple[str, ...]) -> None:
    run, data = twin_run
    if "--out" not in args:
        args = [*args, "--out", "x.net"]
    (tmp_path / "f.txt").write_text("a file where a folder should be")
    res = run_scnn(["convert", str(run), "--data", str(data), *args], tmp_path)
    assert_bad_input(res, needles, tmp_path, keep=("f.txt",))


def test_loihi1_refuses_neuron_kinds_it_lacks() -> None:
    from scnn.profiling import chip_refusal, usable_chips
    from scnn.sim.network import LIF, Input, Network

    w = np.full((3, 4), 2)
    sd = Network((Input((4,)), Dense((4,), (3,), w, neuron=SigmaDelta(1))), (4,))
    assert "layer 1 (dense, SigmaDelta neurons, graded spikes)" in chip_refusal(sd, "loihi1")
    assert chip_refusal(sd, "loihi2") is None
    assert usable_chips(sd, ("loihi1", "loihi2")) == ("loihi2",)
    with pytest.raises(ScnnError, match="loihi1 cannot run layer 1"):
        usable_chips(sd, ("loihi1",))
    lif = Network((Input((4,)), Dense((4,), (3,), w, neuron=LIF(4095, 0, 10))), (4,))
    assert chip_refusal(lif, "loihi1") is None


def _exact(cnn: SCNN, x: torch.Tensor, threshold: float):
    from scnn.sdnn import plan_weights
    from scnn.sdnn_qat import ExactSDNN

    stats, logit_max = layer_stats(cnn, x, 99.99)
    plan = plan_units(cnn, stats, logit_max, threshold)
    return plan, ExactSDNN(cnn, plan, plan_weights(cnn, plan))


@pytest.mark.parametrize(("seed", "threshold"), [(0, 0.0), (1, 0.05), (2, 0.3)])
def test_exact_training_forward_is_the_chips_readout(seed: int, threshold: float) -> None:
    cnn, x = _toy(seed)
    plan, model = _exact(cnn, x, threshold)
    for trained in (False, True):
        if trained:  # one optimiser step moves the weights off the conversion's
            logits, sends = model(x, record=True)
            (logits.square().mean() + sum(s.sum() for s in sends) * 1e-3).backward()
            with torch.no_grad():
                for w in model.weights:
                    w -= 3.0 * torch.sign(w.grad)
        ws = [w.detach().numpy().astype(np.int64) for w in model.int_weights()]
        net = sdnn_network(cnn, plan, ws)
        steps = len(net.layers) - 1
        out = fast.simulate(net, steps, spikes=_graded_input(cnn, plan, x, steps))
        readout, _ = model(x, exact=True)
        sigma = out[f"layer{len(net.layers) - 1}/sigma"][..., -1]
        assert np.array_equal(readout.detach().numpy().astype(np.int64), sigma), trained


def test_energy_aware_sdnn_training_sends_fewer_payloads() -> None:
    from scnn.sdnn_qat import finetune_sdnn
    from scnn.train import TrainConfig

    cnn, x = _toy(5)
    with torch.no_grad():
        y = cnn(x).argmax(1)
    plan, model = _exact(cnn, x, 0.05)
    ws = [w.detach().numpy().astype(np.int64) for w in model.int_weights()]
    sent = []
    for weight in (0.0, 20.0):
        cfg = TrainConfig(epochs=3, lr=0.5, energy_weight=weight, energy_warmup=0.0, shift=0,
                          freq_mask=0, time_mask=0, threads=1)
        trained, figures, rows = finetune_sdnn(cnn, plan, ws, {"train": (x, y)}, cfg)
        net = sdnn_network(cnn, plan, trained)
        steps = len(net.layers) - 1
        out = fast.simulate(net, steps, spikes=_graded_input(cnn, plan, x, steps))
        sent.append(sum(int(np.count_nonzero(v)) for k, v in out.items()
                        if k.endswith("/s") and k != f"layer{len(net.layers) - 1}/s"))
        assert ("energy_uj" in rows[-1]) == (weight > 0) and figures["epochs"] == 3
    assert sent[1] < sent[0], sent


def test_check_limits_refuses_weights_beyond_the_payload() -> None:
    from scnn.sdnn_qat import check_limits

    cnn, x = _toy(6)
    _, model = _exact(cnn, x, 0.0)
    check_limits(model, x)
    model(x)
    assert float(model.aux_loss()) == 0.0  # the conversion stays inside the payload budget
    with torch.no_grad():
        model.weights[0].mul_(40)  # clamps to the grid's ends: activations far beyond 511
    with pytest.raises(ScnnError, match="neuron layer 1: activations reach .* 16-bit payload"):
        check_limits(model, x)
    model(x)
    loss = model.aux_loss()
    assert float(loss) > 0  # the training loss pushes them back
    loss.backward()
    assert float(model.weights[0].grad.abs().sum()) > 0


def test_dense_only_twin_converts_and_a_dead_readout_is_refused() -> None:
    torch.manual_seed(7)
    cnn = SCNN(SCNNConfig(name="cnn_flat", input_shape=(1, 4, 6), convs=(), dense=(8,),
                          n_classes=3, neuron="relu")).eval()
    x = torch.randn(40, 1, 4, 6)
    net, _, _, out = _run(cnn, x, 0.0)
    assert [layer.kind for layer in net.layers] == ["input", "flatten", "dense", "dense"]
    with torch.no_grad():
        ref = cnn(x).argmax(1).numpy()
    assert (out["layer3/sigma"][..., -1].argmax(1) == ref).mean() >= 0.9
    with torch.no_grad():
        cnn.readout.weight.zero_()
    stats, logit_max = layer_stats(cnn, x, 99.99)
    with pytest.raises(ScnnError, match="readout has only zero weights"):
        plan_units(cnn, stats, logit_max, 0.0)


def test_eval_refuses_a_dataset_of_other_classes(twin_run: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    from conftest import tone, write_wav

    run, data = twin_run
    net = tmp_path / "n.net"
    assert scnn("convert", str(run), "--to", "sdnn", "--data", str(data), "--out",
                str(net)).returncode == 0
    other = tmp_path / "other"
    for name in ("a", "b", "c"):  # a labelled folder: classes by folder name, not FSDD's
        for idx in range(4):
            write_wav(other / name / f"{idx}.wav", tone(0.3, freq=300 + 90 * idx))
    bad = tmp_path / "bad"
    bad.mkdir()
    res = run_scnn(["eval", str(net), "--data", str(other), "--json", "e.json"], bad)
    assert_bad_input(res, ("classes [a, b, c] (3)", "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9] (10)",
                           "wrong outputs"), bad)
