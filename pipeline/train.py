"""Training and evaluation of SCNNs (surrogate gradients) and their CNN twins.

A run directory written by :func:`train_run` holds:

* ``model.pt``      — the state_dict only (load with ``torch.load(weights_only=True)``)
* ``config.json``   — model config, training config, front end and normalisation
* ``curve.csv`` / ``curve.png`` — loss and accuracy per epoch
* ``metrics.json``  — final accuracies, per-class accuracy, training time

Inputs are normalised feature maps (batch, 1, F, N). Augmentation: each map is
shifted along the frame axis by up to ``shift`` frames (edge frames repeated), so a
clip's position in the 1 s window matters less, and one band of up to
``freq_mask`` coefficients and one of up to ``time_mask`` frames is zeroed
(SpecAugment-style). The loss is cross-entropy with label smoothing.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from scnn import defaults
from scnn.data.datasets import SplitSpec, split_of
from scnn.energy_loss import EnergyGate, EnergyPenalty
from scnn.features import FeatureConfig, Normalizer
from scnn.hw.errors import ScnnError
from scnn.models.scnn import SCNN, SCNNConfig
from scnn.plots import pyplot, save_figure
from scnn.sim.threads import check_threads


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and schedule: AdamW with cosine decay, cross-entropy on the readout.

    ``energy_weight`` > 0 adds ``energy_weight * E`` to the loss, E the modelled dynamic
    energy of the batch's spikes on ``energy_chip`` in uJ per clip
    (:mod:`scnn.energy_loss`); the weight ramps up linearly from 0 over the first
    ``energy_warmup`` of the training steps and is gated by the running training
    accuracy (:class:`scnn.energy_loss.EnergyGate`), so the penalty cannot silence the
    network before, or while, the classifier learns.
    """

    epochs: int = defaults.TRAIN_EPOCHS
    batch_size: int = defaults.TRAIN_BATCH_SIZE
    lr: float = defaults.TRAIN_LR
    weight_decay: float = 1e-4
    shift: int = 3
    freq_mask: int = 4
    time_mask: int = 4
    label_smoothing: float = 0.1
    seed: int = 0
    threads: int = 2
    energy_weight: float = 0.0
    energy_chip: str = "loihi2"
    energy_warmup: float = defaults.ENERGY_WARMUP

    def __post_init__(self) -> None:
        ints = {"epochs": 0, "batch_size": 1, "shift": 0, "freq_mask": 0, "time_mask": 0,
                "threads": 1}
        for name, low in ints.items():
            _check_option(name, getattr(self, name), low, integer=True)
        _check_option("lr", self.lr, 0.0, strict=True)
        for name in ("weight_decay", "energy_weight"):
            _check_option(name, getattr(self, name), 0.0)
        if not 0.0 <= self.energy_warmup <= 1.0:
            raise ScnnError(f"energy_warmup (--energy-warmup) must be in [0, 1], got "
                            f"{self.energy_warmup}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ScnnError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        check_threads(self.threads, "threads (--threads)")
        if self.energy_chip not in defaults.ENERGY_CHIPS:
            raise ScnnError(f"energy_chip (--energy-chip) {self.energy_chip!r}: expected one of "
                            f"{', '.join(defaults.ENERGY_CHIPS)}")


def _check_option(name: str, value: object, low: float, integer: bool = False,
                  strict: bool = False) -> None:
    """A finite number (an integer if ``integer``) >= ``low`` (> if ``strict``)."""
    flag = "--" + name.replace("_", "-")
    kind = "an integer" if integer else "a finite number"
    ok = (isinstance(value, int) and not isinstance(value, bool) if integer
          else isinstance(value, (int, float)) and math.isfinite(value))
    if not ok or value < low or (strict and value == low):
        raise ScnnError(f"{name} ({flag}) must be {kind} {'>' if strict else '>='} {low:g}, "
                        f"got {value!r}")


def set_determinism(seed: int, threads: int) -> None:
    """Seed torch's global RNG (weight initialisation) and fix the thread count."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


def shift_frames(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each (C, F, N) map by a random integer in [-max_shift, max_shift] frames."""
    if max_shift <= 0:
        return x
    n = x.shape[-1]
    shift = torch.randint(-max_shift, max_shift + 1, (x.shape[0], 1), generator=gen)
    idx = (torch.arange(n).unsqueeze(0) - shift).clamp(0, n - 1)  # (batch, N)
    return torch.gather(x, -1, idx.view(x.shape[0], 1, 1, n).expand_as(x))


def spec_mask(x: torch.Tensor, freq: int, time: int, gen: torch.Generator) -> torch.Tensor:
    """SpecAugment-style masking: per map, one band of up to ``freq`` coefficients and one
    of up to ``time`` frames set to 0 (the training mean after normalisation)."""
    if freq <= 0 and time <= 0:
        return x
    b, _, n_f, n_t = x.shape
    keep = torch.ones_like(x)
    for size, n, axis in ((freq, n_f, 2), (time, n_t, 3)):
        if size <= 0:
            continue
        width = torch.randint(0, size + 1, (b,), generator=gen)
        start = (torch.rand(b, generator=gen) * (n - width + 1)).long()
        pos = torch.arange(n).unsqueeze(0)
        band = (pos >= start.unsqueeze(1)) & (pos < (start + width).unsqueeze(1))  # (b, n)
        shape = (b, 1, n, 1) if axis == 2 else (b, 1, 1, n)
        keep = keep * (~band).view(shape).to(x.dtype)
    return x * keep


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Class predictions (argmax of logits; ties go to the lowest index)."""
    model.eval()
    return torch.cat([model(x[i : i + batch]).argmax(dim=1) for i in range(0, len(x), batch)])


def accuracy(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Fraction of ``data = (x, y)`` the model classifies correctly."""
    return float((predict(model, data[0]) == data[1]).double().mean())


def accuracy_report(pred: torch.Tensor, y: torch.Tensor, n_classes: int) -> dict:
    """Accuracy, per-class accuracy and the confusion matrix (rows: true class)."""
    conf = torch.zeros(n_classes, n_classes, dtype=torch.long)
    conf.index_put_((y, pred), torch.ones_like(y), accumulate=True)
    per_class = (conf.diag().double() / conf.sum(1).clamp_min(1)).tolist()
    return {"accuracy": float((pred == y).double().mean()), "n": int(len(y)),
            "per_class": per_class, "confusion": conf.tolist()}


def fit(model: SCNN, tcfg: TrainConfig, train: tuple[torch.Tensor, torch.Tensor],
        test: tuple[torch.Tensor, torch.Tensor] | None = None, progress: bool = True,
        on_epoch: Callable[[dict], None] | None = None) -> list[dict]:
    """Train ``model`` in place; returns one row per epoch (loss, train/test accuracy and,
    with an energy weight, ``energy_uj``: the modelled spike energy per training clip)."""
    from tqdm import tqdm

    if tcfg.epochs < 1:
        raise ScnnError(f"epochs (--epochs) must be >= 1 to train, got {tcfg.epochs}")
    penalty = (EnergyPenalty(model.cfg, tcfg.energy_chip, getattr(model, "graded", False))
               if tcfg.energy_weight > 0 else None)
    gen = torch.Generator().manual_seed(tcfg.seed)
    x, y = train
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    steps = tcfg.epochs * ((len(x) + tcfg.batch_size - 1) // tcfg.batch_size)
    gate = EnergyGate(tcfg.energy_weight, tcfg.energy_warmup * steps, model.cfg.n_classes)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tcfg.lr, total_steps=steps,
                                                pct_start=0.15)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=tcfg.label_smoothing)
    rows = []
    bar = tqdm(range(tcfg.epochs), desc=f"train {model.cfg.name}", unit="epoch",
               disable=None if progress else True)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total, correct, seen, energy = 0.0, 0, 0, 0.0
        for i in range(0, len(x), tcfg.batch_size):
            idx = order[i : i + tcfg.batch_size]
            xb, yb = shift_frames(x[idx], tcfg.shift, gen), y[idx]
            xb = spec_mask(xb, tcfg.freq_mask, tcfg.time_mask, gen)
            if penalty is None:
                logits = model(xb)
                loss = loss_fn(logits, yb)
            else:
                logits, spikes = model(xb, record=True)[:2]
                e_spk = penalty(spikes)
                loss = loss_fn(logits, yb) + gate.factor(sched.last_epoch) * e_spk
                energy += float(e_spk) * len(idx)
                gate.update(float((logits.argmax(1) == yb).double().mean()))
            if hasattr(model, "aux_loss"):  # a model's own constraint (scnn.sdnn_qat)
                loss = loss + model.aux_loss()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(idx)
        row = {"epoch": epoch + 1, "loss": total / seen, "train_acc": correct / seen}
        if penalty is not None:
            row["energy_uj"] = energy / seen
        if test is not None:
            row["test_acc"] = accuracy(model, test)
        rows.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['train_acc']:.3f}",
                        **({"test": f"{row['test_acc']:.3f}"} if "test_acc" in row else {}))
        if on_epoch:
            on_epoch(row)
    return rows


