"""The in-memory network description: one frozen dataclass per layer kind.

Nodes describe computation; they never run it (``sim.fast``, ``sim.reference``
and ``sim.lava_backend`` do).  Every field is a Lava process parameter as the
lava-dl NetX loader sets it (``du = iDecay - 1``, Dense weights after
``optimize_weight_bits``), so a simulator can reproduce Lava bit for bit.

Array layout, stated once: neuron arrays use Lava's order, ``(W, H, C)`` for
conv and input layers (x, y, channel) and ``(N,)`` for dense layers.  Conv
weights use Lava's ``(C_out, kernel_W, kernel_H, C_in / groups)`` layout (already
spatially flipped by the NetX loader; Lava then convolves, flipping again, so
the net effect is PyTorch's cross-correlation).  A Flatten maps ``(W, H, C)``
to ``(C * H * W,)`` in C-major order, index ``c*H*W + h*W + w`` (netx's
``transpose([2, 1, 0]).flatten()``).

Neuron kinds are independent of layer kinds: a layer holds one neuron dataclass
(``LIF``; the sigma-delta kinds ``Delta``, ``SigmaDelta``, ``Sigma`` with graded
spikes; netx's non-leaky ``Integrator``) and every boundary (NetX, simulators,
activity) looks the kind up in its own table.  Each kind names its state
variables (``states``) and whether its spikes carry a payload (``graded``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from scnn.hw import fixed_point as fx
from scnn.hw.errors import ScnnError

Shape = tuple[int, ...]
INT32_MAX = (1 << 31) - 1


class NetworkError(ScnnError, ValueError):
    """A network description is inconsistent or outside the chip's ranges."""


