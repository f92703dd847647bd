"""Streamed LIF networks: the integer model equals the chip (sim.fast, reference, Lava) bit
for bit, frame-local features, recordings, the detector and its scores, the CLI and its
bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from badinput import assert_bad_input, run_scnn
from conftest import tone, tone_fsdd, write_wav

import scnn
from scnn.features import FeatureConfig, extract, recording_features
from scnn.hw.errors import ScnnError
from scnn.sim import fast, reference
from scnn.sim.network import networks_equal
from scnn.sim.netx import read_netx, write_netx
from scnn.stream import (
    INPUT_MESSAGE_BITS,
    StreamConfig,
    StreamLIF,
    Utterance,
    calibrate_threshold,
    check_stream_limits,
    detect,
    make_recording,
    quantize_stream,
    read_labels,
    score_detections,
    stream_network,
    stream_spikes,
    write_labels,
)


def _toy(seed: int = 0, steps_per_frame: int = 2):
    """A random streamed network (8 bands, 6 frames -> 20 -> 12 -> 4 classes) that spikes."""
    torch.manual_seed(seed)
    cfg = StreamConfig(n_in=8, n_frames=6, hidden=(20, 12), n_classes=4,
                       steps_per_frame=steps_per_frame, beta=0.85, readout_beta=0.9)
    model = StreamLIF(cfg)
    with torch.no_grad():
        for syn in model.synapses:
            syn.weight.mul_(3.0)
        model.in_gain.uniform_(0.5, 2.0)
        model.in_offset.uniform_(-0.3, 0.6)
    x = torch.randn(24, 1, 8, 6)
    return model.eval(), quantize_stream(model, x), x


def _chip_input(q, x: torch.Tensor) -> np.ndarray:
    xin = q.drive(x).detach().numpy().astype(np.int32)  # (B, F, N)
    card = {"drive": {"steps_per_frame": q.cfg.steps_per_frame},
            "synapse_layers": q.cfg.synapse_layers}
    return stream_spikes(card, xin)


def _assert_chip_equals_model(q, x: torch.Tensor, sim=fast) -> None:
    with torch.no_grad():
        _, spikes, v_out = q(x, record=True)
    net = stream_network(q)
    u = _chip_input(q, x)
    res = sim.simulate(net, u.shape[-1], spikes=u)
    steps = q.cfg.steps
    for k, s in enumerate(spikes):  # layer k's spikes arrive k + 1 chip steps later
        chip = res[f"layer{k}/s"][..., k + 1 : k + 1 + steps].transpose(0, 2, 1)
        assert np.array_equal(chip, s.numpy().astype(bool)), k
    lat = q.cfg.synapse_layers
    chip_v = res[f"layer{len(net.layers) - 1}/v"][..., lat : lat + steps].transpose(0, 2, 1)
    assert np.array_equal(chip_v, v_out.numpy().astype(np.int64))


def test_integer_model_is_the_chip_bit_for_bit() -> None:
    model, q, x = _toy()
    with torch.no_grad():
        _, spikes, _ = q(x, record=True)
    assert all(0.01 < float(s.mean()) < 0.9 for s in spikes)  # the toy is alive
    _assert_chip_equals_model(q, x)
    _assert_chip_equals_model(q, x[:3], reference)
    opt = torch.optim.SGD(q.parameters(), lr=5.0)  # after a training step, still the chip
    torch.nn.functional.cross_entropy(q(x), torch.arange(len(x)) % 4).backward()
    opt.step()
    _assert_chip_equals_model(q, x)
    one = _toy(1, steps_per_frame=1)[1]
    _assert_chip_equals_model(one, x)


def test_spike_input_reaches_the_chip_as_counts() -> None:
    """input="spikes" (SHD/SSC): the chip's input is the counts themselves, the float
    model's fixed gain folds into the first weights, nothing learns an input affine."""
    torch.manual_seed(3)
    cfg = StreamConfig(n_in=8, n_frames=6, hidden=(20, 12), n_classes=4, beta=0.85,
                       readout_beta=0.9, input="spikes", input_gain=0.5)
    model = StreamLIF(cfg)
    assert "in_gain" not in dict(model.named_parameters())
    with torch.no_grad():
        for syn in model.synapses:
            syn.weight.mul_(3.0)
    x = torch.poisson(torch.full((24, 1, 8, 6), 1.5)).clamp(max=127)
    q = quantize_stream(model.eval(), x)
    assert q.quant.input_scale == 2.0
    assert torch.equal(q.drive(x), x[:, 0].double())
    assert all(0.01 < float(s.mean()) < 0.9 for s in q(x, record=True)[1])
    _assert_chip_equals_model(q, x)
    opt = torch.optim.SGD(q.parameters(), lr=5.0)
    torch.nn.functional.cross_entropy(q(x), torch.arange(len(x)) % 4).backward()
    opt.step()
    assert torch.equal(q.drive(x), x[:, 0].double())
    _assert_chip_equals_model(q, x)
    with pytest.raises(ScnnError, match="input must be one of graded, spikes"):
        StreamConfig(input="analog")
    with pytest.raises(ScnnError, match="input_gain must be a finite number > 0"):
        StreamConfig(input="spikes", input_gain=float("nan"))