def save_curve(rows: list[dict], out: Path, title: str, stem: str = "curve") -> None:
    """STEM.csv and STEM.png: loss and accuracies per epoch, and the modelled spike energy
    when training was energy-aware."""
    plt = pyplot()

    keys = list(rows[0])
    with (out / f"{stem}.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    ep = [r["epoch"] for r in rows]
    energy = "energy_uj" in keys
    fig, axes = plt.subplots(1, 3 if energy else 2, figsize=(13 if energy else 9, 3.2))
    axes[0].plot(ep, [r["loss"] for r in rows])
    axes[0].set(xlabel="epoch", ylabel="cross-entropy" + (" + energy term" if energy else ""),
                title="training loss")
    for key in ("train_acc", "test_acc"):
        if key in keys:
            axes[1].plot(ep, [100 * r[key] for r in rows], label=key.replace("_acc", ""))
    axes[1].set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(50, 100.5))
    axes[1].legend()
    axes[1].grid(alpha=0.3)
    if energy:
        axes[2].plot(ep, [r["energy_uj"] for r in rows])
        axes[2].set(xlabel="epoch", ylabel="uJ per clip", ylim=(0, None),
                    title="modelled spike energy (training clips)")
        axes[2].grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, out / f"{stem}.png")


def save_confusion(conf: list[list[int]], classes: list[str], path: Path, title: str) -> None:
    """Confusion matrix (rows: true, columns: predicted) as a PNG."""
    plt = pyplot()

    m = np.asarray(conf)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(m, cmap="Blues")
    for (i, j), val in np.ndenumerate(m):
        if val:
            ax.text(j, i, str(val), ha="center", va="center", fontsize=7,
                    color="white" if val > m.max() / 2 else "black")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes,
           yticklabels=classes, xlabel="predicted", ylabel="true", title=title)
    save_figure(fig, path)


