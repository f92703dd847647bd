"""Leave-one-speaker-out FSDD: how the SCNN, its chip export and its CNN twin do on a
voice they never heard.

Usage (from the repository root, after `make venv`):

    SCNN_DATA=../shared/data/fsdd .venv/bin/python bench/bench_speakers.py \
        [--seeds 0 1 2] [--speakers george jackson ...] [--epochs 40] [--qat-epochs 3] \
        [--augment-speed 0.9:1.1] [--augment-noise white,babble] [--augment-snr 0:20] \
        [--augment-copies 1] [--cmn] [--out runs/bench-speakers]

Per seed and held-out speaker (the test split is every recording of that speaker,
``--test-speaker``; the other five train): train the default SCNN and its CNN twin
``cnn_scnn`` for ``--epochs``, quantise the SCNN and fine-tune it with the Loihi-exact
layer as ``scnn run`` does (``--qat-epochs 0``: quantise only; the
rule of ``pipeline.qat.finetune`` keeps fine-tuned weights only when they raise training
accuracy), export NetX and evaluate the export on the held-out
speaker in the bit-exact simulator. Each fold writes OUT/seedS/SPEAKER/fold.json and
is skipped when that file exists, so a long run can be continued. Baseline, measured
in the same run: the committed ``netx_exports/fsdd_scnn.net`` on the official split
(every speaker's recordings 0-4, so its six voices are all in training). Prints the
per-speaker table, the mean over speakers per seed and mean +- sd over seeds; writes
OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from scnn.data import SplitSpec
from scnn.data.augment import AugmentSpec, augment_option
from scnn.export import export_netx
from scnn.features import FeatureConfig
from scnn.hw.errors import ScnnError
from scnn.hweval import evaluate_netx
from scnn.models.scnn import get_config
from scnn.qat import QAT_EPOCHS, QAT_LR, finetune
from scnn.train import TrainConfig, load_run, load_splits, train_run

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
COLUMNS = ("twin", "float", "bitexact")
REFERENCE = Path(__file__).resolve().parents[1] / "netx_exports" / "fsdd_scnn.net"


def train_pair(seed: int, spec: SplitSpec, epochs: int, qat_epochs: int, data: Path | None,
               out: Path, augment: AugmentSpec | None = None, cmn: bool = False) -> dict:
    """Train the default SCNN and its CNN twin on ``spec``'s training split (with
    ``augment``'s copies) into OUT/scnn and OUT/cnn_scnn, quantise (and fine-tune) the
    SCNN, export OUT/scnn/network.net and evaluate it bit-exactly on ``spec``'s test split;
    returns the figures (%). ``cmn``: per-clip mean normalisation in the front end."""
    fcfg = FeatureConfig(cmn=cmn)
    tensors, norm, classes = load_splits(data, fcfg, cache_dir=out.parent.parent / ".cache",
                                         progress=False, spec=spec, augment=augment)
    row = {"seed": seed, "epochs": epochs, "qat_epochs": qat_epochs,
           "augment": augment.to_dict() if augment else None, "cmn": cmn,
           "n": len(tensors["test"][1])}
    for name in ("cnn_scnn", "scnn"):
        mcfg = get_config(name, input_shape=fcfg.shape, seed=seed)
        m = train_run(mcfg, TrainConfig(epochs=epochs, seed=seed), tensors, norm, fcfg, classes,
                      out / name, progress=False, split=spec, augment=augment)
        row["twin" if name == "cnn_scnn" else "float"] = 100 * m["test_accuracy"]
    run = out / "scnn"
    q = finetune(load_run(run), TrainConfig(epochs=qat_epochs, lr=QAT_LR, seed=seed), tensors,
                 run, progress=False)
    export_netx(run, run / "network.net")
    rep = evaluate_netx(run / "network.net", data, "fast", None, "test", progress=False)
    if rep["n"] != row["n"] or rep.get("split_spec", {}) != spec.to_dict():
        raise SystemExit(f"{run}: the export was evaluated on {rep['n']} clips of "
                         f"{rep.get('split_spec')}, not on the {row['n']} of {spec}")
    row.update({"quantised": 100 * q["quantized_accuracy"], "kept": q["kept"],
                "bitexact": 100 * rep["accuracy"]})
    return row


def one_fold(seed: int, speaker: str, epochs: int, qat_epochs: int, data: Path | None,
             out: Path, augment: AugmentSpec | None = None, cmn: bool = False) -> dict:
    done = out / "fold.json"
    if done.exists():
        return json.loads(done.read_text())
    t0 = time.perf_counter()
    row = {"speaker": speaker, **train_pair(seed, SplitSpec(test_speakers=(speaker,)), epochs,
                                            qat_epochs, data, out, augment, cmn)}
    row["seconds"] = round(time.perf_counter() - t0)
    done.write_text(json.dumps(row, indent=2) + "\n")
    return row


def training_args(ap: argparse.ArgumentParser, out: str) -> None:
    """--epochs, --qat-epochs, --data and --out, as the benches that use train_pair take
    them."""
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--qat-epochs", type=int, default=QAT_EPOCHS)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path(out))
    ap.add_argument("--augment-copies", type=int, default=1)
    ap.add_argument("--augment-speed", default=None, help="LO:HI, as scnn train")
    ap.add_argument("--augment-noise", default=None, help="kinds, as scnn train")
    ap.add_argument("--augment-snr", default=None, help="LO:HI dB (default 0:20)")
    ap.add_argument("--cmn", action="store_true", help="per-clip mean normalisation")


def check_training_args(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Ranges of the training options; sets ``args.augment`` (an AugmentSpec or None)."""
    if args.epochs < 1 or args.qat_epochs < 0:
        ap.error(f"--epochs must be >= 1 and --qat-epochs >= 0, got {args.epochs}, "
                 f"{args.qat_epochs}")
    try:
        args.augment = augment_option(args.augment_copies, args.augment_speed,
                                      args.augment_noise, args.augment_snr, 0)
    except ScnnError as err:
        ap.error(str(err))


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):6.2f} +- {sd:4.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--speakers", nargs="+", default=list(SPEAKERS), choices=SPEAKERS)
    training_args(ap, "runs/bench-speakers")
    args = ap.parse_args(argv)
    check_training_args(ap, args)

    base = evaluate_netx(REFERENCE, args.data, "fast", None, "test", progress=False)
    print(f"baseline {REFERENCE.name} on the official split (all six speakers in training): "
          f"bit-exact {100 * base['accuracy']:.2f} % of {base['n']} clips", flush=True)
    rows = []
    print(f"{'seed':>4} {'held out':>9} {'clips':>5} {'twin':>7} {'float':>7} "
          f"{'bit-exact':>9} {'twin-chip':>9}  s")
    for seed in args.seeds:
        for spk in args.speakers:
            r = one_fold(seed, spk, args.epochs, args.qat_epochs, args.data,
                         args.out / f"seed{seed}" / spk, args.augment, args.cmn)
            aug = args.augment.to_dict() if args.augment else None
            if (r["epochs"], r["qat_epochs"], r.get("augment"), r.get("cmn", False)) != (
                    args.epochs, args.qat_epochs, aug, args.cmn):
                ap.error(f"{args.out}/seed{seed}/{spk}/fold.json was run with --epochs "
                         f"{r['epochs']} --qat-epochs {r['qat_epochs']} augment "
                         f"{r.get('augment')} cmn {r.get('cmn', False)}; use another --out")
            rows.append(r)
            print(f"{seed:>4} {spk:>9} {r['n']:>5} {r['twin']:7.2f} {r['float']:7.2f} "
                  f"{r['bitexact']:9.2f} {r['twin'] - r['bitexact']:+9.2f}  {r['seconds']}",
                  flush=True)
    per_seed = {}
    for seed in args.seeds:
        fold = [r for r in rows if r["seed"] == seed]
        per_seed[seed] = {c: statistics.mean(r[c] for r in fold) for c in COLUMNS}
        print(f"seed {seed} mean over {len(fold)} speakers: " + ", ".join(
            f"{c} {per_seed[seed][c]:.2f}" for c in COLUMNS), flush=True)
    print(f"mean +- sd over seeds {', '.join(map(str, args.seeds))} (each the mean over "
          "held-out speakers): " + ", ".join(
              f"{c} {mean_sd([per_seed[s][c] for s in args.seeds])}" for c in COLUMNS))
    for spk in args.speakers:
        fold = [r for r in rows if r["speaker"] == spk]
        print(f"  {spk:>9} over {len(fold)} seed(s): " + ", ".join(
            f"{c} {mean_sd([r[c] for r in fold])}" for c in COLUMNS))
    summary = {"baseline": {"network": str(REFERENCE), "accuracy": base["accuracy"],
                            "n": base["n"]}, "folds": rows,
               "per_seed_mean": {str(s): v for s, v in per_seed.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
