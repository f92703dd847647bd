"""Energy-aware training on FSDD: bit-exact accuracy vs Loihi 2 energy, beside the baseline.

Usage (from the repository root, after `make venv`):

    SCNN_DATA=../shared/data/fsdd .venv/bin/python bench/bench_energy_train.py \
        [--configs w=0 w=0.002 width=0.5,w=0.002 ...] [--seeds 0 1 2] [--epochs 40] \
        [--qat-epochs 3] [--profile-clips 300] [--out runs/bench-energy]

A configuration is comma-separated ``key=value`` pairs over the default ``scnn`` model:
``w`` (--energy-weight, loss per uJ), ``width`` (channel multiplier), ``T`` (steps),
``beta``, ``threshold``, ``model``. The baseline is ``w=0`` at the first configuration's
geometry and is always run. Each run is trained with surrogate gradients, quantised and
fine-tuned with the Loihi-exact layer, exported to NetX, evaluated in the bit-exact
simulator on the 300 test clips and profiled on Loihi 2 (mean per inference over
``--profile-clips`` test clips). Prints one line per run, then mean +- sd per
configuration, and writes OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from scnn.export import export_netx
from scnn.features import FeatureConfig, Normalizer
from scnn.hweval import predict_netx, spread
from scnn.models.scnn import get_config, with_width
from scnn.profiling import chip_profile, simulate_activity
from scnn.qat import QAT_LR, finetune
from scnn.sim.netx import read_netx
from scnn.train import TrainConfig, load_features, load_run, train_run

KEYS = {"w": float, "width": float, "T": int, "beta": float, "threshold": float, "model": str}


def parse_config(text: str) -> dict:
    out: dict = {}
    for part in filter(None, text.split(",")):
        key, _, val = part.partition("=")
        if key not in KEYS or not val:
            raise SystemExit(f"--configs {text!r}: expected key=value with key in {sorted(KEYS)}")
        out[key] = KEYS[key](val)
    return out


def label(cfg: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in cfg.items()) or "default"


def one_run(cfg: dict, seed: int, args, raw: dict, tensors: dict, norm, fcfg, classes) -> dict:
    mcfg = get_config(cfg.get("model", "scnn"), input_shape=fcfg.shape, seed=seed,
                      steps=cfg.get("T"), beta=cfg.get("beta"), threshold=cfg.get("threshold"))
    mcfg = with_width(mcfg, cfg.get("width", 1.0))
    energy = {"energy_weight": cfg.get("w", 0.0)}
    out = args.out / f"{label(cfg).replace('=', '').replace(',', '_')}-seed{seed}"
    t0 = time.perf_counter()
    m = train_run(mcfg, TrainConfig(epochs=args.epochs, seed=seed, **energy), tensors, norm,
                  fcfg, classes, out, progress=False)
    t_train = time.perf_counter() - t0
    q = finetune(load_run(out), TrainConfig(epochs=args.qat_epochs, lr=QAT_LR, seed=seed,
                                            **energy), tensors, out, progress=False)
    card = export_netx(out, out / "network.net")
    net = read_netx(out / "network.net")
    x, y = raw["test"]
    pred, _ = predict_netx(net, card, x)
    bitexact = float((torch.from_numpy(pred) == y).double().mean())
    idx = spread(len(x), args.profile_clips)
    prof = chip_profile(net, simulate_activity(net, card, x[idx]), "loihi2")
    row = {"config": label(cfg), "seed": seed, "float": m["test_accuracy"],
           "quantised": q["qat_accuracy"], "bitexact": bitexact,
           "dynamic_uj": prof["energy_uj"]["dynamic"], "total_uj": prof["energy_uj"]["total"],
           "dynamic_band_uj": list(prof["energy_band_uj"]["dynamic"]),
           "total_band_uj": list(prof["energy_band_uj"]["total"]),
           "synops": prof["synops"], "spikes": prof["spikes"], "cores": prof["cores"],
           "latency_ms": prof["latency_ms"], "cnn_twin_uj": prof["conventional_uj"]["cnn_twin"],
           "seconds": round(time.perf_counter() - t0, 1), "train_seconds": round(t_train, 1),
           "dir": str(out)}
    print(f"{row['config']:>24} seed {seed}: float {100 * row['float']:.2f} %  bit-exact "
          f"{100 * bitexact:.2f} %  Loihi 2 {row['dynamic_uj']:.1f} uJ dynamic / "
          f"{row['total_uj']:.1f} uJ total  {row['synops']:.3g} SynOps  {row['cores']} cores  "
          f"{row['latency_ms']:.3f} ms  (CNN twin {row['cnn_twin_uj']:.1f} uJ)  "
          f"{row['seconds']:.0f} s ({t_train:.0f} s training)", flush=True)
    return row


def summarise(rows: list[dict]) -> dict:
    def ms(key: str, scale: float = 1.0) -> tuple[float, float]:
        vals = [scale * r[key] for r in rows]
        return statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0

    return {"config": rows[0]["config"], "seeds": [r["seed"] for r in rows],
            **{k: ms(k, 100.0) for k in ("float", "bitexact")},
            **{k: ms(k) for k in ("dynamic_uj", "total_uj", "synops", "latency_ms",
                                  "cnn_twin_uj")},
            # the band of the mean: every run scales by the same PilotNet ratios
            **{f"{k}_band_uj": [statistics.mean(r[f"{k}_band_uj"][i] for r in rows)
                                for i in (0, 1)] for k in ("dynamic", "total")}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["w=0"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--qat-epochs", type=int, default=3)
    ap.add_argument("--profile-clips", type=int, default=300)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-energy"))
    args = ap.parse_args(argv)
    configs = [parse_config(c) for c in args.configs]
    base = {k: v for k, v in configs[0].items() if k != "w"} | {"w": 0.0}
    if not any({"w": 0.0} | c == base for c in configs):
        configs.insert(0, base)
    fcfg = FeatureConfig()
    raw, classes = load_features(args.data, fcfg, cache_dir=args.out / ".cache", progress=False)
    norm = Normalizer.fit(raw["train"][0])
    tensors = {s: (norm(x), y) for s, (x, y) in raw.items()}
    print(f"FSDD official split: {len(raw['train'][1])} train, {len(raw['test'][1])} test "
          f"clips; {args.epochs} epochs + {args.qat_epochs} Loihi-exact; Loihi 2 profile over "
          f"{min(args.profile_clips, len(raw['test'][1]))} test clips", flush=True)
    summaries = []
    for cfg in configs:
        rows = [one_run(cfg, s, args, raw, tensors, norm, fcfg, classes) for s in args.seeds]
        summaries.append({**summarise(rows), "runs": rows})
    print("\nconfiguration             bit-exact (%)    float (%)       Loihi 2 dynamic (uJ)  "
          "total (uJ)      latency (ms)   CNN twin (uJ)   dynamic band   total band")
    for s in summaries:
        cells = [f"{s[k][0]:6.2f} +- {s[k][1]:4.2f}" for k in ("bitexact", "float")]
        cells += [f"{s[k][0]:6.1f} +- {s[k][1]:4.1f}" for k in ("dynamic_uj", "total_uj")]
        cells += [f"{s['latency_ms'][0]:.3f}", f"{s['cnn_twin_uj'][0]:.1f}"]
        cells += ["{:.1f}-{:.1f}".format(*s[f"{k}_band_uj"]) for k in ("dynamic", "total")]
        print(f"{s['config']:<24}  " + "   ".join(cells))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summaries, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
