"""A NIR chain lowered to discrete-time float layers in threshold units (before quantising).

Each neuron node is discretised with forward Euler at ``dt`` (graph metadata ``dt``,
else the caller's), e.g. LIF ``tau dv/dt = (v_leak - v) + r I``::

    v[t] = beta v[t-1] + g I[t] + leak,   beta = 1 - dt/tau, g = r dt/tau, leak = (dt/tau) v_leak

CubaLIF: ``u = alpha u + (dt/tau_syn) w_in S``, ``v = beta v + (dt/tau_mem)(v_leak + r u)``
(alpha = 1 - dt/tau_syn); IF and I: ``v = v + r dt I``; LI/I/CubaLI never spike.  The
linear nodes between two neuron nodes become one synapse (a convolution, or a dense
matrix, preceded by a Flatten layer if the chain flattens) whose rows are multiplied by
the neuron's input gain ``g`` and divided by its threshold, so every spiking layer
fires at ``v > 1``:

    u[t] = alpha u[t-1] + W s_prev[t] + bias_u;  v[t] = beta v[t-1] + u[t] + bias
    s[t] = v[t] > 1;  v[t] = 0 where s[t]

``bias_u`` is an Affine bias into a current-based neuron (CubaLIF, as snntorch's
Linear + Synaptic writes it); Loihi adds biases to v only, so the chip gets its steady
state ``bias_u / (1 - alpha)`` on v (``scnn.nir.quantize``), which differs from the
graph in the first steps (the float reference keeps the graph's ``bias_u``).
A recurrent loop (``scnn.nir.graph.recurrent_loops``) adds ``W_rec s[t-1]`` to ``u[t]``
of its dense layer, its rows scaled alike (netx's ``dense_rec``).

In ``bias`` mode the nodes from the Input to the first neuron are the input drive
(any linear nodes, evaluated on the analog input and constant over time; Loihi's
input layer bias); in ``spikes`` mode the input is binary spikes and those nodes are
the first synapse.  Layouts: torch order without batch ((C, H, W), (C, L, 1), (N,)).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import nir
import numpy as np
import torch

from scnn.nir.chain import Synapse, fold
from scnn.nir.graph import (
    NEURONS,
    NirError,
    Shape,
    chain,
    check_declared,
    input_shapes,
    recurrent_loops,
)
from scnn.nir.ops import Op, to_op

MODES = ("bias", "spikes")


@dataclass(frozen=True)
class Neuron:
    """Per-step decays; ``spiking = False`` for LI/I/CubaLI (voltage read, never fires)."""

    alpha: float
    beta: float
    spiking: bool = True


@dataclass(frozen=True, eq=False)
class FloatLayer:
    """One layer: ``kind`` input/conv/dense/flatten, weights in threshold units.

    conv: ``weight`` (C_out, C_in, kH, kW), ``stride``/``padding`` (H, W); dense ``weight``
    (N, M); ``bias`` broadcastable to ``shape`` (constant input to v per step).
    """

    name: str
    kind: str
    in_shape: Shape
    shape: Shape
    neuron: Neuron | None = None
    weight: np.ndarray | None = None
    bias: np.ndarray | float = 0.0
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    unit: float = 1.0  # the layer's threshold before normalising (if uniform, else 1)
    weight_rec: np.ndarray | None = None  # dense (N, N): the layer's own spikes of t - 1
    bias_u: np.ndarray | float = 0.0  # constant input to u per step (bias into tau_syn)


@dataclass(frozen=True, eq=False)
class Lowered:
    """The float network: layers, input shape, mode and (bias mode) the input drive.

    Bias mode: layer 0's per-step input is ``drive(x) = ops(x) * drive_gain + bias_0``.
    """

    layers: tuple[FloatLayer, ...]
    input_shape: Shape
    mode: str
    dt: float
    drive_ops: tuple[Op, ...] = ()
    drive_gain: np.ndarray | float = 1.0

    def drive(self, x: torch.Tensor) -> torch.Tensor:
        """Analog input (B, *input_shape) -> input layer current (B, *shape0), threshold units."""
        h = x.double().reshape(x.shape[0], *self.input_shape)
        for op in self.drive_ops:
            h = op.apply(h)
        first = self.layers[0]
        return h * torch.as_tensor(self.drive_gain) + torch.as_tensor(first.bias)


def _fit(name: str, what: str, x: object, shape: Shape) -> np.ndarray:
    """A neuron parameter as an array of the layer shape (1-D maps: (C, L) -> (C, L, 1))."""
    a = np.asarray(x, np.float64)
    if a.size == int(np.prod(shape)):
        return a.reshape(shape)
    if a.size == 1:
        return np.full(shape, float(a.ravel()[0]))
    raise NirError(f"node {name!r}: {what} of shape {list(a.shape)} does not fit the layer "
                   f"shape {list(shape)}")


def _uniform(name: str, what: str, a: np.ndarray) -> float:
    if np.ptp(a) > 1e-9 * max(1.0, float(np.abs(a).max())):
        raise NirError(f"node {name!r}: {what} differs across neurons ({a.min()}..{a.max()}); "
                       "Loihi has one decay per layer")
    return float(a.ravel()[0])


def _decay(name: str, what: str, dt: float, tau: np.ndarray) -> float:
    ratio = _uniform(name, what, dt / tau)
    if not 0.0 <= ratio <= 1.0:
        raise NirError(f"node {name!r}: dt/{what} = {ratio:g} outside [0, 1] (dt = {dt:g})")
    return 1.0 - ratio


def _snap(x: np.ndarray) -> np.ndarray:
    """Gains within float32 rounding of 1 are 1 (tau = dt/(1-beta), r = tau/dt round trips)."""
    return np.where(np.isclose(x, 1.0, rtol=1e-6, atol=0.0), 1.0, x)


def neuron_params(name: str, node: nir.NIRNode, shape: Shape, dt: float
                  ) -> tuple[Neuron, np.ndarray, np.ndarray, np.ndarray | None]:
    """(neuron, input gain g, leak per step, threshold or None) of a NIR neuron node."""
    p = {k: _fit(name, k, getattr(node, k), shape) for k in
         ("tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in")
         if getattr(node, k, None) is not None}
    if "v_reset" in p and np.any(p["v_reset"] != 0):
        raise NirError(f"node {name!r}: v_reset must be 0 (Loihi resets v to 0)")
    spiking = "v_threshold" in p
    theta = p.get("v_threshold")
    if theta is not None and np.any(theta <= 0):
        raise NirError(f"node {name!r}: v_threshold must be > 0")
    if isinstance(node, (nir.IF, nir.I)):
        return Neuron(0.0, 1.0, spiking), _snap(p["r"] * dt), np.zeros(shape), theta
    tau = p.get("tau", p.get("tau_mem"))
    beta = _decay(name, "tau", dt, tau)
    leak = dt / tau * p["v_leak"]
    if isinstance(node, (nir.LIF, nir.LI)):
        return Neuron(0.0, beta, spiking), _snap(p["r"] * dt / tau), leak, theta
    alpha = _decay(name, "tau_syn", dt, p["tau_syn"])
    gain = _snap(dt / p["tau_syn"] * p["w_in"]) * _snap(dt / tau * p["r"])
    return Neuron(alpha, beta, spiking), gain, leak, theta


def _unit_gain_dts(node: nir.NIRNode) -> np.ndarray:
    """The steps ``dt`` at which a neuron node's input gain is 1 (per neuron): LIF/LI
    ``r dt / tau = 1``, IF/I ``r dt = 1``, CubaLIF/CubaLI ``(dt / tau_syn) w_in (dt / tau) r
    = 1``.  Exporters that discretise exactly (snntorch's ``r = tau / dt``) write these."""
    def get(k: str) -> np.ndarray:
        return np.asarray(getattr(node, k), np.float64).ravel()

    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(node, (nir.IF, nir.I)):
            return 1.0 / get("r")
        if isinstance(node, (nir.LIF, nir.LI)):
            return get("tau") / get("r")
        return np.sqrt(get("tau_syn") * get("tau_mem") / (get("w_in") * get("r")))


def infer_dt(graph: nir.NIRGraph) -> float:
    """The graph's step when it has no ``dt``: the one step at which every neuron's input
    gain is 1, if that step is also shorter than every time constant; else a NirError
    that says to pass ``--dt`` and what the graph's time constants imply."""
    nodes = [(k, n) for k, n in chain(graph) if isinstance(n, NEURONS)]
    dts = np.concatenate([_unit_gain_dts(n) for _, n in nodes] or [np.zeros(0)])
    taus = np.concatenate([np.asarray(getattr(n, k), np.float64).ravel() for _, n in nodes
                           for k in ("tau", "tau_mem", "tau_syn") if hasattr(n, k)]
                          or [np.zeros(0)])
    ok = dts.size and np.all(np.isfinite(dts)) and dts.min() > 0 and \
        np.ptp(dts) <= 1e-6 * dts.max()
    if ok and (taus.size == 0 or dts.max() < taus.min()):
        return float(np.median(dts))
    said = [f"time constants {taus.min():.3g}..{taus.max():.3g} s"] if taus.size else []
    if dts.size and np.all(np.isfinite(dts)) and dts.min() > 0:
        said.append(f"unit input gain would need dt = {dts.min():.3g}..{dts.max():.3g} s")
    raise NirError("the graph has no dt in its metadata: pass --dt (seconds per Euler step)"
                   + (f"; its {'; '.join(said)}" if said else "")
                   + (f"; dt must be at most {taus.min():.3g} s" if taus.size else ""))


def _segments(graph: nir.NIRGraph) -> tuple[Shape, list[tuple[list[str], list[Op], Shape, str,
                                                               nir.NIRNode, Shape]]]:
    """Split the chain at neuron nodes: (ops names, ops, in shape, neuron name, node, shape).
    The Input's shape is the literal one, or without a leading batch axis where only that
    fits the nodes after it (the literal one's error otherwise)."""
    nodes = chain(graph)
    first = None
    for shape in input_shapes(*nodes[0]):
        try:
            return shape, _walk(nodes, shape)
        except NirError as err:
            first = first or err
    raise first


def _walk(nodes: list[tuple[str, nir.NIRNode]], shape: Shape
          ) -> list[tuple[list[str], list[Op], Shape, str, nir.NIRNode, Shape]]:
    start, segs, names, ops = shape, [], [], []
    for name, node in nodes[1:-1]:
        check_declared(name, node, "input", shape)
        if isinstance(node, NEURONS):
            segs.append((names, ops, start, name, node, shape))
            start, names, ops = shape, [], []
            continue
        op = to_op(name, node, shape)
        shape = op.out_shape(name, shape)
        check_declared(name, node, "output", shape)
        names, ops = names + [name], ops + [op]
    out_name, out = nodes[-1]
    if ops:
        raise NirError(f"node {names[0]!r}: linear nodes after the last neuron layer; a Loihi "
                       "network ends in neurons (add an I/LI readout)")
    if not segs:
        raise NirError("graph has no neuron node (IF, LIF, CubaLIF, LI, I, CubaLI)")
    check_declared(out_name, out, "input", shape)
    return segs


def _normalise(name: str, node: nir.NIRNode, shape: Shape, dt: float
               ) -> tuple[Neuron, np.ndarray, np.ndarray, float]:
    """(neuron, factor k = g / threshold, leak / threshold, uniform threshold or 1)."""
    neuron, gain, leak, theta = neuron_params(name, node, shape, dt)
    theta = np.ones(shape) if theta is None else theta
    unit = float(theta.ravel()[0]) if np.ptp(theta) == 0 else 1.0
    return neuron, gain / theta, leak / theta, unit


def _row_factor(name: str, k: np.ndarray, syn: Synapse) -> np.ndarray:
    """k per output row of the weight: per channel for convs (constant within a channel)."""
    if syn.kind == "dense":
        return k.reshape(-1)
    if not np.allclose(k, k[:, :1, :1]):
        raise NirError(f"node {name!r}: gain/threshold varies within a channel of a convolution")
    return k[:, 0, 0]


def _layer(name: str, neuron: Neuron, k: np.ndarray, leak: np.ndarray, syn: Synapse,
           in_shape: Shape, unit: float) -> FloatLayer:
    rows = _row_factor(name, k, syn)
    w = syn.weight * rows.reshape(-1, *([1] * (syn.weight.ndim - 1)))
    b_syn = syn.bias * rows
    shape = syn.out_shape
    b_syn = b_syn[:, None, None] if syn.kind == "conv" else b_syn.reshape(shape)
    b_u = 0.0
    if neuron.alpha > 0 and np.any(b_syn != 0):  # into the synaptic current, not v
        b_u, b_syn = np.broadcast_to(b_syn, shape).copy(), 0.0
    return FloatLayer(name, syn.kind, (int(np.prod(in_shape)),) if syn.flattens else in_shape,
                      shape, neuron, w, b_syn + leak, syn.stride, syn.padding, syn.dilation,
                      unit, bias_u=b_u)


def _with_loop(layer: FloatLayer, name: str, node: nir.NIRNode, k: np.ndarray) -> FloatLayer:
    """``layer`` with the recurrent synapse ``node`` (rows scaled like the input weights;
    its bias joins the layer's bias, under the same rule as an input bias)."""
    syn = fold([name], [to_op(name, node, layer.shape)], layer.shape, layer.shape)
    rec = _layer(layer.name, layer.neuron, k, np.zeros(layer.shape), syn, layer.shape, 1.0)
    return dataclasses.replace(layer, weight_rec=rec.weight, bias=layer.bias + rec.bias,
                               bias_u=layer.bias_u + rec.bias_u)


def lower(graph: nir.NIRGraph, dt: float, mode: str = "spikes") -> Lowered:
    """The graph as float layers (see the module docstring); NirError naming bad nodes."""
    if mode not in MODES:
        raise NirError(f"input mode {mode!r}: expected one of {MODES}")
    in_shape, segs = _segments(graph)
    loops = recurrent_loops(graph)
    layers: list[FloatLayer] = []
    drive_ops, drive_gain = (), 1.0
    for j, (names, ops, start, name, node, shape) in enumerate(segs):
        neuron, k, leak, unit = _normalise(name, node, shape, dt)
        if j < len(segs) - 1 and not neuron.spiking:
            raise NirError(f"node {name!r} ({type(node).__name__}): a non-spiking neuron must "
                           "be the last layer")
        if name in loops and (len(shape) != 1 or (j == 0 and (mode == "bias" or not ops))):
            raise NirError(f"node {name!r}: a recurrent loop ({loops[name][0]!r}) is supported "
                           "on dense synapse layers only (netx's dense_rec)")
        if j == 0 and mode == "bias":
            if neuron.alpha > 0:
                raise NirError(f"node {name!r}: a bias-driven input layer cannot have tau_syn")
            layers.append(FloatLayer(name, "input", shape, shape, neuron, None, leak,
                                     unit=unit))
            drive_ops, drive_gain = tuple(ops), k
            continue
        if j == 0 and not ops:
            layers.append(FloatLayer(name, "input", shape, shape, neuron, k, leak))
            continue
        if j == 0:
            layers.append(FloatLayer("input", "input", start, start))
        syn = fold(names, ops, start, shape)
        if syn.flattens:
            layers.append(FloatLayer(names[0], "flatten", start, syn.weight.shape[1:]))
        layer = _layer(name, neuron, k, leak, syn, start, unit)
        if name in loops:
            layer = _with_loop(layer, *loops[name], k)
        layers.append(layer)
    return Lowered(tuple(layers), in_shape, mode, dt, drive_ops, drive_gain)
