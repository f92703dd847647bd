"""Loihi-exact training of a converted SDNN: the chip's integers forward, straight-through
gradients backward, optionally energy-aware.

On a static input the sigma-delta network ``scnn.sdnn`` builds is one integer function
(every layer sends once, one step after the layer before it)::

    p_0 = x_int << 6                                   (Delta input, vth 0)
    sigma_k = W_k * p_(k-1)        (conv or dense, exact: the limits are checked)
    act_k = max(sigma_k, 0);  p_k = act_k >> 6 if act_k >= vth_k << 12 else 0
    readout = W_out p_last                             (Sigma's state)

:class:`ExactSDNN` computes it in float64 (exact for these magnitudes) with the weights
rounded to their layer's 8-bit grid in the forward pass and straight-through gradients
for the rounding and the shifts; the threshold's step has a fast-sigmoid surrogate,
so an energy term (each nonzero payload is one message and one synaptic operation per
synapse it reaches: ``scnn.energy_loss``, graded operations costed as binary ones)
can push activations under the send threshold. Its logits are the readout in the CNN's
units (``readout * u_last / (64 r_out)``), so cross-entropy sees the CNN's scale.
:func:`check_limits` re-checks the conversion's limits on the trained weights; the
loss adds the squared excess of activations over the conversion's payload budget
(:meth:`ExactSDNN.aux_loss`), so training keeps them inside the 16-bit payload.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from scnn.hw import fixed_point as fx
from scnn.hw.errors import ScnnError
from scnn.models.loihi import graded_mantissa, ste
from scnn.models.scnn import SCNN
from scnn.sdnn import (
    PAYLOAD_BUDGET,
    PAYLOAD_SHIFT,
    PAYLOAD_UNITS,
    SIGMA_FRAC,
    SDNNPlan,
    on_grid,
)

SURROGATE_SLOPE = 5.0


class _Send(torch.autograd.Function):
    """1 where ``act >= theta`` (the payload is sent), fast-sigmoid surrogate gradient in
    units of the layer's activation scale."""

    @staticmethod
    def forward(ctx, act: torch.Tensor, theta: float, scale: float) -> torch.Tensor:
        z = (act - theta) / scale
        ctx.save_for_backward(z)
        ctx.scale = scale
        return (z >= 0).to(act.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (z,) = ctx.saved_tensors
        return grad / (ctx.scale * (1 + SURROGATE_SLOPE * z.abs()) ** 2), None, None


class ExactSDNN(nn.Module):
    """The converted SDNN's integer forward on a static input (see the module docstring)."""

    graded = True  # its sends are graded payloads: scnn.energy_loss prices them as such

    def __init__(self, cnn: SCNN, plan: SDNNPlan, weights: list[np.ndarray]) -> None:
        super().__init__()
        self.cfg = replace(cnn.cfg, steps=1)
        self.plan = plan
        self.n_conv = len(cnn.cfg.convs)
        u0 = plan.units[0]
        self.register_buffer("gain", cnn.in_gain.detach().double() / u0)
        self.register_buffer("offset", cnn.in_offset.detach().double() / u0)
        self.weights = nn.ParameterList(nn.Parameter(torch.from_numpy(w).double())
                                        for w in weights)
        self.even = [bool(np.abs(w).max() > 127) for w in weights]
        # a payload is sent when act >= max(vth << 12, 64): below 64 it shifts to 0
        self.theta = [float(max(v * SIGMA_FRAC, PAYLOAD_SHIFT)) for v in plan.vth]
        self.act_scale = [SIGMA_FRAC * s for s in plan.act_scales]
        self.logit_scale = plan.units[-1] / (PAYLOAD_SHIFT * plan.weight_scales[-1])

    def aux_loss(self) -> torch.Tensor:
        """The last forward's squared excess over the payload budget (units**2 per clip):
        training keeps activations where the chip's 16-bit payloads hold them."""
        return self.overflow

    def int_weights(self) -> list[torch.Tensor]:
        """Every synapse layer's weights on its 8-bit grid (readout last), straight-through."""
        return [ste(w, on_grid(w.detach(), e)) for w, e in zip(self.weights, self.even,
                                                                strict=True)]

    def graded_input(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised features (batch, C, F, N) -> the input integers the card's rule gives."""
        return graded_mantissa(x, self.gain, self.offset, self.cfg.polarity,
                               self.plan.input_max).detach()

    def _synapse(self, k: int, p: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if k < self.n_conv:
            spec = self.cfg.convs[k]
            return F.conv2d(p, w, stride=spec.stride, padding=spec.padding)
        return F.linear(p.flatten(1), w)

    def forward(self, x: torch.Tensor, record: bool = False, exact: bool = False):
        """Logits (batch, classes) in the CNN's units; with ``record`` also the send
        indicators per neuron layer, (batch, 1, *shape), as the energy penalty takes
        them; with ``exact`` the readout sigmas and every layer's sigma instead."""
        ws = self.int_weights()
        p = self.graded_input(x.double()) * PAYLOAD_SHIFT
        sends = [(p != 0).to(p.dtype)]
        sigmas = []
        self.overflow = torch.zeros((), dtype=torch.float64)
        for k in range(len(ws) - 1):
            sigma = self._synapse(k, p, ws[k])
            sigmas.append(sigma)
            act = torch.relu(sigma)
            if torch.is_grad_enabled():  # units beyond the payload budget, squared, per clip
                over = torch.relu(act / SIGMA_FRAC - PAYLOAD_BUDGET)
                self.overflow = self.overflow + over.square().flatten(1).sum(1).mean()
            send = _Send.apply(act, self.theta[k], self.act_scale[k + 1])
            p = ste(act / PAYLOAD_SHIFT, torch.floor(act.detach() / PAYLOAD_SHIFT)) * send
            sends.append(send)
        readout = F.linear(p.flatten(1), ws[-1])
        if exact:
            return readout, sigmas
        logits = readout * self.logit_scale
        if not record:
            return logits
        return logits, [s.unsqueeze(1) for s in sends]


@torch.no_grad()
def check_limits(model: ExactSDNN, x: torch.Tensor, batch: int = 256) -> None:
    """The conversion's limits on ``x`` (normalised features) for the current weights:
    16-bit payloads, 24-bit conv sums, the int32 readout (HardwareRuleError-style
    messages naming the layer)."""
    model.eval()
    for i in range(0, len(x), batch):
        readout, sigmas = model(x[i : i + batch], exact=True)
        for k, sigma in enumerate(sigmas):
            act = float(sigma.max()) / SIGMA_FRAC
            if act >= PAYLOAD_UNITS:
                raise ScnnError(f"neuron layer {k + 1}: activations reach {act:.0f} units, "
                                f"beyond the 16-bit payload ({PAYLOAD_UNITS} units); train "
                                "with a lower learning rate or fewer epochs")
            top = float(sigma.abs().max())
            limit = 1 << (fx.CONV_BITS - 1) if k < model.n_conv else 1 << 31
            if top >= limit:
                raise ScnnError(f"neuron layer {k + 1}: synaptic sums reach {top:.0f}, beyond "
                                f"Lava's {'24-bit conv output' if k < model.n_conv else 'int32'}"
                                f" ({limit})")
        if float(readout.abs().max()) >= 1 << 31:
            raise ScnnError("readout: sigma beyond int32")


def finetune_sdnn(cnn: SCNN, plan: SDNNPlan, weights: list[np.ndarray], tensors: dict,
                  tcfg, progress: bool = False) -> tuple[list[np.ndarray], dict, list[dict]]:
    """Train the SDNN's integer weights with the exact forward (``tcfg``: a TrainConfig;
    its energy weight prices every sent payload). Returns (trained weights on their
    grids, figures, one row per epoch); the limits are re-checked on the training split."""
    from scnn.train import accuracy, fit, set_determinism

    set_determinism(tcfg.seed, tcfg.threads)
    model = ExactSDNN(cnn, plan, weights)
    train, test = tensors["train"], tensors.get("test")
    figures: dict = {"epochs": tcfg.epochs, "lr": tcfg.lr, "energy_weight": tcfg.energy_weight,
                     "energy_chip": tcfg.energy_chip, "seed": tcfg.seed,
                     "converted_train_accuracy": accuracy(model, train)}
    rows = fit(model, tcfg, train, test, progress)
    check_limits(model, train[0])
    figures["train_accuracy"] = accuracy(model, train)
    if test is not None:
        figures["test_accuracy_exact_forward"] = rows[-1]["test_acc"]
    trained = [w.detach().numpy().astype(np.int64) for w in model.int_weights()]
    return trained, figures, rows
