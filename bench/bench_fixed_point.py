"""Float vs Loihi fixed point over several seeds: what the chip loses, measured bit-exactly.

Usage (from the repository root, after `make venv`):

    SCNN_DATA=../shared/data/fsdd .venv/bin/python bench/bench_fixed_point.py \
        [--seeds 0 1 2 3 4] [--out runs/bench-fixed-point] [--reuse DIR]

Per seed: train the default SCNN (or reuse DIR/scnn-seedS when it holds a trained run,
e.g. the output of bench_train.py), quantise it, fine-tune it with the Loihi-exact
layer (the rule of ``pipeline.qat.finetune`` picks the exported candidate from training
accuracy only), export NetX and evaluate the exported network on the whole test split
in the bit-exact simulator. Prints float, quantised and fine-tuned accuracy (the last
two from the Loihi-exact forward, which equals the simulator bit for bit), the
bit-exact accuracy of the export and its gap to float; then mean +- sd. Writes
OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

from scnn.export import export_netx
from scnn.features import FeatureConfig
from scnn.hweval import evaluate_netx
from scnn.models.scnn import get_config
from scnn.qat import QAT_EPOCHS, QAT_LR, finetune
from scnn.train import TrainConfig, load_run, load_splits, train_run

COLUMNS = ("float", "quantised", "finetuned", "bitexact", "gap")


def one_seed(seed: int, out: Path, reuse: Path | None, data: Path | None, tensors, norm, fcfg,
             classes) -> dict:
    run = out / f"scnn-seed{seed}"
    src = reuse / f"scnn-seed{seed}" if reuse else None
    if src is not None and (src / "model.pt").exists():
        run.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.pt", "metrics.json"):
            shutil.copy(src / name, run / name)
    else:
        mcfg = get_config("scnn", input_shape=fcfg.shape, seed=seed)
        train_run(mcfg, TrainConfig(seed=seed), tensors, norm, fcfg, classes, run,
                  progress=False)
    m = finetune(load_run(run), TrainConfig(epochs=QAT_EPOCHS, lr=QAT_LR, seed=seed), tensors,
                 run, progress=False)
    export_netx(run, run / "network.net")
    rep = evaluate_netx(run / "network.net", data, "fast", None, "test")
    row = {"seed": seed, "float": 100 * m["float_accuracy"],
           "quantised": 100 * m["quantized_accuracy"],
           "finetuned": 100 * m.get("finetuned_accuracy", m["quantized_accuracy"]),
           "kept": m["kept"], "bitexact": 100 * rep["accuracy"], "n": rep["n"]}
    row["gap"] = row["float"] - row["bitexact"]
    print(f"seed {seed}: float {row['float']:.2f}  quantised {row['quantised']:.2f}  "
          f"fine-tuned {row['finetuned']:.2f}  kept {row['kept']:<10} bit-exact "
          f"{row['bitexact']:.2f} % (n={row['n']})  gap {row['gap']:+.2f}", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--reuse", type=Path, default=None,
                    help="Directory with trained float runs scnn-seedS to start from.")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-fixed-point"))
    args = ap.parse_args(argv)
    fcfg = FeatureConfig()
    tensors, norm, classes = load_splits(args.data, fcfg, cache_dir=args.out / ".cache",
                                         progress=False)
    rows = [one_seed(s, args.out, args.reuse, args.data, tensors, norm, fcfg, classes)
            for s in args.seeds]
    summary: dict = {"seeds": args.seeds, "rows": rows}
    for key in COLUMNS:
        vals = [r[key] for r in rows]
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        summary[key] = {"mean": statistics.mean(vals), "sd": sd}
    print("mean +- sd over seeds " + ", ".join(map(str, args.seeds)) + ": " + "  ".join(
        f"{k} {summary[k]['mean']:.2f} +- {summary[k]['sd']:.2f}" for k in COLUMNS), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
