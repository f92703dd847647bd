"""Compiled integer kernel of the fast simulator (numba): Lava's LIF dynamics over all steps.

Everything here is plain integer arithmetic on int64 registers, so it is Lava's
arithmetic by construction, not by a bound argument: round-toward-zero decays,
the 32-bit wraps, the 24-bit current wrap, the voltage clip and the reset are
applied on every step exactly as ``PyLifModelBitAcc`` does (a wrap or clip that
cannot bite is a no-op).  ``sim.fast`` arranges the arrays; ``sim.reference`` and
Lava check the results in the tests.

Layout: time-major per sample, ``(B, T, N)`` with N the neurons in the fast
simulator's internal order.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hw import fixed_point as fx

BLOCK = 2048  # neurons per work item: u, v of a block stay in L1 across all steps

_SHIFT = fx.DECAY_SHIFT
_ROUND = (1 << fx.DECAY_SHIFT) - 1
_ACT = fx.ACT_SHIFT
_HALF32, _MASK32 = 1 << 31, (1 << 32) - 1
_LIM = fx.UV_LIMIT
_V_MIN, _V_MAX = fx.V_MIN, fx.V_MAX


@nb.njit(inline="always")
def _rtz_decay(x: int, f: int) -> int:
    """``x * f / 4096`` rounded toward zero (arithmetic shift after adding 4095 if negative)."""
    p = x * f
    return (p + ((p >> 63) & _ROUND)) >> _SHIFT


@nb.njit(inline="always")
def _wrap32(x: int) -> int:
    return ((x + _HALF32) & _MASK32) - _HALF32


@nb.njit(parallel=True, nogil=True, cache=True)
def lif_run(a_in, delay, bias, fu, fv, vth, resets, s_out, u_out, v_out):  # noqa: PLR0913
    """Run one LIF layer for all steps of a batch.

    a_in (B, Ta, N) int32: the input delivered at step t (0-based) is ``a_in[:, t - delay]``
    when ``0 <= t - delay < Ta``, else 0.  bias (1 or B, N) int64: effective bias.
    fu, fv: decay factors ``4096 - du - 1`` and ``4096 - dv``; vth: ``vth << 6``.
    resets (T,) bool: zero u and v before step t.  Writes s_out (B, T, N) uint8 and,
    when their first axis is B (not 0), u_out / v_out (B, T, N) int32.
    """
    n_b, n_t, n = s_out.shape
    n_ta = a_in.shape[1]
    b_step = 1 if bias.shape[0] > 1 else 0
    rec_u, rec_v = u_out.shape[0] > 0, v_out.shape[0] > 0
    blocks = (n + BLOCK - 1) // BLOCK
    for job in nb.prange(n_b * blocks):
        b = job // blocks
        n0 = (job % blocks) * BLOCK
        n1 = min(n0 + BLOCK, n)
        u = np.zeros(n1 - n0, np.int64)
        v = np.zeros(n1 - n0, np.int64)
        bi = bias[b * b_step, n0:n1]
        for t in range(n_t):
            if resets[t]:
                u[:] = 0
                v[:] = 0
            ta = t - delay
            if 0 <= ta < n_ta:
                ai = a_in[b, ta, n0:n1]
                for k in range(u.size):
                    x = _wrap32(_rtz_decay(u[k], fu) + _wrap32(np.int64(ai[k]) << _ACT))
                    u[k] = x - 2 * _LIM * (x > _LIM) + 2 * _LIM * (x <= -_LIM)
            else:
                for k in range(u.size):
                    u[k] = _rtz_decay(u[k], fu)  # |u| < 2**23 already: no wrap can bite
            so = s_out[b, t, n0:n1]
            for k in range(v.size):
                y = min(max(_wrap32(_rtz_decay(v[k], fv) + u[k] + bi[k]), _V_MIN), _V_MAX)
                spike = y > vth
                v[k] = 0 if spike else y
                so[k] = spike
            if rec_u:
                u_out[b, t, n0:n1] = u
            if rec_v:
                v_out[b, t, n0:n1] = v
