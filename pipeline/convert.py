"""CNN-to-SNN conversion by weight/threshold balancing (Diehl et al. 2015, Rueckauer et al. 2017).

The source is a CNN twin (``neuron = "relu"``): a bias-free ReLU network whose first
layer is ``relu(gain * [x, -x] + offset)``. The converted SNN has the same layers
with integrate-and-fire neurons (``beta = 1``: on Loihi ``dv = 0``, reset to zero on a
spike) and threshold 1. Its activation in layer ``k`` is the firing rate
``a_k / lambda_k * max_rate``, where ``lambda_k`` is the layer's normalisation factor:

* input layer:   ``gain' = gain * max_rate / lambda_0`` (and the offset alike)
* synapses k:    ``W_k' = W_k * lambda_k / lambda_(k+1)``  (layer k feeds layer k+1)
* readout:       ``W_out' = W_out * lambda_last / max_rate`` (logits in the CNN's units)

Factors (one per neuron layer):

* ``data``: ``lambda_k`` is the largest activation of layer k over the training split
  (Diehl's data-based normalisation) or, with ``percentile < 100``, that percentile of
  its non-zero activations (Rueckauer's robust variant: the few larger ones saturate);
* ``model``: ``lambda_(k+1) = lambda_k * max_j sum_i max(0, W_k[j, i])``, the largest
  input any neuron can receive when every input fires at the maximum rate (Diehl's
  model-based normalisation). The input layer's drive is analog, not bounded by any
  weight, so its ``lambda_0`` is taken from the training data in both methods.

On Loihi's reset-to-zero a neuron with constant input ``I`` per step fires every
``floor(theta / I) + 1`` steps, so rates are rounded down; ``max_rate < 1`` trades
time steps for accuracy (the error shrinks as ``I / theta`` does).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from scnn import defaults
from scnn.hw.errors import ScnnError
from scnn.models.scnn import SCNN
from scnn.train import (
    LoadedRun,
    TrainConfig,
    accuracy,
    accuracy_report,
    fit,
    predict,
    save_curve,
    save_run,
    set_determinism,
    timed,
)

METHODS = defaults.CONVERT_METHODS


@torch.no_grad()
def layer_activations(cnn: SCNN, x: torch.Tensor, batch: int = 256) -> list[np.ndarray]:
    """ReLU activations of every neuron layer of the CNN, flattened per layer (float32)."""
    cnn.eval()
    parts: list[list[np.ndarray]] = []
    for i in range(0, len(x), batch):
        _, acts = cnn(x[i : i + batch], record=True)
        if not parts:
            parts = [[] for _ in acts]
        for store, a in zip(parts, acts, strict=True):
            store.append(a.flatten().numpy().astype(np.float32))
    return [np.concatenate(p) for p in parts]


def activation_scale(a: np.ndarray, percentile: float) -> float:
    """The largest activation, or the ``percentile`` of the non-zero ones."""
    if percentile >= 100:
        lam = float(a.max()) if a.size else 0.0
    else:
        nz = a[a > 0]
        lam = float(np.percentile(nz, percentile)) if nz.size else 0.0
    return lam


def data_factors(cnn: SCNN, x: torch.Tensor, percentile: float = 100.0) -> list[float]:
    """Data-based ``lambda_k`` for every neuron layer, from the training features ``x``."""
    return [activation_scale(a, percentile) for a in layer_activations(cnn, x)]


def max_positive_fan_in(w: torch.Tensor) -> float:
    """``max_j sum_i max(0, W[j, i])`` of a dense (out, in) or conv (out, in, kh, kw) weight."""
    return float(w.detach().clamp_min(0).flatten(1).sum(1).max())


def model_factors(cnn: SCNN, lambda0: float) -> list[float]:
    """Model-based ``lambda_k``: from the input layer's ``lambda0`` through the weights."""
    lams = [lambda0]
    for syn in cnn.synapses:
        lams.append(lams[-1] * max_positive_fan_in(syn.weight))
    return lams


def check_factors(lams: list[float]) -> None:
    for k, lam in enumerate(lams):
        if not np.isfinite(lam) or lam <= 0:
            raise ScnnError(f"normalisation factor of neuron layer {k} is {lam}: the layer "
                            "never activates on this data (a dead layer cannot be converted)")