def _frozen_int_array(x: object, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and not np.array_equal(arr, np.round(arr)):
        raise NetworkError(f"{what} must be integers, got {arr.ravel()[:4]}")
    if arr.dtype.kind not in "biuf":
        raise NetworkError(f"{what} must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    arr.setflags(write=False)
    return arr


def _check_range(name: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise NetworkError(f"{name} = {value} outside [{lo}, {hi}]")


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, eq=False)
class LIF:
    """CUBA LIF neuron parameters of Lava's ``LIF``/``LIFReset`` (``PyLifModelBitAcc``).

    Per step (integers, see ``hw.fixed_point``)::

        u[t] = wrap24(rtz(u[t-1] * (4096 - du - 1) / 4096) + (a_in[t] << 6))
        v[t] = clip23(rtz(v[t-1] * (4096 - dv) / 4096) + u[t] + (bias << bias_exp))
        s[t] = v[t] > (vth << 6);   v[t] = 0 where s[t]

    ``bias`` is the mantissa, an int array broadcastable to the layer shape.
    """

    du: int
    dv: int
    vth: int
    bias: np.ndarray = field(default_factory=lambda: np.zeros((), np.int64))
    bias_exp: int = fx.BIAS_EXP_DEFAULT

    def __post_init__(self) -> None:
        for name, hi in (("du", fx.DECAY_MAX), ("dv", fx.DECAY_MAX), ("vth", fx.VTH_MAX),
                         ("bias_exp", fx.BIAS_EXP_MAX)):
            value = getattr(self, name)
            if int(value) != value:
                raise NetworkError(f"{name} = {value} is not an integer")
            _set(self, name, int(value))
            _check_range(name, int(value), 0, hi)
        bias = _frozen_int_array(self.bias, "bias")
        if bias.size and (bias.min() < fx.BIAS_MANT_MIN or bias.max() > fx.BIAS_MANT_MAX):
            raise NetworkError(f"bias mantissa in [{bias.min()}, {bias.max()}] outside the "
                               f"13-bit range [{fx.BIAS_MANT_MIN}, {fx.BIAS_MANT_MAX}]")
        _set(self, "bias", bias)

    states: ClassVar[tuple[str, ...]] = ("u", "v")
    graded: ClassVar[bool] = False
    message_bits: ClassVar[int] = 0
    has_bias: ClassVar[bool] = True

    def with_bias(self, bias: np.ndarray) -> LIF:
        """The same neuron with another bias mantissa."""
        return LIF(self.du, self.dv, self.vth, bias, self.bias_exp)


def _check_int(obj: object, name: str, lo: int, hi: int) -> int:
    value = getattr(obj, name)
    if isinstance(value, (bool, np.bool_)) or int(value) != value:
        raise NetworkError(f"{name} = {value} is not an integer")
    _check_range(name, int(value), lo, hi)
    _set(obj, name, int(value))
    return int(value)


def _check_sdn(neuron: Delta | SigmaDelta | Sigma, vth: bool) -> None:
    """Exponents, message bits and threshold of a sigma-delta neuron (int32 states)."""
    _check_int(neuron, "message_bits", 1, fx.SDN_MESSAGE_BITS_MAX)
    if not vth:
        return
    _check_int(neuron, "spike_exp", 0, fx.SDN_EXP_MAX)
    _check_int(neuron, "state_exp", 0, fx.SDN_EXP_MAX)
    k = neuron.spike_exp + neuron.state_exp
    _check_int(neuron, "vth", 0, INT32_MAX >> k)


_ZERO_BIAS = np.zeros((), np.int64)
_ZERO_BIAS.setflags(write=False)


@dataclass(frozen=True, eq=False)
class Delta:
    """Delta encoder of an SDNN input layer (Lava ``Delta``, ``PyDeltaModelFixed``).

    Per step, int32 arithmetic (wraps mod 2**32), ``k = spike_exp + state_exp``::

        x = a_in[t] << k
        delta = x - act[t-1] + residue[t-1]
        q = delta if |delta| >= vth << k else 0
        act[t] = x;   residue[t] = delta - q;   s[t] = q >> state_exp   (graded payload)

    No bias (netx gives the input block none).  ``message_bits``: payload width netx
    passes to the next synapse (16 unless the file says).
    """

    vth: int
    spike_exp: int = fx.SDN_SPIKE_EXP_DEFAULT
    state_exp: int = fx.SDN_STATE_EXP
    message_bits: int = fx.SDN_MESSAGE_BITS_DEFAULT
    states: ClassVar[tuple[str, ...]] = ("act", "residue")
    graded: ClassVar[bool] = True
    has_bias: ClassVar[bool] = False
    bias: ClassVar[np.ndarray] = _ZERO_BIAS

    def __post_init__(self) -> None:
        _check_sdn(self, vth=True)


@dataclass(frozen=True, eq=False)
class SigmaDelta:
    """Sigma-delta neuron with ReLU (Lava ``SigmaDelta``, ``PySigmaDeltaModelFixed``), as
    netx builds every SDNN layer after the input: graded spikes in and out.

    Per step, int32 arithmetic (wraps mod 2**32), ``k = spike_exp + state_exp``::

        sigma[t] = sigma[t-1] + a_in[t]
        act[t] = max(sigma[t] + (bias << k), 0)
        delta = act[t] - act[t-1] + residue[t-1]
        q = delta if |delta| >= vth << k else 0
        residue[t] = delta - q;   s[t] = q >> state_exp   (graded payload)

    ``bias`` is the mantissa, an int array broadcastable to the layer shape.
    """

    vth: int
    bias: np.ndarray = field(default_factory=lambda: np.zeros((), np.int64))
    spike_exp: int = fx.SDN_SPIKE_EXP_DEFAULT
    state_exp: int = fx.SDN_STATE_EXP
    message_bits: int = fx.SDN_MESSAGE_BITS_DEFAULT
    states: ClassVar[tuple[str, ...]] = ("sigma", "act", "residue")
    graded: ClassVar[bool] = True
    has_bias: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_sdn(self, vth=True)
        bias = _frozen_int_array(self.bias, "bias")
        k = self.spike_exp + self.state_exp
        if bias.size and np.abs(bias).max() > INT32_MAX >> k:
            raise NetworkError(f"bias mantissa in [{bias.min()}, {bias.max()}]: bias << {k} "
                               "overflows Lava's int32 sigma-delta state")
        _set(self, "bias", bias)

    def with_bias(self, bias: np.ndarray) -> SigmaDelta:
        """The same neuron with another bias mantissa."""
        return SigmaDelta(self.vth, bias, self.spike_exp, self.state_exp, self.message_bits)


@dataclass(frozen=True, eq=False)
class Sigma:
    """Sigma decoder (Lava ``Sigma``, ``PySigmaModelFixed``): netx's SDNN layer with
    ``sigma_output``, usually the readout.  Per step, int32: ``sigma[t] = sigma[t-1] +
    a_in[t]``; ``s[t] = sigma[t]`` (sent every step, graded).  No bias, no threshold.
    """

    message_bits: int = fx.SDN_MESSAGE_BITS_DEFAULT
    states: ClassVar[tuple[str, ...]] = ("sigma",)
    graded: ClassVar[bool] = True
    has_bias: ClassVar[bool] = False
    bias: ClassVar[np.ndarray] = _ZERO_BIAS

    def __post_init__(self) -> None:
        _check_sdn(self, vth=False)


@dataclass(frozen=True, eq=False)
class Integrator:
    """The non-leaky integrator netx substitutes where a dense layer has no neuron group:
    Lava's ``LIF`` with ``du = -1``, ``dv = 4096``, ``vth = 1 << 17`` (netx writes
    ``1 << 18 - 1``), so per step (``PyLifModelBitAcc``)::

        u[t] = wrap24(u[t-1] + (a_in[t] << 6))     (no decay: 4096 - du - 1 = 4096)
        v[t] = clip23(u[t] + (bias << 6))           (no memory: 4096 - dv = 0)

    and it never spikes (v <= 2**23 - 1 < vth << 6 = 2**23).  Its u is the readout.
    """

    bias: np.ndarray = field(default_factory=lambda: np.zeros((), np.int64))
    du: ClassVar[int] = -1
    dv: ClassVar[int] = fx.DECAY_UNITY
    vth: ClassVar[int] = 1 << 17
    bias_exp: ClassVar[int] = fx.BIAS_EXP_DEFAULT
    states: ClassVar[tuple[str, ...]] = ("u", "v")
    graded: ClassVar[bool] = False
    message_bits: ClassVar[int] = 0
    has_bias: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "bias", LIF(0, 0, 0, self.bias).bias)  # LIF's 13-bit mantissa rule

    def with_bias(self, bias: np.ndarray) -> Integrator:
        """The same neuron with another bias mantissa."""
        return Integrator(bias)


def rf_decays(period: float, alpha: float) -> tuple[int, int]:
    """Lava ``RF.__init__``'s integer (sin, cos) decays: ``np.int32((1 - alpha) *
    sin|cos(2 pi / period) * 2**12)``, the same float64 expressions (truncation to 0)."""
    sin_decay = (1 - alpha) * np.sin(np.pi * 2 * 1 / period)
    cos_decay = (1 - alpha) * np.cos(np.pi * 2 * 1 / period)
    scale = 1 << fx.RF_DECAY_BITS
    return int(np.int32(sin_decay * scale)), int(np.int32(cos_decay * scale))


@dataclass(frozen=True, eq=False)
class RF:
    """Resonate-and-fire neuron (Lava ``RF``, ``PyRFModelFixed``; netx's ``RF_PHASE`` type),
    complex state (real, imag), inputs a_re, a_im from a ComplexDense layer.  Per step::

        re' = clip23(rtz(cos*re >> 12) - rtz(sin*im >> 12) + (a_re << 6))
        im' = clip23(rtz(sin*re >> 12) + rtz(cos*im >> 12) + (a_im << 6))
        s = re' >= vth and im' >= 0 and im < 0          (a phase crossing)

    ``vth``, ``sin_decay``, ``cos_decay`` are Lava's integers (``int(vth * 64)``,
    ``rf_decays(period, alpha)``); ``rtz`` rounds toward zero.
    """

    vth: int
    sin_decay: int
    cos_decay: int
    states: ClassVar[tuple[str, ...]] = ("real", "imag")
    graded: ClassVar[bool] = False
    message_bits: ClassVar[int] = 0
    has_bias: ClassVar[bool] = False
    bias: ClassVar[np.ndarray] = _ZERO_BIAS
    phase: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_int(self, "vth", -fx.RF_LIMIT, fx.RF_LIMIT)
        lim = 1 << fx.RF_DECAY_BITS
        _check_int(self, "sin_decay", -lim, lim)
        _check_int(self, "cos_decay", -lim, lim)

    @classmethod
    def from_period(cls, vth: float, period: float, alpha: float) -> RF:
        """As Lava's process builds it from a threshold, a period and a decay ``alpha``."""
        return cls(int(vth * (1 << fx.RF_STATE_EXP)), *rf_decays(period, alpha))


@dataclass(frozen=True, eq=False)
class RFIz(RF):
    """Resonate-and-fire Izhikevich neuron (Lava ``RF_IZ``, ``PyRF_IZModelFixed``; netx's
    type for any other 'RF*' string): the same resonator, ``s = im' >= vth``; a spike
    resets ``re`` to 0 and ``im`` to ``vth - 1``."""

    phase: ClassVar[bool] = False


Neuron = LIF | Delta | SigmaDelta | Sigma | Integrator | RF | RFIz
INPUT_NEURONS = (LIF, Delta, RF)  # RF: lava-dl's ComplexInput block (not netx-loadable)
SYNAPSE_NEURONS = (LIF, SigmaDelta, Sigma)
DENSE_NEURONS = SYNAPSE_NEURONS + (Integrator,)  # netx substitutes it in dense layers only
COMPLEX_NEURONS = (RF,)  # and RFIz, its subclass
RESET_NEURONS = (LIF, Integrator)  # Lava LIFReset when netx is given a reset interval
# every kind's state names, in one order
STATES = ("u", "v", "sigma", "act", "residue", "real", "imag")


def _check_neuron(neuron: object, allowed: tuple[type, ...], where: str) -> None:
    if not isinstance(neuron, allowed):
        names = ", ".join(k.__name__ for k in allowed)
        raise NetworkError(f"{where} layer: neuron {type(neuron).__name__} not allowed here "
                           f"(allowed: {names})")


def _check_bias_shape(neuron: Neuron | None, shape: Shape, where: str) -> None:
    if neuron is None:
        return
    try:
        np.broadcast_to(neuron.bias, shape)
    except ValueError as err:
        raise NetworkError(f"{where}: bias of shape {neuron.bias.shape} does not broadcast "
                           f"to neurons {shape}") from err


def _integer(value: object, what: str) -> int:
    """``int(value)`` of an integral value; a one-line NetworkError for anything else."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float,
                                                                      np.floating)) \
            or int(value) != value:
        raise NetworkError(f"{what} = {value!r} is not an integer")
    return int(value)


def _shape(x: object, ndim: int | None, what: str) -> Shape:
    shape = tuple(_integer(s, what) for s in np.atleast_1d(np.asarray(x)).tolist())
    if (ndim is not None and len(shape) != ndim) or any(s < 1 for s in shape):
        raise NetworkError(f"{what} must be {ndim or 'any'}-D positive sizes, got {shape}")
    return shape


@dataclass(frozen=True, eq=False)
class Input:
    """Input layer: neurons (``neuron``: LIF, an SDNN Delta, or RF for lava-dl's
    ComplexInput) driven by a LIF bias and/or by external input.

    External spikes ``x[t]`` enter the neuron directly, ``a_in[t] = x[t]`` (no
    synapse, no delay).  ``neuron=None`` is NetX's shape-only input entry: no
    neurons, external spikes go straight to the next layer's synapse.
    Shape ``(W, H, C)`` or ``(N,)``.
    """

    shape: Shape
    neuron: LIF | Delta | None = None
    kind: ClassVar[str] = "input"

    def __post_init__(self) -> None:
        _set(self, "shape", _shape(self.shape, None, "input shape"))
        if len(self.shape) not in (1, 3):
            raise NetworkError(f"input shape {self.shape} must be (N,) or (W, H, C)")
        if self.neuron is not None:
            _check_neuron(self.neuron, INPUT_NEURONS, "input")
        _check_bias_shape(self.neuron, self.shape, "input")

    @property
    def in_shape(self) -> Shape:
        return self.shape


def conv_output_shape(in_shape: Shape, out_channels: int, kernel: Shape, stride: Shape,
                      padding: Shape, dilation: Shape) -> Shape:
    """``(W_out, H_out, C_out)``: ``floor((X + 2p - d(k - 1) - 1) / s) + 1`` per axis."""
    return tuple((in_shape[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1)
                 // stride[i] + 1 for i in range(2)) + (out_channels,)


@dataclass(frozen=True, eq=False)
class Conv:
    """2-D convolution synapse (Lava ``PyConvModelFixed``) feeding a neuron layer.

    ``a[x, y, k] = wrap24(sum_{i, j, c} s[x*sx + i*dx - px, y*sy + j*dy - py, c]
    * weight[k, kw-1-i, kh-1-j, c])`` over the group of ``k``, zero padded;
    delivered to the neurons one step later.  in (W, H, C_in) -> out (W, H, C_out).
    """

    in_shape: Shape
    shape: Shape
    weight: np.ndarray
    stride: Shape = (1, 1)
    padding: Shape = (0, 0)
    dilation: Shape = (1, 1)
    groups: int = 1
    neuron: LIF | SigmaDelta | Sigma | None = None
    kind: ClassVar[str] = "conv"

    def __post_init__(self) -> None:
        w = _frozen_int_array(self.weight, "conv weight")
        _set(self, "weight", w)
        _set(self, "in_shape", _shape(self.in_shape, 3, "conv input shape"))
        _set(self, "shape", _shape(self.shape, 3, "conv output shape"))
        for name in ("stride", "dilation"):
            _set(self, name, _shape(np.broadcast_to(getattr(self, name), 2), 2, name))
        pad = tuple(_integer(p, "conv padding") for p in np.broadcast_to(self.padding, 2).tolist())
        if min(pad) < 0:
            raise NetworkError(f"conv padding {pad} is negative")
        _set(self, "padding", pad)
        _set(self, "groups", _integer(self.groups, "conv groups"))
        self._check_geometry(w)
        if self.neuron is None:
            raise NetworkError("conv layer needs a neuron")
        _check_neuron(self.neuron, SYNAPSE_NEURONS, "conv")
        _check_bias_shape(self.neuron, self.shape, "conv")

    def _check_geometry(self, w: np.ndarray) -> None:
        c_in, c_out, g = self.in_shape[2], self.shape[2], self.groups
        if w.ndim != 4 or g < 1 or c_in % g or c_out % g or w.shape[0] != c_out \
                or w.shape[3] != c_in // g:
            raise NetworkError(f"conv weight {w.shape} does not fit (C_out, kW, kH, C_in/groups)"
                               f" for input {self.in_shape}, output {self.shape}, groups {g}")
        want = conv_output_shape(self.in_shape, c_out, w.shape[1:3], self.stride,
                                 self.padding, self.dilation)
        if want != self.shape:
            raise NetworkError(f"conv output shape {self.shape} != computed {want}")
        fan = np.abs(w).reshape(c_out, -1).sum(axis=1).max()
        if fan > INT32_MAX >> 1:
            raise NetworkError(f"conv weights too large: a neuron's sum of |w| = {fan} "
                               f"overflows Lava's int32 synapse")


@dataclass(frozen=True, eq=False)
class Flatten:
    """Reshape ``(W, H, C)`` to ``(C*H*W,)``, index ``c*H*W + h*W + w``; no neurons."""

    in_shape: Shape
    kind: ClassVar[str] = "flatten"
    neuron: ClassVar[None] = None

    def __post_init__(self) -> None:
        _set(self, "in_shape", _shape(self.in_shape, 3, "flatten input shape (W, H, C)"))

    @property
    def shape(self) -> Shape:
        return (int(np.prod(self.in_shape)),)


@dataclass(frozen=True, eq=False)
class Dense:
    """Dense synapse (Lava ``PyDenseModelBitAcc``) feeding a neuron layer.

    ``a = shift(W_chip @ s, weight_exp)`` with ``W_chip =
    hw.fixed_point.dense_chip_weights(weight, num_weight_bits)`` (Lava's clip to 8
    bits and truncation), arithmetic shift (floors when ``weight_exp < 0``);
    delivered one step later.  ``weight`` (N, M): in (M,) -> out (N,).

    ``delay`` (N, M) ints in [0, 62], or None: Lava's ``DelayDense``.  The synapses of
    delay d form their own sum, shifted by ``weight_exp`` on its own, delivered
    ``1 + d`` steps after the spike (d = 0 is the plain Dense):
    ``a[t] = sum_d shift(W_d @ s[t - 1 - d], weight_exp)``.
    """

    in_shape: Shape
    shape: Shape
    weight: np.ndarray
    weight_exp: int = 0
    num_weight_bits: int = fx.WEIGHT_BITS
    neuron: LIF | SigmaDelta | Sigma | Integrator | None = None
    delay: np.ndarray | None = None
    kind: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        w = _frozen_int_array(self.weight, "dense weight")
        _set(self, "weight", w)
        _set(self, "in_shape", _shape(self.in_shape, 1, "dense input shape"))
        _set(self, "shape", _shape(self.shape, 1, "dense output shape"))
        _set(self, "weight_exp", _integer(self.weight_exp, "weight_exp"))
        _set(self, "num_weight_bits", _integer(self.num_weight_bits, "num_weight_bits"))
        if w.shape != self.shape + self.in_shape:
            raise NetworkError(f"dense weight {w.shape} != (out, in) {self.shape + self.in_shape}")
        if w.size and np.abs(w).max() > INT32_MAX:
            raise NetworkError("dense weights exceed int32")
        fx.truncated_weight_bits(self.num_weight_bits, fx.weight_sign_mode(w))
        if self.neuron is None:
            raise NetworkError("dense layer needs a neuron")
        _check_neuron(self.neuron, DENSE_NEURONS, "dense")
        _check_bias_shape(self.neuron, self.shape, "dense")
        if self.delay is not None:
            d = _frozen_int_array(self.delay, "delay")
            if d.shape != w.shape:
                raise NetworkError(f"delay {d.shape} != weight {w.shape}")
            if d.size and (d.min() < 0 or d.max() > fx.DELAY_MAX):
                raise NetworkError(f"delays in [{d.min()}, {d.max()}] outside [0, "
                                   f"{fx.DELAY_MAX}] (Lava's DelayDense as netx builds it)")
            _set(self, "delay", d)

    @property
    def delays(self) -> tuple[int, ...]:
        """The distinct delays of the layer's synapses ((0,) without delays)."""
        return (0,) if self.delay is None else tuple(int(d) for d in np.unique(self.delay))

    def delay_weight(self, d: int) -> np.ndarray:
        """Chip weights of the synapses with delay d (others 0), (N, M)."""
        w = self.chip_weight()
        return w if self.delay is None else np.where(self.delay == d, w, 0)

    def chip_weight(self) -> np.ndarray:
        """The (N, M) weights Lava's Dense model multiplies with (after clip, truncation)."""
        return fx.dense_chip_weights(self.weight, self.num_weight_bits)


@dataclass(frozen=True, eq=False)
class ComplexDense:
    """Two dense synapses into resonate-and-fire neurons (lava-dl's ``ComplexDense`` block;
    in NetX a dense layer with ``weight/real`` and ``weight/imag``): ``a_re`` and ``a_im``
    are Lava Dense sums of the same input spikes (see ``Dense``), each matrix with its
    own ``weight_exp`` and ``num_weight_bits``; delivered one step later.  No bias, no
    delays (netx ignores both).  ``weight_real``, ``weight_imag`` (N, M): in (M,) -> (N,).
    """

    in_shape: Shape
    shape: Shape
    weight_real: np.ndarray
    weight_imag: np.ndarray
    exp_real: int = 0
    exp_imag: int = 0
    bits_real: int = fx.WEIGHT_BITS
    bits_imag: int = fx.WEIGHT_BITS
    neuron: RF | None = None
    kind: ClassVar[str] = "complex_dense"

    def __post_init__(self) -> None:
        _set(self, "in_shape", _shape(self.in_shape, 1, "complex dense input shape"))
        _set(self, "shape", _shape(self.shape, 1, "complex dense output shape"))
        for part in ("real", "imag"):
            w = _frozen_int_array(getattr(self, f"weight_{part}"), f"{part} weight")
            if w.shape != self.shape + self.in_shape:
                raise NetworkError(f"{part} weight {w.shape} != (out, in) "
                                   f"{self.shape + self.in_shape}")
            if w.size and np.abs(w).max() > INT32_MAX:
                raise NetworkError(f"{part} weights exceed int32")
            _set(self, f"weight_{part}", w)
            _set(self, f"exp_{part}", _integer(getattr(self, f"exp_{part}"), f"exp_{part}"))
            _set(self, f"bits_{part}", _integer(getattr(self, f"bits_{part}"), f"bits_{part}"))
            fx.truncated_weight_bits(getattr(self, f"bits_{part}"), fx.weight_sign_mode(w))
        if self.neuron is None:
            raise NetworkError("complex dense layer needs a neuron")
        _check_neuron(self.neuron, COMPLEX_NEURONS, "complex dense")

    def parts(self) -> tuple[Dense, Dense]:
        """The real and imaginary synapses as plain dense layers (for their arithmetic)."""
        return tuple(Dense(self.in_shape, self.shape, getattr(self, f"weight_{p}"),
                           getattr(self, f"exp_{p}"), getattr(self, f"bits_{p}"), Sigma())
                     for p in ("real", "imag"))


@dataclass(frozen=True, eq=False)
class RecurrentDense(Dense):
    """Dense synapse plus a recurrent one from the layer's own spikes (netx's ``dense_rec``,
    its ``RecurrentDense`` block: two Lava ``Dense`` synapses into one neuron input).

    ``a[t] = wrap32(dense(s_in[t-1]) + shift(W_rec_chip @ s[t-1], weight_exp))``: the
    layer's spikes of step t reach its own input at t + 1.  ``weight_rec`` (N, N) shares
    ``weight_exp`` and ``num_weight_bits`` (netx optimises both matrices jointly); its chip
    weights follow its own sign mode.  The recurrent synapse reads spikes with the
    layer's *input* message bits (netx's wiring): graded payloads of a layer fed binary
    spikes count as 1.  No delays (netx drops ``weight_exp`` and reuses the input delays
    for the recurrent synapse there).
    """

    weight_rec: np.ndarray | None = None
    kind: ClassVar[str] = "dense_rec"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weight_rec is None:
            raise NetworkError("recurrent dense layer needs weight_rec")
        w = _frozen_int_array(self.weight_rec, "recurrent weight")
        if w.shape != self.shape * 2:
            raise NetworkError(f"recurrent weight {w.shape} != (out, out) {self.shape * 2}")
        if w.size and np.abs(w).max() > INT32_MAX:
            raise NetworkError("recurrent weights exceed int32")
        fx.truncated_weight_bits(self.num_weight_bits, fx.weight_sign_mode(w))
        if self.delay is not None:
            raise NetworkError("delays on a recurrent layer: netx drops weight_exp and "
                               "reuses the input delays for the recurrent synapse there")
        _set(self, "weight_rec", w)

    def chip_weight_rec(self) -> np.ndarray:
        """The (N, N) recurrent weights Lava's Dense model multiplies with."""
        return fx.dense_chip_weights(self.weight_rec, self.num_weight_bits)


Layer = Input | Conv | Flatten | Dense | RecurrentDense | ComplexDense


@dataclass(frozen=True, eq=False)
class Network:
    """Layers in NetX order (index = NetX ``layer/<i>``) and the shape of external spikes.

    ``input_shape`` is what drives layer 0: its neurons (Input) or its synapse.
    ``input_message_bits`` (netx's loader argument, 0 = binary spikes): the payload
    width of external input into the first synapse when no input neurons come first.
    """

    layers: tuple[Layer, ...]
    input_shape: Shape
    input_message_bits: int = 0

    def __post_init__(self) -> None:
        _set(self, "layers", tuple(self.layers))
        _set(self, "input_shape", _shape(self.input_shape, None, "network input shape"))
        if not self.layers:
            raise NetworkError("network has no layers")
        _check_int(self, "input_message_bits", 0, fx.SDN_MESSAGE_BITS_MAX)
        if self.input_message_bits and self.layers[0].neuron is not None and \
                isinstance(self.layers[0], Input):
            raise NetworkError("input_message_bits applies to external input into a synapse; "
                               "layer 0 is an input layer with neurons")
        shape = self.input_shape
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Input) and i > 0:
                raise NetworkError(f"layer {i}: input layer must come first")
            if not isinstance(layer, (Input, Conv, Flatten, Dense, ComplexDense)):
                raise NetworkError(f"layer {i}: unknown layer {type(layer).__name__}")
            if layer.in_shape != shape:
                raise NetworkError(f"layer {i} ({layer.kind}): input shape {layer.in_shape} "
                                   f"!= previous output {shape}")
            shape = layer.shape
        if not self.neuron_layers:
            raise NetworkError("network has no neuron layers (only a shape-only input)")

    @property
    def neuron_layers(self) -> tuple[int, ...]:
        """Indices of layers with neurons, in order (netx's list of Lava blocks)."""
        return tuple(i for i, layer in enumerate(self.layers) if layer.neuron is not None)

    @property
    def graded_input(self) -> bool:
        """Whether external input is graded: integers into an SDNN input layer's Delta, or
        payloads into the first synapse (``input_message_bits`` > 0)."""
        return isinstance(self.layers[0].neuron, Delta) or self.input_message_bits > 0

    def graded_into(self, i: int) -> bool:
        """Whether layer i's synapse receives graded spikes (the previous neuron layer's
        kind; external input into a synapse-first network per ``input_message_bits``)."""
        before = [j for j in self.neuron_layers if j < i]
        if not before:
            return self.input_message_bits > 0
        return self.layers[before[-1]].neuron.graded

    def with_input_bias(self, bias: np.ndarray) -> Network:
        """This network with layer 0's (Input) bias mantissa replaced."""
        first = self.layers[0]
        if not isinstance(first, Input) or not isinstance(first.neuron, LIF):
            raise NetworkError("a bias drives an input layer with LIF neurons; layer 0 is "
                               f"{first.kind} ({type(first.neuron).__name__})")
        new = Input(first.shape, first.neuron.with_bias(bias))
        return Network((new,) + self.layers[1:], self.input_shape)


