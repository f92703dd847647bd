"""CNN-to-SNN conversion vs retraining vs training from scratch, measured on the chip's arithmetic.

Usage (from the repository root, after `make venv`):

    SCNN_DATA=../shared/data/fsdd .venv/bin/python bench/bench_convert.py \
        [--seeds 0 1 2] [--steps 4 8 16 32 64] [--budget 10] [--out runs/bench-convert]

Per seed, on FSDD's official split:

* ``cnn``: the CNN twin of the default SCNN (ReLU, no bias), 40 epochs (float accuracy);
* ``model-norm`` / ``data-norm`` / ``data-p99.9``: the CNN converted to an IF SNN
  (pipeline.convert: model-based, data-based max, data-based 99.9th percentile) at
  every T of ``--steps``, quantised to Loihi fixed point with no training at all;
* ``converted+retrained``: the data-p99.9 conversion at ``--retrain-steps`` retrained with
  surrogate gradients for ``--budget`` epochs, then 3 epochs of Loihi-exact fine-tuning;
* ``scratch``: the same IF SNN (same T) trained from random weights for the same
  ``--budget`` epochs, then the same Loihi-exact fine-tuning.

Every SNN is exported to NetX and evaluated on the whole test split in the bit-exact
simulator; Loihi 2 energy per inference comes from the profiler (scnn.profiling) on
``--profile-clips`` clips spread over the test split. Prints one line per
configuration and seed, then the table (mean +- sd over seeds); writes OUT/rows.json,
OUT/summary.json and OUT/accuracy_vs_steps.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from scnn.convert import convert_run
from scnn.export import export_netx
from scnn.features import FeatureConfig
from scnn.hweval import evaluate_netx
from scnn.models.scnn import get_config
from scnn.plots import pyplot, save_figure
from scnn.profiling import profile_netx
from scnn.qat import QAT_EPOCHS, QAT_LR, finetune
from scnn.train import TrainConfig, load_run, load_splits, train_run

CONVERSIONS = (("model-norm", "model", 100.0), ("data-norm", "data", 100.0),
               ("data-p99.9", "data", 99.9))
RETRAIN_FROM = "data-p99.9"


class Bench:
    def __init__(self, args, tensors, norm, fcfg, classes) -> None:
        self.args, self.tensors, self.norm, self.fcfg, self.classes = (args, tensors, norm, fcfg,
                                                                       classes)
        self.rows: list[dict] = []

    def chip(self, run: Path, name: str, steps: int, seed: int, float_acc: float,
             extra: dict | None = None) -> dict:
        """Export the run, evaluate bit-exactly on the test split, profile on Loihi 2."""
        net = run / "network.net"
        export_netx(run, net)
        rep = evaluate_netx(net, self.args.data, "fast", None, "test")
        prof = profile_netx(net, self.args.data, ("loihi2",), self.args.profile_clips,
                            progress=False)[0]
        row = {"name": name, "steps": steps, "seed": seed, "float": 100 * float_acc,
               "bitexact": 100 * rep["accuracy"], "n": rep["n"],
               "energy_uj_dynamic": prof["energy_uj"]["dynamic"],
               "energy_uj_total": prof["energy_uj"]["total"], "cores": prof["cores"],
               "spikes": prof["spikes"], **(extra or {})}
        self.rows.append(row)
        print(f"seed {seed} {name:>20} T={steps:<3} float {row['float']:6.2f}  bit-exact "
              f"{row['bitexact']:6.2f} %  Loihi 2 {row['energy_uj_dynamic']:7.2f} uJ dyn "
              f"{row['energy_uj_total']:7.2f} uJ total", flush=True)
        return row

    def seed(self, seed: int) -> None:
        a, out = self.args, self.args.out / f"seed{seed}"
        t0 = time.perf_counter()
        mcfg = get_config("cnn_scnn", input_shape=self.fcfg.shape, seed=seed)
        m = train_run(mcfg, TrainConfig(seed=seed, epochs=a.cnn_epochs), self.tensors,
                      self.norm, self.fcfg, self.classes, out / "cnn", progress=False)
        self.rows.append({"name": "cnn", "steps": 1, "seed": seed,
                          "float": 100 * m["test_accuracy"], "n": m["test_n"]})
        print(f"seed {seed} {'cnn':>20} float {100 * m['test_accuracy']:.2f} % "
              f"({m['train_seconds']:.0f} s)", flush=True)
        cnn = load_run(out / "cnn")
        for name, method, pct in CONVERSIONS:
            for steps in a.steps:
                run = out / f"{name}-T{steps}"
                c = convert_run(cnn, self.tensors, run, method, pct, steps, progress=False)
                self.chip(run, name, steps, seed, c["test_accuracy"])
        qat = TrainConfig(epochs=QAT_EPOCHS, lr=QAT_LR, seed=seed)
        budget = TrainConfig(epochs=a.budget, lr=a.retrain_lr, seed=seed)
        name, method, pct = next(c for c in CONVERSIONS if c[0] == RETRAIN_FROM)
        run = out / f"retrained-T{a.retrain_steps}"
        c = convert_run(cnn, self.tensors, run, method, pct, a.retrain_steps, retrain=budget,
                        progress=False)
        q = finetune(load_run(run), qat, self.tensors, run, progress=False)
        self.chip(run, "converted+retrained", a.retrain_steps, seed, q["float_accuracy"],
                  {"converted_float": 100 * c["converted_accuracy"],
                   "train_seconds": c["train_seconds"]})
        scfg = replace(get_config("scnn", input_shape=self.fcfg.shape, seed=seed),
                       name="scnn_if", beta=1.0, steps=a.retrain_steps)
        run = out / f"scratch-T{a.retrain_steps}"
        s = train_run(scfg, TrainConfig(epochs=a.budget, seed=seed), self.tensors, self.norm,
                      self.fcfg, self.classes, run, progress=False)
        q = finetune(load_run(run), qat, self.tensors, run, progress=False)
        self.chip(run, "scratch", a.retrain_steps, seed, q["float_accuracy"],
                  {"train_seconds": s["train_seconds"]})
        print(f"seed {seed} done in {time.perf_counter() - t0:.0f} s", flush=True)


def summarise(rows: list[dict]) -> list[dict]:
    keys = []
    for r in rows:
        if (r["name"], r["steps"]) not in keys:
            keys.append((r["name"], r["steps"]))
    out = []
    for name, steps in keys:
        group = [r for r in rows if r["name"] == name and r["steps"] == steps]
        rec: dict = {"name": name, "steps": steps, "seeds": len(group)}
        for col in ("float", "bitexact", "energy_uj_dynamic", "energy_uj_total"):
            vals = [r[col] for r in group if col in r]
            if vals:
                rec[col] = statistics.mean(vals)
                rec[f"{col}_sd"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
        out.append(rec)
    return out


def fmt(rec: dict, col: str, digits: int = 2) -> str:
    if col not in rec:
        return "-"
    return f"{rec[col]:.{digits}f} +- {rec[col + '_sd']:.{digits}f}"


def print_table(summary: list[dict]) -> None:
    print("\n| configuration | T | float SNN / CNN (%) | bit-exact (%) | Loihi 2 dynamic (uJ) "
          "| Loihi 2 total (uJ) |\n|---|---|---|---|---|---|")
    for r in summary:
        steps = "-" if r["name"] == "cnn" else r["steps"]
        print(f"| {r['name']} | {steps} | {fmt(r, 'float')} | {fmt(r, 'bitexact')} | "
              f"{fmt(r, 'energy_uj_dynamic', 1)} | {fmt(r, 'energy_uj_total', 1)} |")


def plot(summary: list[dict], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, _, _ in CONVERSIONS:
        pts = [r for r in summary if r["name"] == name]
        ax.errorbar([r["steps"] for r in pts], [r["bitexact"] for r in pts],
                    yerr=[r["bitexact_sd"] for r in pts], marker="o", capsize=3,
                    label=f"converted, {name}")
    for name, marker, shift in (("converted+retrained", "*", 0.93), ("scratch", "s", 1.07)):
        pts = [r for r in summary if r["name"] == name]
        ax.errorbar([r["steps"] * shift for r in pts], [r["bitexact"] for r in pts],
                    yerr=[r["bitexact_sd"] for r in pts], marker=marker, ms=10, ls="none",
                    capsize=3, label=name)
    cnn = next((r for r in summary if r["name"] == "cnn"), None)
    if cnn:
        ax.axhline(cnn["float"], color="k", ls="--", lw=1, label=f"CNN {cnn['float']:.2f} %")
    ax.set(xscale="log", xlabel="time steps T", ylabel="bit-exact test accuracy (%)",
           title="FSDD: CNN->SNN conversion on Loihi fixed point", ylim=(0, 101))
    ax.set_xticks(sorted({r["steps"] for r in summary if r["name"] != "cnn"}))
    ax.get_xaxis().set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    ap.add_argument("--budget", type=int, default=10, help="Epochs of retraining / scratch.")
    ap.add_argument("--cnn-epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--retrain-steps", type=int, default=8)
    ap.add_argument("--retrain-lr", type=float, default=1e-3)
    ap.add_argument("--profile-clips", type=int, default=100)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-convert"))
    args = ap.parse_args(argv)
    fcfg = FeatureConfig()
    tensors, norm, classes = load_splits(args.data, fcfg, cache_dir=args.out / ".cache",
                                         progress=False)
    bench = Bench(args, tensors, norm, fcfg, classes)
    for seed in args.seeds:
        bench.seed(seed)
        (args.out / "rows.json").write_text(json.dumps(bench.rows, indent=2) + "\n")
    summary = summarise(bench.rows)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_table(summary)
    plot(summary, args.out / "accuracy_vs_steps.png")
    print(f"\nplot: {args.out / 'accuracy_vs_steps.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
