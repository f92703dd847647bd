"""Activity of a simulated network: spikes, neuron updates and exact synaptic operations.

Pure functions over the arrays a simulator returns (``sim.drive``: ``layer<i>/s|u|v``
shaped ``([B,] *lava_shape, T)``, time last).  Counts are summed over the batch;
divide by ``Activity.samples`` for per-inference figures.

Synaptic operations (SynOps) are counted where the hardware does the work: a spike
emitted by neuron ``n`` of the source layer at step ``t`` is looked up in the
synaptic memory of the next layer and touches ``fan_out[n]`` synapses there (at step
``t``; the resulting current reaches the neurons at ``t + 1``)::

    synops[t] = sum_n s[n, t] * fan_out[n]

``fan_out`` is exact: for a conv layer it is the transposed convolution of an
all-ones output map with the weight mask (all taps, or the nonzero weights only),
which counts for every input position and channel the (output position, output
channel) pairs its kernel reaches given stride, padding, dilation, groups and the
borders; for a dense layer it is the number of rows (all synapses) or of nonzero
entries of the column of the chip weights.  ``synapses="nonzero"`` is the default
(NeuroBench's effective SynOps; a zero weight adds nothing), ``"all"`` counts
every structural synapse.

Graded spikes (sigma-delta kinds) are messages like binary ones: a nonzero payload
is one spike (one message, ``payload_bits`` wide) and its SynOps touch the same
synapses (each a multiply-accumulate rather than an add; ``binary_input`` says
which).  A recurrent layer's SynOps add its own spikes times the fan-out of its
recurrent synapses (``dense_mask`` of such a layer is the (N, M + N) mask of its
input and its own synapses).  A delayed dense layer holds ``delay_slots`` pending
sums per neuron (its delay line: the longest delay + 1).

Neuron updates: every neuron of a layer is updated every step (``neurons * B``
per step).  An update is *active* when the neuron has anything to do: a nonzero
state after the step (u or v; sigma, act or residue), or a spike (its v was reset
to 0).  Without the recorded states every update counts as active (an upper
bound), and ``Activity.active_exact`` is False.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from scnn.hw.errors import ScnnError
from scnn.sim.network import ComplexDense, Conv, Dense, Flatten, Input, Network, RecurrentDense

SYNAPSE_MODES = ("nonzero", "all")


class ActivityError(ScnnError):
    """Simulation results do not fit the network (missing layer, wrong shape)."""


def _check_mode(synapses: str) -> None:
    if synapses not in SYNAPSE_MODES:
        raise ActivityError(f"synapses = {synapses!r}; choose from {', '.join(SYNAPSE_MODES)}")


def conv_torch_mask(layer: Conv, synapses: str = "nonzero") -> torch.Tensor:
    """Weight mask (C_out, C_in/g, kH, kW), torch cross-correlation orientation, float64.

    Lava's (C_out, kW, kH, C_in/g) netx weights are transposed to torch's (H, W) order
    (the maps here are (C, H, W), while ``sim.fast`` keeps Lava's (W, H) and transposes
    (0, 3, 1, 2)) and spatially flipped; 1 where a synapse exists (nonzero weight or any
    tap).
    """
    _check_mode(synapses)
    w = layer.weight.transpose(0, 3, 2, 1)[:, :, ::-1, ::-1]
    mask = (w != 0) if synapses == "nonzero" else np.ones(w.shape, bool)
    return torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float64))


def _conv_args(layer: Conv) -> dict:
    """torch keyword arguments; Lava's (x, y) pairs reversed to torch's (H, W)."""
    return dict(stride=layer.stride[::-1], padding=layer.padding[::-1],
                dilation=layer.dilation[::-1], groups=layer.groups)


def conv_reach(layer: Conv, out_mask: np.ndarray, synapses: str = "nonzero") -> np.ndarray:
    """Synapses from each input neuron into a set of output neurons.

    out_mask: (K, W_out, H_out, C_out) weights (0/1 marks) in Lava order; returns
    (K, W_in, H_in, C_in) float counts: for input n, ``sum_m out_mask[m] * [n -> m]``.
    Transposed convolution; inputs right of the last window (borders the stride
    never reaches) get 0.
    """
    mask = conv_torch_mask(layer, synapses)
    x = torch.from_numpy(np.ascontiguousarray(np.asarray(out_mask, np.float64)
                                              .transpose(0, 3, 2, 1)))  # (K, C, H, W)
    args = _conv_args(layer)
    pad_h, pad_w = args.pop("padding")
    # unpadded transposed conv: index i is input coordinate i - pad (torch would crop the
    # padding symmetrically and lose the far border); keep [pad, pad + size), zero-fill
    fan = F.conv_transpose2d(x, mask, **args)
    w_in, h_in, _ = layer.in_shape
    fan = F.pad(fan, (0, max(0, pad_w + w_in - fan.shape[3]), 0,
                      max(0, pad_h + h_in - fan.shape[2])))
    fan = fan[:, :, pad_h : pad_h + h_in, pad_w : pad_w + w_in]
    return fan.numpy().transpose(0, 3, 2, 1)  # -> (K, W, H, C)


def conv_fan_out(layer: Conv, synapses: str = "nonzero") -> np.ndarray:
    """Synapses each input neuron reaches, (W_in, H_in, C_in) int64 (Lava order)."""
    ones = np.ones((1,) + layer.shape)
    return np.rint(conv_reach(layer, ones, synapses)[0]).astype(np.int64)


def conv_fan_in(layer: Conv, synapses: str = "nonzero") -> np.ndarray:
    """Synapses into each output neuron, (W_out, H_out, C_out) int64 (padding taps excluded)."""
    w_in, h_in, c_in = layer.in_shape
    ones = torch.ones((1, c_in, h_in, w_in), dtype=torch.float64)
    fan = F.conv2d(ones, conv_torch_mask(layer, synapses), **_conv_args(layer))
    return np.rint(fan[0].numpy().transpose(2, 1, 0)).astype(np.int64)


def dense_mask(layer: Dense, synapses: str = "nonzero") -> np.ndarray:
    """(N, M) 0/1 synapse mask of the chip weights (nonzero ones, or all); (N, M + N) for
    a recurrent layer: its input synapses, then its own; 0-2 for a complex layer (its
    real and imaginary synapses)."""
    _check_mode(synapses)
    if isinstance(layer, ComplexDense):  # a real and an imaginary synapse per (n, m)
        return sum(dense_mask(part, synapses) for part in layer.parts())
    w = layer.chip_weight()
    if isinstance(layer, RecurrentDense):
        w = np.hstack((w, layer.chip_weight_rec()))
    if synapses == "all":
        return np.ones(w.shape, np.int64)
    return (w != 0).astype(np.int64)


def fan_out(layer: Conv | Dense, synapses: str = "nonzero") -> np.ndarray:
    """Synapses each input neuron reaches, in the layer's input order (then the layer's
    own neurons, for a recurrent layer)."""
    if isinstance(layer, Conv):
        return conv_fan_out(layer, synapses)
    return dense_mask(layer, synapses).sum(axis=0)


def fan_in(layer: Conv | Dense, synapses: str = "nonzero") -> np.ndarray:
    """Synapses into each output neuron, in Lava order of the layer."""
    if isinstance(layer, Conv):
        return conv_fan_in(layer, synapses)
    return dense_mask(layer, synapses).sum(axis=1)


def flatten_order(x: np.ndarray, lead: int = 1) -> np.ndarray:
    """Lava (lead..., W, H, C, trail...) -> (lead..., C*H*W, trail...) in Flatten's order.

    Index ``c*H*W + h*W + w`` (netx's ``transpose([2, 1, 0]).flatten()``).
    """
    nd = x.ndim
    axes = tuple(range(lead)) + (lead + 2, lead + 1, lead) + tuple(range(lead + 3, nd))
    y = x.transpose(axes)
    return y.reshape(y.shape[:lead] + (-1,) + y.shape[lead + 3:])


def unflatten_order(x: np.ndarray, shape: tuple[int, int, int], lead: int = 1) -> np.ndarray:
    """Inverse of :func:`flatten_order` for (lead..., C*H*W) -> (lead..., W, H, C)."""
    w, h, c = shape
    y = x.reshape(x.shape[:lead] + (c, h, w))
    return y.transpose(tuple(range(lead)) + (lead + 2, lead + 1, lead))


def source_layer(net: Network, i: int) -> int | None:
    """Index of the neuron layer whose spikes feed layer i's synapse (through Flatten)."""
    j = i - 1
    while j >= 0 and isinstance(net.layers[j], Flatten):
        j -= 1
    return j if j >= 0 and net.layers[j].neuron is not None else None


@dataclass(frozen=True, eq=False)
class LayerActivity:
    """Counts of one neuron layer (NetX index ``index``), summed over the batch.

    Per-step arrays are (T,).  ``synops`` are the operations of the synapse *into*
    this layer (0 for the input layer: its bias drive is part of the neuron update).
    ``spike_map`` is spikes per neuron summed over time and batch (Lava shape).
    ``synapses`` / ``nonzero_synapses`` count the layer's structural / nonzero-weight
    synapses (weight entries times output positions for conv; 0 for the input layer).
    """

    index: int
    kind: str
    neurons: int
    spikes: np.ndarray
    active: np.ndarray
    synops: np.ndarray
    synops_all: np.ndarray
    spike_map: np.ndarray
    synapses: int
    nonzero_synapses: int
    weights: int
    zero_weights: int
    binary_input: bool
    neuron: str = "LIF"
    payload_bits: int = 0
    delay_slots: int = 0

    def updates(self, samples: int) -> np.ndarray:
        """Neuron updates per step, (T,): every neuron every step."""
        return np.full(self.spikes.shape, self.neurons * samples, np.int64)


@dataclass(frozen=True, eq=False)
class Activity:
    """Per-layer activity of a batch of ``samples`` inferences of ``steps`` steps."""

    layers: tuple[LayerActivity, ...]
    samples: int
    steps: int
    synapse_mode: str
    active_exact: bool

    def merge(self, other: Activity) -> Activity:
        """Activity of both batches (same network, steps and counting mode)."""
        if (self.steps, self.synapse_mode, len(self.layers)) != \
                (other.steps, other.synapse_mode, len(other.layers)):
            raise ActivityError("cannot merge activities of different runs")
        summed = ("spikes", "active", "synops", "synops_all", "spike_map")
        layers = tuple(
            LayerActivity(**{f: (getattr(a, f) + getattr(b, f)) if f in summed
                             else getattr(a, f) for f in a.__dataclass_fields__})
            for a, b in zip(self.layers, other.layers, strict=True))
        return Activity(layers, self.samples + other.samples, self.steps, self.synapse_mode,
                        self.active_exact and other.active_exact)

    def total(self, field: str) -> int:
        """A per-step field summed over layers, steps and samples."""
        return int(sum(int(getattr(x, field).sum()) for x in self.layers))


def _batched(results: dict[str, np.ndarray], key: str, ndim: int) -> np.ndarray:
    """Result array with a leading batch axis (ndim = neuron axes + time)."""
    if key not in results:
        raise ActivityError(f"simulation results lack {key!r} (record spikes 's')")
    x = np.asarray(results[key])
    if x.ndim == ndim:
        return x[None]
    if x.ndim != ndim + 1:
        raise ActivityError(f"{key} has {x.ndim} axes, expected {ndim} or {ndim + 1}")
    return x


def _source_spikes(net: Network, i: int, results: dict, spikes: np.ndarray | None) -> np.ndarray:
    """(B, *layer i input shape, T) spikes entering layer i's synapse."""
    j = source_layer(net, i)
    if j is None:
        if spikes is None:
            raise ActivityError(f"layer {i} is fed by external spikes: pass input_spikes")
        src = _batched({"x": spikes}, "x", len(net.input_shape) + 1)
        shape = net.input_shape
    else:
        shape = net.layers[j].shape
        src = _batched(results, f"layer{j}/s", len(shape) + 1)
    if len(shape) == 3 and len(net.layers[i].in_shape) == 1:
        src = flatten_order(src)
    return src


def _synops(s: np.ndarray, fan: np.ndarray) -> np.ndarray:
    """(T,) sum over batch and neurons of [s[b, n, t] != 0] * fan[n] (exact int64): a
    spike, or a graded spike's nonzero payload, is one message."""
    flat = (s.reshape(s.shape[0], -1, s.shape[-1]) != 0).astype(np.int64)
    return np.einsum("bnt,n->t", flat, fan.reshape(-1).astype(np.int64))


def _active(results: dict, i: int, s: np.ndarray, ndim: int,
            states: tuple[str, ...]) -> tuple[np.ndarray, bool]:
    if any(f"layer{i}/{k}" not in results for k in states):
        n = s[0, ..., 0].size
        return np.full(s.shape[-1], n * s.shape[0], np.int64), False
    busy = s != 0
    for k in states:
        busy = busy | (_batched(results, f"layer{i}/{k}", ndim) != 0)
    return busy.reshape(busy.shape[0], -1, busy.shape[-1]).sum(axis=(0, 1)), True


def weight_counts(layer: Conv | Dense | ComplexDense) -> tuple[int, int]:
    """(weights, zero weights) as the chip stores them (conv kernel, dense chip weights,
    a recurrent layer's both matrices, a complex layer's real and imaginary ones)."""
    if isinstance(layer, Conv):
        w = layer.weight
    elif isinstance(layer, RecurrentDense):
        w = np.hstack((layer.chip_weight(), layer.chip_weight_rec()))
    elif isinstance(layer, ComplexDense):
        w = np.hstack([part.chip_weight() for part in layer.parts()])
    else:
        w = layer.chip_weight()
    return int(w.size), int((w == 0).sum())


def _layer_synops(net: Network, i: int, results: dict, input_spikes: np.ndarray | None,
                  s: np.ndarray, synapses: str) -> np.ndarray:
    """(T,) SynOps into layer i: its input's messages times their fan-out, plus, for a
    recurrent layer, its own messages times the fan-out of its recurrent synapses."""
    layer = net.layers[i]
    fan = fan_out(layer, synapses)
    n_in = int(np.prod(layer.in_shape))
    ops = _synops(_source_spikes(net, i, results, input_spikes), fan[:n_in])
    if isinstance(layer, RecurrentDense):
        ops = ops + _synops(s, fan[n_in:])
    return ops


def layer_activity(net: Network, results: dict[str, np.ndarray],
                   input_spikes: np.ndarray | None = None,
                   synapses: str = "nonzero") -> Activity:
    """Activity of every neuron layer from simulation results (``s`` needed; u, v optional).

    ``input_spikes`` ([B,] *input_shape, T) are needed only when a synapse is fed by
    external spikes (an Input layer without neurons).
    """
    _check_mode(synapses)
    out, exact, samples, steps = [], True, None, None
    for i in net.neuron_layers:
        layer = net.layers[i]
        s = _batched(results, f"layer{i}/s", len(layer.shape) + 1)
        if s.shape[1:-1] != layer.shape:
            raise ActivityError(f"layer{i}/s has neuron shape {s.shape[1:-1]}, "
                                f"network says {layer.shape}")
        samples, steps = s.shape[0], s.shape[-1]
        active, ok = _active(results, i, s, len(layer.shape) + 1, layer.neuron.states)
        exact &= ok
        zeros = np.zeros(steps, np.int64)
        syn = {"synops": zeros, "synops_all": zeros, "synapses": 0, "nonzero_synapses": 0,
               "weights": 0, "zero_weights": 0, "binary_input": False}
        if not isinstance(layer, Input):
            w, zw = weight_counts(layer)
            syn = {"synops": _layer_synops(net, i, results, input_spikes, s, synapses),
                   "synops_all": _layer_synops(net, i, results, input_spikes, s, "all"),
                   "synapses": int(fan_in(layer, "all").sum()),
                   "nonzero_synapses": int(fan_in(layer, "nonzero").sum()),
                   "weights": w, "zero_weights": zw, "binary_input": not net.graded_into(i)}
        sent = s != 0
        delays = getattr(layer, "delay", None)
        out.append(LayerActivity(
            index=i, kind=layer.kind, neurons=int(np.prod(layer.shape)),
            spikes=sent.reshape(samples, -1, steps).sum(axis=(0, 1)).astype(np.int64),
            active=np.asarray(active, np.int64),
            spike_map=sent.sum(axis=(0, s.ndim - 1)).astype(np.int64),
            neuron=type(layer.neuron).__name__, payload_bits=layer.neuron.message_bits,
            delay_slots=0 if delays is None else int(delays.max()) + 1, **syn))
    return Activity(tuple(out), int(samples), int(steps), synapses, exact)
