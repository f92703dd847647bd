"""``scnn run``: every pipeline stage that exists, in order, into one run directory.

Stages so far:

* ``data``: open and decode the dataset, count clips per split;
* ``features``: front end on every split, normalisation fitted on train only;
* ``train``: the default SCNN with surrogate gradients, evaluated on the test split
  (the run directory is also a training run: model.pt, config.json, curves);
* ``qat``: quantise to Loihi fixed point and fine-tune with the exact forward;
* ``export``: ``network.net`` (NetX HDF5) and its model card ``network.json``;
* ``simulate``: the exported network on the whole test split in the bit-exact
  simulator, driven as the chip would be (eval_fast.json, confusion_bitexact.png);
* ``lava``: a spread sample of test clips through Lava's fixed_pt models; their
  predictions must equal the fast simulator's (eval_lava.json);
* ``profile``: activity, cores, energy and latency on Loihi 1 and 2 (profile.json);
* ``report``: report/report.html with plots and report/metrics.json.

Each stage reads the :class:`RunContext`, writes its files into ``ctx.out`` and
records a summary under its name in ``run.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from scnn.data.datasets import AudioDataset, SplitSpec, open_dataset
from scnn.data.fetch import resolve_data
from scnn.export import card_path, export_netx, load_card
from scnn.features import FeatureConfig, Normalizer
from scnn.hw.errors import ScnnError
from scnn.hweval import evaluate_netx
from scnn.models.scnn import SCNNConfig, get_config
from scnn.plots import pyplot, save_figure
from scnn.prepare import split_features
from scnn.qat import QAT_EPOCHS, QAT_LR, finetune
from scnn.train import TrainConfig, load_run, save_confusion, train_run

NET_NAME = "network.net"


@dataclass
class RunContext:
    """What the stages share: options in, artefacts out."""

    out: Path
    data: Path | None = None
    features: FeatureConfig = field(default_factory=FeatureConfig)
    skip_bad: bool = False
    model: SCNNConfig = field(default_factory=lambda: get_config("scnn"))
    train: TrainConfig = field(default_factory=TrainConfig)
    qat: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=QAT_EPOCHS, lr=QAT_LR))
    lava_clips: int = 20
    net: Path | None = None
    profile_clips: int | None = None
    splits: SplitSpec = field(default_factory=SplitSpec)
    dataset: AudioDataset | None = None
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    normalizer: Normalizer | None = None
    summary: dict[str, dict] = field(default_factory=dict)


def stage_data(ctx: RunContext) -> dict:
    ctx.dataset = open_dataset(resolve_data(ctx.data, dataset=ctx.splits.dataset),
                               splits=ctx.splits)
    counts = ctx.dataset.counts()
    return {"root": str(ctx.dataset.root), "kind": ctx.dataset.name, "classes": ctx.dataset.classes,
            "clips": len(ctx.dataset.clips), "per_split": counts["split"]}


def stage_features(ctx: RunContext) -> dict:
    if ctx.net is not None:
        return {"skipped": f"starting from {ctx.net} (its model card fixes the front end)"}
    assert ctx.dataset is not None
    out: dict = {"config": ctx.features.to_dict(), "shape": list(ctx.features.shape)}
    for split in ("train", "val", "test"):
        if not ctx.dataset.split(split):
            continue
        x, y, _ = split_features(ctx.dataset, split, ctx.features, skip_bad=ctx.skip_bad,
                                 cache_dir=ctx.out / "cache")
        ctx.tensors[split] = (x, y)
        out[f"n_{split}"] = int(x.shape[0])
    if "train" not in ctx.tensors:
        raise ScnnError(f"{ctx.dataset.root}: the training split is empty")
    ctx.normalizer = Normalizer.fit(ctx.tensors["train"][0])
    write_json(ctx.out / "features.json", {"features": ctx.features.to_dict(),
                                           "normalization": ctx.normalizer.to_dict()})
    plot_examples(ctx, ctx.out / "features.png")
    return out


def plot_examples(ctx: RunContext, path: Path) -> None:
    """One normalised training feature map per class (up to 10), as a PNG."""
    plt = pyplot()

    x, y = ctx.tensors["train"]
    assert ctx.normalizer is not None and ctx.dataset is not None
    labels = sorted(set(y.tolist()))[:10]
    fig, axes = plt.subplots(1, len(labels), figsize=(1.6 * len(labels), 2.2), squeeze=False)
    for ax, lab in zip(axes[0], labels, strict=True):
        img = ctx.normalizer(x[y == lab][:1])[0, 0]
        ax.imshow(img.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=-3, vmax=3)
        ax.set_title(ctx.dataset.classes[lab], fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].set_ylabel(f"{ctx.features.kind} coef")
    fig.suptitle(f"{ctx.features.kind} features, normalised (x: frame)", fontsize=9)
    save_figure(fig, path)


def stage_train(ctx: RunContext) -> dict:
    if ctx.net is not None:
        return {"skipped": f"starting from {ctx.net}"}
    assert ctx.dataset is not None and ctx.normalizer is not None
    tensors = {s: (ctx.normalizer(x), y) for s, (x, y) in ctx.tensors.items()}
    metrics = train_run(ctx.model, ctx.train, tensors, ctx.normalizer, ctx.features,
                        ctx.dataset.classes, ctx.out, split=ctx.splits)
    return {k: v for k, v in metrics.items() if k not in ("test_per_class", "test_confusion")}


def stage_qat(ctx: RunContext) -> dict:
    if ctx.net is not None:
        return {"skipped": f"starting from {ctx.net}"}
    tensors = {s: (ctx.normalizer(x), y) for s, (x, y) in ctx.tensors.items()}
    m = finetune(load_run(ctx.out), ctx.qat, tensors, ctx.out)
    return {k: v for k, v in m.items() if not k.endswith("per_class")}


def stage_export(ctx: RunContext) -> dict:
    if ctx.net is not None:
        return adopt_network(ctx.net, ctx.out)
    card = export_netx(ctx.out, ctx.out / NET_NAME)
    return {"netx": NET_NAME, "card": card_path(Path(NET_NAME)).name,
            "run_steps": card["run_steps"], "layers": card["readout"]["layer"] + 1}


def adopt_network(net: Path, out: Path) -> dict:
    """Start from an exported NET.net: copy it and its card; the card's training figures
    become the run's metrics.json (what the report shows as float/QAT accuracy)."""
    import shutil

    if not net.is_file():
        raise ScnnError(f"{net}: no such network file")
    card = load_card(net)
    shutil.copy(net, out / NET_NAME)
    write_json(card_path(out / NET_NAME), card)
    write_json(out / "metrics.json", dict(card.get("accuracy", {}).get("training_run", {})))
    return {"netx": NET_NAME, "from": str(net), "run_steps": card["run_steps"],
            "layers": card["readout"]["layer"] + 1}


