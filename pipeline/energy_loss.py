"""Energy-aware training: the chip's cost of a forward pass's spikes, differentiable.

The penalty is the part of ``hw.energy``'s dynamic energy that training can change,
spikes, in the same units (uJ per inference) and with the same per-operation costs::

    E_spk = a * sum_{l,t} sum_n s_l[n, t] * (fan_l[n] * e_syn + e_msg)     (per clip)

``s_l`` are layer l's spikes over the model's T steps (the surrogate gradient flows
through them), ``fan_l[n]`` the synapses neuron n reaches in the next layer (every
tap of a convolution, borders and stride exact; every weight of a dense layer; the
readout's for the last hidden layer), ``e_syn``, ``e_msg`` and ``a`` the chip's
cost table (``hw.energy.cost_table``).  The loss is ``cross-entropy + weight * E_spk``:
``weight`` is loss per uJ.

What it leaves out, so the profile (``scnn profile``) stays the figure to report:
neuron updates (fixed by the architecture and T, not by training), zero weights
after quantisation (counted here, not on the chip), the chip's drain steps (one per
synapse layer after the T model steps), and messages to more than one core.
"""

from __future__ import annotations

import torch

from scnn.defaults import ENERGY_CHIPS
from scnn.hw.energy import cost_table
from scnn.hw.errors import ScnnError
from scnn.models.scnn import ConvSpec, SCNNConfig


def _axis_reach(n_in: int, n_out: int, spec: ConvSpec) -> torch.Tensor:
    """(n_in,) outputs along one axis whose window holds each input position."""
    i = torch.arange(n_in).view(-1, 1)
    tap = i + spec.padding - spec.stride * torch.arange(n_out).view(1, -1)
    return ((tap >= 0) & (tap < spec.kernel)).sum(1).to(torch.float64)


def fan_outs(cfg: SCNNConfig) -> list[torch.Tensor]:
    """Per spiking layer (input first, last hidden last), the synapses each neuron
    reaches in the next layer, shaped like the layer: (C, H, W) or (n,), float64."""
    shapes = cfg.layer_shapes()
    fans = []
    for k, shape in enumerate(shapes):
        if k < len(cfg.convs):
            spec, (_, h_out, w_out) = cfg.convs[k], shapes[k + 1]
            _, h, w = shape
            reach = torch.outer(_axis_reach(h, h_out, spec), _axis_reach(w, w_out, spec))
            fans.append((spec.channels * reach).expand(shape).clone())
        else:
            n_next = shapes[k + 1][0] if k + 1 < len(shapes) else cfg.n_classes
            fans.append(torch.full(shape, float(n_next), dtype=torch.float64))
    return fans


def check_energy_options(cfg: SCNNConfig, weight: float, chip: str) -> None:
    """Refuse an energy weight on a model without spikes or an unknown chip, early."""
    if weight > 0:
        EnergyPenalty(cfg, chip)


class EnergyPenalty:
    """Modelled dynamic energy (uJ per clip, batch mean) of recorded spikes on a chip.

    ``graded``: the spikes are a sigma-delta network's sent payloads (a CNN twin's
    geometry, ``scnn.sdnn_qat``), each costed as one binary spike is."""

    def __init__(self, cfg: SCNNConfig, chip: str = "loihi2", graded: bool = False) -> None:
        if cfg.neuron != "lif" and not graded:
            raise ScnnError(f"model {cfg.name}: an energy penalty needs spikes; {cfg.name} is a "
                            f"CNN twin (convert it to an SNN, then retrain with the penalty)")
        if chip not in ENERGY_CHIPS:
            raise ScnnError(f"energy chip {chip!r}: expected one of {', '.join(ENERGY_CHIPS)}")
        table = cost_table(chip)
        self.chip = chip
        self.per_synop = table.energy_scale * table.synop * 1e6  # uJ
        self.per_message = table.energy_scale * table.message * 1e6
        self.fans = fan_outs(cfg)  # with the rate drive the input's cost has no gradient
        self.costs = [f * self.per_synop + self.per_message for f in self.fans]

    def per_spike(self, k: int) -> torch.Tensor:
        """uJ one spike of layer k costs, per neuron (shaped like the layer)."""
        return self.costs[k]

    def __call__(self, spikes: list[torch.Tensor]) -> torch.Tensor:
        """``spikes``: per layer (batch, T, *layer_shape), as ``model(x, record=True)``
        gives them -> scalar tensor, uJ per clip averaged over the batch."""
        if len(spikes) != len(self.fans):
            raise ValueError(f"{len(spikes)} spike records for {len(self.fans)} layers")
        total = None
        for k, s in enumerate(spikes):
            cost = (s.sum(1) * self.per_spike(k).to(s.dtype)).flatten(1).sum(1)  # (batch,)
            total = cost if total is None else total + cost
        return total.mean()


class EnergyGate:
    """The factor on the energy term at a training step: ``weight * ramp * gate``.

    ``ramp = min(1, step / warmup_steps)``; ``gate = clip((a - 1/K) / (1 - 1/K), 0, 1)``
    with ``a`` the running (exponential, ``momentum``) mean of the batches' training
    accuracy, starting at chance, and K the number of classes.
    """

    def __init__(self, weight: float, warmup_steps: float, n_classes: int,
                 momentum: float = 0.9) -> None:
        self.weight, self.warmup = weight, warmup_steps
        self.chance = 1.0 / max(n_classes, 2)
        self.momentum, self.accuracy = momentum, self.chance

    def factor(self, step: int) -> float:
        ramp = min(1.0, (step + 1) / self.warmup) if self.warmup > 0 else 1.0
        gate = min(1.0, max(0.0, (self.accuracy - self.chance) / (1.0 - self.chance)))
        return self.weight * ramp * gate

    def update(self, batch_accuracy: float) -> None:
        self.accuracy = self.momentum * self.accuracy + (1 - self.momentum) * batch_accuracy