def save_run(out: Path, model: SCNN, tcfg: TrainConfig, fcfg: FeatureConfig,
             norm: Normalizer, metrics: dict, classes: list[str],
             split: SplitSpec | None = None, extra: dict | None = None) -> None:
    """Write model.pt, config.json (with the test split when it is not the official one,
    and ``extra`` records such as the augmentation) and metrics.json."""
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model.pt")
    cfg = {"model": model.cfg.to_dict(), "train": asdict(tcfg), "features": fcfg.to_dict(),
           "normalization": norm.to_dict(), "classes": classes}
    if split is not None and split.to_dict():
        cfg["split"] = split.to_dict()
    cfg.update(extra or {})
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")


@dataclass
class LoadedRun:
    """A trained model with everything needed to feed it."""

    model: SCNN
    features: FeatureConfig
    normalizer: Normalizer
    classes: list[str]
    path: Path
    split: SplitSpec = field(default_factory=SplitSpec)  # the test split it was trained for


def load_run(path: str | Path) -> LoadedRun:
    """Rebuild the model of a run directory (state_dict loaded with weights_only)."""
    path = Path(path)
    try:
        cfg = json.loads((path / "config.json").read_text())
        state = torch.load(path / "model.pt", weights_only=True)
    except FileNotFoundError as err:
        missing = Path(err.filename).name
        raise ScnnError(f"{path}: not a run directory ({missing} missing)") from None
    except (json.JSONDecodeError, RuntimeError, KeyError) as err:
        raise ScnnError(f"{path}: unreadable run directory ({err})") from None
    model = SCNN(SCNNConfig.from_dict(cfg["model"]))
    model.load_state_dict(state)
    model.eval()
    return LoadedRun(model, FeatureConfig.from_dict(cfg["features"]),
                     Normalizer.from_dict(cfg["normalization"]), cfg["classes"], path,
                     split_of(cfg, path / "config.json"))


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    return fn(), time.perf_counter() - t0