def stage_simulate(ctx: RunContext) -> dict:
    """Bit-exact evaluation of the exported network on the whole test split."""
    rep = evaluate_netx(ctx.out / NET_NAME, ctx.data, "fast", None, "test")
    write_json(ctx.out / "eval_fast.json", rep)
    assert ctx.dataset is not None
    save_confusion(rep["confusion"], ctx.dataset.classes, ctx.out / "confusion_bitexact.png",
                   f"bit-exact (fast simulator): {100 * rep['accuracy']:.2f} %")
    qat = json.loads((ctx.out / "metrics.json").read_text()).get("qat_accuracy")
    return {"accuracy": rep["accuracy"], "n": rep["n"], "qat_accuracy": qat,
            "equals_qat": qat is not None and abs(rep["accuracy"] - qat) < 1e-12}


def stage_lava(ctx: RunContext) -> dict:
    """Cross-check: the same clips through Lava's fixed_pt models (the oracle)."""
    if ctx.lava_clips <= 0:
        return {"skipped": True}
    fast = json.loads((ctx.out / "eval_fast.json").read_text())
    rep = evaluate_netx(ctx.out / NET_NAME, ctx.data, "lava", ctx.lava_clips, "test")
    by_clip = dict(zip(fast["clips"], fast["predictions"], strict=True))
    mismatches = [c for c, p in zip(rep["clips"], rep["predictions"], strict=True)
                  if by_clip[c] != p]
    write_json(ctx.out / "eval_lava.json", rep)
    return {"clips": rep["n"], "accuracy": rep["accuracy"],
            "prediction_mismatches": len(mismatches)}


def stage_profile(ctx: RunContext) -> dict:
    """Activity, cores, energy and latency on Loihi 1 and Loihi 2 over the test split."""
    from scnn.profiling import profile_netx

    recs = profile_netx(ctx.out / NET_NAME, ctx.data, ("loihi1", "loihi2"), ctx.profile_clips)
    write_json(ctx.out / "profile.json", recs)
    return {r["chip"]: {"cores": r["cores"], "energy_uj_dynamic": r["energy_uj"]["dynamic"],
                        "latency_ms": r["latency_ms"], "clips": r["samples"]} for r in recs}


def stage_report(ctx: RunContext) -> dict:
    from scnn.report import build_report

    path = build_report(ctx.out, ctx.data)
    return {"html": str(path.relative_to(ctx.out))}


STAGES: tuple[tuple[str, Callable[[RunContext], dict]], ...] = (
    ("data", stage_data),
    ("features", stage_features),
    ("train", stage_train),
    ("qat", stage_qat),
    ("export", stage_export),
    ("simulate", stage_simulate),
    ("lava", stage_lava),
    ("profile", stage_profile),
    ("report", stage_report),
)


def write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


def run_pipeline(ctx: RunContext, echo: Callable[[str], None] = print) -> dict:
    """Run every stage in order; ``run.json`` is rewritten after each stage. A run
    folder this call created is removed again when the inputs turn out bad (the data or
    features stage fails): nothing is left behind but results."""
    import shutil

    created = not ctx.out.exists()
    ctx.out.mkdir(parents=True, exist_ok=True)
    for name, stage in STAGES:
        echo(f"[{name}] ...")
        t0 = time.perf_counter()
        try:
            result = stage(ctx)
        except BaseException:
            if created and name in ("data", "features"):
                shutil.rmtree(ctx.out, ignore_errors=True)
            raise
        result["seconds"] = round(time.perf_counter() - t0, 2)
        ctx.summary[name] = result
        write_json(ctx.out / "run.json", {"stages": ctx.summary})
        echo(f"[{name}] done in {result['seconds']} s")
    return ctx.summary
