"""NeuroBench workload metrics (Yik et al. 2024/2025) from an :class:`sim.activity.Activity`.

Per inference (sample), as NeuroBench names them:

* ``effective_acs``: synaptic operations of layers whose inputs are spikes, counting
  a spike times each nonzero weight it reaches (NeuroBench binarises inputs and
  weights): ``sum_{layers, t} synops[t] / samples``.
* ``effective_macs``: the same for layers with non-binary inputs (graded spikes of
  sigma-delta layers: each message multiplies its payload into every synapse it
  reaches); 0 for a binary LIF network.  The input layer's bias drive is NOT
  counted as MACs: on Loihi the bias is added inside the neuron update (one add
  per neuron per step, counted in ``neuron_updates``), not by a synapse; a CNN
  twin's first layer MACs appear in the conventional baseline
  (``hw.energy.conventional_energy``) instead.
* ``dense_synops``: every synapse every step, ``sum_layers synapses * steps``
  (synapses = weight entries times output positions inside the borders).
* ``activation_sparsity``: zero outputs / all outputs over neuron layers, steps and
  samples, ``1 - spikes / (neurons * steps * samples)``.
* ``connection_sparsity``: zero weights / all weights over synapse layers (conv
  kernels as stored, dense chip weights after Lava's clip and truncation).
* ``footprint_bytes``: parameters and buffers as the chip stores them: weights 1 B
  (8-bit magnitude; the sign is the layer's sign mode or the 9th bit, rounded into
  the byte), bias mantissas 2 B per neuron of conv/dense layers (13 bit; the input
  layer's bias is the data, not a parameter), 8 B of constants per neuron layer
  (du, dv 12 bit -> 2 B each, vth 17 bit -> 3 B, bias_exp 1 B) and the u, v state
  buffers 3 B each per neuron (24 bit).
"""

from __future__ import annotations

import numpy as np

from scnn.sim.activity import Activity, weight_counts
from scnn.sim.network import Input, Network

WEIGHT_BYTES = 1   # 8-bit weight magnitude (+ sign mode)
BIAS_BYTES = 2     # 13-bit bias mantissa
LAYER_CONST_BYTES = 2 + 2 + 3 + 1  # du, dv (12 bit), vth (17 bit), bias_exp (3 bit)
STATE_BYTES = 3    # u and v registers, 24 bit each


def footprint_bytes(net: Network) -> int:
    """Bytes of parameters and state buffers (see module docstring)."""
    total = 0
    for i in net.neuron_layers:
        layer = net.layers[i]
        n = int(np.prod(layer.shape))
        total += LAYER_CONST_BYTES + 2 * STATE_BYTES * n
        if not isinstance(layer, Input):
            total += WEIGHT_BYTES * weight_counts(layer)[0] + BIAS_BYTES * n
    return total


def neurobench_metrics(act: Activity, net: Network) -> dict[str, float]:
    """NeuroBench names, per inference (see module docstring)."""
    n = act.samples
    outputs = sum(x.neurons for x in act.layers) * act.steps * n
    weights = sum(x.weights for x in act.layers)
    return {
        "effective_acs": sum(int(x.synops.sum()) for x in act.layers if x.binary_input) / n,
        "effective_macs": sum(int(x.synops.sum()) for x in act.layers
                              if x.synapses and not x.binary_input) / n,
        "dense_synops": float(sum(x.synapses for x in act.layers) * act.steps),
        "activation_sparsity": 1.0 - act.total("spikes") / outputs if outputs else 0.0,
        "connection_sparsity": sum(x.zero_weights for x in act.layers) / weights
        if weights else 0.0,
        "footprint_bytes": float(footprint_bytes(net)),
    }
