"""Plain per-neuron reference simulator: slow, obviously correct, for tests.

Written straight from Lava's fixed_pt models with Python integers, one neuron
and one synapse sum at a time (no vectorisation, no shortcuts); numpy's int32
wrap-around is written out as ``_wrap(x, 32)`` at every int32 operation.  Same call and
result format as ``sim.fast.simulate`` (see ``sim.drive``).

Timing (Lava's): at step t (1-based) layer 0 sees the external spikes of step
t; every synapse layer delivers to its neurons at t what it computed at t - 1
from the previous layer's spikes of step t - 1.
"""

from __future__ import annotations

import numpy as np

from scnn.hw import fixed_point as fx
from scnn.sim.drive import VARIABLES, Drive, finish, make_drive, spike_dtype
from scnn.sim.network import (
    LIF,
    RF,
    ComplexDense,
    Conv,
    Delta,
    Dense,
    Flatten,
    Input,
    Integrator,
    Layer,
    Network,
    RecurrentDense,
    RFIz,
    Sigma,
    SigmaDelta,
    reset_steps,
)


def _rtz(x: int, bits: int) -> int:
    q = abs(x) >> bits
    return q if x >= 0 else -q


def _wrap(x: int, bits: int) -> int:
    half = 1 << (bits - 1)
    return (x + half) % (1 << bits) - half


def lif_neuron(u: int, v: int, a_in: int, bias: int, p: LIF | Integrator
               ) -> tuple[int, int, int]:
    """One neuron, one step, as ``PyLifModelBitAcc``: returns (spike, u, v)."""
    lim = fx.UV_LIMIT
    x = _wrap(_rtz(u * (fx.DECAY_UNITY - p.du - fx.DU_OFFSET), fx.DECAY_SHIFT)
              + _wrap(a_in << fx.ACT_SHIFT, 32), 32)
    u = x - 2 * lim if x > lim else (x + 2 * lim if x <= -lim else x)
    eff_bias = bias << p.bias_exp if p.bias_exp >= 0 else bias >> -p.bias_exp
    v = _wrap(_rtz(v * (fx.DECAY_UNITY - p.dv - fx.DV_OFFSET), fx.DECAY_SHIFT) + u + eff_bias, 32)
    v = min(max(v, fx.V_MIN), fx.V_MAX)
    if v > p.vth << fx.VTH_SHIFT:
        return 1, u, 0
    return 0, u, v


def _abs32(x: int) -> int:
    """numpy's int32 abs: -2**31 stays -2**31."""
    return x if x == -(1 << 31) else abs(x)


def delta_neuron(act: int, residue: int, a_in: int, p: Delta) -> tuple[int, int, int]:
    """One neuron, one step, as ``PyDeltaModelFixed``: returns (payload, act, residue)."""
    k = p.spike_exp + p.state_exp
    x = _wrap(a_in << k, 32)
    delta = _wrap(_wrap(x - act, 32) + residue, 32)
    q = delta if _abs32(delta) >= p.vth << k else 0
    return q >> p.state_exp, x, _wrap(delta - q, 32)


def sigma_delta_neuron(sigma: int, act: int, residue: int, a_in: int, bias: int,
                       p: SigmaDelta) -> tuple[int, int, int, int]:
    """One neuron, one step, as ``PySigmaDeltaModelFixed`` (ReLU): returns (payload, sigma,
    act, residue)."""
    k = p.spike_exp + p.state_exp
    sigma = _wrap(sigma + a_in, 32)
    new_act = max(_wrap(sigma + (bias << k), 32), 0)
    delta = _wrap(_wrap(new_act - act, 32) + residue, 32)
    q = delta if _abs32(delta) >= p.vth << k else 0
    return q >> p.state_exp, sigma, new_act, _wrap(delta - q, 32)


def sigma_neuron(sigma: int, a_in: int) -> tuple[int, int]:
    """One neuron, one step, as ``PySigmaModelFixed``: returns (payload, sigma)."""
    sigma = _wrap(sigma + a_in, 32)
    return sigma, sigma


def _rtz12(x: int) -> int:
    return _rtz(x, fx.RF_DECAY_BITS)


def rf_neuron(real: int, imag: int, a_re: int, a_im: int, p: RF) -> tuple[int, int, int]:
    """One neuron, one step, as ``PyRFModelFixed`` / ``PyRF_IZModelFixed`` (``p.phase``):
    returns (spike, real, imag)."""
    lim = fx.RF_LIMIT
    new_re = _rtz12(p.cos_decay * real) - _rtz12(p.sin_decay * imag) + \
        _wrap(a_re << fx.RF_STATE_EXP, 32)
    new_im = _rtz12(p.sin_decay * real) + _rtz12(p.cos_decay * imag) + \
        _wrap(a_im << fx.RF_STATE_EXP, 32)
    new_re, new_im = min(max(new_re, -lim), lim), min(max(new_im, -lim), lim)
    if p.phase:
        return int(new_re >= p.vth and new_im >= 0 and imag < 0), new_re, new_im
    if new_im >= p.vth:
        return 1, 0, p.vth - 1
    return 0, new_re, new_im


