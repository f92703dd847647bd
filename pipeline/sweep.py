"""``scnn sweep``: accuracy-energy sweeps on Ray Tune with the chip in the loop.

A sweep is a TOML file::

    [sweep]                      # everything optional; defaults below (SweepConfig)
    model = "scnn"               # family member the trials start from
    samples = 8                  # Tune samples (each grid point is sampled this often)
    epochs = 20                  # training epochs of a trial (ASHA's max_t)
    grace_epochs = 4             # ASHA: no trial stops before this epoch
    reduction_factor = 2         # ASHA: keep the best 1/rf at each rung
    qat_epochs = 1               # Loihi-exact fine-tuning after training
    seed = 0
    cpus_per_trial = 1
    val_indices = [45, 50]       # FSDD recording indices carved from train as validation
    profile_clips = 100          # validation clips driven for the energy profile

    [space]                      # Tune search space over these keys only
    beta = [0.5, 0.75, 0.9]      # a list: choice
    steps = {grid = [4, 8]}      # grid / choice / uniform / loguniform / randint
    lr = {loguniform = [1e-3, 1e-2]}
    threshold = 1.0              # a scalar: fixed

``family`` (a [space] key like any other; default ``lif_rate``) picks what a trial
trains, so one sweep can cover the project's families and find the Pareto front over
them: ``lif_rate`` (the SCNN, its static MFCC map repeated ``steps`` times),
``sdnn_converted`` (its CNN twin, converted to a sigma-delta network at
``sdnn_threshold``, ``scnn.sdnn``), ``lif_stream`` and ``sdnn_stream`` (log-mel frames
fed as time, ``scnn.stream`` / ``scnn.stream_sdnn``; 256-256 and 512-256 hidden units
times ``width``). ``beta``, ``threshold``, ``steps``, ``slope``, ``weight_percentile``
and ``energy_weight`` shape ``lif_rate`` trials only; ``sdnn_threshold`` the sigma-delta
families (default 0.05 converted, 0.1 streamed); ``width``, ``lr`` and ``qat_epochs``
(default: the family's own) every family; a trial records what it used in
``params.json``.

Every trial trains on the training split with surrogate gradients, reporting the
float model's validation accuracy each epoch (ASHA stops the weak ones early); a
trial that reaches its last epoch is quantised, fine-tuned with the Loihi-exact
layer, exported to NetX, evaluated in the bit-exact simulator on the validation and
test splits and profiled on Loihi 2, all before its final report. Each trial writes
into its own ``OUT/trials/<trial id>/``. The objectives are bit-exact validation
accuracy (max) and Loihi 2 energy per inference (min); the test split is reported,
never used to choose. Outputs: ``trials.csv``, ``sweep.json``, ``pareto.png``,
``report.html`` and the best configuration's network ``best.net`` + ``best.json``.
"""

from __future__ import annotations

import csv
import html
import json
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from scnn.data.datasets import SplitSpec
from scnn.features import FeatureConfig, Normalizer
from scnn.hw.errors import ScnnError
from scnn.models.scnn import SCNN, get_config, with_width
from scnn.plots import pyplot, save_figure

SPACE_KEYS = ("beta", "threshold", "steps", "slope", "lr", "width", "qat_epochs",
              "weight_percentile", "energy_weight", "family", "sdnn_threshold")
FAMILIES = ("lif_rate", "sdnn_converted", "lif_stream", "sdnn_stream")
STREAMED = ("lif_stream", "sdnn_stream")


def space_values(spec) -> list:
    """Every value a [space] entry can take (a scalar, a list, or a distribution's list)."""
    if isinstance(spec, list):
        return spec
    if isinstance(spec, dict):
        return list(next(iter(spec.values())))
    return [spec]


def families(space: dict) -> list[str]:
    """The families a sweep's trials can be, in FAMILIES order."""
    got = set(space_values(space.get("family", "lif_rate")))
    return [f for f in FAMILIES if f in got]
DISTRIBUTIONS = ("grid", "choice", "uniform", "loguniform", "randint")


