"""Compiled integer kernels of the fast simulator (numba): one per neuron family, all steps.

``lif_run`` (LIF and the integrator), ``sdn_run`` (Delta, SigmaDelta, Sigma), ``rf_run``
(RF, RF_IZ), ``rec_lif_run`` / ``rec_sdn_run`` (recurrent layers, their own synapse
inside the time loop) and ``conv_scatter`` (event-driven convolution of sparse payloads).
The LIF kernel's arithmetic, the one that needs care:

Lava's ``PyLifModelBitAcc`` keeps u and v in int32 and computes each step as

    u = wrap24_once(int32(rtz(u * fu / 4096)) + (a_in << 6))   (int32 sum, wraps mod 2**32)
    v = clip(int32(rtz(v * fv / 4096)) + u + bias, V_MIN, V_MAX)
    s = v > vth;  v[s] = 0

with ``fu = 4096 - du - 1``, ``fv = 4096 - dv`` and rtz rounding toward zero.  The
kernel does the same in int32 lanes (16 per AVX-512 vector; numba computes in int64
and every ``_i32`` truncation is the 32-bit wrap, which LLVM turns into 32-bit
instructions).  The only product wider than 32 bits is the decay ``x * f`` (up to
2**43); it is split exactly: with ``h = x >> 12`` (floor) and ``l = x & 4095``,

    floor(x * f / 4096) = h * f + ((l * f) >> 12),   (x * f) mod 4096 = (l * f) & 4095,

where ``-2**31 <= h * f < 2**31`` for any int32 x and 0 <= f <= 4096 and ``l * f < 2**24``;
rounding toward zero adds one when x < 0 and the remainder is not zero.  So the
arithmetic is Lava's for every int32 state and input, not under a bound on them.
``sim.fast`` arranges the arrays; ``sim.reference`` and Lava check the results in
the tests.

Layout: time-major per sample, ``(B, T, N)`` with N the neurons in the fast
simulator's internal order.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from scnn.hw import fixed_point as fx

BLOCK = 2048  # neurons per work item: u, v of a block stay in L1 across all steps

_i32 = np.int32
_SHIFT = fx.DECAY_SHIFT
_LOW = (1 << fx.DECAY_SHIFT) - 1
_ACT = fx.ACT_SHIFT
# int32 constants: Python ints would widen the comparisons to int64 lanes
_LIM, _PERIOD = _i32(fx.UV_LIMIT), _i32(2 * fx.UV_LIMIT)
_V_MIN, _V_MAX = _i32(fx.V_MIN), _i32(fx.V_MAX)
_ZERO = _i32(0)


@nb.njit(inline="always")
def _rtz_decay(x: int, f: int) -> int:
    """``x * f / 4096`` rounded toward zero, exact in int32 lanes (see the module doc)."""
    low = _i32(_i32(x & _LOW) * f)
    floor = _i32(_i32(_i32(x >> _SHIFT) * f) + _i32(low >> _SHIFT))
    return _i32(floor + _i32((x < 0) & ((low & _LOW) != 0)))


@nb.njit(inline="always")
def _wrap_once(x: int) -> int:
    """Lava's one-period wrap of u into the 24-bit range (``subthr_dynamics``)."""
    return _i32(x - (_PERIOD if x > _LIM else _ZERO) + (_PERIOD if x <= -_LIM else _ZERO))


@nb.njit(inline="always")
def _work_item(job: int, blocks: int, n: int) -> tuple[int, int, int]:
    """Sample and neuron range ``[n0, n1)`` of work item ``job`` (blocks of ``BLOCK``)."""
    n0 = (job % blocks) * BLOCK
    return job // blocks, n0, min(n0 + BLOCK, n)