@pytest.mark.lava
def test_lava_runs_the_stream_network_bit_for_bit() -> None:
    from scnn.sim import lava_backend

    _, q, x = _toy(2)
    net = stream_network(q)
    u = _chip_input(q, x[:2])
    scnn.assert_same(lava_backend.simulate(net, u.shape[-1], spikes=u),
                     fast.simulate(net, u.shape[-1], spikes=u))


def test_quantiser_keeps_the_chip_limits() -> None:
    _, q, x = _toy()
    lim = check_stream_limits(q, x)
    assert 0 < lim["graded_input_max"] <= 2 * (1 << 16)
    assert 0 < lim["readout_v_max"] < q.quant.vth[-1] << 6
    xin = q.drive(x)
    assert float(xin.abs().max()) <= 127 and torch.equal(xin, torch.round(xin))
    assert all(float(w.abs().max()) <= 254 and not (w % 2).any() for w in q.int_weights())


def test_netx_round_trip_with_graded_input(tmp_path: Path) -> None:
    _, q, _ = _toy()
    net = stream_network(q)
    path = write_netx(net, tmp_path / "s.net")
    assert networks_equal(read_netx(path, input_message_bits=INPUT_MESSAGE_BITS), net)


def test_recording_features_are_frame_local() -> None:
    fcfg = FeatureConfig(kind="logmel")
    clip = tone(0.5, freq=700)
    hop = fcfg.hop_length
    wave = np.concatenate([np.zeros(7 * hop, np.float32), clip, np.zeros(40 * hop, np.float32)])
    rec = recording_features(wave, fcfg)[0]
    alone = recording_features(np.concatenate([clip, np.zeros(40 * hop, np.float32)]), fcfg)[0]
    n = len(clip) // hop - 1  # frames whose windows lie inside the clip and after it
    assert torch.allclose(rec[:, 8 : 8 + n], alone[:, 1 : 1 + n], atol=1e-4)
    with pytest.raises(ScnnError, match="logmel front end"):
        recording_features(wave, FeatureConfig(kind="mfcc"))
    with pytest.raises(ScnnError, match="at least n_fft"):
        recording_features(np.zeros(10, np.float32), fcfg)
    # a 1 s clip's log-mel map is the recording of that clip
    one = np.pad(clip, (0, fcfg.n_samples - len(clip)))
    assert torch.allclose(extract([one], fcfg)[0, 0], recording_features(one, fcfg)[0],
                          atol=1e-5)


def test_make_recording_places_clips_after_gaps() -> None:
    waves = [np.full(800 + 100 * i, 0.1 * (i + 1), np.float32) for i in range(6)]
    wave, truth = make_recording(waves, list(range(6)), 8000, seconds=5.0, gap=(0.2, 0.4),
                                 seed=3, names=[f"c{i}" for i in range(6)])
    assert len(wave) == 40000 and truth
    again = make_recording(waves, list(range(6)), 8000, seconds=5.0, gap=(0.2, 0.4), seed=3,
                           names=[f"c{i}" for i in range(6)])
    assert np.array_equal(wave, again[0]) and truth == again[1]
    prev = 0.0
    for u in truth:
        assert 0.2 - 1e-9 <= u.onset - prev <= 0.4 + 1e-4
        start = int(round(u.onset * 8000))
        clip = waves[int(u.clip[1:])]
        assert np.array_equal(wave[start : start + len(clip)], clip) and u.label == int(u.clip[1:])
        prev = u.offset
    for bad, match in (({"seconds": 0.0}, "length"), ({"gap": (1.0, 0.5)}, "gap"),
                       ({"seconds": 0.05}, "no clip fits")):
        with pytest.raises(ScnnError, match=match):
            make_recording(waves, list(range(6)), 8000, **{"seconds": 5.0, **bad})


