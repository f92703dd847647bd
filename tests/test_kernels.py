"""The LIF kernel against Lava's own ``PyLifModelBitAcc`` arithmetic on extreme values.

The kernel computes in int32 lanes with the decay product split in two (``sim.kernels``);
its claim is exactness for every int32 state, input and bias, not only for the ranges
networks reach.  Lava's methods run here on a plain namespace holding its state, so the
oracle is Lava's code itself, fed inputs over the whole int32 range.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from scnn.hw import fixed_point as fx
from scnn.sim import kernels

I32 = np.iinfo(np.int32)
_NONE = np.zeros((0, 0, 0), np.int32)


def _lava_lif(a_in: np.ndarray, bias: np.ndarray, du: int, dv: int, vth: int,
              resets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, u, v) of every step, (T, N), by Lava's subthr_dynamics / spiking_activation."""
    from scnn.sim import lava_backend

    lava_backend.free_start_method()
    from lava.proc.lif.models import PyLifModelBitAcc

    n = a_in.shape[1]
    lif = SimpleNamespace(u=np.zeros(n, np.int32), v=np.zeros(n, np.int32), du=du, dv=dv,
                          ds_offset=fx.DU_OFFSET, dm_offset=fx.DV_OFFSET,
                          decay_unity=fx.DECAY_UNITY, decay_shift=fx.DECAY_SHIFT,
                          act_shift=fx.ACT_SHIFT, max_uv_val=fx.UV_LIMIT,
                          effective_bias=bias.astype(np.int32), effective_vth=vth)
    out = []
    for t, a in enumerate(a_in):
        if resets[t]:
            lif.u[:] = 0
            lif.v[:] = 0
        with np.errstate(over="ignore"):
            PyLifModelBitAcc.subthr_dynamics(lif, a.copy())
        s = PyLifModelBitAcc.spiking_activation(lif)
        PyLifModelBitAcc.reset_voltage(lif, s)
        out.append((s.copy(), lif.u.copy(), lif.v.copy()))
    return tuple(np.stack(x) for x in zip(*out, strict=True))


def _kernel(a_in: np.ndarray, bias: np.ndarray, du: int, dv: int, vth: int,
            resets: np.ndarray, delay: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    steps, n = resets.size, a_in.shape[1]
    s = np.zeros((1, steps, n), np.uint8)
    u, v = np.zeros((1, steps, n), np.int32), np.zeros((1, steps, n), np.int32)
    kernels.lif_run(a_in[None], delay, bias[None], fx.DECAY_UNITY - du - fx.DU_OFFSET,
                    fx.DECAY_UNITY - dv - fx.DV_OFFSET, vth, resets, s, u, v)
    return s[0].astype(bool), u[0], v[0]


@pytest.mark.parametrize("seed", range(6))
def test_kernel_equals_lava_over_the_int32_range(seed: int) -> None:
    rng = np.random.default_rng(seed)
    steps, n = 12, 3000
    scale = [1 << 31, 1 << 26, 1 << 18][seed % 3]  # whole range, past the u wrap, typical
    a_in = rng.integers(-scale, scale, (steps, n), dtype=np.int64)
    a_in[:, :8] = [I32.min, I32.max, -1, 1, 1 << 17, -(1 << 17), 1 << 25, -(1 << 25)]
    a_in = a_in.clip(I32.min, I32.max).astype(np.int32)
    bias = rng.integers(I32.min, I32.max, n, dtype=np.int64).astype(np.int32)
    bias[: n // 2] >>= rng.integers(0, 31, n // 2)
    resets = rng.random(steps) < 0.15
    for du, dv in ((0, 0), (4095, 1024), (4095, 4095), (1, 0), (2048, 17),
                   (int(rng.integers(0, 4096)), int(rng.integers(0, 4096)))):
        vth = int(rng.integers(0, fx.VTH_MAX + 1)) << fx.VTH_SHIFT
        a_in[:, 8:16], bias[8:16] = 0, vth  # v reaches vth exactly on step 1: no spike
        want = _lava_lif(a_in, bias, du, dv, vth, resets)
        got = _kernel(a_in, bias, du, dv, vth, resets)
        for name, x, y in zip("suv", got, want, strict=True):
            assert np.array_equal(x, y), f"du={du} dv={dv}: {name} differs"


def test_float_inputs_equal_int_inputs() -> None:
    """Convolutions hand the kernel float32 sums (exact below 2**24): same bits as int32."""
    rng = np.random.default_rng(7)
    a_in = rng.integers(-(1 << 24) + 1, 1 << 24, (10, 4000)).astype(np.int32)
    bias = rng.integers(-(1 << 20), 1 << 20, 4000).astype(np.int32)
    resets = np.zeros(10, bool)
    ints = _kernel(a_in, bias, 4095, 300, 25 << 6, resets)
    floats = _kernel(a_in.astype(np.float32), bias, 4095, 300, 25 << 6, resets)
    for x, y in zip(ints, floats, strict=True):
        assert np.array_equal(x, y)


@pytest.mark.parametrize("du", [0, 4095, 700])
def test_steps_without_input(du: int) -> None:
    """Steps before the delayed input starts and after it ends receive 0: u decays on."""
    rng = np.random.default_rng(du)
    a_in = rng.integers(-(1 << 20), 1 << 20, (5, 2000)).astype(np.int32)
    bias = rng.integers(-(1 << 12), 1 << 12, 2000).astype(np.int32) << 6
    resets = np.zeros(12, bool)
    resets[9] = True
    padded = np.zeros((12, 2000), np.int32)
    padded[2:7] = a_in  # delay 2: row r arrives at step r + 2
    want = _lava_lif(padded, bias, du, 100, 300 << 6, resets)
    got = _kernel(a_in, bias, du, 100, 300 << 6, resets, delay=2)
    for name, x, y in zip("suv", got, want, strict=True):
        assert np.array_equal(x, y), f"{name} differs"
