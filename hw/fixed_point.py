"""Loihi fixed-point arithmetic as Lava's CPU ``fixed_pt`` models do it.

Every constant names the Lava source it mirrors (lava-nc 0.10.0, lava-dl 0.6.0,
paths relative to ``site-packages/lava``).  Functions are pure numpy on int64
arrays; the simulators in ``sim/`` build on them.

Per time step a CUBA LIF neuron does (``proc/lif/models.py``
``AbstractPyLifModelFixed.subthr_dynamics``)::

    u <- wrap24( wrap32( rtz(u * (4096 - du - 1) / 4096) + wrap32(a_in << 6) ) )
    v <- clip23( rtz(v * (4096 - dv) / 4096) + u + (bias_mant << bias_exp) )
    s  = v > (vth << 6);  v[s] = 0

where ``rtz`` rounds toward zero (sign times the right-shifted magnitude).
"""

from __future__ import annotations

import numpy as np

from scnn.hw.errors import ScnnError

# proc/lif/models.py AbstractPyLifModelFixed.__init__: decay_shift = 12
DECAY_SHIFT = 12
# proc/lif/models.py AbstractPyLifModelFixed.__init__: decay_unity = 2**decay_shift
DECAY_UNITY = 1 << DECAY_SHIFT
# proc/lif/models.py AbstractPyLifModelFixed.__init__: ds_offset = 1 (added to du)
DU_OFFSET = 1
# proc/lif/models.py AbstractPyLifModelFixed.__init__: dm_offset = 0 (added to dv)
DV_OFFSET = 0
# proc/lif/models.py AbstractPyLifModelFixed.__init__: act_shift = 6 (a_in << 6)
ACT_SHIFT = 6
# proc/lif/models.py AbstractPyLifModelFixed.__init__: vth_shift = 6 (vth << 6)
VTH_SHIFT = 6
# proc/lif/models.py AbstractPyLifModelFixed.__init__: uv_bitwidth = 24
UV_BITS = 24
# proc/lif/models.py AbstractPyLifModelFixed.__init__: max_uv_val = 2**23
UV_LIMIT = 1 << (UV_BITS - 1)
# proc/lif/models.py subthr_dynamics: pos_voltage_limit = max_uv_val - 1
V_MAX = UV_LIMIT - 1
# proc/lif/models.py subthr_dynamics: neg_voltage_limit = -max_uv_val + 1
V_MIN = -UV_LIMIT + 1
# proc/conv/models.py PyConvModelFixed.clamp_precision: signed_clamp(x, bits=24)
CONV_BITS = 24
# proc/lif/models.py AbstractPyLifModelFixed: u, v, a_in arithmetic is int32
INT32_BITS = 32
# lib/dl/netx/hdf5.py Network.get_neuron_params: 'bias_exp': 6
BIAS_EXP_DEFAULT = 6
# lib/dl/netx/hdf5.py Network.get_neuron_params: 'du': iDecay - 1
IDECAY_TO_DU = -1
# proc/lif/models.py PyLifModelBitAcc docstring: du, dv unsigned 12-bit (0..4095)
DECAY_MAX = DECAY_UNITY - 1
# proc/lif/models.py PyLifModelBitAcc docstring: vth unsigned 17-bit (0..131071)
VTH_MAX = (1 << 17) - 1
# proc/lif/models.py PyLifModelBitAcc docstring: bias_mant signed 13-bit
BIAS_MANT_MIN, BIAS_MANT_MAX = -(1 << 12), (1 << 12) - 1
# proc/lif/models.py PyLifModelBitAcc docstring: bias_exp unsigned 3-bit (0..7)
BIAS_EXP_MAX = 7
# proc/dense/models.py AbstractPyDenseModelBitAcc.run_spk: clip_weights(..., num_bits=8)
WEIGHT_BITS = 8

# lib/dl/netx/hdf5.py create_dense: delays clipped to 62 (DelayDense(max_delay=62));
# proc/dense/models.py PyDelayDenseModelBitAcc: delays of 0..63 (6 bits)
DELAY_MAX = 62

# Resonate-and-fire (proc/rf/process.py RF.__init__, rf/models.py AbstractPyRFModelFixed;
# lib/dl/netx/hdf5.py get_neuron_params: 'state_exp': 6, 'decay_bits': 12)
RF_STATE_EXP = 6
RF_DECAY_BITS = 12
# rf/models.py: ri_bitwidth = 2 * 12; real and imag saturate at +-(2**23 - 1)
RF_LIMIT = (1 << 23) - 1

# Sigma-delta neurons (proc/sdn/models.py Py{Sigma,Delta,SigmaDelta}ModelFixed; int32 states)
# lib/dl/netx/hdf5.py Network.get_neuron_params: 'state_exp': 6 for Delta and SigmaDelta
SDN_STATE_EXP = 6
# lib/dl/netx/hdf5.py Network.__init__: spike_exp = 6 (a loader argument, not in the file)
SDN_SPIKE_EXP_DEFAULT = 6
# proc/sdn/models.py: spike_exp, state_exp are LavaPyType(..., precision=3): 0..7
SDN_EXP_MAX = 7
# lib/dl/netx/hdf5.py Network.get_neuron_params: num_message_bits = 16 for SDNN by default
SDN_MESSAGE_BITS_DEFAULT = 16
# Loihi 2 technology brief (HARDWARE_FIGURES.md): graded spikes with up to 32-bit payload.
# Lava's CPU models neither truncate nor check a payload to its message bits.
SDN_MESSAGE_BITS_MAX = 32