def convert(cnn: SCNN, lams: list[float], steps: int, max_rate: float = 1.0,
            name: str | None = None) -> SCNN:
    """The IF SNN of a CNN twin with normalisation factors ``lams`` (one per neuron layer)."""
    cfg = cnn.cfg
    if cfg.neuron != "relu":
        raise ScnnError(f"{cfg.name} is already an SNN; conversion starts from a CNN twin "
                        "(train one with --model cnn_<name>)")
    if cfg.drive != "direct":
        raise ScnnError(f"{cfg.name}: only the direct (bias) drive converts, not {cfg.drive!r}")
    if len(lams) != len(cnn.synapses) + 1:
        raise ScnnError(f"{len(lams)} normalisation factors for {len(cnn.synapses) + 1} "
                        "neuron layers")
    if not 0 < max_rate <= 1:
        raise ScnnError(f"max rate must be in (0, 1], got {max_rate}")
    check_factors(lams)
    base = cfg.name[4:] if cfg.name.startswith("cnn_") else cfg.name
    snn_cfg = replace(cfg, name=name or f"{base}_converted", neuron="lif", beta=1.0,
                      learn_beta=False, threshold=1.0, steps=steps)
    snn = SCNN(snn_cfg)
    with torch.no_grad():
        snn.in_gain.copy_(cnn.in_gain * (max_rate / lams[0]))
        snn.in_offset.copy_(cnn.in_offset * (max_rate / lams[0]))
        for k, (src, dst) in enumerate(zip(cnn.synapses, snn.synapses, strict=True)):
            dst.weight.copy_(src.weight * (lams[k] / lams[k + 1]))
        snn.readout.weight.copy_(cnn.readout.weight * (lams[-1] / max_rate))
    snn.eval()
    return snn


def normalisation(cnn: SCNN, method: str, x_train: torch.Tensor,
                  percentile: float = 100.0) -> list[float]:
    """``lambda_k`` of a method (``data`` or ``model``) on the training features."""
    if method not in METHODS:
        raise ScnnError(f"unknown normalisation {method!r}; expected one of {', '.join(METHODS)}")
    if not 0 < percentile <= 100:
        raise ScnnError(f"percentile must be in (0, 100], got {percentile}")
    if method == "data":
        return data_factors(cnn, x_train, percentile)
    return model_factors(cnn, activation_scale(layer_activations(cnn, x_train)[0], 100.0))


def convert_run(run: LoadedRun, tensors: dict, out: Path, method: str = "data",
                percentile: float = 100.0, steps: int = 8, max_rate: float = 1.0,
                retrain: TrainConfig | None = None, progress: bool = True) -> dict:
    """Convert a CNN twin run into an SNN run directory (``out``); optionally retrain it.

    ``tensors``: {split: (normalised features, labels)} with ``train`` (the
    normalisation data and the retraining set) and optionally ``test``. With
    ``retrain`` (epochs > 0) the converted SNN is fine-tuned with surrogate gradients
    on the training split. The run directory is a normal SNN run: ``scnn finetune``,
    ``scnn export`` and ``scnn run --net`` take it from there.
    """
    cnn = run.model
    x_train = tensors["train"][0]
    lams = normalisation(cnn, method, x_train, percentile)
    snn = convert(cnn, lams, steps, max_rate)
    test = tensors.get("test")
    metrics: dict = {"model": snn.cfg.name, "neuron": "lif", "steps": steps,
                     "conversion": {"source_run": str(run.path), "method": method,
                                    "percentile": percentile, "max_rate": max_rate,
                                    "factors": lams}}
    if test is not None:
        metrics["cnn_accuracy"] = accuracy(cnn, test)
        metrics["converted_accuracy"] = accuracy(snn, test)
    tcfg = retrain or TrainConfig(epochs=0)
    out.mkdir(parents=True, exist_ok=True)
    if tcfg.epochs > 0:
        set_determinism(tcfg.seed, tcfg.threads)
        rows, seconds = timed(lambda: fit(snn, tcfg, tensors["train"], test, progress))
        save_curve(rows, out, f"{snn.cfg.name}: retraining after conversion ({method})")
        metrics.update({"retrain_epochs": tcfg.epochs, "train_seconds": round(seconds, 1),
                        "train_accuracy": rows[-1]["train_acc"]})
    if test is not None:
        rep = accuracy_report(predict(snn, test[0]), test[1], snn.cfg.n_classes)
        metrics.update({"test_accuracy": rep["accuracy"], "test_n": rep["n"],
                        "test_per_class": rep["per_class"], "test_confusion": rep["confusion"]})
    save_run(out, snn, tcfg, run.features, run.normalizer, metrics, run.classes, run.split)
    return metrics
