"""Loihi-exact SCNN for quantisation-aware training (QAT).

The forward pass computes exactly the integer dynamics of Lava's ``fixed_pt`` LIF
(``PyLifModelBitAcc``) with CUBA current decay ``du = 4095`` (the current is this
step's synaptic input), for integer weights, decays and thresholds:

    a[t]  = W_int s_prev[t]                      (synaptic input, integer)
    u[t]  = wrap24(a[t] << 6)
    v[t]  = clip24(rtz(v[t-1] * (4096 - dv) / 4096) + u[t] + (bias << 6))
    s[t]  = v[t] > (vth << 6);   v[t] <- 0 where s[t]

Values are float64 tensors holding integers (exact below 2**53). The backward
pass uses straight-through estimators for rounding, wrapping and clipping and a
fast-sigmoid surrogate for the spike, on the voltage in threshold units.

There are no synaptic delays here: on the chip every synapse layer delays by one
step, so layer k's spike train is this model's shifted by k steps (hidden layers
have no bias), and the readout's voltage after ``T + L`` chip steps equals this
model's readout after ``T`` steps (``L`` = number of synapse layers).

Layout: the input drive is (batch, C, F, N); spikes of conv layers (batch, C, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from snntorch import surrogate
from torch import nn
from torch.nn import functional as F

from scnn.hw.fixed_point import ACT_SHIFT, DECAY_UNITY, V_MAX, VTH_SHIFT
from scnn.sim.fast import wrap_current


def ste(x: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """``exact`` in the forward pass, the gradient of ``x`` in the backward pass."""
    return x + (exact - x).detach()


def rtz_decay(v: torch.Tensor, dv: int) -> torch.Tensor:
    """rtz(v * (4096 - dv) / 4096), exact, with the gradient of v * (4096 - dv) / 4096."""
    keep = DECAY_UNITY - dv
    prod = v.detach() * keep
    exact = torch.sign(prod) * torch.floor(prod.abs() / DECAY_UNITY)
    return ste(v * (keep / DECAY_UNITY), exact)


def loihi_lif_step(a: torch.Tensor, v: torch.Tensor, dv: int, vth: int, bias: torch.Tensor | int,
                   spike_fn) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of an integer LIF layer with du = 4095; returns ``(spikes, v)``.

    ``a`` is the integer synaptic input of this step, ``bias`` the bias mantissa (the
    loader's bias_exp is 6, i.e. ``bias << 6``), ``vth`` the threshold mantissa.
    """
    u = ste(a * (1 << ACT_SHIFT), wrap_current(a.detach() * (1 << ACT_SHIFT)))
    v = rtz_decay(v, dv) + u + bias * (1 << ACT_SHIFT)
    v = ste(v, v.detach().clamp(-V_MAX, V_MAX))
    theta = vth << VTH_SHIFT
    s = spike_fn((v - theta) / theta).to(v.dtype)
    return s, v * (1.0 - s)


def drive_mantissa(x: torch.Tensor, gain: torch.Tensor, offset: torch.Tensor, polarity: int,
                   drive_max: int) -> torch.Tensor:
    """The input layer's bias mantissas for normalised features, as the host computes them.

    ``x`` (batch, C, F, N) float32; ``gain``/``offset`` float64 (1, C', F, 1) in integer
    units; with polarity 2 the channels are ``[x, -x]``. Returns (batch, C', F, N)
    float64 integers ``clamp(round(gain * x + offset), -drive_max, drive_max)``
    (round half to even), with a straight-through gradient.
    """
    if polarity == 2:
        x = torch.cat([x, -x], dim=1)
    b = gain * x.double() + offset
    return ste(b, torch.round(b.detach()).clamp(-drive_max, drive_max))


def graded_mantissa(x: torch.Tensor, gain: torch.Tensor, offset: torch.Tensor,
                    polarity: int, input_max: int) -> torch.Tensor:
    """An SDNN input layer's graded integers: :func:`drive_mantissa` clamped at 0 (the
    ReLU of the CNN twin's input layer), in [0, input_max]."""
    return drive_mantissa(x, gain, offset, polarity, input_max).clamp_min(0)


