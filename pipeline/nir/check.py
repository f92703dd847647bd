"""Float-vs-fixed agreement of an imported NIR network, per layer and at the output.

The float side is ``scnn.nir.floatsim`` (the graph's Euler semantics, no delays); the
fixed side is a simulator of ``sim`` (``sim.fast`` or ``sim.lava_backend``, same
signature) run for ``steps + L`` steps, L = number of synapse layers.  Neuron layer i
behind ``d_i`` synapse layers answers ``d_i`` steps late, so its spikes are compared over
fixed steps ``[d_i, d_i + steps)``.  Per layer: Pearson correlation of spike counts over
(sample, neuron) and the fraction of identical spike trains; output: the fraction of
samples whose prediction agrees (argmax of the last layer's voltage at the last step for
a non-spiking readout, of its spike counts otherwise; ties to the lowest index).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from scnn.nir.floatsim import simulate_float
from scnn.nir.quantize import Imported
from scnn.sim import fast


@dataclass(frozen=True)
class LayerAgreement:
    """Spike-count correlation (final-voltage correlation for a non-spiking readout, whose
    ``same_trains`` is NaN), identical spike trains and mean rates of one layer."""

    name: str
    count_corr: float
    same_trains: float
    float_rate: float
    fixed_rate: float


@dataclass(frozen=True)
class Agreement:
    layers: tuple[LayerAgreement, ...]
    output_agreement: float
    n: int


def delays(imp: Imported) -> dict[int, int]:
    """Network layer index -> synaptic delay of its neurons (steps)."""
    out, d = {}, 0
    for i, layer in enumerate(imp.net.layers):
        d += layer.kind in ("conv", "dense", "dense_rec")
        if layer.neuron is not None:
            out[i] = d
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    if a.std() == 0 or b.std() == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _to_torch_order(s: np.ndarray) -> np.ndarray:
    """Fixed spikes (B, W, H, C, T) or (B, N, T) -> (B, T, C, H, W) or (B, T, N)."""
    return s.transpose(0, 4, 3, 2, 1) if s.ndim == 5 else s.transpose(0, 2, 1)


def run_fixed(imp: Imported, x: torch.Tensor, steps: int, simulator=fast.simulate
              ) -> dict[str, np.ndarray]:
    """The fixed-point network on the same input, ``steps + L`` steps, every layer recorded."""
    extra = max(delays(imp).values())
    kw: dict = {}
    if imp.low.mode == "bias":
        kw["bias"] = imp.input_bias(x)
    else:
        s = x.reshape(len(x), steps, *imp.low.input_shape).numpy().astype(np.int8)
        s = s.transpose(0, *range(s.ndim - 1, 1, -1), 1)         # (B, *Lava order, T)
        kw["spikes"] = np.concatenate([s, np.zeros(s.shape[:-1] + (extra,), np.int8)], -1)
    return simulator(imp.net, steps + extra, record=("s", "v"), **kw)


def _prediction(last: np.ndarray, spiking: bool) -> np.ndarray:
    return (last.sum(1) if spiking else last[:, -1]).reshape(last.shape[0], -1).argmax(1)


def agreement(imp: Imported, x: torch.Tensor, steps: int, simulator=fast.simulate) -> Agreement:
    """Float vs fixed on input x: spikes (B, T, *input) or an analog input (B, *input)."""
    f_spikes, f_v = simulate_float(imp.low, steps, x)
    res = run_fixed(imp, x, steps, simulator)
    rows, names = [], [layer.name for layer in imp.low.layers if layer.neuron is not None]
    fixed_last = None
    spiking = imp.low.layers[-1].neuron.spiking
    for (i, d), fs, name in zip(delays(imp).items(), f_spikes, names, strict=True):
        s = _to_torch_order(res[f"layer{i}/s"][..., d:d + steps])
        fixed_last = (s, _to_torch_order(res[f"layer{i}/v"][..., d:d + steps]))
        fs = fs.numpy()
        same = float(np.mean(np.all((fs == s).reshape(len(s), steps, -1), axis=1)))
        corr = _corr(fs.sum(1), s.sum(1))
        if name == names[-1] and not spiking:  # a readout: compare its final voltage
            corr, same = _corr(f_v[:, -1].numpy(), fixed_last[1][:, -1]), float("nan")
        rows.append(LayerAgreement(name, corr, same, float(fs.mean()), float(s.mean())))
    pf = _prediction(f_spikes[-1].numpy() if spiking else f_v.numpy(), spiking)
    pq = _prediction(fixed_last[0] if spiking else fixed_last[1], spiking)
    return Agreement(tuple(rows), float(np.mean(pf == pq)), len(pf))


def agreement_table(a: Agreement) -> str:
    head = f"{'layer':<14}{'count corr':>11}{'same trains':>13}{'float rate':>12}" \
           f"{'fixed rate':>12}"
    rows = [f"{r.name[:13]:<14}{r.count_corr:>11.4f}"
            f"{'(v corr)' if np.isnan(r.same_trains) else f'{r.same_trains:.2%}':>13}"
            f"{r.float_rate:>12.4f}{r.fixed_rate:>12.4f}" for r in a.layers]
    tail = f"output agreement: {a.output_agreement:.2%} of {a.n} inputs"
    return "\n".join([head, *rows, tail])