def test_labels_round_trip_and_bad_rows(tmp_path: Path) -> None:
    truth = [Utterance(0.5, 0.9, 1, "a.wav"), Utterance(2.0, 2.5, 0, "b.wav")]
    write_labels(tmp_path / "l.csv", truth, ["zero", "one"])
    got = read_labels(tmp_path / "l.csv", ["zero", "one"])
    assert [(u.label, u.clip) for u in got] == [(1, "a.wav"), (0, "b.wav")]
    assert abs(got[0].onset - 0.5) < 1e-9
    for text, match in (("a,b\n", "header"), ("onset_s,offset_s,label\nx,1,one\n", "numbers"),
                        ("onset_s,offset_s,label\n1,2,two\n", "one of the network's classes"),
                        ("onset_s,offset_s,label\n2,1,one\n", "onset_s <= offset_s")):
        (tmp_path / "b.csv").write_text(text)
        with pytest.raises(ScnnError, match=match):
            read_labels(tmp_path / "b.csv", ["zero", "one"])


def _card(k: int = 1, lat: int = 2, threshold: int | None = 10) -> dict:
    return {"drive": {"steps_per_frame": k}, "synapse_layers": lat,
            "stream": {"frame_seconds": 0.1, "latency_steps": lat,
                       "detector": {"threshold": threshold}}}


def test_detector_events_and_scores() -> None:
    v = np.zeros((3, 40), np.int64)
    v[1, 5:9] = [12, 30, 20, 3]     # class 1 from step 5, peak at 6, released at 8
    v[2, 20:23] = [11, 9, 40]       # class 2 from step 20 (margins 11, 6, 40) ...
    v[0, 20:23] = [0, 3, 0]
    v[2, 23:] = 6                   # ... above the release (5) to the end
    dets = detect(v, _card())       # time = (step - 2 latency steps) * 0.1 s
    assert [(d.label, d.margin) for d in dets] == [(1, 30), (2, 40)]
    assert [d.time for d in dets] == pytest.approx([0.3, 1.8])
    assert [d.peak_time for d in dets] == pytest.approx([0.4, 2.0])
    high = detect(v, _card(), threshold=35)  # only the peak of 40, released at once
    assert [(d.label, d.margin) for d in high] == [(2, 40)]
    assert high[0].time == pytest.approx(2.0)
    truth = [Utterance(0.2, 0.5, 1), Utterance(1.5, 1.7, 0), Utterance(5.0, 5.5, 2)]
    sc = score_detections(dets, truth, tolerance=0.2)
    assert (sc["correct"], sc["precision"], sc["recall"]) == (1, 0.5, pytest.approx(1 / 3))
    assert score_detections([], truth)["f1"] == 0.0
    cal = calibrate_threshold(v, _card(threshold=None), [Utterance(0.2, 0.5, 1),
                                                         Utterance(1.7, 2.0, 2)])
    assert cal["calibration"]["f1"] == 1.0 and 6 <= cal["threshold"] <= 30
    with pytest.raises(ScnnError, match="no calibrated detector threshold"):
        detect(v, _card(threshold=None))


# ---------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def stream_net(tmp_path_factory) -> Path:
    """A small streamed network trained by the CLI on generated tones."""
    root = tmp_path_factory.mktemp("streamdata")
    tone_fsdd(root, freq_step=700.0)
    out = root / "net" / "s.net"
    res = run_scnn(["train-stream", "--out", str(out), "--data", str(root / "fsdd"),
                    "--hidden", "24", "--epochs", "12", "--qat-epochs", "1", "--lr", "0.01"],
                   cwd=root)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "bit-exact" in res.stdout and out.exists()
    return out


