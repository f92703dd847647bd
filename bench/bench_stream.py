"""Streamed LIF or SDNN networks on FSDD: bit-exact clip accuracy, Loihi 2 energy per clip and per
second of audio, and detection of the digits in a 30 s recording, beside the rate-coded
reference network (netx_exports/fsdd_scnn.net) measured in the same run.

Usage (from the repository root, after `make venv`):

    SCNN_DATA=../shared/data/fsdd .venv/bin/python bench/bench_stream.py \
        [--neuron lif|sdnn] [--seeds 0 1 2] [--hidden 256,256 (lif) | 512,256 (sdnn)] \
        [--beta 0.95] [--readout-beta 0.97] [--leak-shift 4] [--sdnn-threshold 0.1] \
        [--epochs 80] [--qat-epochs 3 (lif) | 40 (sdnn)] [--seconds 30] [--lava-seconds 6] \
        [--out runs/bench-stream]

Per seed: ``scnn train-stream [--neuron sdnn]`` (``scnn.stream.train_stream_net``: float
training, fine-tuning as the chip computes, detector calibrated on a 120 s recording of
training clips) writes OUT/stream_s<seed>.net (OUT/stream_sdnn_s<seed>.net); its
bit-exact accuracy on all 300 test clips (sim.fast, frames fed as time); a Loihi 2
profile over the same clips (per 1 s clip); then ``scnn data recording`` of the test
split (``--seconds``, gaps 0.5-1.0 s, seed = the seed) streamed through the network
(``scnn stream``: precision and recall, tolerance 0.5 s; Loihi 2 energy per second of
audio), and its first ``--lava-seconds`` in Lava (netx loads the file): the readout
must equal the fast simulator's at every step. The baseline: the committed rate-coded
LIF network profiled over the same 300
clips. Prints one line per network, then mean +- sd over seeds; writes OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from scnn import defaults
from scnn.commands.stream import parse_hidden
from scnn.defaults import STREAM_EPOCHS
from scnn.export import load_card
from scnn.profiling import profile_netx
from scnn.stream import (
    StreamConfig,
    load_stream_net,
    make_recording,
    run_recording,
    stream_recording,
    train_stream_net,
    write_labels,
)
from scnn.stream_sdnn import StreamSDNNConfig
from scnn.train import TrainConfig

REPO = Path(__file__).resolve().parents[1]


def clip_profile(net: Path, data: Path | None) -> dict:
    p = profile_netx(net, data, chips=("loihi2",), progress=False)[0]
    return {"dynamic_uj": p["energy_uj"]["dynamic"], "total_uj": p["energy_uj"]["total"],
            "band": p["energy_band_uj"]["dynamic"], "latency_ms": p["latency_ms"],
            "cores": p["cores"], "spikes": p["spikes"],
            "conventional_uj": p["conventional_uj"]}


def test_recording(data: Path | None, seconds: float, seed: int, folder: Path):
    import soundfile as sf

    from scnn.data.datasets import open_dataset
    from scnn.data.fetch import resolve_data

    ds = open_dataset(resolve_data(data))
    waves, rep = ds.load_many(ds.split("test"))
    wave, truth = make_recording(waves, [c.label for c in rep.clips], ds.target_rate, seconds,
                                 (0.5, 1.0), seed, [c.path.name for c in rep.clips])
    wav = folder / f"test_{seconds:g}s_s{seed}.wav"
    sf.write(wav, np.clip(wave, -1, 1), ds.target_rate, subtype="PCM_16")
    write_labels(wav.with_suffix(".csv"), truth, ds.classes)
    return wav


def record_score(net: Path, st: dict, seconds: float, seed: int) -> None:
    """The test recording's score and streamed energy into NET's card
    (``stream.test_recording``; tests/test_reference_export.py re-measures it)."""
    from scnn.export import card_path
    from scnn.sdnn import write_card

    card = load_card(net)
    card["stream"]["test_recording"] = {
        "how": f"scnn data recording --split test --seconds {seconds:g} --gap 0.5:1.0 --seed "
               f"{seed}; scnn stream NET R.wav --labels R.csv (fast, tolerance 0.5 s)",
        **{k: st["score"][k] for k in ("precision", "recall", "correct", "utterances",
                                       "detections")},
        "dynamic_uj_per_s": st["profile"]["dynamic_uj_per_s"],
        "ms_per_frame": st["profile"]["ms_per_frame"]}
    assert card_path(net).exists()
    write_card(net, card)


def measure(args, seed: int) -> dict:
    t0 = time.perf_counter()
    if args.neuron == "lif":
        out = args.out / f"stream_s{seed}.net"
        cfg = StreamConfig(hidden=parse_hidden(args.hidden or "256,256"),
                           steps_per_frame=args.steps_per_frame, beta=args.beta,
                           readout_beta=args.readout_beta, seed=seed)
    else:
        out = args.out / f"stream_sdnn_s{seed}.net"
        cfg = StreamSDNNConfig(hidden=parse_hidden(args.hidden or "512,256"),
                               steps_per_frame=args.steps_per_frame,
                               leak_shift=args.leak_shift, threshold=args.sdnn_threshold,
                               seed=seed)
    if args.qat_epochs is None:
        args.qat_epochs = (defaults.STREAM_QAT_EPOCHS if args.neuron == "lif"
                           else defaults.STREAM_SDNN_QAT_EPOCHS)
    qat_lr = defaults.STREAM_QAT_LR if args.neuron == "lif" else defaults.STREAM_SDNN_QAT_LR
    m = train_stream_net(out, args.data, cfg, TrainConfig(epochs=args.epochs, seed=seed),
                         args.qat_epochs, qat_lr, progress=False)
    card = m["card"]
    prof = clip_profile(out, args.data)
    wav = test_recording(args.data, args.seconds, seed, args.out)
    st = stream_recording(out, wav, wav.with_suffix(".csv"))
    record_score(out, st, args.seconds, seed)
    net, card = load_stream_net(out)
    from scnn.data.audio import load_audio

    wave = load_audio(wav)[0][: int(args.lava_seconds * 8000)]
    same = bool(np.array_equal(run_recording(net, card, wave, "lava"),
                               run_recording(net, card, wave)))
    return {"seed": seed, "net": str(out), "float": 100 * m["float_accuracy"],
            "bitexact": 100 * card["accuracy"]["bit_exact"]["accuracy"], **prof,
            "precision": 100 * st["score"]["precision"], "recall": 100 * st["score"]["recall"],
            "utterances": st["score"]["utterances"],
            "uj_per_s": st["profile"]["dynamic_uj_per_s"],
            "uj_per_s_band": st["profile"]["band_uj_per_s"],
            "static_powered_uj_per_s": st["profile"]["static_uj_per_s_powered"],
            "ms_per_frame": st["profile"]["ms_per_frame"],
            "threshold": card["stream"]["detector"]["threshold"],
            "lava_same_readout": same, "lava_seconds": args.lava_seconds,
            "seconds": round(time.perf_counter() - t0, 1)}


def line(r: dict) -> str:
    return (f"seed {r['seed']}: float {r['float']:.2f} %, bit-exact {r['bitexact']:.2f} %, "
            f"per clip {r['dynamic_uj']:.3f} uJ dyn [{r['band'][0]:.2f}-{r['band'][1]:.2f}] "
            f"{r['total_uj']:.2f} total, {r['latency_ms']:.4f} ms, {r['cores']} cores; "
            f"stream {r['precision']:.1f} % precision, {r['recall']:.1f} % recall of "
            f"{r['utterances']}, {r['uj_per_s']:.3f} uJ/s dyn, {r['ms_per_frame']:.4f} ms/frame; "
            f"Lava {r['lava_seconds']:g} s readout same: {r['lava_same_readout']} "
            f"({r['seconds']} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--neuron", choices=("lif", "sdnn"), default="lif")
    ap.add_argument("--hidden", default=None)
    ap.add_argument("--beta", type=float, default=0.95)
    ap.add_argument("--readout-beta", type=float, default=0.97)
    ap.add_argument("--leak-shift", type=int, default=defaults.STREAM_SDNN_LEAK_SHIFT)
    ap.add_argument("--sdnn-threshold", type=float, default=defaults.STREAM_SDNN_THRESHOLD)
    ap.add_argument("--steps-per-frame", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=STREAM_EPOCHS)
    ap.add_argument("--qat-epochs", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--lava-seconds", type=float, default=6.0)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-stream"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    ref = REPO / "netx_exports" / "fsdd_scnn.net"
    base = clip_profile(ref, args.data)
    acc = 100 * load_card(ref)["accuracy"]["bit_exact"]["accuracy"]
    print(f"baseline {ref.name} (rate-coded LIF, T = 8): bit-exact {acc:.2f} %, "
          f"{base['dynamic_uj']:.2f} uJ dyn [{base['band'][0]:.1f}-{base['band'][1]:.1f}] "
          f"{base['total_uj']:.1f} total per clip, {base['latency_ms']:.3f} ms, "
          f"{base['cores']} cores; conventional (Horowitz MACs) "
          f"{base['conventional_uj']['cnn_twin']:.2f} uJ", flush=True)
    rows = []
    for seed in args.seeds:
        rows.append(measure(args, seed))
        print(line(rows[-1]), flush=True)
    keys = ("float", "bitexact", "dynamic_uj", "total_uj", "latency_ms", "precision", "recall",
            "uj_per_s", "ms_per_frame")
    mean = {k: statistics.mean(r[k] for r in rows) for k in keys}
    sd = {k: statistics.stdev(r[k] for r in rows) if len(rows) > 1 else 0.0 for k in keys}
    print("mean +- sd over seeds " + ", ".join(str(s) for s in args.seeds) + ": "
          + ", ".join(f"{k} {mean[k]:.4g} +- {sd[k]:.2g}" for k in keys))
    (args.out / "summary.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "baseline": base,
         "baseline_bitexact": acc, "rows": rows, "mean": mean, "sd": sd}, indent=2) + "\n")
    if not all(r["lava_same_readout"] for r in rows):
        sys.exit("Lava's readout differs from the fast simulator's")


if __name__ == "__main__":
    main()