@nb.njit(parallel=True, nogil=True, cache=True)
def lif_run(a_in, delay, bias, fu, fv, vth, resets, s_out, u_out, v_out):  # noqa: PLR0913
    """Run one LIF layer for all steps of a batch.

    a_in (B, Ta, N) int32, or float32 holding integers below 2**24: the input delivered
    at step t (0-based) is ``a_in[:, t - delay]`` when ``0 <= t - delay < Ta``, else 0.
    bias (1 or B, N) int32: effective bias wrapped to 32 bits.  fu, fv: decay factors
    ``4096 - du - 1`` and ``4096 - dv``; vth: ``vth << 6`` (at most 2**23).  resets
    (T,) bool: zero u and v before step t.  Writes s_out (B, T, N) uint8 and, when
    their first axis is B (not 0), u_out / v_out (B, T, N) int32.
    """
    n_b, n_t, n = s_out.shape
    n_ta = a_in.shape[1]
    b_step = 1 if bias.shape[0] > 1 else 0
    rec_u, rec_v = u_out.shape[0] > 0, v_out.shape[0] > 0
    fu, fv, vth = _i32(fu), _i32(fv), _i32(vth)
    blocks = (n + BLOCK - 1) // BLOCK
    for job in nb.prange(n_b * blocks):
        b, n0, n1 = _work_item(job, blocks, n)
        u = np.zeros(n1 - n0, np.int32)
        v = np.zeros(n1 - n0, np.int32)
        bi = bias[b * b_step, n0:n1]
        u_zero = True  # u is all 0 (it stays 0 without input: bias-driven input layers)
        for t in range(n_t):
            if resets[t]:
                u[:] = 0
                v[:] = 0
                u_zero = True
            ta = t - delay
            if not 0 <= ta < n_ta:
                if not u_zero:
                    for k in range(u.size):
                        u[k] = _wrap_once(_rtz_decay(u[k], fu))
            elif fu == 0:  # the decay term is 0 (du = 4095): u is the new input alone
                ai = a_in[b, ta, n0:n1]
                for k in range(u.size):
                    u[k] = _wrap_once(_i32(_i32(ai[k]) << _ACT))
            else:
                ai = a_in[b, ta, n0:n1]
                for k in range(u.size):
                    u[k] = _wrap_once(_i32(_rtz_decay(u[k], fu) + _i32(_i32(ai[k]) << _ACT)))
            u_zero = u_zero and not 0 <= ta < n_ta
            so = s_out[b, t, n0:n1]
            for k in range(v.size):
                y = min(max(_i32(_i32(_rtz_decay(v[k], fv) + u[k]) + bi[k]), _V_MIN), _V_MAX)
                spike = y > vth
                v[k] = _ZERO if spike else y
                so[k] = spike
            if rec_u:
                u_out[b, t, n0:n1] = u
            if rec_v:
                v_out[b, t, n0:n1] = v


# sigma-delta kinds of ``sdn_run`` (one kernel, the kind a compile-time branch per layer)
SDN_DELTA, SDN_SIGMA_DELTA, SDN_SIGMA = 0, 1, 2


@nb.njit(inline="always")
def _abs32(x: int) -> int:
    """numpy's int32 abs: -2**31 stays -2**31 (so it never passes a threshold)."""
    return _i32(-x) if x < 0 else x


@nb.njit(inline="always")
def _sdn_step(kind: int, a: int, sigma: int, act: int, res: int, bias: int, vth: int,
              in_shift: int, state_exp: int) -> tuple[int, int, int, int]:
    """One sigma-delta neuron, one step: (payload, sigma, act, residue), int32 wraps."""
    if kind == SDN_SIGMA:
        sigma = _i32(sigma + a)
        return sigma, sigma, act, res
    if kind == SDN_DELTA:
        x = _i32(a << in_shift)
    else:
        sigma = _i32(sigma + a)
        x = max(_i32(sigma + bias), _ZERO)
    delta = _i32(_i32(x - act) + res)
    q = delta if _abs32(delta) >= vth else _ZERO
    return _i32(q >> state_exp), sigma, x, _i32(delta - q)