def reset_steps(net: Network, interval: int | None, offset: int = 0) -> dict[int, tuple[int, int]]:
    """Per neuron layer index: ``(interval, phase)``; u, v are zeroed at the start of
    (1-based) step ``t`` when ``t % interval == phase``.

    As netx applies ``reset_interval``/``reset_offset``: the j-th neuron layer gets
    ``LIFReset(reset_offset = offset + 1 + j)`` and LIFReset takes it modulo.
    Sigma-delta layers take their place in the count but are not reset (netx warns that
    it ignores the reset for them).
    """
    if interval is None:
        return {}
    if interval < 1 or offset < 0:
        raise NetworkError(f"reset interval {interval} must be >= 1 and offset {offset} >= 0")
    return {i: (interval, (offset + 1 + j) % interval) for j, i in enumerate(net.neuron_layers)
            if isinstance(net.layers[i].neuron, RESET_NEURONS)}


def networks_equal(a: Network, b: Network) -> bool:
    """Same computation: every field equal, biases compared after broadcasting to the layer."""
    if (a.input_shape, a.input_message_bits) != (b.input_shape, b.input_message_bits) or \
            len(a.layers) != len(b.layers):
        return False
    return all(_layers_equal(x, y) for x, y in zip(a.layers, b.layers, strict=True))


def _layers_equal(x: Layer, y: Layer) -> bool:
    if type(x) is not type(y) or x.shape != y.shape or type(x.neuron) is not type(y.neuron):
        return False
    names = [f for f in getattr(x, "__dataclass_fields__", {}) if f != "neuron"]
    if not all(_equal(getattr(x, f), getattr(y, f)) for f in names):
        return False
    if x.neuron is None:
        return True
    m, n = x.neuron, y.neuron
    fields = [f for f in m.__dataclass_fields__ if f != "bias"]
    return all(getattr(m, f) == getattr(n, f) for f in fields) and \
        bool(np.array_equal(np.broadcast_to(m.bias, x.shape), np.broadcast_to(n.bias, y.shape)))


def _equal(x: object, y: object) -> bool:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return np.shape(x) == np.shape(y) and bool(np.array_equal(x, y))
    return x == y
