"""Float LIF dynamics with Loihi's ordering, trained with surrogate gradients.

Per step, for input current ``i[t]`` (Loihi CUBA with ``du = 4095``: the current
is the synaptic input of this step, nothing carried over):

    v[t]  = beta * v[t-1] + i[t]
    s[t]  = H(v[t] - threshold)          (surrogate gradient in the backward pass)
    v[t] <- v[t] * (1 - s[t])            (reset to zero on the step it spikes)

which is Loihi's ``v = v * (4096 - dv) / 4096 + u + bias; spike if v > vth; v = 0``
with ``beta = 1 - dv / 4096``. Unlike snntorch's ``Leaky`` (reset from the previous
step's spike) the reset here acts on the same step, as on the chip.
"""

from __future__ import annotations

import torch
from snntorch import surrogate
from torch import nn


def lif_step(i: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, threshold: float,
             spike_fn) -> tuple[torch.Tensor, torch.Tensor]:
    """One step: returns ``(spikes, new_v)``; inputs are not modified."""
    v = beta * v + i
    s = spike_fn(v - threshold)
    return s, v * (1.0 - s)


class LIF(nn.Module):
    """Leaky integrate-and-fire neurons with a fixed or learnable decay ``beta``.

    ``beta`` is a scalar per layer (Loihi's ``dv`` is per layer in NetX); a
    learnable beta is kept in (0, 1] by a sigmoid parametrisation.
    """

    def __init__(self, beta: float = 0.75, threshold: float = 1.0, slope: float = 25.0,
                 learn_beta: bool = False) -> None:
        super().__init__()
        if not 0.0 < beta <= 1.0:
            raise ValueError(f"beta must be in (0, 1], got {beta}")
        self.threshold = float(threshold)
        self.slope = float(slope)
        self.spike_fn = surrogate.fast_sigmoid(slope=slope)
        logit = torch.logit(torch.tensor(min(beta, 1 - 1e-4)))
        if learn_beta:
            self.beta_logit = nn.Parameter(logit)
        else:
            self.register_buffer("beta_logit", logit)

    @property
    def beta(self) -> torch.Tensor:
        return torch.sigmoid(self.beta_logit)

    def forward(self, i: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return lif_step(i, v, self.beta, self.threshold, self.spike_fn)