@nb.njit(parallel=True, nogil=True, cache=True)
def sdn_run(a_in, delay, bias, vth, in_shift, state_exp, kind,  # noqa: PLR0913
            s_out, sigma_out, act_out, res_out):
    """Run one sigma-delta layer (``sim.network`` Delta, SigmaDelta or Sigma) for all steps.

    Lava's ``Py{Delta,SigmaDelta,Sigma}ModelFixed`` in int32 (every ``_i32`` is numpy's
    int32 wrap).  a_in (B, Ta, N) int32, or float32 holding integers below 2**24, delivered
    as in ``lif_run`` (``a_in[:, t - delay]``, else 0).  bias (1 or B, N) int32: ``bias <<
    (spike_exp + state_exp)``; vth: ``vth << (spike_exp + state_exp)``; in_shift: the
    Delta's input shift ``spike_exp + state_exp``; kind: ``SDN_*``.  Writes s_out (B, T, N)
    int32 payloads and, when their first axis is B (not 0), the states sigma, act,
    residue (B, T, N) int32.
    """
    n_b, n_t, n = s_out.shape
    n_ta = a_in.shape[1]
    b_step = 1 if bias.shape[0] > 1 else 0
    rec_sigma, rec_act, rec_res = sigma_out.shape[0] > 0, act_out.shape[0] > 0, \
        res_out.shape[0] > 0
    vth = _i32(vth)
    blocks = (n + BLOCK - 1) // BLOCK
    for job in nb.prange(n_b * blocks):
        b, n0, n1 = _work_item(job, blocks, n)
        sigma = np.zeros(n1 - n0, np.int32)
        act = np.zeros(n1 - n0, np.int32)
        res = np.zeros(n1 - n0, np.int32)
        bi = bias[b * b_step, n0:n1]
        a = np.zeros(n1 - n0, np.int32)
        for t in range(n_t):
            ta = t - delay
            if 0 <= ta < n_ta:
                ai = a_in[b, ta, n0:n1]
                for k in range(n1 - n0):
                    a[k] = _i32(ai[k])
            else:
                a[:] = 0
            so = s_out[b, t, n0:n1]
            if kind == SDN_SIGMA:  # one loop per kind, so each vectorises
                for k in range(n1 - n0):
                    so[k], sigma[k], act[k], res[k] = _sdn_step(
                        SDN_SIGMA, a[k], sigma[k], act[k], res[k], bi[k], vth, in_shift,
                        state_exp)
            elif kind == SDN_DELTA:
                for k in range(n1 - n0):
                    so[k], sigma[k], act[k], res[k] = _sdn_step(
                        SDN_DELTA, a[k], sigma[k], act[k], res[k], bi[k], vth, in_shift,
                        state_exp)
            else:
                for k in range(n1 - n0):
                    so[k], sigma[k], act[k], res[k] = _sdn_step(
                        SDN_SIGMA_DELTA, a[k], sigma[k], act[k], res[k], bi[k], vth, in_shift,
                        state_exp)
            if rec_sigma:
                sigma_out[b, t, n0:n1] = sigma
            if rec_act:
                act_out[b, t, n0:n1] = act
            if rec_res:
                res_out[b, t, n0:n1] = res


@nb.njit(inline="always")
def _rec_input(w, exp, graded, s, active, n_active, ext, b, ta) -> np.ndarray:
    """``wrap32(ext + dense_rec(s))`` per neuron: Lava's recurrent Dense on the layer's own
    spikes s (the ``active`` indices are nonzero): binary, an int64 sum of weights,
    shifted, wrapped; graded, the int32 dot product (wraps), then shifted.  ``ext[b, ta]``
    is the external input due (none when ``ta < 0``)."""
    out = np.empty(w.shape[0], np.int32)
    for n in range(w.shape[0]):
        total = 0
        for j in range(n_active):
            m = active[j]
            total += w[n, m] * (s[m] if graded else 1)
        if graded:
            total = _i32(total)
        rec = _i32(total << exp) if exp > 0 else _i32(total >> -exp)
        out[n] = _i32(_i32(ext[b, ta, n]) + rec) if ta >= 0 else rec
    return out


@nb.njit(inline="always")
def _active(s, active) -> int:
    """Indices of the nonzero entries of s into ``active``; returns their count."""
    k = 0
    for m in range(s.size):
        if s[m] != 0:
            active[k] = m
            k += 1
    return k