@dataclass(frozen=True)
class LayerQuant:
    """Fixed-point parameters of one neuron layer (see hw.quantize)."""

    scale: float  # float weight (or input drive) x scale = integer units
    dv: int       # voltage decay, 12 bits
    vth: int      # threshold mantissa


class LoihiSCNN(nn.Module):
    """A float SCNN re-expressed in integer units, trained with exact fixed-point forward.

    Parameters are the float weights times their layer scale; the forward pass rounds
    them to the chip's weight grid (``weight_grid``: even integers in [-256, 254]).
    """

    def __init__(self, float_model: nn.Module, quants: list[LayerQuant], readout: LayerQuant,
                 drive_max: int, slope: float = 5.0) -> None:
        super().__init__()
        from scnn.hw.quantize import quantize_weights  # the chip's weight grid, one definition

        self.cfg = float_model.cfg
        self.quants, self.readout_q, self.drive_max = list(quants), readout, drive_max
        self.quantize_weights = quantize_weights
        self.spike_fn = surrogate.fast_sigmoid(slope=slope)
        s0 = quants[0].scale
        self.in_gain = nn.Parameter(float_model.in_gain.detach().double() * s0)
        self.in_offset = nn.Parameter(float_model.in_offset.detach().double() * s0)
        self.weights = nn.ParameterList(
            nn.Parameter(syn.weight.detach().double() * q.scale)
            for syn, q in zip(float_model.synapses, quants[1:], strict=True))
        self.w_out = nn.Parameter(float_model.readout.weight.detach().double() * readout.scale)
        self.n_conv = len(self.cfg.convs)

    def drive(self, x: torch.Tensor) -> torch.Tensor:
        """Input-layer bias mantissas (batch, C', F, N) for normalised features x."""
        return drive_mantissa(x, self.in_gain, self.in_offset, self.cfg.polarity, self.drive_max)

    def int_weights(self) -> list[torch.Tensor]:
        """Every synapse layer's weights on the chip's grid (readout last)."""
        return [ste(w, self.quantize_weights(w.detach())) for w in [*self.weights, self.w_out]]

    def synapse(self, k: int, s: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if k < self.n_conv:
            spec = self.cfg.convs[k]
            return F.conv2d(s, w, stride=spec.stride, padding=spec.padding)
        return F.linear(s.flatten(1), w)

    def forward(self, x: torch.Tensor, record: bool = False):
        """Readout voltages after T steps / (64 * scale * T) as logits (batch, classes).

        With ``record``: also (spikes per layer, readout voltage (batch, classes) as
        integers) — the latter is what the chip's readout register holds.
        """
        bias, ws = self.drive(x), self.int_weights()
        v = [torch.zeros((), dtype=torch.float64) for _ in self.quants]
        v_out = torch.zeros((x.shape[0], self.cfg.n_classes), dtype=torch.float64)
        trace: list[list[torch.Tensor]] = [[] for _ in self.quants]
        q0 = self.quants[0]
        for _ in range(self.cfg.steps):
            s, v[0] = loihi_lif_step(torch.zeros_like(bias), v[0], q0.dv, q0.vth, bias,
                                     self.spike_fn)
            trace[0].append(s)
            for k, q in enumerate(self.quants[1:]):
                s, v[k + 1] = loihi_lif_step(self.synapse(k, s, ws[k]), v[k + 1], q.dv, q.vth,
                                             0, self.spike_fn)
                trace[k + 1].append(s)
            _, v_out = loihi_lif_step(s.flatten(1) @ ws[-1].T, v_out, self.readout_q.dv,
                                      self.readout_q.vth, 0, self.spike_fn)
        logits = (v_out / (64 * self.readout_q.scale * self.cfg.steps)).float()
        if not record:
            return logits
        return logits, [torch.stack(tr, dim=1) for tr in trace], v_out.detach()
