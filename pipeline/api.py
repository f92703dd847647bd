"""The Python API for export-and-simulate scripts and hardware-accuracy regression tests.

Everything here is also reachable as ``scnn.<name>`` (imported on first use, so ``import
scnn`` stays light).  Arrays use Lava's neuron order with time last (``scnn.sim.drive``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scnn.hw.errors import ScnnError
from scnn.sim.drive import VARIABLES
from scnn.sim.network import Network
from scnn.sim.netx import read_netx, write_netx

BACKENDS = ("fast", "lava", "reference")

__all__ = ["BACKENDS", "Difference", "assert_same", "compare", "evaluate", "profile",
           "read_netx", "simulate", "stream_recording", "write_netx"]


def _network(net: Network | str | Path) -> Network:
    return net if isinstance(net, Network) else read_netx(net)


def simulate(net: Network | str | Path, steps: int, *, spikes: np.ndarray | None = None,
             bias: np.ndarray | None = None, backend: str = "fast",
             **options: object) -> dict[str, np.ndarray]:
    """Run a network (or a .net file) bit-exactly; ``backend`` fast (default), lava (the
    oracle: Lava's fixed_pt CPU models) or reference (a plain loop, for small networks).

    spikes: ([B,] *input_shape, steps) 0/1, or integers into an SDNN input; bias: ([B,]
    *layer0_shape) input-layer bias mantissas; ``options``: reset_interval,
    reset_offset, record, silicon_v, layers (and threads for fast).  Returns
    ``layer<i>/<var>`` arrays ([B,] *neurons, steps).
    """
    if backend not in BACKENDS:
        raise ScnnError(f"backend {backend!r}: choose from {', '.join(BACKENDS)}")
    from importlib import import_module

    module = import_module({"fast": "scnn.sim.fast", "lava": "scnn.sim.lava_backend",
                            "reference": "scnn.sim.reference"}[backend])
    if backend != "fast":
        options.pop("threads", None)
    return module.simulate(_network(net), steps, spikes=spikes, bias=bias, **options)


@dataclass(frozen=True)
class Difference:
    """Where two simulation results first differ: the earliest step at which any array
    differs, in its lowest layer (then variable), and there the first neuron in C order.
    ``index`` is the array index before the time axis: ([sample,] *neuron)."""

    key: str
    step: int
    index: tuple[int, ...]
    expected: int
    got: int

    def __str__(self) -> str:
        return (f"{self.key}: first difference at step {self.step} (0-based), index "
                f"{self.index} ([sample,] neuron): {self.expected} != {self.got}")


def _order(key: str) -> tuple[int, int]:
    layer, var = key[5:].split("/")
    return int(layer), VARIABLES.index(var) if var in VARIABLES else len(VARIABLES)


def compare(expected: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray]
            ) -> Difference | None:
    """None if both results hold the same arrays bit for bit, else the first
    :class:`Difference`; raises ScnnError if they hold different arrays or shapes."""
    if expected.keys() != got.keys():
        only_a, only_b = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        raise ScnnError(f"results hold different arrays: only in the first {only_a}, only "
                        f"in the second {only_b}")
    first: Difference | None = None
    for key in sorted(expected, key=_order):
        a, b = np.asarray(expected[key]), np.asarray(got[key])
        if a.shape != b.shape:
            raise ScnnError(f"{key}: shapes {a.shape} and {b.shape} differ")
        diff = a != b
        if not diff.any():
            continue
        t = int(np.flatnonzero(diff.reshape(-1, diff.shape[-1]).any(axis=0))[0])
        if first is not None and t >= first.step:
            continue  # an earlier step, or the same step in a lower layer, was found first
        index = tuple(int(i) for i in np.argwhere(diff[..., t])[0])
        first = Difference(key, t, index, int(a[index + (t,)]), int(b[index + (t,)]))
    return first


def assert_same(expected: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray]) -> None:
    """Raise AssertionError naming the first difference (see :func:`compare`): the core of
    a hardware-accuracy regression test."""
    difference = compare(expected, got)
    if difference is not None:
        raise AssertionError(str(difference))


def profile(net: Network | str | Path, steps: int, *, spikes: np.ndarray | None = None,
            bias: np.ndarray | None = None, chips: tuple[str, ...] = ("loihi2",),
            **options: object) -> list[dict]:
    """Cores, SynOps, spikes, energy and latency per inference on each chip (as ``scnn
    profile --input/--bias``), driven like :func:`simulate` in the fast simulator."""
    from scnn.profiling import profile_arrays

    return profile_arrays(_network(net), steps, spikes, bias, chips, **options)


def evaluate(net: str | Path, data: str | Path | None = None, *, backend: str = "fast",
             split: str = "test", limit: int | None = None,
             test_speakers: Sequence[str] | None = None, noise: str | None = None,
             snr: float | None = None, noise_seed: int = 0, workers: int = 1,
             progress: bool = False) -> dict:
    """Accuracy of an exported network (NET.net with its model card) on audio, driven as
    the chip would be and simulated bit-exactly (as ``scnn eval NET.net``).

    ``data``: a dataset folder (default ``$SCNN_DATA``, else the downloaded FSDD);
    ``test_speakers``: hold these FSDD speakers out as the test split (default: the
    split the card records, else the official one); ``noise`` (white, pink, babble)
    with ``snr`` dB mixes noise into every clip (``scnn.data.noise``). Returns the
    figures of ``scnn eval --json``: accuracy, n, per_class, confusion, clips,
    predictions, ...
    """
    from scnn.data.datasets import test_speakers_option
    from scnn.data.noise import noise_option
    from scnn.hweval import evaluate_netx

    spec = test_speakers_option(test_speakers) if test_speakers else None
    mixed = noise_option(noise, snr, noise_seed)
    return evaluate_netx(Path(net), None if data is None else Path(data), backend, limit,
                         split, progress=progress, workers=workers, spec=spec, noise=mixed)


def stream_recording(net: str | Path, wav: str | Path, labels: str | Path | None = None, *,
                     tolerance: float = 0.5, threshold: int | None = None,
                     backend: str = "fast", seconds: float | None = None,
                     profile: bool = True) -> dict:
    """A recording of any length streamed frame by frame through a streamed network
    (``scnn train-stream``'s NET.net), bit-exactly (as ``scnn stream``): the detected
    words with times; with ``labels`` (a ``scnn data recording`` CSV) precision and
    recall within ``tolerance`` s; with ``profile`` Loihi 2 energy per second of audio.
    """
    from scnn.stream import stream_recording as run

    return run(Path(net), Path(wav), None if labels is None else Path(labels),
                            tolerance, threshold, backend, seconds, profile)
