"""Train a model with several seeds on FSDD's official split; print mean +- sd.

Usage (from the repository root, after `make venv`):

    SCNN_DATA=../shared/data/fsdd .venv/bin/python bench/bench_train.py \
        [--model scnn] [--seeds 0 1 2 3 4] [--twin] [--out runs/bench-train]

Prints one line per seed (test accuracy, training time) and the summary; with
``--twin`` the CNN twin of the same topology is trained beside it. Results are
also written to OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from scnn.features import FeatureConfig
from scnn.models.scnn import get_config
from scnn.train import TrainConfig, load_splits, train_run


def bench(model: str, seeds: list[int], epochs: int | None, out: Path, tensors, norm, fcfg,
          classes) -> dict:
    rows = []
    for seed in seeds:
        mcfg = get_config(model, input_shape=fcfg.shape, seed=seed)
        tcfg = TrainConfig(seed=seed, **({"epochs": epochs} if epochs else {}))
        m = train_run(mcfg, tcfg, tensors, norm, fcfg, classes, out / f"{model}-seed{seed}",
                      progress=False)
        rows.append(m)
        print(f"{model:>10} seed {seed}: test {100 * m['test_accuracy']:.2f} %  "
              f"train time {m['train_seconds']:.0f} s", flush=True)
    acc = [100 * m["test_accuracy"] for m in rows]
    sec = [m["train_seconds"] for m in rows]
    sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
    summary = {"model": model, "seeds": seeds, "accuracy_mean": statistics.mean(acc),
               "accuracy_sd": sd, "accuracies": acc, "train_seconds_mean": statistics.mean(sec),
               "train_seconds_max": max(sec), "steps": rows[0]["steps"],
               "epochs": rows[0]["epochs"]}
    print(f"{model:>10}: {summary['accuracy_mean']:.2f} +- {sd:.2f} % over {len(seeds)} seeds "
          f"(T={summary['steps']}, {summary['epochs']} epochs), training "
          f"{summary['train_seconds_mean']:.0f} s mean / {max(sec):.0f} s max per seed", flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="scnn")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--twin", action="store_true", help="also train the CNN twin")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-train"))
    args = ap.parse_args(argv)
    fcfg = FeatureConfig()
    tensors, norm, classes = load_splits(args.data, fcfg, cache_dir=args.out / ".cache",
                                         progress=False)
    print(f"FSDD official split: {len(tensors['train'][1])} train, {len(tensors['test'][1])} "
          f"test clips; front end {fcfg.kind} {fcfg.shape}", flush=True)
    results = [bench(args.model, args.seeds, args.epochs, args.out, tensors, norm, fcfg, classes)]
    if args.twin:
        results.append(bench(f"cnn_{args.model}", args.seeds, args.epochs, args.out, tensors,
                             norm, fcfg, classes))
    (args.out / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
