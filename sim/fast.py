"""Fast batched bit-exact simulator: layer by layer over all steps, integer kernels.

A network with Lava's one-step synaptic delay can be run one layer at a time:
layer i's input at step t is its synapse applied to layer i-1's spikes of step
t - 1 (t - 1 - d through a synapse of delay d), so once a layer's spikes are known
for every step, its successor's synapse runs on all of them in one call (batch x
steps samples) and the neuron dynamics then step through time in a compiled kernel
(``sim.kernels``: Lava's integer arithmetic, neuron by neuron, one kernel per
neuron family; a recurrent layer also applies its own synapse inside its kernel,
``kernels.rec_*_run``).  Convolutions of binary spikes run as oneDNN u8 x s8
convolutions (exact int32 sums) when the weights fit int8 up to a power of two,
else as float convolutions exact by the bound on their sums; dense layers are one
float matrix product, exact by the same bound; graded payloads go through float32
or float64 products chosen by the bound of each call.  The reference loop and Lava
check all of it in the tests.

Internal layout: a layer's arrays are ``(B, T, *shape)`` in Lava's neuron order
(``(W, H, C)`` maps, torch sees W as its height axis), so results are returned in
Lava's ``(B, *shape, T)`` as views, without copies.
"""

from __future__ import annotations

import os
import weakref
from contextlib import contextmanager

import numba
import numpy as np
import torch
import torch.nn.functional as F

from scnn.hw import fixed_point as fx
from scnn.sim import kernels
from scnn.sim.drive import VARIABLES, Drive, finish, make_drive
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
    Network,
    Neuron,
    RecurrentDense,
    RFIz,
    Sigma,
    SigmaDelta,
    reset_steps,
)
from scnn.sim.threads import check_threads

# PyTorch's opt-in transparent huge pages for its buffers of 2 MiB and more (the synaptic
# inputs are fresh buffers of several MiB per piece; faulting them in 4 KiB pages cost 3-8 %
# of a PilotNet run and 0.3 s of the first batch-64 call here). torch reads the variable once,
# at its first CPU allocation of any size, so it has no effect in a process that allocated a
# tensor before importing this module; an explicit setting wins. Child processes inherit it.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

INT32 = 1 << 31
FLOAT_EXACT = 1 << 24  # float32 represents every integer below 2**24 exactly
FLOAT64_EXACT = 1 << 53
CHUNK_BYTES = 1 << 28  # arrays of all steps per batch chunk: bounds the memory of a run
# each layer runs its synapse and LIF on pieces of the chunk with this much input, output and
# synaptic input, so they stay in cache between the two (PilotNet, batch 64: 0.21 ms per
# sample-step in one piece per chunk of 2**26 bytes, 0.18 ms in pieces of 2**24)
INNER_BYTES = 1 << 24
# graded convolutions scatter each nonzero payload (event-driven, exact int64) when that
# does fewer than this fraction of a dense convolution's multiply-accumulates. A scattered
# MAC costs ~20 float32 ones of oneDNN's here: PilotNet SDNN's conv 2, fed 2 % nonzero
# payloads (ratio 0.098), took 28.9 ms scattered vs 13.4 ms dense per 240 frames.
SCATTER_RATIO = 1 / 32
_EMPTY = np.zeros((0, 0, 0), np.int32)


def wrap_current(x: torch.Tensor) -> torch.Tensor:
    """Lava's one-period two-sided wrap of u (see ``hw.fixed_point.wrap_current``)."""
    lim = float(fx.UV_LIMIT)
    return torch.where(x > lim, x - 2 * lim, torch.where(x <= -lim, x + 2 * lim, x))