def rtz_shift(x: np.ndarray, bits: int) -> np.ndarray:
    """Divide by ``2**bits`` rounding toward zero: ``sign(x) * (|x| >> bits)``."""
    x = np.asarray(x, dtype=np.int64)
    return np.sign(x) * (np.abs(x) >> bits)


def decay(x: np.ndarray, d: int) -> np.ndarray:
    """``rtz(x * (4096 - d) / 4096)``; pass ``du + DU_OFFSET`` or ``dv + DV_OFFSET``."""
    return rtz_shift(np.asarray(x, dtype=np.int64) * (DECAY_UNITY - d), DECAY_SHIFT)


def conv_output(total: np.ndarray) -> np.ndarray:
    """What Lava's ``PyConvModelFixed`` delivers for exact convolution sums: ``conv_scipy``
    sums in float64 and casts to int32 (numpy gives -2**31 for values outside int32 on
    x86), then ``signed_clamp(24)`` wraps: ``wrap24(sum)`` inside int32, else 0."""
    t = np.asarray(total, dtype=np.int64)
    inside = (t >= -(1 << 31)) & (t < (1 << 31))
    return np.where(inside, wrap_signed(t, CONV_BITS), 0)


def payload_max(x: np.ndarray) -> int:
    """Largest magnitude of int32 payloads, as a Python int (np.abs keeps -2**31 negative)."""
    return max(int(x.max()), -int(x.min())) if x.size else 0


def wrap32(x: np.ndarray) -> np.ndarray:
    """numpy's int32 arithmetic: wrap to signed 32 bits (Lava's sigma-delta states)."""
    return wrap_signed(x, INT32_BITS)


def wrap_signed(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap into ``[-2**(bits-1), 2**(bits-1))`` (a modulo)."""
    half = 1 << (bits - 1)
    return (np.asarray(x, dtype=np.int64) + half) % (1 << bits) - half


def wrap_current(x: np.ndarray) -> np.ndarray:
    """Lava's single two-sided wrap of u: ``x > 2**23 -> x - 2**24``, ``x <= -2**23 -> x + 2**24``.

    Not a modulo: ``+2**23`` stays, ``-2**23`` becomes ``+2**23``, and a value more
    than one period out of range is moved by one period only.
    """
    x = np.asarray(x, dtype=np.int64)
    return np.where(x > UV_LIMIT, x - 2 * UV_LIMIT, np.where(x <= -UV_LIMIT, x + 2 * UV_LIMIT, x))


def clip_voltage(x: np.ndarray) -> np.ndarray:
    """Saturate v to ``[-(2**23 - 1), 2**23 - 1]``."""
    return np.clip(x, V_MIN, V_MAX)


def shift_signed(x: np.ndarray, exp: int) -> np.ndarray:
    """``x << exp`` for ``exp > 0`` else ``x >> -exp`` (arithmetic, floors)."""
    x = np.asarray(x, dtype=np.int64)
    return x << exp if exp > 0 else x >> -exp


def scaled_bias(bias_mant: np.ndarray, bias_exp: int) -> np.ndarray:
    """Effective bias ``bias_mant << bias_exp`` (right shift for a negative exponent)."""
    return shift_signed(bias_mant, bias_exp) if bias_exp != 0 else np.asarray(bias_mant, np.int64)


def threshold(vth: int) -> int:
    """Effective threshold ``vth << 6``."""
    return int(vth) << VTH_SHIFT


def weight_sign_mode(weight: np.ndarray) -> str:
    """Lava's ``determine_sign_mode``: 'exc' if min >= 0, 'inh' if max <= 0, else 'mixed'."""
    if np.min(weight) >= 0:
        return "exc"
    return "inh" if np.max(weight) <= 0 else "mixed"


def dense_chip_weights(weight: np.ndarray, num_weight_bits: int) -> np.ndarray:
    """Weights a Lava Dense synapse uses after its first-step clip and truncation.

    Mirrors ``utils/weightutils.py`` ``clip_weights(num_bits=8)`` then
    ``truncate_weights(num_weight_bits)`` with the sign mode of ``weight``:
    magnitudes (negated for 'inh') are clipped to ``[-256*mixed, 255]`` and the
    lowest ``8 - num_weight_bits + mixed`` bits are cleared (arithmetic shifts).
    """
    mode = weight_sign_mode(weight)
    sign = -1 if mode == "inh" else 1
    mixed = int(mode == "mixed")
    mag = np.clip(sign * np.asarray(weight, np.int64), -(1 << WEIGHT_BITS) * mixed,
                  (1 << WEIGHT_BITS) - 1)
    drop = truncated_weight_bits(num_weight_bits, mode)
    return sign * ((mag >> drop) << drop)


def truncated_weight_bits(num_weight_bits: int, mode: str) -> int:
    """Low bits Lava's ``truncate_weights`` clears: ``8 - num_weight_bits + mixed`` (>= 0)."""
    drop = WEIGHT_BITS - int(num_weight_bits) + int(mode == "mixed")
    if drop < 0:
        raise ScnnError(f"num_weight_bits {num_weight_bits} exceeds {WEIGHT_BITS} bits "
                        f"for {mode} weights")
    return drop