@nb.njit(parallel=True, nogil=True, cache=True)
def rec_lif_run(ext, w_rec, exp, graded, bias, fu, fv, vth, resets,  # noqa: PLR0913
                s_out, u_out, v_out):
    """A recurrent LIF layer (``RecurrentDense``) stepped through time, samples in parallel.

    ext (B, T, N): the external synapse's output of step t, delivered at t + 1; w_rec
    (N, N) int64 chip weights, shift ``exp``; ``graded``: the recurrent synapse reads
    payloads (else nonzero counts as 1).  Other arguments as ``lif_run`` (delay 1).
    """
    n_b, n_t, n = s_out.shape
    b_step = 1 if bias.shape[0] > 1 else 0
    rec_u, rec_v = u_out.shape[0] > 0, v_out.shape[0] > 0
    fu, fv, vth = _i32(fu), _i32(fv), _i32(vth)
    for b in nb.prange(n_b):
        u = np.zeros(n, np.int32)
        v = np.zeros(n, np.int32)
        s = np.zeros(n, np.int32)
        active = np.zeros(n, np.int64)
        bi = bias[b * b_step]
        for t in range(n_t):
            if resets[t]:
                u[:] = 0
                v[:] = 0
            a = _rec_input(w_rec, exp, graded, s, active, _active(s, active), ext, b, t - 1)
            for k in range(n):
                u[k] = _wrap_once(_i32(_rtz_decay(u[k], fu) + _i32(a[k] << _ACT)))
                y = min(max(_i32(_i32(_rtz_decay(v[k], fv) + u[k]) + bi[k]), _V_MIN), _V_MAX)
                spike = y > vth
                v[k] = _ZERO if spike else y
                s[k] = spike
                s_out[b, t, k] = spike
            if rec_u:
                u_out[b, t] = u
            if rec_v:
                v_out[b, t] = v


@nb.njit(parallel=True, nogil=True, cache=True)
def rec_sdn_run(ext, w_rec, exp, graded, bias, vth, in_shift, state_exp, kind,  # noqa: PLR0913
                s_out, sigma_out, act_out, res_out):
    """A recurrent sigma-delta layer stepped through time (see ``rec_lif_run``, ``sdn_run``)."""
    n_b, n_t, n = s_out.shape
    b_step = 1 if bias.shape[0] > 1 else 0
    rec_sigma, rec_act, rec_res = sigma_out.shape[0] > 0, act_out.shape[0] > 0, \
        res_out.shape[0] > 0
    vth = _i32(vth)
    for b in nb.prange(n_b):
        sigma = np.zeros(n, np.int32)
        act = np.zeros(n, np.int32)
        res = np.zeros(n, np.int32)
        s = np.zeros(n, np.int32)
        active = np.zeros(n, np.int64)
        bi = bias[b * b_step]
        for t in range(n_t):
            a = _rec_input(w_rec, exp, graded, s, active, _active(s, active), ext, b, t - 1)
            for k in range(n):
                s[k], sigma[k], act[k], res[k] = _sdn_step(
                    kind, a[k], sigma[k], act[k], res[k], bi[k], vth, in_shift, state_exp)
                s_out[b, t, k] = s[k]
            if rec_sigma:
                sigma_out[b, t] = sigma
            if rec_act:
                act_out[b, t] = act
            if rec_res:
                res_out[b, t] = res


@nb.njit(inline="always")
def _rtz12(x: int) -> int:
    """``sign(x) * (|x| >> 12)`` (Lava's ``scale_volt``), x in int64."""
    return -((-x) >> 12) if x < 0 else x >> 12


