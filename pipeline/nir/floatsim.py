"""Reference float simulation of a lowered NIR network (``scnn.nir.lower``), no delays.

Per step t and neuron layer (threshold units, float64)::

    u = alpha u + a[t] + bias_u;   v = beta v + u + bias;   s = v > 1;   v = 0 where s

``a[t]`` is this step's synaptic input (the previous layer's spikes of step t through the
layer's conv/dense weights, plus for a recurrent layer its own spikes of step t - 1
through ``weight_rec``; the external spikes for a spike-driven input layer; 0 for a
bias-driven input layer, whose drive is part of ``bias``).  Layout in: spikes (B, T,
*input_shape) or an analog input (B, *input_shape); out: per layer (B, T, *shape).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from scnn.nir.lower import FloatLayer, Lowered


def _synapse(layer: FloatLayer, s: torch.Tensor) -> torch.Tensor:
    w = torch.as_tensor(layer.weight, dtype=torch.float64)
    if layer.kind == "conv":
        return F.conv2d(s, w, None, layer.stride, layer.padding, layer.dilation)
    if layer.kind == "dense":
        return F.linear(s, w)
    return s * w  # spike-driven input layer: per-neuron gain


@torch.no_grad()
def simulate_float(low: Lowered, steps: int, x: torch.Tensor
                   ) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Spikes per neuron layer (B, T, *shape) and the last layer's v (B, T, *shape)."""
    x = x.double()
    if low.mode == "spikes":
        x = x.reshape(x.shape[0], steps, *low.input_shape)  # 1-D maps (C, L) -> (C, L, 1)
    biases = {i: torch.as_tensor(np.asarray(layer.bias), dtype=torch.float64)
              for i, layer in enumerate(low.layers) if layer.neuron is not None}
    biases_u = {i: torch.as_tensor(np.asarray(layer.bias_u), dtype=torch.float64)
                for i, layer in enumerate(low.layers) if np.any(layer.bias_u != 0)}
    if low.mode == "bias":
        biases[0] = low.drive(x)
    state: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    trace: dict[int, list[torch.Tensor]] = {i: [] for i in biases}
    v_last: list[torch.Tensor] = []
    for t in range(steps):
        s = x[:, t] if low.mode == "spikes" else None
        for i, layer in enumerate(low.layers):
            if layer.kind == "flatten":
                s = s.reshape(s.shape[0], -1)
                continue
            if layer.neuron is None:
                continue
            a = 0.0 if (layer.kind == "input" and low.mode == "bias") else _synapse(layer, s)
            if layer.weight_rec is not None and t > 0:
                a = a + F.linear(trace[i][-1], torch.as_tensor(layer.weight_rec,
                                                              dtype=torch.float64))
            u, v = state.get(i, (0.0, 0.0))
            n = layer.neuron
            u = n.alpha * u + a + biases_u.get(i, 0.0)
            v = n.beta * v + u + biases[i]
            if n.spiking:
                s = (v > 1.0).double()
                v = v * (1.0 - s)
            else:
                s = torch.zeros_like(v)
            state[i] = (u, v)
            trace[i].append(s)
        v_last.append(state[max(trace)][1])
    return [torch.stack(trace[i], 1) for i in sorted(trace)], torch.stack(v_last, 1)
