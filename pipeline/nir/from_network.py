"""Our fixed-point description (``sim.network.Network``) as a NIR graph, in integer units.

Units: one synaptic input unit (``a_in``, shifted << 6 on the chip, like ``vth``) is 1, so
weights are the integer weights, ``v_threshold = vth`` and a bias is
``bias_mant * 2**(bias_exp - 6)`` per step.  Euler at ``dt`` (metadata), with
``beta = (4096 - dv) / 4096`` and ``alpha = (4095 - du) / 4096``:

* du = 4095, dv > 0: LIF(tau = dt / (1 - beta), r = tau / dt, v_leak = bias / (1 - beta));
* du = 4095, dv = 0: IF (r = 1 / dt), its bias moved into the synapse (Affine bias, or
  the conv bias when constant per channel);
* du < 4095: CubaLIF (tau_syn = dt / (1 - alpha), w_in = tau_syn / dt, as LIF otherwise);
* ``vth`` at the chip's maximum (a readout that never fires): LI, I or CubaLI.

Only the rounding of Lava's decays differs from the chip (rtz); spikes are otherwise the
Euler semantics of these nodes.  Metadata ``scnn_fixed_point = 1`` lets
``scnn.nir.quantize`` keep the integer scale.  Input: the input layer's drive (the
bias mantissa per step, or spikes); layouts torch order.
"""

from __future__ import annotations

import nir
import numpy as np

from scnn.hw import fixed_point as fx
from scnn.hw.chips import LOIHI2
from scnn.nir.export import DT, PRODUCER
from scnn.nir.graph import NirError
from scnn.sim.network import LIF, Conv, Dense, Flatten, Input, Network


def torch_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(reversed(shape)) if len(shape) == 3 else tuple(shape)


def _bias(lif: LIF, lava_shape: tuple[int, ...]) -> np.ndarray:
    b = np.broadcast_to(lif.bias, lava_shape).astype(np.float64) * 2.0 ** (lif.bias_exp -
                                                                          fx.ACT_SHIFT)
    return b.transpose(2, 1, 0) if b.ndim == 3 else np.array(b)


def neuron_node(lif: LIF, shape: tuple[int, ...], bias: np.ndarray, dt: float) -> nir.NIRNode:
    """The NIR neuron for a LIF of torch ``shape`` with ``bias`` per step (see docstring)."""
    beta = (fx.DECAY_UNITY - lif.dv) / fx.DECAY_UNITY
    alpha = (fx.DECAY_UNITY - lif.du - 1) / fx.DECAY_UNITY
    spiking = lif.vth < LOIHI2.threshold_mant_max
    full = np.full(shape, 1.0)
    thr = dict(v_threshold=full * lif.vth, v_reset=full * 0.0) if spiking else {}
    if alpha > 0 and beta < 1:
        tau_s, tau_m = full * dt / (1 - alpha), full * dt / (1 - beta)
        cls = nir.CubaLIF if spiking else nir.CubaLI
        return cls(tau_syn=tau_s, tau_mem=tau_m, r=tau_m / dt, v_leak=bias / (1 - beta),
                   w_in=tau_s / dt, **thr)
    if alpha > 0:
        raise NirError("a current-based neuron without voltage leak (dv = 0) has no NIR node")
    if beta < 1:
        tau = full * dt / (1 - beta)
        return (nir.LIF if spiking else nir.LI)(tau=tau, r=tau / dt, v_leak=bias / (1 - beta),
                                                 **thr)
    if np.any(bias != 0):
        raise NirError("a bias on a neuron without leak (dv = 0) must sit in its synapse")
    return nir.IF(r=full / dt, **thr) if spiking else nir.I(r=full / dt)


def _synapse(layer: Conv | Dense, bias: np.ndarray) -> tuple[nir.NIRNode, np.ndarray]:
    """(NIR synapse, bias left for the neuron) for one Conv/Dense layer."""
    if isinstance(layer, Dense):
        w = layer.weight.astype(np.float64)
        return nir.Affine(weight=w, bias=bias.copy()), np.zeros_like(bias)
    w = np.flip(layer.weight, axis=(1, 2)).transpose(0, 3, 2, 1).astype(np.float64)
    per = bias[:, :1, :1]
    if not np.array_equal(np.broadcast_to(per, bias.shape), bias):
        per = np.zeros_like(per)
    return nir.Conv2d(input_shape=tuple(torch_shape(layer.in_shape)[1:]), weight=w,
                      stride=layer.stride[::-1], padding=layer.padding[::-1],
                      dilation=layer.dilation[::-1], groups=layer.groups,
                      bias=per[:, 0, 0].copy()), bias - per


def network_to_nir(net: Network, dt: float = DT) -> nir.NIRGraph:
    """The network as a NIR chain: Input, per layer its synapse and neuron, Output."""
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(
        input_type=np.array(torch_shape(net.input_shape)))}
    for i, layer in enumerate(net.layers):
        shape = torch_shape(layer.shape)
        if isinstance(layer, Flatten):
            nodes[f"flatten{i}"] = nir.Flatten(input_type=np.array(torch_shape(layer.in_shape)),
                                               start_dim=0, end_dim=-1)
            continue
        bias = _bias(layer.neuron, layer.shape) if layer.neuron else None
        if isinstance(layer, (Conv, Dense)):
            nodes[f"synapse{i}"], bias = _synapse(layer, bias)
        if layer.neuron is not None:
            nodes[f"neuron{i}"] = neuron_node(layer.neuron, shape, bias, dt)
        elif not isinstance(layer, Input):
            raise NirError(f"layer {i} ({layer.kind}) has no neurons")
    nodes["output"] = nir.Output(output_type=np.array(torch_shape(net.layers[-1].shape)))
    names = list(nodes)
    meta = {"dt": dt, "producer": PRODUCER, "scnn_fixed_point": 1,
            "input": "constant" if isinstance(net.layers[0], Input) and net.layers[0].neuron
            else "spikes"}
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:], strict=True)),
                        metadata=meta)