def test_cli_trains_streams_and_scores(stream_net: Path, tmp_path: Path) -> None:
    card = json.loads(stream_net.with_suffix(".json").read_text())
    assert card["drive"]["kind"] == "stream" and card["input_message_bits"] == 8
    assert card["stream"]["detector"]["threshold"] > 0
    assert card["accuracy"]["bit_exact"]["n"] == 30  # indices 0-4 of 3 digits x 2 speakers
    data = stream_net.parent.parent / "fsdd"
    wav = tmp_path / "r.wav"
    res = run_scnn(["data", "recording", "--out", str(wav), "--data", str(data), "--seconds",
                    "12", "--gap", "0.4:0.8"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "r.csv").exists()
    res = run_scnn(["stream", str(stream_net), str(wav), "--labels", str(tmp_path / "r.csv"),
                    "--json", str(tmp_path / "o.json")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads((tmp_path / "o.json").read_text())
    assert out["seconds"] == 12.0 and out["frames"] == 12 * 8000 // 256 + 1
    assert "precision" in res.stdout and "uJ dynamic per second of audio" in res.stdout
    assert 0 <= out["score"]["precision"] <= 1 and out["score"]["utterances"] >= 5
    assert out["profile"]["dynamic_uj_per_s"] > 0 and out["profile"]["cores"] >= 1
    # the card drives `scnn eval` and `scnn profile` on clips too
    res = run_scnn(["eval", str(stream_net), "--data", str(data)], cwd=tmp_path)
    assert res.returncode == 0 and "%" in res.stdout, res.stderr[-2000:]
    res = run_scnn(["profile", str(stream_net), "--data", str(data), "--json",
                    str(tmp_path / "p.json")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    prof = json.loads((tmp_path / "p.json").read_text())
    assert prof["chip"] == "loihi2" and prof["energy_uj"]["dynamic"] > 0
    assert prof["stream"]["dynamic_uj_per_s"] == pytest.approx(prof["energy_uj"]["dynamic"])
    assert "per second of audio" in res.stdout


@pytest.mark.lava
def test_lava_streams_the_same_readout(stream_net: Path) -> None:
    from scnn.stream import load_stream_net, run_recording

    net, card = load_stream_net(stream_net)
    wave = np.concatenate([np.zeros(2000, np.float32), tone(0.4, freq=1000),
                           np.zeros(3000, np.float32), tone(0.3, freq=300)])
    assert np.array_equal(run_recording(net, card, wave, "lava"), run_recording(net, card, wave))


def test_stream_cli_bad_input(stream_net: Path, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "a.wav", tone(1.5))
    ref = Path(__file__).resolve().parents[1] / "netx_exports" / "fsdd_scnn.net"
    cases = [
        (["stream", str(ref), str(wav)], ("fsdd_scnn.net", "not a streamed network", "'bias'")),
        (["stream", str(stream_net), str(wav), "--backend", "gpu"], ("--backend", "'gpu'")),
        (["stream", str(stream_net), str(tmp_path / "none.wav")], ("none.wav", "cannot read")),
        (["stream", str(stream_net), str(wav), "--threshold", "0"], ("--threshold",)),
        (["stream", str(stream_net), str(wav), "--labels", str(wav)],
         ("a.wav", "not a labels CSV")),
        (["stream", str(stream_net), str(wav), "--json", str(tmp_path)], ("is a folder",)),
        (["train-stream", "--out", str(tmp_path / "x.h5")], ("x.h5", "must end in .net")),
        (["train-stream", "--out", str(tmp_path / "x.net"), "--hidden", "12,abc"],
         ("--hidden", "'12,abc'")),
        (["train-stream", "--out", str(tmp_path / "x.net"), "--hidden", "1_0"],
         ("--hidden", "'1_0'")),
        (["train-stream", "--out", str(tmp_path / "x.net"), "--hidden", "+8,8"],
         ("--hidden", "'+8,8'")),
        (["train-stream", "--out", str(tmp_path / "x.net"), "--beta", "0"], ("beta", "(0, 1]")),
        (["data", "recording", "--out", str(tmp_path / "r.mp3")], ("r.mp3", "end in .wav")),
        (["data", "recording", "--out", str(tmp_path / "r.wav"), "--gap", "2:1"],
         ("--gap", "'2:1'")),
        (["data", "recording", "--out", str(tmp_path / "r.wav"), "--split", "dev"],
         ("--split", "'dev'")),
    ]
    import os

    os.mkfifo(tmp_path / "fifo.wav")
    write_wav(tmp_path / "short.wav", tone(0.01))
    (tmp_path / "far.csv").write_text("onset_s,offset_s,label\n40,41,0\n")
    cases += [
        (["stream", str(stream_net), str(tmp_path / "fifo.wav")], ("fifo.wav", "regular file")),
        (["stream", str(stream_net), str(tmp_path / "short.wav")], ("short.wav", "256 samples")),
        (["stream", str(stream_net), str(wav), "--labels", str(tmp_path / "far.csv")],
         ("far.csv", "41.00 s", "1.50 s")),
        (["stream", str(stream_net), str(wav), "--json", "/dev/null"], ("/dev/null",
                                                                       "not a regular file")),
        (["stream", str(stream_net), str(wav), "--seconds", "inf"], ("--seconds",)),
        (["stream", str(stream_net), str(wav), "--tolerance", "inf"], ("--tolerance",)),
        (["stream", str(tmp_path / "none.net"), str(wav)], ("none.net", "no such network")),
        (["train-stream", "--out", str(tmp_path / "x.net"), "--qat-lr", "nan"], ("--qat-lr",)),
        (["data", "recording", "--out", str(tmp_path / ".wav")], ("end in .wav",)),
        (["run", "--net", str(stream_net), "--out", str(tmp_path / "r")],
         ("--net", "a streamed network")),
    ]
    keep = ("a.wav", "fifo.wav", "short.wav", "far.csv")
    for args, needles in cases:
        assert_bad_input(run_scnn(args, cwd=tmp_path, timeout=120), needles, tmp_path, keep)
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize("edit, needle", [
    (lambda c: c.pop("stream"), "model card has no 'stream."),
    (lambda c: c["drive"].update(steps_per_frame=0), "'drive.steps_per_frame' must be an integer"),
    (lambda c: c["drive"].update(steps_per_frame=1.5), "'drive.steps_per_frame' must be"),
    (lambda c: c["stream"].update(latency_steps=-3), "'stream.latency_steps'"),
    (lambda c: c["drive"].update(gain=[float("nan")] * 40), "'drive.gain' must be 40 finite"),
    (lambda c: c["drive"].update(max=1000000), "'drive.max' must be an integer in [1, 127]"),
    (lambda c: c.update(classes=["a", "b"]), "'classes' must be 10 names"),
    (lambda c: c["readout"].update(layer=0), "'readout.layer'"),
    (lambda c: c["stream"]["detector"].update(threshold=-5), "'stream.detector.threshold'"),
    (lambda c: c["features"].update(bogus=1), "'features'"),
    (lambda c: c["normalization"].update(std=[0.0] * 40), "'normalization.std'"),
    (lambda c: c.update(input_message_bits="8"), "'input_message_bits'"),
])
def test_bad_stream_cards_are_refused(stream_net: Path, tmp_path: Path, edit, needle) -> None:
    import shutil

    net = tmp_path / "c.net"
    shutil.copy(stream_net, net)
    card = json.loads(stream_net.with_suffix(".json").read_text())
    edit(card)
    net.with_suffix(".json").write_text(json.dumps(card))
    wav = write_wav(tmp_path / "a.wav", tone(1.5))
    res = run_scnn(["stream", str(net), str(wav), "--threshold", "5"], cwd=tmp_path)
    assert_bad_input(res, ("c.json", needle), tmp_path, keep=("a.wav", "c.net", "c.json"))


def test_parse_hidden_takes_spaced_sizes_only_as_plain_digits():
    from scnn.commands.stream import parse_hidden

    assert parse_hidden("256, 128") == (256, 128)
    assert parse_hidden(" 8") == (8,)
    for bad in ("", "8,", "0", "4097", "\u0668", "1e2", ",".join(["4"] * 9)):
        with pytest.raises(ScnnError, match="--hidden"):
            parse_hidden(bad)