@dataclass(frozen=True)
class SweepConfig:
    """The [sweep] table of a sweep file, plus its [space]."""

    model: str = "scnn"
    samples: int = 8
    epochs: int = 20
    grace_epochs: int = 4
    reduction_factor: int = 2
    qat_epochs: int = 1
    seed: int = 0
    cpus_per_trial: int = 1
    val_indices: tuple[int, int] = (45, 50)
    profile_clips: int = 100
    batch_size: int = 64
    space: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        get_config(self.model)  # names the model if unknown
        for name in ("samples", "epochs", "grace_epochs", "cpus_per_trial", "profile_clips",
                     "batch_size"):
            if getattr(self, name) < 1:
                raise ScnnError(f"sweep: {name} must be >= 1, got {getattr(self, name)}")
        if self.reduction_factor < 2:
            raise ScnnError(f"sweep: reduction_factor must be >= 2, got {self.reduction_factor}")
        if len(self.val_indices) != 2 or not 0 <= self.val_indices[0] < self.val_indices[1]:
            raise ScnnError(f"sweep: val_indices must be [lo, hi) with 0 <= lo < hi, got "
                            f"{list(self.val_indices)}")
        for key, spec in self.space.items():
            if key not in SPACE_KEYS:
                raise ScnnError(f"sweep: unknown parameter {key!r} in [space]; expected one of "
                                f"{', '.join(SPACE_KEYS)}")
            if isinstance(spec, dict):
                if len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
                    raise ScnnError(f"sweep: [space] {key} = {spec}: expected one of "
                                    f"{', '.join(DISTRIBUTIONS)} = [values]")
            elif isinstance(spec, list) and not spec:
                raise ScnnError(f"sweep: [space] {key} is an empty list")
        fam = self.space.get("family")
        if fam is not None:
            if isinstance(fam, dict) and next(iter(fam)) not in ("grid", "choice"):
                raise ScnnError("sweep: [space] family takes a list, grid or choice of "
                                f"{', '.join(FAMILIES)}")
            bad = [f for f in space_values(fam) if f not in FAMILIES]
            if bad:
                raise ScnnError(f"sweep: [space] family {bad[0]!r}: expected one of "
                                f"{', '.join(FAMILIES)}")
        for v in space_values(self.space.get("sdnn_threshold", 0.0)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ScnnError(f"sweep: [space] sdnn_threshold {v!r}: a fraction in [0, 1) "
                                "of a layer's activation scale")


def load_sweep(path: Path) -> SweepConfig:
    """Parse and check a sweep TOML file."""
    import tomli

    try:
        doc = tomli.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ScnnError(f"{path}: no such sweep file") from None
    except tomli.TOMLDecodeError as err:
        raise ScnnError(f"{path}: not valid TOML ({err})") from None
    unknown = set(doc) - {"sweep", "space"}
    if unknown:
        raise ScnnError(f"{path}: unknown table(s) {sorted(unknown)}; expected [sweep], [space]")
    opts = dict(doc.get("sweep", {}))
    names = {f.name for f in fields(SweepConfig)} - {"space"}
    bad = set(opts) - names
    if bad:
        raise ScnnError(f"{path}: unknown [sweep] key(s) {sorted(bad)}; expected {sorted(names)}")
    if "val_indices" in opts:
        opts["val_indices"] = tuple(opts["val_indices"])
    try:
        return SweepConfig(**opts, space=dict(doc.get("space", {})))
    except TypeError as err:
        raise ScnnError(f"{path}: {err}") from None


def tune_space(space: dict) -> dict:
    """The [space] table as a Ray Tune param_space."""
    from ray import tune

    out = {}
    for key, spec in space.items():
        if isinstance(spec, list):
            out[key] = tune.choice(spec)
        elif isinstance(spec, dict):
            kind, vals = next(iter(spec.items()))
            out[key] = (tune.grid_search(vals) if kind == "grid" else
                        tune.choice(vals) if kind == "choice" else getattr(tune, kind)(*vals))
        else:
            out[key] = spec
    return out


def trial_model(sweep: SweepConfig, params: dict, shape: tuple[int, int, int]):
    """The model config of a trial: the sweep's model with the trial's parameters."""
    over = {k: params[k] for k in ("beta", "threshold", "steps", "slope") if k in params}
    if "steps" in over:
        over["steps"] = int(over["steps"])
    cfg = get_config(sweep.model, input_shape=shape, seed=sweep.seed, **over)
    return with_width(cfg, float(params.get("width", 1.0)))


def _on_chip(run: Path, raw: dict, sweep: SweepConfig) -> dict:
    """Export ``run`` to NetX; bit-exact accuracy on val/test; Loihi 2 profile on val."""
    from scnn.export import export_netx
    from scnn.sim.netx import read_netx

    card = export_netx(run, run / "network.net")
    return _measure(read_netx(run / "network.net"), card, raw, sweep)


def _measure(net, card: dict, raw: dict, sweep: SweepConfig) -> dict:
    """Bit-exact accuracy on val/test and a Loihi 2 profile on val of a written network."""
    from scnn.hweval import predict_netx, spread
    from scnn.profiling import chip_profile, simulate_activity

    out: dict = {}
    for split in ("val", "test"):
        if split in raw:
            x, y = raw[split]
            pred, _ = predict_netx(net, card, x)
            out[f"{split}_bitexact"] = float((torch.from_numpy(pred) == y).double().mean())
    xv = raw["val"][0]
    act = simulate_activity(net, card, xv[spread(len(xv), sweep.profile_clips)])
    prof = chip_profile(net, act, "loihi2")
    out.update({"energy_uj": prof["energy_uj"]["total"],
                "energy_uj_dynamic": prof["energy_uj"]["dynamic"], "cores": prof["cores"],
                "latency_ms": prof["latency_ms"], "spikes": prof["spikes"]})
    return out


def run_trial(params: dict, sweep: SweepConfig, feats: dict, classes: list[str],
              out: str) -> None:
    """One Tune trial (runs in a Ray worker): train, report per epoch, chip at the end.
    ``feats``: per front end (``mfcc``, ``logmel``) the raw features, normaliser and
    feature config the trial's family needs."""
    from ray import tune

    trial_id = tune.get_context().get_trial_id()
    run = Path(out) / "trials" / trial_id
    if (run / "model.pt").exists() or (run / "network.net").exists():
        raise ScnnError(f"{run}: trial directory already used")  # never overwrite a trial
    run.mkdir(parents=True, exist_ok=True)
    family = params.get("family", "lif_rate")
    (run / "params.json").write_text(json.dumps(params, indent=2) + "\n")
    if family == "lif_rate":
        return _rate_trial(params, sweep, classes, run, **feats["mfcc"])
    return _family_trial(family, params, sweep, classes, run,
                         **feats["logmel" if family in STREAMED else "mfcc"])


def _family_trial(family: str, params: dict, sweep: SweepConfig, classes: list[str],
                  run: Path, raw: dict, norm: dict, features: dict) -> None:
    """A converted-SDNN or streamed trial: float training reports every epoch but the
    last; the last report follows the conversion or fine-tuning, the export and the
    chip measurements."""
    from ray import tune

    from scnn import defaults
    from scnn.sdnn import write_card
    from scnn.sim.netx import write_netx
    from scnn.train import TrainConfig, accuracy, fit, save_run, set_determinism

    normalizer, fcfg = Normalizer.from_dict(norm), FeatureConfig.from_dict(features)
    tensors = {s: (normalizer(x), y) for s, (x, y) in raw.items()}
    width = float(params.get("width", 1.0))
    tcfg = TrainConfig(epochs=sweep.epochs, lr=float(params.get("lr", TrainConfig.lr)),
                       batch_size=sweep.batch_size, seed=sweep.seed,
                       threads=sweep.cpus_per_trial)
    last: dict = {}

    def report(row: dict, val: float) -> None:
        metrics = {"epoch": row["epoch"], "loss": row["loss"], "train_accuracy": row["train_acc"],
                   "val_accuracy": val, "trial_dir": str(run)}
        if row["epoch"] < tcfg.epochs:
            tune.report(metrics)
        else:
            last.update(metrics)

    if family == "sdnn_converted":
        from scnn.sdnn import convert_sdnn
        from scnn.train import load_run

        set_determinism(tcfg.seed, tcfg.threads)
        model = SCNN(with_width(get_config(f"cnn_{sweep.model}", input_shape=fcfg.shape,
                                           seed=sweep.seed), width))
        fit(model, tcfg, tensors["train"], None, progress=False,
            on_epoch=lambda row: report(row, accuracy(model, tensors["val"])))
        save_run(run, model, tcfg, fcfg, normalizer, {"val_accuracy": last["val_accuracy"]},
                 classes)
        th = float(params.get("sdnn_threshold", defaults.SDNN_THRESHOLD))
        net, card = convert_sdnn(load_run(run), tensors["train"][0], run / "network.net",
                                 threshold=th)
    else:
        from scnn.commands.stream import scaled_hidden
        from scnn.stream import StreamConfig, fit_streamed
        from scnn.stream_sdnn import StreamSDNNConfig

        shape = {"n_in": fcfg.n_mels, "n_frames": fcfg.n_frames, "n_classes": len(classes),
                 "seed": sweep.seed}
        if family == "lif_stream":
            cfg = StreamConfig(hidden=scaled_hidden((256, 256), width), **shape)
            qat = (defaults.STREAM_QAT_EPOCHS, defaults.STREAM_QAT_LR)
        else:
            th = float(params.get("sdnn_threshold", defaults.STREAM_SDNN_THRESHOLD))
            cfg = StreamSDNNConfig(hidden=scaled_hidden((512, 256), width), threshold=th,
                                   **shape)
            qat = (defaults.STREAM_SDNN_QAT_EPOCHS, defaults.STREAM_SDNN_QAT_LR)
        qat_epochs = int(params.get("qat_epochs", qat[0]))
        # the validation split is what the float curve is measured on
        net, card, _ = fit_streamed(cfg, tcfg, {"train": tensors["train"],
                                                "test": tensors["val"]}, fcfg, normalizer,
                                    classes, "network.net", qat_epochs, qat[1],
                                    progress=False,
                                    on_epoch=lambda row: report(row, row["test_acc"]))
        write_netx(net, run / "network.net")
        write_card(run / "network.net", card)
    last.update(_measure(net, card, raw, sweep))
    last["completed"] = True
    tune.report(last)


def _rate_trial(params: dict, sweep: SweepConfig, classes: list[str], run: Path, raw: dict,
                norm: dict, features: dict) -> None:
    """A rate-coded LIF trial: everything happens before the last epoch's report."""
    from ray import tune

    from scnn.qat import QAT_LR, finetune
    from scnn.train import TrainConfig, accuracy, fit, load_run, save_run, set_determinism

    normalizer, fcfg = Normalizer.from_dict(norm), FeatureConfig.from_dict(features)
    tensors = {s: (normalizer(x), y) for s, (x, y) in raw.items()}
    mcfg = trial_model(sweep, params, fcfg.shape)
    energy = {"energy_weight": float(params.get("energy_weight", 0.0))}
    tcfg = TrainConfig(epochs=sweep.epochs, lr=float(params.get("lr", TrainConfig.lr)),
                       batch_size=sweep.batch_size, seed=sweep.seed,
                       threads=sweep.cpus_per_trial, **energy)
    set_determinism(tcfg.seed, tcfg.threads)
    model = SCNN(mcfg)

    def on_epoch(row: dict) -> None:
        metrics = {"epoch": row["epoch"], "loss": row["loss"], "train_accuracy": row["train_acc"],
                   "val_accuracy": accuracy(model, tensors["val"]), "trial_dir": str(run)}
        if row["epoch"] == tcfg.epochs:  # the last report: everything happens before it
            save_run(run, model, tcfg, fcfg, normalizer, {"val_accuracy": metrics[
                "val_accuracy"]}, classes)
            qat = TrainConfig(epochs=int(params.get("qat_epochs", sweep.qat_epochs)),
                              lr=QAT_LR, batch_size=sweep.batch_size, seed=sweep.seed,
                              threads=sweep.cpus_per_trial, **energy)
            finetune(load_run(run), qat, {"train": tensors["train"]}, run, progress=False,
                     percentile=float(params.get("weight_percentile", 100.0)))
            metrics.update(_on_chip(run, raw, sweep))
            metrics["completed"] = True
        tune.report(metrics)

    fit(model, tcfg, tensors["train"], None, progress=False, on_epoch=on_epoch)


def pareto_front(acc: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats in both (higher acc, lower energy)."""
    keep = []
    for i in range(len(acc)):
        dominated = np.any((acc >= acc[i]) & (energy <= energy[i])
                           & ((acc > acc[i]) | (energy < energy[i])))
        if not dominated:
            keep.append(i)
    return np.array(keep, dtype=int)


def collect(results) -> list[dict]:
    """One row per trial: parameters, last report, status."""
    rows = []
    for res in results:
        m = dict(res.metrics or {})
        row = {"trial": Path(m.get("trial_dir", res.path)).name,
               **{f"param_{k}": v for k, v in sorted((res.config or {}).items())},
               "epochs_run": m.get("epoch", 0), "val_accuracy": m.get("val_accuracy"),
               "status": ("completed" if m.get("completed") else
                          "error" if res.error else "stopped (ASHA)")}
        for key in ("val_bitexact", "test_bitexact", "energy_uj", "energy_uj_dynamic", "cores",
                    "latency_ms", "spikes", "trial_dir"):
            row[key] = m.get(key)
        if res.error:
            row["error"] = str(res.error).splitlines()[0][:200]
        rows.append(row)
    rows.sort(key=lambda r: r["trial"])
    return rows


def plot_pareto(rows: list[dict], front: list[dict], path: Path) -> None:
    plt = pyplot()
    done = [r for r in rows if r["status"] == "completed"]
    fig, ax = plt.subplots(figsize=(6, 4))
    fams = sorted({r.get("param_family", "lif_rate") for r in done})
    for k, fam in enumerate(fams):  # one colour per family when a sweep spans several
        mine = [r for r in done if r.get("param_family", "lif_rate") == fam]
        ax.scatter([r["energy_uj"] for r in mine], [100 * r["val_bitexact"] for r in mine],
                   color="0.6" if len(fams) == 1 else f"C{k}", marker="s",
                   label="completed trials" if len(fams) == 1 else fam)
    pts = sorted(front, key=lambda r: r["energy_uj"])
    ax.plot([r["energy_uj"] for r in pts], [100 * r["val_bitexact"] for r in pts], "o-",
            color="k" if len(fams) > 1 else "C3", mfc="none", ms=10, label="Pareto front")
    for r in pts:
        ax.annotate(r["trial"][-5:], (r["energy_uj"], 100 * r["val_bitexact"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    ax.set(xlabel="Loihi 2 energy per inference (uJ, dynamic + static)",
           ylabel="bit-exact validation accuracy (%)", title="sweep: accuracy vs energy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def write_outputs(rows: list[dict], sweep: SweepConfig, out: Path) -> dict:
    """trials.csv, sweep.json, pareto.png, report.html, best.net/.json; returns the summary."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with (out / "trials.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    done = [r for r in rows if r["status"] == "completed"]
    summary: dict = {"sweep": {**asdict(sweep), "val_indices": list(sweep.val_indices)},
                     "trials": len(rows), "completed": len(done),
                     "stopped": sum(r["status"].startswith("stopped") for r in rows),
                     "errors": sum(r["status"] == "error" for r in rows), "rows": rows}
    if done:
        idx = pareto_front(np.array([r["val_bitexact"] for r in done]),
                           np.array([r["energy_uj"] for r in done]))
        front = [done[i] for i in idx]
        best = max(done, key=lambda r: (r["val_bitexact"], -r["energy_uj"]))
        summary["pareto"] = [r["trial"] for r in front]
        summary["best"] = best
        src = Path(best["trial_dir"]) / "network.net"
        shutil.copy(src, out / "best.net")
        shutil.copy(src.with_suffix(".json"), out / "best.json")
        plot_pareto(rows, front, out / "pareto.png")
    (out / "sweep.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (out / "report.html").write_text(report_html(rows, summary, keys))
    return summary


def report_html(rows: list[dict], summary: dict, keys: list[str]) -> str:
    shown = [k for k in keys if k not in ("trial_dir", "error")]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in shown)
    front = set(summary.get("pareto", []))
    body = "".join(
        f"<tr{' class=front' if r['trial'] in front else ''}>"
        + "".join(f"<td>{html.escape(_cell(r.get(k)))}</td>" for k in shown) + "</tr>"
        for r in rows)
    best = summary.get("best")
    best_line = (f"<p>Best (highest bit-exact validation accuracy, then lowest energy): "
                 f"<b>{html.escape(best['trial'])}</b>, exported as best.net "
                 f"({100 * best['val_bitexact']:.2f} % validation, "
                 f"{100 * best['test_bitexact']:.2f} % test, "
                 f"{best['energy_uj']:.1f} uJ)</p>" if best else "<p>No trial completed.</p>")
    plot = "<img src='pareto.png' alt='Pareto front'>" if best else ""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>scnn sweep</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}tr.front{background:#fde8e8}</style>"
        f"</head><body><h1>Sweep: {summary['trials']} trials</h1>"
        f"<p>{summary['completed']} completed, {summary['stopped']} stopped early by ASHA, "
        f"{summary['errors']} failed. Objectives: bit-exact validation accuracy (max) and "
        "Loihi 2 energy per inference (min); Pareto trials are shaded. The test split is "
        f"reported, never used to choose.</p>{best_line}{plot}"
        f"<h2>Trials</h2><table><tr>{head}</tr>{body}</table></body></html>\n")


def _tune(sweep: SweepConfig, feats: dict, classes: list[str], out: str,
          progress: bool) -> list[dict]:
    """Build and fit the Tuner; one row per trial. Runs where the Tune driver runs."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    trainable = tune.with_resources(
        tune.with_parameters(run_trial, sweep=sweep, feats=feats, classes=classes, out=out),
        {"cpu": sweep.cpus_per_trial})
    scheduler = ASHAScheduler(time_attr="training_iteration", max_t=sweep.epochs,
                              grace_period=min(sweep.grace_epochs, sweep.epochs),
                              reduction_factor=sweep.reduction_factor)
    tuner = tune.Tuner(
        trainable, param_space=tune_space(sweep.space),
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max",
                                    num_samples=sweep.samples, scheduler=scheduler),
        run_config=tune.RunConfig(storage_path=str(Path(out) / "ray"), name="tune",
                                  verbose=1 if progress else 0))
    return collect(tuner.fit())


def run_sweep(sweep: SweepConfig, out: Path, data: Path | None = None,
              address: str | None = None, progress: bool = True) -> dict:
    """Run the sweep on a local Ray (or the cluster at ``address``); write the outputs.

    Through Ray Client (``ray://``) the Tune driver itself runs as a task on the cluster
    (Tune's parameter registry lives with its driver), so ``out`` must be a path the
    cluster's workers can write and this machine can read.
    """
    import ray

    from scnn.raypool import ray_session
    from scnn.train import load_features

    out = Path(out).resolve()
    if (out / "trials").exists() and any((out / "trials").iterdir()):
        raise ScnnError(f"{out}: holds an earlier sweep's trials; choose a new --out")
    spec = SplitSpec(val_indices=tuple(sweep.val_indices))
    fams = families(sweep.space)
    fronts = ([FeatureConfig()] if any(f not in STREAMED for f in fams) else []) + \
        ([FeatureConfig(kind="logmel")] if any(f in STREAMED for f in fams) else [])
    feats = {}
    for fcfg in fronts:
        raw, classes = load_features(data, fcfg, ("train", "val", "test"), spec=spec,
                                     cache_dir=out / "cache", progress=progress)
        if "val" not in raw:
            raise ScnnError(f"sweep: no validation clips with recording index in "
                            f"{list(sweep.val_indices)}")
        feats[fcfg.kind] = {"raw": raw, "norm": Normalizer.fit(raw["train"][0]).to_dict(),
                            "features": fcfg.to_dict()}
    out.mkdir(parents=True, exist_ok=True)
    args = (sweep, feats, classes, str(out), progress)
    with ray_session(address):
        if address and address.startswith("ray://"):
            rows = ray.get(ray.remote(num_cpus=0)(_tune).remote(*args))
        else:
            rows = _tune(*args)
    return write_outputs(rows, sweep, out)