def _to_lava(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(B, T, N) -> (B, *shape, T), a view."""
    return np.moveaxis(x.reshape(x.shape[:2] + shape), 1, -1)


def _int8_scale(w: np.ndarray) -> int | None:
    """Smallest power of two 2**k with every w / 2**k an int8, or None (too wide)."""
    nz = w[w != 0]
    k = int((nz & -nz).min()).bit_length() - 1 if nz.size else 0
    return 1 << k if (w >> k).min() >= -128 and (w >> k).max() <= 127 else None


def _int8_ok(layer: Conv) -> bool:
    """Layers inside the envelope where oneDNN's int8 convolution was fuzzed exact (5,000+
    random shapes): 3+ input and 8+ output channels, no groups or dilation, a kernel of at
    least 2 x 2 that fits the unpadded input map."""
    k_w, k_h = layer.weight.shape[1:3]
    w, h, c = layer.in_shape
    return c >= 3 and layer.shape[2] >= 8 and layer.groups == 1 and layer.dilation == (1, 1) \
        and min(k_w, k_h) >= 2 and k_w <= w and k_h <= h


class _OverTime:
    """Synapses whose output at step t depends on the spikes of step t alone."""

    n_out: int  # neurons fed

    def __call__(self, s: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def over_time(self, s: np.ndarray) -> np.ndarray:
        """Spikes or payloads (n, T, *in) -> synaptic input (n, T, N): row t is what the
        spikes of step t produce (delivered at step t + 1), all steps in one call."""
        n, steps = s.shape[:2]
        return self(s.reshape((n * steps,) + s.shape[2:])).reshape(n, steps, self.n_out)


class _ConvSynapse(_OverTime):
    """Lava's conv (true convolution of flipped netx weights = torch cross-correlation).

    Spikes are 0/1, so with int8 weights (up to a power-of-two scale) oneDNN's
    u8 x s8 convolution sums exactly in int32 and its float32 output is exact below
    2**24.  oneDNN's int8 kernels crash or err on degenerate shapes (one or two input
    channels, a kernel wider than the map, ...), so they run only on ordinary layers
    (``_int8_ok``) and only after matching the float convolution on random spikes of
    the layer's own shape.  Everything else uses a float convolution, exact by the
    bound on |a| (float64 above 2**24).
    """

    def __init__(self, layer: Conv) -> None:
        # (C_out, kW, kH, C_in) -> torch (C_out, C_in, kW, kH), flipped; fresh strides
        w = layer.weight.transpose(0, 3, 1, 2)[:, :, ::-1, ::-1].copy()
        self.n_out = int(np.prod(layer.shape))
        self.out_shape = layer.shape
        # event-driven scatter for sparse payloads: per nonzero input vs per frame (MACs)
        self.lava_weight = np.ascontiguousarray(layer.weight.transpose(1, 2, 3, 0))  # C_out last
        self.geometry = (np.array(layer.stride), np.array(layer.padding),
                         np.array(layer.dilation), layer.groups)
        k_out, k_w, k_h, c_g = layer.weight.shape
        self.scatter_cost = k_w * k_h * (k_out // layer.groups)
        self.dense_cost = self.n_out * k_w * k_h * c_g
        self.weights: dict[torch.dtype, torch.Tensor] = {}  # for payloads, per float type
        self.bound = int(np.abs(w).reshape(w.shape[0], -1).sum(axis=1).max())
        self.drive_in = min(self.bound, fx.UV_LIMIT)
        self.args = [list(layer.stride), list(layer.padding), list(layer.dilation), layer.groups]
        dtype = torch.float32 if self.bound < FLOAT_EXACT else torch.float64
        self.weight = torch.from_numpy(w).to(dtype)
        self.in_shape = layer.in_shape
        scale = _int8_scale(w) if _int8_ok(layer) and self.bound < FLOAT_EXACT else None
        self.packed = None
        if scale is not None:
            self.scales = torch.full((w.shape[0],), float(scale))
            self.zeros = torch.zeros(w.shape[0], dtype=torch.long)
            self.packed = torch.ops.onednn.qconv_prepack(
                torch.from_numpy(w // scale).to(torch.int8), self.scales, 1.0, 0, *self.args, None)
            probe = np.random.default_rng(0).integers(0, 2, (2,) + self.in_shape, np.uint8)
            if not torch.equal(self._int8(probe), self._float(probe)):
                self.packed = None

    def _int8(self, s: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(s).permute(0, 3, 1, 2)  # channels-last (S, C, W, H) view
        return torch.ops.onednn.qconv2d_pointwise(
            x, 1.0, 0, self.packed, self.scales, self.zeros, None, *self.args, 1.0, 0,
            torch.float32, "none", [], "")

    def _float(self, s: np.ndarray) -> torch.Tensor:
        # a fresh NCHW array: textbook strides even on size-1 axes (oneDNN crashed on others)
        view = torch.from_numpy(s).permute(0, 3, 1, 2)
        x = torch.empty(view.shape, dtype=self.weight.dtype).copy_(view)
        stride, padding, dilation, groups = self.args
        return F.conv2d(x, self.weight, stride=stride, padding=padding, dilation=dilation,
                        groups=groups)

    def __call__(self, s: np.ndarray) -> np.ndarray:
        """Spikes (S, W, H, C) uint8 -> synaptic input (S, W_out, H_out, C_out), float32/int32."""
        if s.dtype != np.uint8:
            return self.graded(s)
        a = self._int8(s) if self.packed is not None else self._float(s)
        if self.bound >= fx.UV_LIMIT:
            a = torch.from_numpy(
                fx.wrap_signed(a.numpy().astype(np.int64), fx.CONV_BITS).astype(np.int32))
        return np.ascontiguousarray(a.permute(0, 2, 3, 1).numpy())

    def graded(self, s: np.ndarray) -> np.ndarray:
        """Payloads (S, W, H, C) int32 -> synaptic input (S, W_out, H_out, C_out) int32: the
        exact integer convolution (float32 below 2**24, float64 below 2**53: Lava's own
        ``conv_scipy`` sums in float64), wrapped to 24 bits.  Frames without a payload
        (common: sigma-delta layers send only changes) give 0 without a convolution."""
        out = np.zeros((len(s),) + self.out_shape, np.int32)
        live = np.flatnonzero(s.reshape(len(s), -1).any(axis=1))
        if live.size == 0:
            return out
        x = s[live] if live.size < len(s) else s
        bound = self.bound * fx.payload_max(x)  # < 2**61: weights and payloads are checked
        sparse = np.count_nonzero(x) * self.scatter_cost < \
            SCATTER_RATIO * x.shape[0] * self.dense_cost
        if sparse or bound >= FLOAT64_EXACT:  # exact int64 sums, event by event
            a = np.zeros((x.shape[0],) + self.out_shape, np.int64)
            kernels.conv_scatter(x, self.lava_weight, *self.geometry, a)
            out[live] = fx.conv_output(a)
            return out
        dtype = torch.float32 if bound < FLOAT_EXACT else torch.float64
        if dtype not in self.weights:
            self.weights[dtype] = self.weight.to(dtype).contiguous(
                memory_format=torch.channels_last)
        stride, padding, dilation, groups = self.args
        xt = torch.from_numpy(x).to(dtype).permute(0, 3, 1, 2)  # channels-last view
        a = F.conv2d(xt, self.weights[dtype], stride=stride, padding=padding,
                     dilation=dilation, groups=groups).permute(0, 2, 3, 1).numpy()
        if bound >= fx.UV_LIMIT and np.abs(a).max() >= fx.UV_LIMIT:
            a = fx.conv_output(a.astype(np.int64))
        out[live] = a
        return out


class _DenseSynapse(_OverTime):
    """Lava's dense: chip weights (clipped, truncated) times binary spikes, shifted.

    ``delayed``: one delay's synapses of a ``DelayDense``, whose graded sums Lava forms
    from int32 products in int64 (no wrap before the shift, unlike Dense's int32 dot).
    """

    def __init__(self, w: np.ndarray, exp: int, delayed: bool = False) -> None:
        self.exp, self.delayed = exp, delayed
        self.n_out = w.shape[0]
        self.w_max = int(np.abs(w).max()) if w.size else 0
        rows = int(np.abs(w).sum(axis=1).max()) if w.size else 0
        self.rows = rows
        dtype = torch.float32 if rows < FLOAT_EXACT else torch.float64
        self.weight_t = torch.from_numpy(np.array(w.T, order="C")).to(dtype)
        self.drive_in = rows << self.exp if self.exp > 0 else rows >> -self.exp
        # float32 holds every sum and shifted sum: scaling by 2**exp and floor are exact
        self.float32 = max(rows, self.drive_in) < FLOAT_EXACT

    def __call__(self, s: np.ndarray) -> np.ndarray:
        """Spikes (S, M) uint8 -> synaptic input (S, N), float32 or int32."""
        if s.dtype != np.uint8:
            return self.graded(s)
        a = torch.from_numpy(s).to(self.weight_t.dtype) @ self.weight_t  # spikes are 0/1
        if not self.float32:
            a = a.double()
        if self.exp > 0:
            a.mul_(float(1 << self.exp))
        elif self.exp < 0:
            a.div_(float(1 << -self.exp)).floor_()
        if self.float32:
            return a.numpy()
        a = a.numpy().astype(np.int64)
        return (fx.wrap_signed(a, 32) if self.drive_in >= INT32 else a).astype(np.int32)

    def graded(self, s: np.ndarray) -> np.ndarray:
        """Payloads (S, M) int32 -> synaptic input (S, N) int32, as Lava's graded paths:
        Dense's int32 dot product (wraps) then the arithmetic shift by ``weight_exp``;
        DelayDense's int64 sum of int32 products, shifted, then wrapped.  Rows without a
        payload give 0 without a product."""
        out = np.zeros((len(s), self.n_out), np.int32)
        live = np.flatnonzero(s.any(axis=1))
        if live.size == 0:
            return out
        x = s[live] if live.size < len(s) else s
        s_max = fx.payload_max(x)
        bound = self.rows * s_max
        if self.delayed and self.w_max * s_max >= INT32:  # products wrap: Lava's own way
            w = self.weight_t.numpy().T.astype(np.int32)
            a = np.stack([(w * row.astype(np.int32)).sum(axis=1, dtype=np.int64) for row in x])
        elif bound < FLOAT64_EXACT:
            dtype = torch.float32 if bound < FLOAT_EXACT else torch.float64
            a = (torch.from_numpy(x).to(dtype) @ self.weight_t.to(dtype)).numpy()
            a = a.astype(np.int64)
        else:  # exact in int64 (slow, and only for absurd payloads)
            a = x.astype(np.int64) @ self.weight_t.numpy().astype(np.int64)
        if bound >= INT32 and not self.delayed:
            a = fx.wrap32(a)
        a = fx.shift_signed(a, self.exp)
        out[live] = fx.wrap32(a) if bound >= INT32 or self.exp > 0 else a
        return out


class _DelayDenseSynapse:
    """Lava's ``DelayDense``: one dense sum per delay d, each shifted by ``weight_exp`` on its
    own and delivered d steps later than a plain Dense; the slots add up in int32."""

    def __init__(self, layer: Dense) -> None:
        self.parts = {d: _DenseSynapse(layer.delay_weight(d), layer.weight_exp, delayed=True)
                      for d in layer.delays}
        self.n_out = layer.shape[0]

    def over_time(self, s: np.ndarray) -> np.ndarray:
        """Spikes or payloads (n, T, M) -> synaptic input (n, T, N) int32: row t sums, over
        the delays d, what the spikes of step t - d produce."""
        n, steps = s.shape[:2]
        total = np.zeros((n, steps, self.n_out), np.int64)
        for d, part in self.parts.items():
            if d < steps:
                total[:, d:] += part.over_time(s[:, :steps - d]).astype(np.int64)
        return fx.wrap32(total).astype(np.int32)


@contextmanager
def _threads(n: int | None):
    old_torch, old_numba = torch.get_num_threads(), numba.get_num_threads()
    if n:
        check_threads(n)  # the API's callers too: torch starts every thread it is given
        torch.set_num_threads(n)
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        torch.set_num_threads(old_torch)
        numba.set_num_threads(old_numba)


def _bias32(bias: np.ndarray, exp: int, shape: tuple[int, ...]) -> np.ndarray:
    """Effective bias ``bias << exp`` as (1 or B, N) int32, as Lava shifts an int32 copy of
    the mantissa (13-bit mantissas and 0 <= exp <= 7, both checked on input: it fits)."""
    b = np.broadcast_to(bias, (bias.shape[0],) + shape).reshape(bias.shape[0], int(np.prod(shape)))
    return b.astype(np.int32) << exp


_SYNAPSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _ComplexSynapse:
    """A ComplexDense layer's real and imaginary Lava Dense synapses on the same spikes."""

    def __init__(self, layer: ComplexDense) -> None:
        self.parts = [_DenseSynapse(part.chip_weight(), part.weight_exp)
                      for part in layer.parts()]

    def over_time(self, s: np.ndarray) -> np.ndarray:
        """Spikes or payloads (n, T, M) -> (n, T, 2, N) int32 or float32 inputs."""
        return np.stack([part.over_time(s) for part in self.parts], axis=2)


def _synapse_of(layer: Input | Conv | Dense | ComplexDense
                ) -> _ConvSynapse | _DenseSynapse | _DelayDenseSynapse | _ComplexSynapse | None:
    """The layer's synapse, built once per layer object (layers are immutable): packing
    and probing the weights took 7 ms of a 12 ms PilotNet sample."""
    if isinstance(layer, Input):
        return None
    if layer not in _SYNAPSES:
        if isinstance(layer, Conv):
            _SYNAPSES[layer] = _ConvSynapse(layer)
        elif isinstance(layer, ComplexDense):
            _SYNAPSES[layer] = _ComplexSynapse(layer)
        elif layer.delay is not None:
            _SYNAPSES[layer] = _DelayDenseSynapse(layer)
        else:
            _SYNAPSES[layer] = _DenseSynapse(layer.chip_weight(), layer.weight_exp)
    return _SYNAPSES[layer]


class _Recurrence:
    """A ``RecurrentDense`` layer's own synapse for the kernels that step it through time:
    (N, N) int64 chip weights, the shift, whether it reads payloads."""

    def __init__(self, layer: Input | Conv | Dense, graded: bool) -> None:
        self.on = isinstance(layer, RecurrentDense)
        self.w = layer.chip_weight_rec().astype(np.int64) if self.on else None
        self.exp = layer.weight_exp if self.on else 0
        self.graded = graded


class _LifLayer:
    """One LIF layer's constants: synapse, decay factors, threshold, effective bias."""

    def __init__(self, layer: Input | Conv | Dense, bias: np.ndarray, resets: np.ndarray,
                 rec: _Recurrence) -> None:
        neuron: LIF | Integrator = layer.neuron
        self.shape = layer.shape
        self.rec = rec
        self.synapse = _synapse_of(layer)
        self.fu = fx.DECAY_UNITY - neuron.du - fx.DU_OFFSET
        self.fv = fx.DECAY_UNITY - neuron.dv - fx.DV_OFFSET
        self.vth = fx.threshold(neuron.vth)
        self.bias = _bias32(bias, neuron.bias_exp, layer.shape)
        self.resets = resets
        self.spike_dtype = np.uint8

    def run(self, a_in: np.ndarray, delay: int, bias: np.ndarray,
            out: dict[str, np.ndarray]) -> None:
        """LIF over all steps; writes the (B, T, N) arrays in ``out`` (s uint8 always, u/v
        int32 when present)."""
        u, v = out.get("u", _EMPTY), out.get("v", _EMPTY)
        if self.rec.on:
            kernels.rec_lif_run(a_in, self.rec.w, self.rec.exp, self.rec.graded, bias, self.fu,
                                self.fv, self.vth, self.resets, out["s"], u, v)
        else:
            kernels.lif_run(a_in, delay, bias, self.fu, self.fv, self.vth, self.resets,
                            out["s"], u, v)


class _SdnLayer:
    """One sigma-delta layer (Delta, SigmaDelta or Sigma): synapse, scaled threshold and
    bias (``<< spike_exp + state_exp``), the kernel's kind."""

    KINDS = {Delta: kernels.SDN_DELTA, SigmaDelta: kernels.SDN_SIGMA_DELTA,
             Sigma: kernels.SDN_SIGMA}

    def __init__(self, layer: Input | Conv | Dense, bias: np.ndarray, resets: np.ndarray,
                 rec: _Recurrence) -> None:
        neuron: Delta | SigmaDelta | Sigma = layer.neuron
        self.shape = layer.shape
        self.rec = rec
        self.synapse = _synapse_of(layer)
        self.kind = self.KINDS[type(neuron)]
        k = getattr(neuron, "spike_exp", 0) + getattr(neuron, "state_exp", 0)
        self.in_shift, self.state_exp = k, getattr(neuron, "state_exp", 0)
        self.vth = getattr(neuron, "vth", 0) << k
        size = int(np.prod(layer.shape))
        b = np.broadcast_to(bias, (bias.shape[0],) + layer.shape).reshape(bias.shape[0], size)
        self.bias = (b.astype(np.int64) << k).astype(np.int32)  # fits: checked by SigmaDelta
        self.spike_dtype = np.int32

    def run(self, a_in: np.ndarray, delay: int, bias: np.ndarray,
            out: dict[str, np.ndarray]) -> None:
        """The kernel over all steps; writes the (B, T, N) int32 arrays in ``out`` (s always,
        sigma/act/residue when present)."""
        states = (out.get("sigma", _EMPTY), out.get("act", _EMPTY), out.get("residue", _EMPTY))
        if self.rec.on:
            kernels.rec_sdn_run(a_in, self.rec.w, self.rec.exp, self.rec.graded, bias, self.vth,
                                self.in_shift, self.state_exp, self.kind, out["s"], *states)
        else:
            kernels.sdn_run(a_in, delay, bias, self.vth, self.in_shift, self.state_exp,
                            self.kind, out["s"], *states)


class _RfLayer:
    """One resonate-and-fire layer: its (complex) synapse, threshold and decays."""

    def __init__(self, layer: Input | ComplexDense, bias: np.ndarray, resets: np.ndarray,
                 rec: _Recurrence) -> None:
        neuron: RF = layer.neuron
        self.shape = layer.shape
        self.synapse = _synapse_of(layer)
        self.params = (neuron.vth, neuron.sin_decay, neuron.cos_decay, neuron.phase)
        self.bias = np.zeros((1, int(np.prod(layer.shape))), np.int32)
        self.spike_dtype = np.uint8

    def run(self, a_in: np.ndarray, delay: int, bias: np.ndarray,
            out: dict[str, np.ndarray]) -> None:
        """The kernel over all steps; ``a_in`` (B, T, 2, N) real and imaginary inputs, or
        (B, T, N) external spikes into both (lava-dl's ComplexInput)."""
        a_re, a_im = (a_in, a_in) if a_in.ndim == 3 else (a_in[:, :, 0], a_in[:, :, 1])
        kernels.rf_run(a_re, a_im, delay, *self.params, out["s"],
                       out.get("real", _EMPTY), out.get("imag", _EMPTY))


# neuron kind -> the fast simulator's layer runner
NEURON_LAYERS: dict[type, type] = {LIF: _LifLayer, Integrator: _LifLayer, Delta: _SdnLayer,
                                   SigmaDelta: _SdnLayer, Sigma: _SdnLayer, RF: _RfLayer,
                                   RFIz: _RfLayer}


def _runner(net: Network, i: int, bias: np.ndarray, resets: np.ndarray
            ) -> _LifLayer | _SdnLayer:
    layer = net.layers[i]
    neuron: Neuron = layer.neuron
    return NEURON_LAYERS[type(neuron)](layer, bias, resets, _Recurrence(layer, net.graded_into(i)))


class _Plan:
    """Per-layer constants of a run; runs any slice of the batch."""

    def __init__(self, net: Network, drive: Drive) -> None:
        self.net, self.drive = net, drive
        resets = reset_steps(net, drive.reset_interval, drive.reset_offset)
        steps = np.arange(1, drive.steps + 1)
        self.layers: dict[int, _LifLayer | _SdnLayer] = {}
        for i in net.neuron_layers:
            layer = net.layers[i]
            interval, phase = resets.get(i, (0, -1))
            mask = (steps % interval == phase) if interval else np.zeros(drive.steps, bool)
            bias = np.asarray(layer.neuron.bias)[None]
            if i == 0 and drive.bias is not None:
                bias = drive.bias
            self.layers[i] = _runner(net, i, bias, mask)

    def chunk(self) -> int:
        """Samples per chunk so the layers' arrays of all steps stay within ``CHUNK_BYTES``
        (synaptic inputs, and the convolution's temporaries, exist for one piece of one layer
        at a time, on top: see ``INNER_BYTES``)."""
        sizes = [int(np.prod(layer.shape)) for layer in self.net.layers]
        uv = 8 if {"u", "v"} & set(self.drive.needed) else 0
        per_sample = self.drive.steps * sum(sizes) * (1 + uv)
        return max(1, min(self.drive.batch, CHUNK_BYTES // max(per_sample, 1)))

    def outputs(self) -> dict[str, np.ndarray]:
        """The recorded arrays of the whole batch, (B, T, N) in Lava's neuron order.

        Written once here (``np.full``, not ``empty``/``zeros``) so their pages are faulted
        in by one thread: page faults inside the parallel kernel contend (measured: the
        LIF kernel took 0.12-0.24 s instead of 0.065 s on PilotNet, batch 64, 2 threads).
        """
        d = self.drive
        return {f"layer{i}/{var}": np.full((d.batch, d.steps, int(np.prod(lif.shape))), 0,
                                           lif.spike_dtype if var == "s" else np.int32)
                for i, lif in self.layers.items() for var in VARIABLES if d.records(i, var)}

    def run(self, b0: int, b1: int, results: dict[str, np.ndarray]) -> None:
        """Samples b0..b1-1, writing their rows of ``results`` (see ``outputs``)."""
        drive, steps, n = self.drive, self.drive.steps, b1 - b0
        if drive.spikes is not None:
            x = np.ascontiguousarray(np.moveaxis(drive.spikes[b0:b1], -1, 1))
            prev = x if self.net.graded_input else x.view(np.uint8)  # int32 payloads or 0/1
        elif isinstance(self.net.layers[0], Input) and self.net.layers[0].neuron is not None:
            prev = None  # a bias-driven input layer
        else:  # no neurons and no spikes: the synapses see silence
            prev = np.zeros((n, steps) + self.net.input_shape, np.uint8)
        for i, layer in enumerate(self.net.layers):
            if isinstance(layer, Flatten):  # (W, H, C) -> netx order (C, H, W)
                prev = np.ascontiguousarray(prev.transpose(0, 1, 4, 3, 2)).reshape(n, steps, -1) \
                    if prev.ndim == 5 else prev
                continue
            if layer.neuron is None:  # shape-only input: external spikes go on
                continue
            prev = self._layer(i, prev, b0, n, results)

    def _layer(self, i: int, prev: np.ndarray | None, b0: int, n: int,
               results: dict[str, np.ndarray]) -> np.ndarray:
        """Neuron layer i on samples b0..b0+n-1 (its input spikes ``prev``, or None for a
        bias-driven input layer), in pieces of ``INNER_BYTES``; returns its spikes."""
        drive, steps, layer, lif = self.drive, self.drive.steps, self.net.layers[i], self.layers[i]
        size = int(np.prod(layer.shape))
        out = {var: results[f"layer{i}/{var}"][b0:b0 + n] for var in VARIABLES
               if drive.records(i, var)}
        if "s" not in out:
            out["s"] = np.empty((n, steps, size), lif.spike_dtype)
        in_size = 0 if prev is None else int(np.prod(prev.shape[2:]))
        per_sample = steps * (size * (4 + sum(x.itemsize for x in out.values())) + in_size)
        piece = max(1, INNER_BYTES // per_sample)
        for c0 in range(0, n, piece):
            c1 = min(c0 + piece, n)
            if isinstance(layer, Input):
                delay = 0
                # float32 like the synapses' usual output: one compiled kernel serves both
                a_in = np.zeros((c1 - c0, 0, 1), np.float32) if prev is None \
                    else prev[c0:c1].reshape(c1 - c0, steps, -1)
                a_in = a_in if a_in.dtype == np.int32 else a_in.astype(np.float32)
            else:
                delay = 1
                a_in = self._synapse(lif, prev[c0:c1], c1 - c0, steps)
            bias = lif.bias[b0 + c0:b0 + c1] if lif.bias.shape[0] > 1 else lif.bias
            lif.run(a_in, delay, bias, {var: x[c0:c1] for var, x in out.items()})
        return out["s"].reshape((n, steps) + layer.shape)

    @staticmethod
    def _synapse(lif: _LifLayer | _SdnLayer, prev: np.ndarray, n: int, steps: int) -> np.ndarray:
        """The synapse applied to the previous layer's spikes of every step: row t (spikes of
        step t, 0-based) is delivered at step t + 1, so the last row is never used (one
        convolution too many is cheaper than copying the other steps out of the batch)."""
        return lif.synapse.over_time(prev)


def simulate(net: Network, steps: int, spikes: np.ndarray | None = None,
             bias: np.ndarray | None = None, reset_interval: int | None = None,
             reset_offset: int = 0, record: tuple[str, ...] = VARIABLES,
             silicon_v: bool = False, layers: tuple[int, ...] | None = None,
             threads: int | None = 1) -> dict[str, np.ndarray]:
    """Run ``net`` on a batch; results as ``sim.drive`` describes (bit-exact with Lava).

    spikes: ([B,] *input_shape, steps) 0/1; bias: ([B,] *layer0_shape) input-layer
    bias mantissas.  ``threads`` sets the kernels' threads for the run (None: leave as
    is; more threads than idle cores only adds contention, so the default is 1).
    """
    drive = make_drive(net, steps, spikes, bias, reset_interval, reset_offset, record, silicon_v,
                       layers)
    plan = _Plan(net, drive)
    size, results = plan.chunk(), plan.outputs()
    with _threads(threads), torch.no_grad():
        for b0 in range(0, drive.batch, size):
            plan.run(b0, min(b0 + size, drive.batch), results)
    shapes = {i: net.layers[i].shape for i in net.neuron_layers}
    return finish({key: _to_lava(value.view(bool) if value.dtype == np.uint8 else value,
                                 shapes[int(key[5:].split("/")[0])])
                   for key, value in results.items()}, drive)
