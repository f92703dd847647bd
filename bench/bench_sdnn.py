"""CNN -> SDNN conversion (graded spikes) on FSDD: bit-exact accuracy and Loihi 2 energy per
threshold and per number of steps, beside the CNN twin's float accuracy and its
conventional (Horowitz MAC) energy.

Usage (from the repository root, after `make venv`):

    SCNN_DATA=../shared/data/fsdd .venv/bin/python bench/bench_sdnn.py \
        [--seeds 0 1 2] [--thresholds 0 0.02 0.05 0.08] [--steps 1 2 4 8] \
        [--lava-clips 8] [--width 1.0] [--out runs/bench-sdnn]

Per seed: the CNN twin of the default SCNN (``cnn_scnn``, 40 epochs, as
bench/bench_convert.py trains it; ``--width`` scales its channels and hidden units),
converted by ``scnn.sdnn`` at every threshold of
``--thresholds`` (T = 1) and at every T of ``--steps`` (threshold ``--steps-threshold``),
and trained Loihi-exactly after the conversion for each ``--train EPOCHS:WEIGHT``
(``scnn.sdnn_qat``, energy weight WEIGHT);
each network is written as NetX, evaluated on all 300 test clips in the bit-exact
simulator and profiled on Loihi 2 over the same clips. ``--lava-clips`` clips spread over
the test split are also run in Lava (netx loads the file) for the default threshold:
their readouts must equal the fast simulator's. Prints one line per network, then mean
+- sd over seeds; writes OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from scnn.defaults import SDNN_RETRAIN_LR, SDNN_THRESHOLD
from scnn.features import FeatureConfig, Normalizer
from scnn.hweval import predict_netx, spread
from scnn.models.scnn import get_config, with_width
from scnn.profiling import chip_profile, simulate_activity
from scnn.sdnn import convert_sdnn_run
from scnn.train import TrainConfig, load_features, load_run, train_run


def measure(run, tensors, raw, out: Path, threshold: float, steps: int,
            train: tuple[int, float] | None = None, seed: int = 0) -> dict:
    t0 = time.perf_counter()
    retrain = None
    if train:
        retrain = TrainConfig(epochs=train[0], lr=SDNN_RETRAIN_LR, energy_weight=train[1],
                              seed=seed)
    card = convert_sdnn_run(run, tensors, raw["test"], out, threshold=threshold, steps=steps,
                            retrain=retrain)
    from scnn.sim.netx import read_netx

    net = read_netx(out)
    prof = chip_profile(net, simulate_activity(net, card, raw["test"][0]), "loihi2")
    return {"threshold": threshold, "steps": steps, "net": str(out),
            "train": f"{train[0]} epochs, w={train[1]}" if train else "converted",
            "cnn_float": 100 * card["accuracy"]["cnn_float"]["accuracy"],
            "bitexact": 100 * card["accuracy"]["bit_exact"]["accuracy"],
            "dynamic_uj": prof["energy_uj"]["dynamic"], "total_uj": prof["energy_uj"]["total"],
            "dynamic_band_uj": list(prof["energy_band_uj"]["dynamic"]),
            "total_band_uj": list(prof["energy_band_uj"]["total"]),
            "spikes": prof["spikes"], "synops": prof["synops"], "cores": prof["cores"],
            "latency_ms": prof["latency_ms"], "cnn_twin_uj": prof["conventional_uj"]["cnn_twin"],
            "seconds": round(time.perf_counter() - t0, 1)}


def lava_check(row: dict, raw: dict, clips: int) -> dict:
    from scnn.export import load_card
    from scnn.sim.netx import read_netx

    card, net = load_card(Path(row["net"])), read_netx(Path(row["net"]))
    idx = spread(len(raw["test"][1]), clips)
    x = raw["test"][0][idx]
    t0 = time.perf_counter()
    _, vf = predict_netx(net, card, x, "fast")
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, vl = predict_netx(net, card, x, "lava")
    t_lava = time.perf_counter() - t0
    return {"clips": len(idx), "equal_readouts": int((vf == vl).all(axis=1).sum()),
            "fast_s": round(t_fast, 3), "lava_s": round(t_lava, 1)}


def line(seed: int, r: dict) -> str:
    band = "{:.1f}-{:.1f}".format(*r["dynamic_band_uj"])
    return (f"seed {seed} {r['train']:<19} threshold {r['threshold']:<5} T={r['steps']:<2} "
            f"CNN {r['cnn_float']:6.2f} %  SDNN bit-exact {r['bitexact']:6.2f} %  "
            f"Loihi 2 {r['dynamic_uj']:6.2f} uJ dyn ({band}) {r['total_uj']:6.1f} uJ total  "
            f"{r['spikes']:.0f} spikes  {r['synops']:.3g} SynOps  {r['cores']} cores  "
            f"{r['latency_ms']:.3f} ms  (CNN twin {r['cnn_twin_uj']:.1f} uJ)")


def summarise(rows: list[dict]) -> dict:
    def ms(key: str) -> list[float]:
        vals = [r[key] for r in rows]
        return [statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0]

    out = {"train": rows[0]["train"], "threshold": rows[0]["threshold"],
           "steps": rows[0]["steps"], "n": len(rows)}
    out.update({k: ms(k) for k in ("cnn_float", "bitexact", "dynamic_uj", "total_uj", "spikes",
                                   "synops", "latency_ms", "cnn_twin_uj")})
    out.update({f"{k}_band_uj": [statistics.mean(r[f"{k}_band_uj"][i] for r in rows)
                                 for i in (0, 1)] for k in ("dynamic", "total")})
    out["cores"] = sorted({r["cores"] for r in rows})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.02, 0.05, 0.08])
    ap.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--steps-threshold", type=float, default=SDNN_THRESHOLD)
    ap.add_argument("--cnn-epochs", type=int, default=40)
    ap.add_argument("--width", type=float, default=1.0,
                    help="Channel multiplier of the CNN twin (every conv and hidden layer)")
    ap.add_argument("--train", nargs="*", default=["3:0", "3:0.3"],
                    help="EPOCHS:ENERGY_WEIGHT of Loihi-exact SDNN training at "
                    "--steps-threshold, T = 1")
    ap.add_argument("--lava-clips", type=int, default=8)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-sdnn"))
    args = ap.parse_args(argv)
    if not 0 < args.width <= 4:
        ap.error(f"--width must be in (0, 4], got {args.width}")
    fcfg = FeatureConfig()
    raw, classes = load_features(args.data, fcfg, cache_dir=args.out / ".cache", progress=False)
    norm = Normalizer.fit(raw["train"][0])
    tensors = {s: (norm(x), y) for s, (x, y) in raw.items()}
    print(f"FSDD official split: {len(raw['train'][1])} train, {len(raw['test'][1])} test clips;"
          f" CNN twin {args.cnn_epochs} epochs, width {args.width}; SDNN bit-exact and Loihi 2 "
          "profile on every test clip", flush=True)
    configs = [(th, 1, None) for th in args.thresholds]
    configs += [(args.steps_threshold, t, None) for t in args.steps
                if (args.steps_threshold, t, None) not in configs]
    for item in args.train:
        epochs, _, weight = item.partition(":")
        configs.append((args.steps_threshold, 1, (int(epochs), float(weight or 0))))
    rows: dict[tuple, list] = {c: [] for c in configs}
    lava = []
    for seed in args.seeds:
        out = args.out / f"seed{seed}"
        torch.manual_seed(seed)
        mcfg = with_width(get_config("cnn_scnn", input_shape=fcfg.shape, seed=seed), args.width)
        train_run(mcfg, TrainConfig(seed=seed, epochs=args.cnn_epochs), tensors, norm, fcfg,
                  classes, out / "cnn", progress=False)
        run = load_run(out / "cnn")
        for th, t, train in configs:
            tag = f"_e{train[0]}w{train[1]}" if train else ""
            r = measure(run, tensors, raw, out / f"sdnn_th{th}_T{t}{tag}.net", th, t, train,
                        seed)
            rows[(th, t, train)].append(r)
            print(line(seed, r), flush=True)
        if args.lava_clips > 0:
            check = lava_check(rows[(args.steps_threshold, 1, None)][-1], raw,
                               args.lava_clips)
            lava.append({"seed": seed, **check})
            print(f"seed {seed} Lava: {check['equal_readouts']}/{check['clips']} readouts equal "
                  f"to sim.fast ({check['lava_s']} s in Lava, {check['fast_s']} s fast)",
                  flush=True)
    summaries = [summarise(v) for v in rows.values()]
    print("\ntraining             threshold  T   bit-exact (%)    CNN float (%)   "
          "Loihi 2 dynamic (uJ) [band]      total (uJ) [band]           latency (ms)  "
          "spikes   CNN twin (uJ)")
    for s in summaries:
        print(f"{s['train']:<19}  {s['threshold']:<9}  {s['steps']:<2}  "
              f"{s['bitexact'][0]:6.2f} +- "
              f"{s['bitexact'][1]:4.2f}   {s['cnn_float'][0]:6.2f} +- {s['cnn_float'][1]:4.2f}   "
              f"{s['dynamic_uj'][0]:6.2f} +- {s['dynamic_uj'][1]:4.2f} "
              f"[{s['dynamic_band_uj'][0]:.1f}-{s['dynamic_band_uj'][1]:.1f}]   "
              f"{s['total_uj'][0]:6.1f} +- {s['total_uj'][1]:4.1f} "
              f"[{s['total_band_uj'][0]:.1f}-{s['total_band_uj'][1]:.1f}]   "
              f"{s['latency_ms'][0]:.3f}        {s['spikes'][0]:.0f}    "
              f"{s['cnn_twin_uj'][0]:.1f}")
    if lava:
        same = sum(c["equal_readouts"] for c in lava)
        print(f"Lava (netx loads each file): {same}/{sum(c['clips'] for c in lava)} readouts "
              "equal to sim.fast")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(
        {"summaries": summaries, "runs": [r for v in rows.values() for r in v], "lava": lava},
        indent=2) + "\n")
    return 0 if all(c["equal_readouts"] == c["clips"] for c in lava) else 1


if __name__ == "__main__":
    sys.exit(main())