def _lif(state: tuple[int, ...], a_in: int, bias: int, p: LIF) -> tuple[int, ...]:
    return lif_neuron(*state, a_in, bias, p)


def _delta(state: tuple[int, ...], a_in: int, bias: int, p: Delta) -> tuple[int, ...]:
    return delta_neuron(*state, a_in, p)


def _sigma_delta(state: tuple[int, ...], a_in: int, bias: int, p: SigmaDelta) -> tuple[int, ...]:
    return sigma_delta_neuron(*state, a_in, bias, p)


def _sigma(state: tuple[int, ...], a_in: int, bias: int, p: Sigma) -> tuple[int, ...]:
    return sigma_neuron(*state, a_in)


def _rf(state: tuple[int, ...], a_in: tuple[int, int], bias: int, p: RF) -> tuple[int, ...]:
    return rf_neuron(*state, *a_in, p)


# neuron kind -> one neuron's step: (state in ``kind.states`` order, a_in, bias, params)
# -> (spike or payload, *new state)
NEURON_STEPS = {LIF: _lif, Integrator: _lif, Delta: _delta, SigmaDelta: _sigma_delta,
                Sigma: _sigma, RF: _rf, RFIz: _rf}


def conv_synapse(s: np.ndarray, layer: Conv) -> np.ndarray:
    """Lava's convolution of spikes or payloads s (W, H, C_in) -> (W, H, C_out): exact
    integer sums, delivered as Lava's float64 sum cast to int32 and wrapped to 24 bits
    (``hw.fixed_point.conv_output``: 0 for a sum outside int32)."""
    w = layer.weight
    k_out, kw, kh, cg = w.shape
    out = np.zeros(layer.shape, np.int64)
    per_group = k_out // layer.groups
    for x, y, k in np.ndindex(*layer.shape):
        g, total = k // per_group, 0
        for i, j, c in np.ndindex(kw, kh, cg):
            xi = x * layer.stride[0] + (kw - 1 - i) * layer.dilation[0] - layer.padding[0]
            yj = y * layer.stride[1] + (kh - 1 - j) * layer.dilation[1] - layer.padding[1]
            if 0 <= xi < s.shape[0] and 0 <= yj < s.shape[1] and s[xi, yj, g * cg + c]:
                total += int(w[k, i, j, c]) * int(s[xi, yj, g * cg + c])
        out[x, y, k] = int(fx.conv_output(total))
    return out


def _dense_sum(s: np.ndarray, w: np.ndarray, e: int, graded: bool, delayed: bool) -> np.ndarray:
    """Lava's dense sums of weights w (N, M) over spikes or payloads s (M,), as int32:
    binary, the int64 sum of the weights of spiking inputs, shifted, wrapped; graded Dense,
    the int32 dot product (wraps), then shifted; graded DelayDense, the int64 sum of int32
    products (each wraps), shifted, wrapped."""
    a = np.zeros(w.shape[0], np.int64)
    for n in range(w.shape[0]):
        if not graded:
            total = sum(int(w[n, m]) for m in range(w.shape[1]) if s[m])
        elif not delayed:
            total = _wrap(sum(int(w[n, m]) * int(s[m]) for m in range(w.shape[1])), 32)
        else:
            total = sum(_wrap(int(w[n, m]) * int(s[m]), 32) for m in range(w.shape[1]))
        a[n] = _wrap(total << e if e > 0 else total >> -e, 32)
    return a


def dense_synapse(s: np.ndarray, layer: Dense, graded: bool = False) -> dict[int, np.ndarray]:
    """Lava's dense synapse per delay d (``{0: a}`` without delays): what the spikes s
    produce for delivery ``1 + d`` steps later (see ``_dense_sum``)."""
    return {d: _dense_sum(s, layer.delay_weight(d), layer.weight_exp, graded,
                          layer.delay is not None) for d in layer.delays}


