"""Fast batched bit-exact simulator (torch floats holding exact integers).

Every value Lava computes (and every product it forms) is an integer below 2**44
in magnitude, so float64 holds it exactly; ``trunc(x * (f / 4096))`` is Lava's
round-toward-zero decay exactly (a power-of-two division of an exact product).
Static per-layer bounds on |a_in|, |u|, |v| decide the rest: float32 where every
value, sum and decay product provably fits its 24-bit mantissa (else float64);
wraps and the voltage clip only where they can bite.  A bias-only input layer is
simulated once per distinct bias value and gathered (``_InputTable``).  The
reference loop and Lava check all of it in the tests.

Internal layout: conv/input layers (B, C, H, W) stored channels-last, dense
(B, N); results are converted to Lava's ``(B, W, H, C, T)`` (see ``sim.drive``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from hw import fixed_point as fx
from sim.drive import VARIABLES, Drive, finish, make_drive
from sim.network import LIF, Conv, Dense, Flatten, Input, Network, reset_steps

FLOAT_EXACT = 1 << 24  # float32 represents every integer below 2**24 exactly
INT32 = 1 << 31

State = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True, eq=False)
class LifParams:
    """One layer's LIF constants in simulator form.

    ``decay_u``/``decay_v`` are ``(4096 - du - 1) / 4096`` and ``(4096 - dv) / 4096``
    (None when the factor is 0 resp. 1); ``vth`` is ``vth << 6``; ``bias`` the
    effective bias ``bias << bias_exp`` broadcastable to (B, *internal shape);
    ``wrap``/``clip`` say whether the int32/24-bit wraps and the voltage clip can bite;
    ``dtype`` is float32 where static bounds prove every value and product exact in it.
    """

    decay_u: float | None
    decay_v: float | None
    vth: float
    bias: torch.Tensor
    wrap: bool
    clip: bool
    dtype: torch.dtype = torch.float64


def _wrap(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Two's-complement wrap of exact-integer floats into ``[-2**(bits-1), 2**(bits-1))``."""
    half, full = float(1 << (bits - 1)), float(1 << bits)
    return x - full * torch.floor((x + half) / full)


def wrap_current(x: torch.Tensor) -> torch.Tensor:
    """Lava's one-period two-sided wrap of u (see ``hw.fixed_point.wrap_current``)."""
    lim = float(fx.UV_LIMIT)
    return torch.where(x > lim, x - 2 * lim, torch.where(x <= -lim, x + 2 * lim, x))


def lif_step(a_in: torch.Tensor, state: State, p: LifParams) -> tuple[torch.Tensor, State]:
    """One Lava LIF step for a batch; pure (inputs are not modified).

    u' = wrap24(rtz(u * decay_u) + (a_in << 6));  v' = clip(rtz(v * decay_v) + u' + bias);
    s = v' > vth << 6;  v'[s] = 0.  Returns (s as bool, (u', v')) in ``p.dtype``.
    In-place operations below only touch tensors created here.
    """
    u, v = state
    act = a_in.to(p.dtype) * float(1 << fx.ACT_SHIFT)
    if p.wrap:
        act = _wrap(act, 32)
    u_new = act if p.decay_u is None else torch.mul(u, p.decay_u).trunc_().add_(act)
    if p.wrap:
        u_new = wrap_current(_wrap(u_new, 32))
    v_new = v + u_new if p.decay_v is None else torch.mul(v, p.decay_v).trunc_().add_(u_new)
    v_new.add_(p.bias)
    if p.wrap:
        v_new = _wrap(v_new, 32)
    if p.clip:
        v_new.clamp_(fx.V_MIN, fx.V_MAX)
    s = v_new > p.vth
    return s, (u_new, v_new.masked_fill_(s, 0.0))


def _significant_bits(n: int) -> int:
    """Bits between the highest and lowest set bit of n > 0 (n = odd * 2**k -> bits(odd))."""
    return (n >> ((n & -n).bit_length() - 1)).bit_length() if n else 0