def load_features(data: Path | None, fcfg: FeatureConfig, splits=("train", "test"),
                  cache_dir: Path | None = None, skip_bad: bool = False, progress: bool = True,
                  spec=None, noise=None, augment=None):
    """Dataset -> ({split: (raw features, labels)} for the non-empty splits, class names).

    ``spec``: a :class:`pipeline.data.datasets.SplitSpec` (default: the official split);
    ``noise``: a :class:`scnn.data.noise.NoiseSpec` mixed into every clip loaded;
    ``augment``: a :class:`scnn.data.augment.AugmentSpec` adding augmented copies to the
    training split.
    """
    from scnn.data.datasets import open_dataset
    from scnn.data.fetch import resolve_data
    from scnn.prepare import split_features

    ds = open_dataset(resolve_data(data, dataset=spec.dataset if spec else "auto"), splits=spec)
    raw = {s: split_features(ds, s, fcfg, skip_bad=skip_bad, cache_dir=cache_dir,
                             progress=progress, noise=noise,
                             augment=augment if s == "train" else None)[:2]
           for s in splits if ds.split(s)}
    return raw, ds.classes


def load_splits(data: Path | None, fcfg: FeatureConfig, splits=("train", "test"),
                cache_dir: Path | None = None, skip_bad: bool = False, progress: bool = True,
                spec: SplitSpec | None = None, augment=None):
    """Like :func:`load_features`, normalised with statistics fitted on train only
    (augmented copies included). Returns ({split: (x, y)}, normalizer, classes).
    """
    raw, classes = load_features(data, fcfg, splits, cache_dir, skip_bad, progress, spec,
                                 augment=augment)
    if "train" not in raw:
        raise ScnnError("the training split is empty")
    norm = Normalizer.fit(raw["train"][0])
    return {s: (norm(x), y) for s, (x, y) in raw.items()}, norm, classes


def run_tensors(run: LoadedRun, data: Path | None, cache_dir: Path | None = None,
                splits=("train", "test"), progress: bool = True) -> dict:
    """{split: (features normalised as the run was trained, labels)} of a dataset."""
    raw, _ = load_features(data, run.features, splits, cache_dir=cache_dir, progress=progress,
                           spec=run.split)
    return {s: (run.normalizer(x), y) for s, (x, y) in raw.items()}


def train_run(mcfg: SCNNConfig, tcfg: TrainConfig, tensors: dict, norm: Normalizer,
              fcfg: FeatureConfig, classes: list[str], out: Path, progress: bool = True,
              split: SplitSpec | None = None, augment=None) -> dict:
    """Train, evaluate on the test split and write the run directory; returns metrics.
    ``split``: the test split ``tensors`` were made with, recorded in config.json. The
    model's readout gets one neuron per class of the dataset."""
    if mcfg.n_classes != len(classes):
        from dataclasses import replace

        mcfg = replace(mcfg, n_classes=len(classes))
    set_determinism(tcfg.seed, tcfg.threads)
    model = SCNN(mcfg)
    test = tensors.get("test")
    rows, seconds = timed(lambda: fit(model, tcfg, tensors["train"], test, progress))
    out.mkdir(parents=True, exist_ok=True)
    save_curve(rows, out, f"{mcfg.name} (T={mcfg.steps}, seed {tcfg.seed})")
    metrics = {"model": mcfg.name, "neuron": mcfg.neuron, "steps": mcfg.steps, "seed": tcfg.seed,
               "train_seconds": round(seconds, 1), "epochs": tcfg.epochs,
               "train_accuracy": rows[-1]["train_acc"]}
    if test is not None:
        rep = accuracy_report(predict(model, test[0]), test[1], mcfg.n_classes)
        metrics.update({"test_accuracy": rep["accuracy"], "test_n": rep["n"],
                        "test_per_class": rep["per_class"], "test_confusion": rep["confusion"]})
        save_confusion(rep["confusion"], classes, out / "confusion.png",
                       f"{mcfg.name}: test accuracy {100 * rep['accuracy']:.2f} %")
    if split is not None and split.to_dict():
        metrics["split"] = split.to_dict()
    if augment is not None:
        metrics["augment"] = augment.to_dict()
    save_run(out, model, tcfg, fcfg, norm, metrics, classes, split,
             {"augment": augment.to_dict()} if augment is not None else None)
    return metrics
