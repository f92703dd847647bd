"""Loihi-exact fine-tuning (QAT) and the run files of a fixed-point model.

A QAT run directory holds, beside the float run's config.json (model, front end,
normalisation): ``loihi.pt`` (the LoihiSCNN state_dict: weights and input drive in
integer units), ``loihi.json`` (per-layer scale, dv, vth; readout; drive range) and
metrics.json with the float, quantised and fine-tuned accuracies.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import torch

from scnn import defaults
from scnn.hw.errors import ScnnError
from scnn.hw.quantize import quantize_model
from scnn.models.loihi import LayerQuant, LoihiSCNN
from scnn.models.scnn import SCNN, SCNNConfig
from scnn.train import (
    LoadedRun,
    TrainConfig,
    accuracy,
    accuracy_report,
    fit,
    predict,
    save_curve,
)

QAT_EPOCHS = defaults.QAT_EPOCHS
QAT_LR = defaults.QAT_LR


def save_loihi(q: LoihiSCNN, out: Path) -> None:
    torch.save(q.state_dict(), out / "loihi.pt")
    spec = {"quants": [asdict(x) for x in q.quants], "readout": asdict(q.readout_q),
            "drive_max": q.drive_max}
    (out / "loihi.json").write_text(json.dumps(spec, indent=2) + "\n")


def load_loihi(run: LoadedRun) -> LoihiSCNN:
    """The run's fixed-point model: fine-tuned if loihi.pt exists, else quantised now."""
    path = run.path
    if not (path / "loihi.pt").exists():
        return quantize_model(run.model)
    spec = json.loads((path / "loihi.json").read_text())
    skeleton = SCNN(SCNNConfig.from_dict(run.model.cfg.to_dict()))
    q = LoihiSCNN(skeleton, [LayerQuant(**d) for d in spec["quants"]],
                  LayerQuant(**spec["readout"]), spec["drive_max"], slope=run.model.cfg.slope)
    q.load_state_dict(torch.load(path / "loihi.pt", weights_only=True))
    q.eval()
    return q


def finetune(run: LoadedRun, tcfg: TrainConfig, tensors: dict, out: Path,
             progress: bool = True, percentile: float = 100.0) -> dict:
    """Quantise the run's float model, fine-tune it with the exact forward, save a run.

    Model selection uses the training split only: the fine-tuned weights are kept when
    their (un-augmented) training accuracy is higher than the quantised model's, else
    the quantised model is kept (fine-tuning repairs quantisation loss; with no loss
    to repair on the training split the quantised float model stays). Test accuracies
    of both candidates are reported, never used. ``qat_accuracy`` is the test accuracy
    of the kept (exported) model.
    ``percentile``: the quantiser's weight-scale percentile (``hw.quantize``).
    """
    if run.model.cfg.neuron != "lif":
        raise ScnnError(f"{run.path}: {run.model.cfg.name} is a CNN; convert it to an SNN first")
    train, test = tensors["train"], tensors.get("test")
    metrics: dict = {"model": run.model.cfg.name, "source_run": str(run.path),
                     "qat_epochs": tcfg.epochs}
    if test is not None:
        metrics["float_accuracy"] = accuracy(run.model, test)
    torch.manual_seed(tcfg.seed)
    torch.set_num_threads(tcfg.threads)
    q = quantize_model(run.model, percentile=percentile)
    quantised_state = copy.deepcopy(q.state_dict())
    metrics["quantized_train_accuracy"] = accuracy(q, train)
    if test is not None:
        metrics["quantized_accuracy"] = accuracy(q, test)
    rows = fit(q, tcfg, train, test, progress) if tcfg.epochs > 0 else []
    metrics["kept"] = "quantised"
    if rows:
        metrics["finetuned_train_accuracy"] = accuracy(q, train)
        if test is not None:
            metrics["finetuned_accuracy"] = accuracy(q, test)
        if metrics["finetuned_train_accuracy"] > metrics["quantized_train_accuracy"]:
            metrics["kept"] = "fine-tuned"
        else:
            q.load_state_dict(quantised_state)
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve() != run.path.resolve():
        shutil.copy(run.path / "config.json", out / "config.json")
        shutil.copy(run.path / "model.pt", out / "model.pt")
    save_loihi(q, out)
    if rows:
        save_curve(rows, out, f"{run.model.cfg.name}: Loihi-exact fine-tuning", "qat_curve")
    if test is not None:
        rep = accuracy_report(predict(q, test[0]), test[1], run.model.cfg.n_classes)
        metrics.update({"qat_accuracy": rep["accuracy"], "test_n": rep["n"],
                        "qat_per_class": rep["per_class"]})
    path = out / "metrics.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(metrics)
    path.write_text(json.dumps(merged, indent=2) + "\n")
    return metrics