def to_internal(x: np.ndarray) -> torch.Tensor:
    """Lava order (B, W, H, C) -> internal (B, C, H, W) stored channels-last; (B, N) as is.

    Channels-last (memory (B, H, W, C)) is oneDNN's fastest conv layout on CPU; every
    4-D tensor of a run uses it so elementwise ops never mix layouts.
    """
    if x.ndim != 4:
        return torch.from_numpy(np.array(x, order="C"))
    return torch.from_numpy(np.array(x.transpose(0, 2, 1, 3), order="C")).permute(0, 3, 1, 2)


def _to_lava(x: torch.Tensor) -> np.ndarray:
    """Internal (B, C, H, W, T) -> Lava (B, W, H, C, T)."""
    k = x.ndim - 2
    return x.permute((0,) + tuple(range(k, 0, -1)) + (k + 1,)).numpy()


def _lif_params(neuron: LIF, drive_in: int, bias: np.ndarray) -> LifParams:
    """Constants and static bounds for one layer.

    ``drive_in`` bounds |a_in|; ``bias`` is the mantissa (B or 1, *Lava shape).
    |u| <= (|a| << 6) * 4096 / (du + 1) (geometric series; rtz only shrinks);
    |v| <= (|u| + |bias|) * 4096 / dv, unbounded for dv = 0.
    """
    eff_bias = fx.scaled_bias(bias, neuron.bias_exp)
    act = drive_in << fx.ACT_SHIFT
    u_bound = -(-act * fx.DECAY_UNITY // (neuron.du + fx.DU_OFFSET))
    wrap = act >= INT32 or u_bound >= fx.UV_LIMIT
    b_max = int(np.abs(eff_bias).max()) if eff_bias.size else 0
    v_bound = None if neuron.dv == 0 else -(-(u_bound + b_max) * fx.DECAY_UNITY // neuron.dv)
    clip = wrap or (u_bound + b_max > 0 if v_bound is None else v_bound >= fx.V_MAX)
    f_u = fx.DECAY_UNITY - neuron.du - fx.DU_OFFSET
    f_v = fx.DECAY_UNITY - neuron.dv - fx.DV_OFFSET
    exact32 = not wrap and v_bound is not None and max(u_bound + b_max, v_bound) < FLOAT_EXACT \
        and u_bound.bit_length() + _significant_bits(f_u) <= 24 \
        and v_bound.bit_length() + _significant_bits(f_v) <= 24
    dtype = torch.float32 if exact32 else torch.float64
    return LifParams(
        decay_u=None if f_u == 0 else f_u / fx.DECAY_UNITY,
        decay_v=None if f_v == fx.DECAY_UNITY else f_v / fx.DECAY_UNITY,
        vth=float(fx.threshold(neuron.vth)), bias=to_internal(eff_bias).to(dtype),
        wrap=wrap, clip=clip, dtype=dtype)


def _canonical(x: torch.Tensor, fmt: torch.memory_format) -> torch.Tensor:
    """x with the textbook strides of ``fmt`` (oneDNN crashed on odd strides of size-1 axes)."""
    b, c, h, w = x.shape
    want = (c * h * w, 1, w * c, c) if fmt == torch.channels_last else (c * h * w, h * w, w, 1)
    if x.stride() == want:
        return x
    return torch.empty(x.shape, dtype=x.dtype, memory_format=fmt).copy_(x)


class _ConvSynapse:
    """Lava's conv (true convolution of flipped netx weights = torch cross-correlation)."""

    def __init__(self, layer: Conv) -> None:
        w = layer.weight.transpose(0, 3, 2, 1)[:, :, ::-1, ::-1]  # -> (C_out, C_in/g, kH, kW)
        self.bound = int(np.abs(w).reshape(w.shape[0], -1).sum(axis=1).max())
        dtype = torch.float32 if self.bound < FLOAT_EXACT else torch.float64
        # oneDNN's channels-last conv is faster but segfaults on degenerate shapes (one
        # channel, 1-wide kernels): use it only on plain, non-degenerate layers
        plain = layer.groups == 1 and layer.dilation == (1, 1) and min(w.shape[2:]) >= 2
        wide = layer.in_shape[2] >= 3 and layer.shape[2] >= 8
        self.format = torch.channels_last if dtype == torch.float32 and plain and wide \
            else torch.contiguous_format
        self.weight = torch.from_numpy(np.array(w, order="C")).to(dtype).contiguous(
            memory_format=self.format)
        self.args = dict(stride=layer.stride[::-1], padding=layer.padding[::-1],
                         dilation=layer.dilation[::-1], groups=layer.groups)
        self.drive_in = min(self.bound, fx.UV_LIMIT)

    def __call__(self, s: torch.Tensor) -> torch.Tensor:
        a = F.conv2d(_canonical(s.to(self.weight.dtype), self.format), self.weight, **self.args)
        if self.bound >= fx.UV_LIMIT:
            a = _wrap(a.double(), fx.CONV_BITS)
        return a.contiguous(memory_format=torch.channels_last)


class _DenseSynapse:
    """Lava's dense: chip weights (clipped, truncated) times binary spikes, shifted."""

    def __init__(self, layer: Dense) -> None:
        w = layer.chip_weight()
        self.exp = layer.weight_exp
        rows = int(np.abs(w).sum(axis=1).max()) if w.size else 0
        dtype = torch.float32 if rows < FLOAT_EXACT else torch.float64
        self.weight_t = torch.from_numpy(np.array(w.T, order="C")).to(dtype)
        self.drive_in = rows << self.exp if self.exp > 0 else rows >> -self.exp

    def __call__(self, s: torch.Tensor) -> torch.Tensor:
        a = s.to(self.weight_t.dtype) @ self.weight_t  # spikes are 0/1
        if self.exp > 0:
            a = a.double() * float(1 << self.exp)
        elif self.exp < 0:
            a = torch.floor(a.double() / float(1 << -self.exp))
        return _wrap(a.double(), 32) if self.drive_in >= INT32 else a


@contextmanager
def _threads(n: int | None):
    old = torch.get_num_threads()
    if n and n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)


class _InputTable:
    """A bias-driven input layer (no input spikes), simulated once per distinct bias value.

    Neurons sharing du, dv, vth, resets and input (none) differ only by bias, so
    their trajectories are those of their bias value: tables (T, n_values) are
    computed with ``lif_step`` and gathered per step by each neuron's value index.
    """

    def __init__(self, neuron: LIF, bias: np.ndarray, steps: int, reset: tuple[int, int]) -> None:
        low = int(bias.min())  # 13-bit mantissas: at most 8192 values, index = bias - low
        values, index = np.arange(low, int(bias.max()) + 1), bias - low
        p = _lif_params(neuron, 0, values[None])
        state: State = (torch.zeros((1, values.size), dtype=p.dtype),) * 2
        rows: list[tuple[torch.Tensor, ...]] = []
        for t in range(1, steps + 1):
            if reset[0] and t % reset[0] == reset[1]:
                state = (torch.zeros_like(state[0]),) * 2
            s, state = lif_step(torch.zeros_like(state[0]), state, p)
            rows.append((s[0], state[0][0], state[1][0]))
        self.tables = [torch.stack(col) for col in zip(*rows, strict=True)]  # s, u, v: (T, n)
        index = to_internal(index.reshape(bias.shape))  # (B, C, H, W) value index
        # gather in memory order so results keep the channels-last layout
        self.index = index.permute(0, 2, 3, 1).contiguous() if index.ndim == 4 else index

    def _gather(self, table: torch.Tensor) -> torch.Tensor:
        out = table[self.index]
        return out.permute(0, 3, 1, 2) if out.ndim == 4 else out

    def at(self, t: int, uv: bool) -> tuple[torch.Tensor, State]:
        """(s, (u, v)) of every neuron at step t (1-based); u, v zero unless ``uv``."""
        s, u, v = (self._gather(table[t - 1]) if k == 0 or uv else torch.zeros(())
                   for k, table in enumerate(self.tables))
        return s, (u, v)


class _Runner:
    """Holds per-layer synapses, LIF constants and state; steps the whole batch."""

    def __init__(self, net: Network, drive: Drive) -> None:
        self.net, self.drive = net, drive
        self.resets = reset_steps(net, drive.reset_interval, drive.reset_offset)
        self.synapse: dict[int, _ConvSynapse | _DenseSynapse] = {}
        self.params: dict[int, LifParams] = {}
        self.table: _InputTable | None = None
        for i in net.neuron_layers:
            self._build(i, net.layers[i])
        self.state = {i: (self._zeros(i), self._zeros(i)) for i in net.neuron_layers}
        self.buf = {i: self._zeros(i) for i in self.synapse}

    def _zeros(self, i: int) -> torch.Tensor:
        """Zeros (B, *internal shape) for layer i, in the layer's dtype and layout."""
        lava = np.zeros((1,) + self.net.layers[i].shape, np.float32)
        return torch.zeros_like(to_internal(lava).expand(self.drive.batch, *([-1] * len(
            self.net.layers[i].shape))), dtype=self.params[i].dtype)

    def _build(self, i: int, layer: Input | Conv | Dense) -> None:
        bias = np.asarray(layer.neuron.bias)[None]
        if isinstance(layer, Input):
            drive_in = 1 if self.drive.spikes is not None else 0
            if self.drive.bias is not None:
                bias = self.drive.bias
        else:
            syn = _ConvSynapse(layer) if isinstance(layer, Conv) else _DenseSynapse(layer)
            self.synapse[i], drive_in = syn, syn.drive_in
        bias = np.broadcast_to(bias, (bias.shape[0],) + layer.shape)
        self.params[i] = _lif_params(layer.neuron, drive_in, bias)
        if isinstance(layer, Input) and drive_in == 0:
            full = np.broadcast_to(bias, (self.drive.batch,) + layer.shape)
            self.table = _InputTable(layer.neuron, full, self.drive.steps,
                                     self.resets.get(i, (0, -1)))

    def _reset(self, i: int, t: int) -> None:
        interval, phase = self.resets.get(i, (0, -1))
        if interval and t % interval == phase:
            self.state[i] = (self._zeros(i), self._zeros(i))

    def step(self, x: torch.Tensor, t: int) -> dict[int, torch.Tensor]:
        """Step t (1-based) on external spikes x (internal layout); spikes per layer."""
        prev, out = x, {}
        for i, layer in enumerate(self.net.layers):
            if isinstance(layer, Flatten):
                prev = prev.reshape(prev.shape[0], -1)
                continue
            if isinstance(layer, Input) and (layer.neuron is None or self.table is not None):
                if self.table is not None:
                    uv = self.drive.records(i, "u") or self.drive.records(i, "v")
                    s, self.state[i] = self.table.at(t, uv=uv)
                    prev = out[i] = s
                continue
            if i in self.synapse:
                a_in, self.buf[i] = self.buf[i], self.synapse[i](prev)
            else:
                a_in = prev
            self._reset(i, t)
            s, self.state[i] = lif_step(a_in, self.state[i], self.params[i])
            prev = out[i] = s
        return out


def simulate(net: Network, steps: int, spikes: np.ndarray | None = None,
             bias: np.ndarray | None = None, reset_interval: int | None = None,
             reset_offset: int = 0, record: tuple[str, ...] = VARIABLES,
             silicon_v: bool = False, layers: tuple[int, ...] | None = None,
             threads: int | None = 1) -> dict[str, np.ndarray]:
    """Run ``net`` on a batch; results as ``sim.drive`` describes (bit-exact with Lava).

    spikes: ([B,] *input_shape, steps) 0/1; bias: ([B,] *layer0_shape) input-layer
    bias mantissas.  ``threads`` sets torch's intra-op threads for the run (None: leave as is; more
    threads than idle cores makes torch spin, so the default is 1).
    """
    drive = make_drive(net, steps, spikes, bias, reset_interval, reset_offset, record, silicon_v,
                       layers)
    with _threads(threads), torch.no_grad():
        return finish(_run(net, drive), drive)


def _run(net: Network, drive: Drive) -> dict[str, np.ndarray]:
    runner = _Runner(net, drive)
    zeros = to_internal(np.zeros((drive.batch,) + net.input_shape, np.float32))
    trace: dict[str, list[torch.Tensor]] = {}
    for t in range(1, drive.steps + 1):
        x = to_internal(drive.spikes[..., t - 1]) if drive.spikes is not None else zeros
        spikes = runner.step(x, t)
        for i, s in spikes.items():
            u, v = runner.state[i]
            for var, value, dtype in (("s", s, torch.bool), ("u", u, torch.int32),
                                      ("v", v, torch.int32)):
                if drive.records(i, var):
                    trace.setdefault(f"layer{i}/{var}", []).append(value.to(dtype))
    return {key: _to_lava(torch.stack(values, dim=-1)) for key, values in trace.items()}
