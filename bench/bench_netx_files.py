"""Benchmark: every NetX file in a folder (e.g. the ones lava-dl ships), fast vs Lava.

For each ``*.net`` file: read it as lava-dl 0.6 loads it, drive it with seeded inputs
of its kind for ``--steps`` steps (an input-layer bias of 0..99 for a LIF input layer; a
random walk of integer frames for an SDNN (Delta) input layer; binary spikes of density
0.1 into a synapse-first network), run ``scnn.sim.fast`` and ``scnn.sim.lava_backend``
recording every array (spikes or payloads and every state of every layer), and print:
file, layers, neuron and synapse kinds, arrays compared, fast == Lava, Lava and fast
wall time for one sample (fast: median of three warm calls), their ratio.  A file the
reader refuses is listed with its one-line error.

    .venv/bin/python bench/bench_netx_files.py --nets DIR [--steps 16]

lava-dl's own files are in its repository (tests/lava/lib/dl/netx/, tutorials/lava/lib/
dl/netx/*/, some as Git LFS objects); they are not part of this project.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from bench_sim import _timed

from scnn.hw.errors import ScnnError
from scnn.sim import fast, lava_backend
from scnn.sim.network import LIF, Delta, Input, Network
from scnn.sim.netx import read_netx


def drive(net: Network, steps: int, rng: np.random.Generator) -> dict:
    """Seeded inputs of the network's kind (see the module docstring)."""
    first = net.layers[0]
    if isinstance(first, Input) and isinstance(first.neuron, LIF):
        return {"bias": rng.integers(0, 100, first.shape)}
    if isinstance(first, Input) and isinstance(first.neuron, Delta):
        frame = rng.integers(-64, 65, first.shape)
        walk = np.cumsum(rng.integers(-2, 3, first.shape + (steps,)), axis=-1)
        return {"spikes": frame[..., None] + walk}
    return {"spikes": (rng.random(net.input_shape + (steps,)) < 0.1).astype(np.int8)}


def kinds(net: Network) -> str:
    names = []
    for layer in net.layers:
        name = layer.kind + ("" if layer.neuron is None else f":{type(layer.neuron).__name__}")
        if getattr(layer, "delay", None) is not None:
            name += "+delay"
        if not names or names[-1][0] != name:
            names.append([name, 0])
        names[-1][1] += 1
    return " ".join(f"{n}x{k}" if k > 1 else n for n, k in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", type=Path, required=True, help="folder of .net files")
    parser.add_argument("--steps", type=int, default=16)
    args = parser.parse_args()
    files = sorted(args.nets.glob("*.net"))
    if not files:
        raise SystemExit(f"{args.nets}: no .net files")
    print(f"{args.steps} steps, one sample, every array recorded; fast threads=1")
    print(f"{'file':<52} {'layers':>6} {'arrays':>6} {'equal':>5} {'lava s':>8} "
          f"{'fast ms':>9} {'ratio':>8}  kinds")
    for path in files:
        try:
            net = read_netx(path)
        except ScnnError as err:
            print(f"{path.name:<52} refused: {err}")
            continue
        kw = drive(net, args.steps, np.random.default_rng(0))
        fast.simulate(net, 2, **{k: v[..., :2] if k == "spikes" else v for k, v in kw.items()})
        out, _ = _timed(lambda: fast.simulate(net, args.steps, **kw))  # noqa: B023
        t_fast = float(np.median([_timed(lambda: fast.simulate(net, args.steps, **kw))[1]  # noqa: B023
                                  for _ in range(3)]))
        lava, t_lava = _timed(lambda: lava_backend.simulate(net, args.steps, **kw))  # noqa: B023
        equal = out.keys() == lava.keys() and all(np.array_equal(out[k], lava[k]) for k in out)
        print(f"{path.name:<52} {len(net.layers):6d} {len(out):6d} {str(equal):>5} "
              f"{t_lava:8.2f} {t_fast * 1e3:9.2f} {t_lava / t_fast:7.0f}x  {kinds(net)}",
              flush=True)


if __name__ == "__main__":
    main()
