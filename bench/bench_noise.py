"""Accuracy in noise on FSDD: the default SCNN, its chip export (bit-exact) and its CNN
twin on test clips mixed with white, pink and babble noise at several SNRs.

Usage (from the repository root, after `make venv`):

    SCNN_DATA=../shared/data/fsdd .venv/bin/python bench/bench_noise.py \
        [--seeds 0 1 2] [--kinds white pink babble] [--snrs 20 10 5 0] [--epochs 40] \
        [--qat-epochs 3] [--out runs/bench-noise]

Per seed: train the default SCNN and its twin ``cnn_scnn`` on the official training
split, quantise (and fine-tune) the SCNN and export it, as bench/bench_speakers.py does
(a seed whose OUT/seedS/pair.json exists is reused). Then, for the clean test split (the
baseline, measured in the same run) and for every kind x SNR (``scnn.data.noise``: each
clip's noise seeded by its file name, babble from other speakers' training clips), the
twin's and the SCNN's float accuracy and the export's bit-exact accuracy
(``scnn.sim.fast``, driven as the model card says) on all 300 test clips. Prints one
line per condition and seed, then mean +- sd over seeds; writes OUT/summary.json and
OUT/accuracy_vs_snr.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from bench_speakers import check_training_args, train_pair, training_args

from scnn.data import SplitSpec
from scnn.data.noise import NOISE_KINDS, NoiseSpec
from scnn.export import load_card, read_card_net
from scnn.hw.errors import ScnnError
from scnn.hweval import predict_netx
from scnn.plots import pyplot, save_figure
from scnn.train import load_features, load_run, predict

COLUMNS = ("twin", "float", "bitexact")


def conditions(kinds: list[str], snrs: list[float]) -> list[NoiseSpec | None]:
    return [None] + [NoiseSpec(k, s) for k in kinds for s in snrs]


def label(noise: NoiseSpec | None) -> str:
    return "clean" if noise is None else f"{noise.kind} {noise.snr_db:g} dB"


def measure(pair: Path, noise: NoiseSpec | None, data: Path | None, cache: Path) -> dict:
    """The three accuracies (%) of one seed's networks on the noisy test split."""
    scnn = load_run(pair / "scnn")
    raw, _ = load_features(data, scnn.features, splits=("test",), cache_dir=cache,
                           progress=False, noise=noise)
    x, y = raw["test"]
    out = {}
    for key, name in (("twin", "cnn_scnn"), ("float", "scnn")):
        run = load_run(pair / name)
        out[key] = 100 * float((predict(run.model, run.normalizer(x)) == y).float().mean())
    net_path = pair / "scnn" / "network.net"
    card = load_card(net_path)
    pred, _ = predict_netx(read_card_net(net_path, card), card, x, "fast", progress=False)
    out["bitexact"] = 100 * float((pred == y.numpy()).mean())
    out["n"] = len(y)
    return out


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def plot(summary: dict, kinds: list[str], snrs: list[float], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(kinds), figsize=(4 * len(kinds), 3.2), squeeze=False,
                             sharey=True)
    clean = summary["clean"]
    for ax, kind in zip(axes[0], kinds, strict=True):
        for k, col in enumerate(COLUMNS):
            ys = [summary[f"{kind} {s:g} dB"][col][0] for s in snrs]
            ax.plot(snrs, ys, "o-", color=f"C{k}", label={"twin": "CNN twin (float)",
                                                         "float": "SCNN (float)",
                                                         "bitexact": "SCNN on chip (bit-exact)"
                                                         }[col])
            ax.axhline(clean[col][0], color=f"C{k}", ls=":", lw=0.8)
        ax.set(title=f"{kind} noise", xlabel="SNR (dB)")
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%), dotted: clean")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("FSDD test split in noise (mean over seeds)", fontsize=9)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--kinds", nargs="+", default=list(NOISE_KINDS), choices=NOISE_KINDS)
    ap.add_argument("--snrs", type=float, nargs="+", default=[20.0, 10.0, 5.0, 0.0])
    training_args(ap, "runs/bench-noise")
    args = ap.parse_args(argv)
    check_training_args(ap, args)
    try:
        conds = conditions(args.kinds, args.snrs)  # checks every SNR before any training
    except ScnnError as err:
        ap.error(str(err).replace("--snr", "--snrs"))
    rows = []
    print(f"{'seed':>4} {'condition':>16} {'twin':>7} {'float':>7} {'bit-exact':>9}")
    for seed in args.seeds:
        pair = args.out / f"seed{seed}"
        done = pair / "pair.json"
        if not done.exists():
            trained = train_pair(seed, SplitSpec(), args.epochs, args.qat_epochs, args.data,
                                 pair, args.augment, args.cmn)
            done.write_text(json.dumps(trained, indent=2) + "\n")
        trained = json.loads(done.read_text())
        aug = args.augment.to_dict() if args.augment else None
        if (trained["epochs"], trained["qat_epochs"], trained.get("augment"),
                trained.get("cmn", False)) != (args.epochs, args.qat_epochs, aug, args.cmn):
            ap.error(f"{done} was trained with --epochs {trained['epochs']} --qat-epochs "
                     f"{trained['qat_epochs']} augment {trained.get('augment')}; use another "
                     "--out")
        for noise in conds:
            r = {"seed": seed, "condition": label(noise),
                 **measure(pair, noise, args.data, args.out / ".cache")}
            if noise is None and abs(r["bitexact"] - trained["bitexact"]) > 1e-9:
                raise SystemExit(f"seed {seed}: clean bit-exact {r['bitexact']} differs from "
                                 f"scnn eval's {trained['bitexact']}")
            rows.append(r)
            print(f"{seed:>4} {r['condition']:>16} {r['twin']:7.2f} {r['float']:7.2f} "
                  f"{r['bitexact']:9.2f}", flush=True)
    summary = {}
    print(f"\nmean +- sd over seeds {', '.join(map(str, args.seeds))} ({rows[0]['n']} test "
          "clips each):")
    print(f"{'condition':>16} {'CNN twin':>15} {'SCNN float':>15} {'SCNN bit-exact':>15}")
    for noise in conds:
        mine = [r for r in rows if r["condition"] == label(noise)]
        summary[label(noise)] = {c: mean_sd([r[c] for r in mine]) for c in COLUMNS}
        print(f"{label(noise):>16} " + " ".join(
            f"{summary[label(noise)][c][0]:8.2f} +- {summary[label(noise)][c][1]:4.2f}"
            for c in COLUMNS))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps({"rows": rows, "summary": summary},
                                                      indent=2) + "\n")
    plot(summary, args.kinds, args.snrs, args.out / "accuracy_vs_snr.png")
    print(f"plot: {args.out / 'accuracy_vs_snr.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