@nb.njit(parallel=True, nogil=True, cache=True)
def rf_run(a_re, a_im, delay, vth, sin_d, cos_d, phase,  # noqa: PLR0913
           s_out, re_out, im_out):
    """Run one resonate-and-fire layer (``sim.network`` RF, or RFIz when ``phase`` is
    False) for all steps: Lava's ``PyRFModelFixed`` / ``PyRF_IZModelFixed``.

    a_re, a_im (B, Ta, N) int32 or float32 integers, delivered as in ``lif_run`` and shifted
    << 6 in int32; the products ``cos * re`` in int64, rounded toward zero by the 12-bit
    shift; real and imag saturate at +-(2**23 - 1).  Writes s_out (B, T, N) uint8 and,
    when their first axis is B (not 0), the states re_out / im_out (B, T, N) int32.
    """
    n_b, n_t, n = s_out.shape
    n_ta = a_re.shape[1]
    rec_re, rec_im = re_out.shape[0] > 0, im_out.shape[0] > 0
    lim = 8388607  # fx.RF_LIMIT
    blocks = (n + BLOCK - 1) // BLOCK
    for job in nb.prange(n_b * blocks):
        b, n0, n1 = _work_item(job, blocks, n)
        re = np.zeros(n1 - n0, np.int64)
        im = np.zeros(n1 - n0, np.int64)
        for t in range(n_t):
            ta = t - delay
            live = 0 <= ta < n_ta
            so = s_out[b, t, n0:n1]
            for k in range(n1 - n0):
                ar = _i32(_i32(a_re[b, ta, n0 + k]) << 6) if live else 0
                ai = _i32(_i32(a_im[b, ta, n0 + k]) << 6) if live else 0
                nr = _rtz12(cos_d * re[k]) - _rtz12(sin_d * im[k]) + ar
                ni = _rtz12(sin_d * re[k]) + _rtz12(cos_d * im[k]) + ai
                nr = min(max(nr, -lim), lim)
                ni = min(max(ni, -lim), lim)
                if phase:
                    spike = nr >= vth and ni >= 0 and im[k] < 0
                    re[k], im[k] = nr, ni
                else:
                    spike = ni >= vth
                    re[k] = 0 if spike else nr
                    im[k] = vth - 1 if spike else ni
                so[k] = spike
            if rec_re:
                for k in range(n1 - n0):
                    re_out[b, t, n0 + k] = re[k]
            if rec_im:
                for k in range(n1 - n0):
                    im_out[b, t, n0 + k] = im[k]


@nb.njit(parallel=True, nogil=True, cache=True)
def conv_scatter(s, w, stride, padding, dilation, groups, out):  # noqa: PLR0913
    """Lava's convolution of sparse payloads by scattering each nonzero input into the
    outputs it reaches (event-driven, as the chip does): exact int64 sums into ``out``.

    s (S, W, H, C_in) int32; w (kW, kH, C_in / groups, C_out): Lava's (C_out, kW, kH,
    C_in / groups) weights with the output channel last (the inner loop runs along it),
    where output (x, y, k) sums ``s[x*sx + (kW-1-i)*dx - px, y*sy + (kH-1-j)*dy - py, c] *
    w[i, j, c', k]`` over its group (``sim.reference.conv_synapse``); out (S, W_out, H_out,
    C_out) int64 zeros.  Frames run in parallel.
    """
    n_s, n_w, n_h, n_c = s.shape
    kw, kh, cg, c_out = w.shape
    w_out, h_out = out.shape[1], out.shape[2]
    per_group = c_out // groups
    for f in nb.prange(n_s):
        for x in range(n_w):
            for y in range(n_h):
                for c in range(n_c):
                    p = np.int64(s[f, x, y, c])
                    if p == 0:
                        continue
                    g, cc = c // cg, c % cg
                    for i in range(kw):
                        nx = x + padding[0] - (kw - 1 - i) * dilation[0]
                        if nx < 0 or nx % stride[0] != 0 or nx // stride[0] >= w_out:
                            continue
                        xo = nx // stride[0]
                        for j in range(kh):
                            ny = y + padding[1] - (kh - 1 - j) * dilation[1]
                            if ny < 0 or ny % stride[1] != 0 or ny // stride[1] >= h_out:
                                continue
                            yo = ny // stride[1]
                            row = out[f, xo, yo]
                            taps = w[i, j, cc]
                            for k in range(g * per_group, (g + 1) * per_group):
                                row[k] += taps[k] * p
