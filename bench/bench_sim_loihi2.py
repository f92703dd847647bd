"""Benchmark: fast simulator vs Lava (fixed_pt CPU) on Loihi 2 kinds, bit-identical outputs.

Three networks, each run by both backends on the same inputs with every layer's
spikes (graded payloads included) recorded (the states' equality is the test suite's):
  * PilotNet SDNN (lava-dl's pilotnet_sdnn ground-truth network: Delta input, 4 conv +
    4 dense SigmaDelta, Sigma readout), driven by frames: the truth's frame plus a
    seeded random walk per sample and step (graded input), 16 steps;
  * recurrent: 700 binary inputs -> 128 recurrent LIF (dense_rec) -> 20 LIF, 100 steps
    (an SHD-sized keyword-spotting shape, random netx-optimised weights);
  * delayed: 700 binary inputs -> 128 LIF with per-synapse delays 0-62 (DelayDense)
    -> 20 LIF, 100 steps.
For each: Lava end to end per sample (``sim.lava_backend``, as ``scnn sim --backend lava``:
build, compile, step, read back) at batch 1 and over ``--lava-samples`` samples one after
another; fast at batch 1 and batched (``--batch``), first call and the median of three warm
calls. Ratios are of time per sample. The arrays of every compared sample must be identical.

    .venv/bin/python bench/bench_sim_loihi2.py [--batch 64] [--lava-samples 2] [--threads N]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import numpy as np
from bench_sim import _gts, _same, _timed

from scnn.sim import fast, lava_backend
from scnn.sim.network import LIF, Dense, Input, Network, RecurrentDense
from scnn.sim.netx import netx_dense_weights, read_netx


def pilotnet_sdnn(batch: int, rng: np.random.Generator) -> tuple[Network, int, np.ndarray]:
    """The truth's network and (batch, 100, 33, 3, 16) frames: the truth's frame, then a
    random walk of +-2 per step (sample 0 keeps the frame still)."""
    d = _gts("pilotnet_sdnn")
    frame = np.load(d / "input.npy")[..., 0]
    walk = np.cumsum(rng.integers(-2, 3, (batch,) + frame.shape + (16,)), axis=-1)
    walk[0] = 0
    return read_netx(d / "network.net"), 16, (frame[None, ..., None] + walk).astype(np.int32)


def _weights(rng: np.random.Generator, shape: tuple[int, int], density: float) -> tuple:
    w = rng.integers(-60, 61, shape) * (rng.random(shape) < density)
    return netx_dense_weights(w)


def recurrent(batch: int, rng: np.random.Generator) -> tuple[Network, int, np.ndarray]:
    w, bits, exp = _weights(rng, (128, 700 + 128), 0.2)
    rec = RecurrentDense((700,), (128,), w[:, :700], exp, bits, LIF(1024, 128, 40),
                         weight_rec=w[:, 700:])
    w2, b2, e2 = _weights(rng, (20, 128), 0.5)
    net = Network((Input((700,)), rec, Dense((128,), (20,), w2, e2, b2, LIF(1024, 128, 20))),
                  (700,))
    return net, 100, (rng.random((batch, 700, 100)) < 0.05).astype(np.int8)


def delayed(batch: int, rng: np.random.Generator) -> tuple[Network, int, np.ndarray]:
    w, bits, exp = _weights(rng, (128, 700), 0.2)
    layer = Dense((700,), (128,), w, exp, bits, LIF(1024, 128, 40),
                  delay=rng.integers(0, 63, (128, 700)))
    w2, b2, e2 = _weights(rng, (20, 128), 0.5)
    net = Network((Input((700,)), layer, Dense((128,), (20,), w2, e2, b2, LIF(1024, 128, 20))),
                  (700,))
    return net, 100, (rng.random((batch, 700, 100)) < 0.05).astype(np.int8)


NETWORKS: dict[str, Callable] = {"PilotNet SDNN": pilotnet_sdnn, "recurrent (dense_rec)":
                                 recurrent, "delayed (DelayDense)": delayed}


def _bench(name: str, make: Callable, args: argparse.Namespace) -> list[str]:
    net, steps, x = make(args.batch, np.random.default_rng(0))
    n = args.lava_samples

    def run(inputs: np.ndarray) -> dict:
        return fast.simulate(net, inputs.shape[-1], spikes=inputs, threads=args.threads,
                             record=("s",))

    run(x[:1, ..., :2])  # compile (or load) the kernels
    fast1, first1 = _timed(lambda: run(x[0]))
    t1 = float(np.median([_timed(lambda: run(x[0]))[1] for _ in range(3)]))
    fastb, firstb = _timed(lambda: run(x))
    tb = float(np.median([_timed(lambda: run(x))[1] for _ in range(3)]))
    lava1, t_lava1 = _timed(lambda: lava_backend.simulate(net, steps, spikes=x[0], record=("s",)))
    lavab, t_lavab = _timed(lambda: lava_backend.simulate(net, steps, spikes=x[:n],
                                                          record=("s",)))
    _same(fast1, lava1, f"{name}: batch 1")
    _same({k: v[:n] for k, v in fastb.items()}, lavab, f"{name}: batched, first {n}")
    per_lava1, per_lavab = t_lava1, t_lavab / n
    per1, perb = t1, tb / args.batch
    arrays = len(fast1)
    return [f"{name:<24} {steps:5d} {arrays:6d} {per_lava1 * 1e3:10.1f} {per_lavab * 1e3:10.1f} "
            f"{first1 * 1e3:9.2f} {per1 * 1e3:9.2f} {firstb / args.batch * 1e3:9.3f} "
            f"{perb * 1e3:9.3f} {per_lava1 / per1:9.1f}x {per_lavab / perb:9.1f}x"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lava-samples", type=int, default=2)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    print(f"fast threads={args.threads}, batch {args.batch}; Lava end to end per sample "
          f"(batch 1, and {args.lava_samples} samples one by one); ms per sample")
    print(f"{'network':<24} {'steps':>5} {'arrays':>6} {'lava b1':>10} {'lava bN':>10} "
          f"{'fast b1 1st':>9} {'fast b1':>9} {'fast bN 1st':>9} {'fast bN':>9} "
          f"{'b1 ratio':>10} {'bN ratio':>10}")
    for name, make in NETWORKS.items():
        for line in _bench(name, make, args):
            print(line, flush=True)
    print("targets: PilotNet SDNN >= 1000x batched and >= 100x at batch 1; recurrent >= 100x "
          "batched (ratios of time per sample, warm fast vs Lava end to end)")
    print(f"bits: identical (every layer's spikes or payloads) at batch 1 and for the first "
          f"{args.lava_samples} batched samples")


if __name__ == "__main__":
    main()
