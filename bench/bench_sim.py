"""Benchmark: fast simulator vs Lava (fixed_pt CPU) on PilotNet LIF, bit-identical outputs.

Runs lava-dl's pilotnet_lif network (input + 5 conv + 4 dense, reset interval 16)
for 15 steps, recording the spikes of every layer in both backends:
  * batch 1: fast and Lava on the ground-truth image;
  * batched: fast on 64 samples (the image plus seeded per-sample perturbations);
    Lava has no batch axis and runs samples one after another, so it runs only
    ``--lava-samples`` of them and its sample-steps/s are extrapolated from those
    (Lava's cost is linear in samples: each is a separate run).
Lava baselines, from the most to the least Lava work per sample-step:
  * end to end (``sim.lava_backend`` as ``scnn sim --backend lava`` runs it): build and
    compile the processes, step, read every layer's spikes back; once for the process's
    first sample (which also pays Lava's imports) and per sample of the batched run;
  * one sample without read-back: build, compile and run the 15 steps with a spike sink on
    every layer (the issue's "5-8 s for 15 steps of one sample");
  * warm stepping with sinks: the same compiled network, time per step after the first;
  * bare stepping: no sinks, compile excluded (a floor for any Lava run).
Fast wall times: the first call of each size (after a 2-step call that compiles or loads the
kernels), and the median of three further calls, whose results are dropped as a loop over the
batches of a test set drops them (the first call page-faults its arrays in); ratios to the
Lava baselines use the warm median.
The spikes of every compared sample must be identical.

    .venv/bin/python bench/bench_sim.py [--batch 64] [--lava-samples 2] [--threads N]

``--threads`` defaults to the cores this process may use, as Lava's processes use them all.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from scnn.sim import fast, lava_backend
from scnn.sim.netx import read_netx

STEPS, RESET = 15, 16


def _gts(name: str = "pilotnet_lif") -> Path:
    """A lava-dl ground-truth folder: $SCNN_LAVA_GTS/name, or ../shared/data/lava_gts/name."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lava_gts"
    path = Path(os.environ.get("SCNN_LAVA_GTS") or default) / name
    if not path.is_dir():
        raise SystemExit(f"lava-dl ground truths not found at {path} (set SCNN_LAVA_GTS)")
    return path


def _timed(fn: Callable[[], dict]) -> tuple[dict, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _same(a: dict, b: dict, where: str) -> None:
    assert a.keys() == b.keys(), where
    for key in a:
        assert np.array_equal(a[key], b[key]), f"{where}: {key} differs"


def _lava_stepping(path: Path, image: np.ndarray, sinks: bool) -> tuple[float, float]:
    """Lava on a fresh network: (seconds to build, compile and run STEPS steps; seconds per
    step once compiled, first step excluded), with a spike sink on every layer or none."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io

    start = time.perf_counter()
    net = netx.hdf5.Network(net_config=str(path), reset_interval=RESET)
    net.in_layer.neuron.bias_mant.init = image.astype(np.int32)
    if sinks:
        for block in net.layers:
            block.neuron.s_out.connect(
                io.sink.RingBuffer(shape=block.neuron.s_out.shape, buffer=STEPS).a_in)
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    net.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
    warm = time.perf_counter()
    net.run(condition=RunSteps(num_steps=STEPS - 1), run_cfg=cfg)
    end = time.perf_counter()
    net.stop()
    return end - start, (end - warm) / (STEPS - 1)


def _row(name: str, wall: float, samples: int, lava_per: float | None) -> str:
    per = wall / (samples * STEPS)
    ratio = f"{lava_per / per:9.1f}x" if lava_per else "        -"
    return f"{name:<42} {wall:9.3f} s {samples:5d} {per * 1e3:12.4f} ms {ratio}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lava-samples", type=int, default=2)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    d = _gts()
    net = read_netx(d / "network.net")
    image = np.load(d / "image.npy")
    rng = np.random.default_rng(0)
    batch = np.clip(image[None] + rng.integers(-8, 9, (args.batch,) + image.shape), 0, 127)
    batch[0] = image
    kw = dict(reset_interval=RESET, record=("s",))

    fast.simulate(net, 2, bias=image, threads=args.threads, **kw)  # compile (or load) kernels

    def fast_run(bias: np.ndarray) -> tuple[dict, float, float]:
        """(results, wall time of the first call, median of the next three calls); the timed
        repeats drop their results, as a loop over batches of a test set would."""
        out, first = _timed(lambda: fast.simulate(net, STEPS, bias=bias, threads=args.threads,
                                                  **kw))
        warm = [_timed(lambda: fast.simulate(net, STEPS, bias=bias, threads=args.threads,
                                             **kw))[1] for _ in range(3)]
        return out, first, float(np.median(warm))

    fast1, first1, t_fast1 = fast_run(image)
    fastb, firstb, t_fastb = fast_run(batch)
    lava1, t_lava1 = _timed(lambda: lava_backend.simulate(net, STEPS, bias=image, **kw))
    n = args.lava_samples
    lavab, t_lavab = _timed(lambda: lava_backend.simulate(net, STEPS, bias=batch[:n], **kw))

    one_sample, warm = _lava_stepping(d / "network.net", image, sinks=True)
    _, bare = _lava_stepping(d / "network.net", image, sinks=False)
    _same(fast1, lava1, "batch 1")
    _same({k: v[:n] for k, v in fastb.items()}, lavab, f"batched, first {n} samples")
    _same(fast1, {k: v[0] for k, v in fastb.items()}, "fast batch 1 vs batched sample 0")

    lava1_per = t_lava1 / STEPS
    lavab_per = t_lavab / (n * STEPS)
    fast1_per, fastb_per = t_fast1 / STEPS, t_fastb / (args.batch * STEPS)
    print(f"PilotNet LIF, {STEPS} steps, reset interval {RESET}, spikes of all "
          f"{len(net.neuron_layers)} neuron layers recorded; fast threads={args.threads}")
    print(f"{'run':<42} {'wall':>11} {'smpl':>5} {'per sample-step':>15} {'vs Lava':>10}")
    print(_row("lava, batch 1", t_lava1, 1, None))
    print(_row(f"lava, {n} samples (one by one)", t_lavab, n, None))
    print(_row("fast, batch 1, first call", first1, 1, lava1_per))
    print(_row("fast, batch 1, warm (median of 3)", t_fast1, 1, lava1_per))
    print(_row(f"fast, batch {args.batch}, first call", firstb, args.batch, lavab_per))
    print(_row(f"fast, batch {args.batch}, warm (median of 3)", t_fastb, args.batch, lavab_per))
    print(f"Lava batched sample-steps/s extrapolated from {n} samples: {1 / lavab_per:.2f}; "
          f"fast batched: {1 / fastb_per:.1f}")
    print(f"{'Lava baseline':<44} {'ms/step':>9} {'fast batch 1':>13} {'fast batched':>13}")
    for name, per in (("end to end, first sample of the process", lava1_per),
                      (f"end to end, per sample of {n} (one by one)", lavab_per),
                      ("one sample, no read-back", one_sample / STEPS),
                      ("warm stepping, sinks on every layer", warm),
                      ("bare stepping (no sinks)", bare)):
        print(f"{name:<44} {per * 1e3:9.1f} {per / fast1_per:12.1f}x {per / fastb_per:12.1f}x")
    print("targets: batch 1 >= 100x, batched >= 1000x (ratios of time per sample-step)")
    print(f"bits: identical for batch 1 and the first {n} batched samples (all layers' spikes)")


if __name__ == "__main__":
    main()