class _Sample:
    """State of one sample: each neuron layer's states and the synapse buffers."""

    def __init__(self, net: Network, drive: Drive, b: int) -> None:
        self.net, self.drive, self.b = net, drive, b
        self.state = {i: {var: np.zeros(net.layers[i].shape, np.int64)
                          for var in net.layers[i].neuron.states} for i in net.neuron_layers}
        # per synapse layer, its delay line: line[i][k] is delivered k + 1 steps from now
        self.line = {i: [np.zeros(self._due_shape(net.layers[i]), np.int64)
                         for _ in range(1 + max(getattr(net.layers[i], "delays", (0,))))]
                     for i in net.neuron_layers}
        self.bias = {i: np.broadcast_to(net.layers[i].neuron.bias, net.layers[i].shape)
                     for i in net.neuron_layers}
        if drive.bias is not None:
            self.bias[0] = drive.bias[b]
        self.resets = reset_steps(net, drive.reset_interval, drive.reset_offset)

    @staticmethod
    def _due_shape(layer: Layer) -> tuple[int, ...]:
        """Shape of a synapse buffer: the neurons, (2, *neurons) for complex inputs."""
        return ((2,) if isinstance(layer, ComplexDense) else ()) + layer.shape

    def neuron_layer(self, i: int, a_in: np.ndarray, t: int) -> np.ndarray:
        p = self.net.layers[i].neuron
        states = self.state[i]
        interval, phase = self.resets.get(i, (0, -1))
        if interval and t % interval == phase:
            for x in states.values():
                x[...] = 0
        step = NEURON_STEPS[type(p)]
        complex_in = isinstance(p, RF)  # a_in is (2, *shape): real and imaginary inputs
        shape = a_in.shape[1:] if complex_in else a_in.shape
        s = np.zeros(shape, np.int64)
        for idx in np.ndindex(*shape):
            old = tuple(int(states[var][idx]) for var in p.states)
            a = (int(a_in[0][idx]), int(a_in[1][idx])) if complex_in else int(a_in[idx])
            s[idx], *new = step(old, a, int(self.bias[i][idx]), p)
            for var, value in zip(p.states, new, strict=True):
                states[var][idx] = value
        return s

    def step(self, x: np.ndarray, t: int) -> dict[int, np.ndarray]:
        """Run step t (1-based) on external input x; return the spikes per layer."""
        prev, spikes = x, {}
        for i, layer in enumerate(self.net.layers):
            if isinstance(layer, Flatten):
                prev = prev.transpose(2, 1, 0).reshape(-1) if prev.ndim == 3 else prev
                continue
            if isinstance(layer, Input):
                if layer.neuron is not None:
                    x_in = np.stack([prev, prev]) if isinstance(layer.neuron, RF) else prev
                    prev = spikes[i] = self.neuron_layer(i, x_in, t)
                continue
            line = self.line[i]
            a_in = line.pop(0)  # what was due now (computed at t - 1 - d)
            line.append(np.zeros(self._due_shape(layer), np.int64))
            graded = self.net.graded_into(i)
            if isinstance(layer, Conv):
                new = {0: conv_synapse(prev, layer)}
            elif isinstance(layer, ComplexDense):
                new = {0: np.stack([dense_synapse(prev, part, graded)[0]
                                    for part in layer.parts()])}
            else:
                new = dense_synapse(prev, layer, graded)
            for d, a in new.items():
                line[d] = _wrap(line[d] + a, 32)  # Lava's int32 delay buffer
            prev = spikes[i] = self.neuron_layer(i, a_in, t)
            if isinstance(layer, RecurrentDense):  # its own spikes, due next step
                own = _dense_sum(prev, layer.chip_weight_rec(), layer.weight_exp,
                                 self.net.graded_into(i), False)
                line[0] = _wrap(line[0] + own, 32)
        return spikes


def simulate(net: Network, steps: int, spikes: np.ndarray | None = None,
             bias: np.ndarray | None = None, reset_interval: int | None = None,
             reset_offset: int = 0, record: tuple[str, ...] = VARIABLES,
             silicon_v: bool = False, layers: tuple[int, ...] | None = None
             ) -> dict[str, np.ndarray]:
    """Run ``net`` sample by sample, neuron by neuron; results as ``sim.drive`` describes."""
    drive = make_drive(net, steps, spikes, bias, reset_interval, reset_offset, record, silicon_v,
                       layers)
    out = {f"layer{i}/{var}": np.zeros((drive.batch,) + net.layers[i].shape + (drive.steps,),
                                       np.int64)
           for i in net.neuron_layers for var in drive.needed if drive.records(i, var)}
    for b in range(drive.batch):
        sample = _Sample(net, drive, b)
        for t in range(1, drive.steps + 1):
            x = (drive.spikes[b, ..., t - 1].astype(np.int64) if drive.spikes is not None
                 else np.zeros(net.input_shape, np.int64))
            spikes = sample.step(x, t)
            for i, s in spikes.items():
                for var, value in (("s", s), *sample.state[i].items()):
                    if drive.records(i, var):
                        out[f"layer{i}/{var}"][b, ..., t - 1] = value
    return finish({k: v.astype(spike_dtype(net, k)) for k, v in out.items()}, drive)
