"""What a simulation run is given and what it returns, shared by every backend.

A run drives a ``Network`` for ``steps`` steps with external spikes and/or a
bias for the input layer, optionally resetting u and v periodically as netx's
``reset_interval``/``reset_offset`` do.  Results are a dict of int arrays keyed
``layer<i>/<var>`` (``i`` the NetX layer index; ``var`` is ``s`` or one of the layer's
neuron states: u, v for LIF; sigma, act, residue for the sigma-delta kinds) shaped
``([batch,] *neuron_shape, steps)`` in Lava's neuron order; ``[..., t]`` is the
state after step ``t + 1``.  Spikes are bool, or int32 payloads for graded kinds;
states are int32.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scnn.hw import fixed_point as fx
from scnn.hw.errors import ScnnError
from scnn.sim.network import LIF, STATES, Input, Network

VARIABLES = ("s",) + STATES
SILICON_SPIKE_V = 128
INT32 = 1 << 31  # LOIHI_FIXED_POINT.md: Loihi silicon reads v = 128 on a spike step


class DriveError(ScnnError):
    """Run inputs (spikes, bias, steps, reset, recording) do not fit the network."""


@dataclass(frozen=True, eq=False)
class Drive:
    """Normalised run inputs.

    spikes: (B, *input_shape, steps) int8 0/1, int32 for graded input, or None; bias:
    (B, *shape0) int64 or None (layer 0's bias mantissa per sample, constant in time);
    ``batched`` says whether results keep the leading batch axis.
    """

    steps: int
    batch: int
    batched: bool
    spikes: np.ndarray | None
    bias: np.ndarray | None
    reset_interval: int | None
    reset_offset: int
    record: tuple[str, ...]
    silicon_v: bool
    layers: tuple[int, ...] = ()
    variables: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def needed(self) -> tuple[str, ...]:
        """Variables a backend must record: ``record`` plus s for silicon v readings."""
        return tuple(v for v in VARIABLES if v in self.record or (v == "s" and self.silicon_v))

    def records(self, i: int, var: str) -> bool:
        """Whether a backend must record variable ``var`` of layer ``i`` (s or one of the
        states of its neuron kind)."""
        return i in self.layers and var in self.needed and var in self.variables.get(i, ())


def _with_batch(x: np.ndarray, core_ndim: int, what: str) -> tuple[np.ndarray, bool]:
    if x.ndim == core_ndim:
        return x[None], False
    if x.ndim == core_ndim + 1:
        return x, True
    raise DriveError(f"{what} has {x.ndim} axes, expected {core_ndim} or {core_ndim + 1} "
                     "(with a leading batch axis)")


def _spikes(net: Network, spikes: np.ndarray, steps: int) -> tuple[np.ndarray, bool]:
    x, batched = _with_batch(np.asarray(spikes), len(net.input_shape) + 1, "input spikes")
    if x.shape[1:] != net.input_shape + (steps,):
        raise DriveError(f"input spikes of shape {x.shape[1:]} do not match the network input "
                         f"{net.input_shape} x {steps} steps (Lava order, time last)")
    if net.graded_input:  # integers into an SDNN input layer (Lava's int32 a_in)
        if x.dtype.kind == "f" and not np.array_equal(x, np.round(x)):
            raise DriveError("graded input must be integers")
        if x.size and (x.min() < -INT32 or x.max() >= INT32):
            raise DriveError(f"graded input in [{x.min()}, {x.max()}] outside int32")
        return x.astype(np.int32), batched
    if x.size and not np.isin(x, (0, 1)).all():
        raise DriveError("input spikes must be 0 or 1 (graded input needs an SDNN input layer, "
                         "or --input-message-bits for payloads into the first synapse)")
    return x.astype(np.int8), batched


def _bias(net: Network, bias: np.ndarray) -> tuple[np.ndarray, bool]:
    first = net.layers[0]
    if not isinstance(first, Input) or not isinstance(first.neuron, LIF):
        raise DriveError("a bias drives an input layer with LIF neurons; layer 0 is "
                         f"{first.kind} ({type(first.neuron).__name__})")
    b = np.asarray(bias)
    if b.dtype.kind == "f" and not np.array_equal(b, np.round(b)):
        raise DriveError("input bias must be integers (bias mantissas)")
    b, batched = _with_batch(b, len(first.shape), "input bias")
    if b.shape[1:] != first.shape:
        raise DriveError(f"input bias of shape {b.shape[1:]} does not match layer 0 {first.shape}")
    b = b.astype(np.int64)
    if b.size and (b.min() < fx.BIAS_MANT_MIN or b.max() > fx.BIAS_MANT_MAX):
        raise DriveError(f"input bias in [{b.min()}, {b.max()}] outside the 13-bit mantissa range")
    return b, batched


def make_drive(net: Network, steps: int, spikes: np.ndarray | None = None,
               bias: np.ndarray | None = None, reset_interval: int | None = None,
               reset_offset: int = 0, record: tuple[str, ...] = VARIABLES,
               silicon_v: bool = False, layers: tuple[int, ...] | None = None) -> Drive:
    """Validate and normalise run inputs (raises DriveError naming the problem).

    ``layers``: NetX indices of the neuron layers to record (default: all).
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise DriveError(f"steps = {steps!r} must be an integer >= 1")
    bad = [r for r in record if r not in VARIABLES]
    if bad or not record:
        raise DriveError(f"record {record} must be a non-empty subset of {VARIABLES}")
    layers = net.neuron_layers if layers is None else tuple(int(i) for i in layers)
    if not layers or not set(layers) <= set(net.neuron_layers):
        raise DriveError(f"layers {layers} must be a non-empty subset of the neuron layers "
                         f"{net.neuron_layers}")
    if reset_interval is not None and (reset_interval < 1 or reset_offset < 0):
        raise DriveError(f"reset interval {reset_interval} must be >= 1, offset "
                         f"{reset_offset} >= 0")
    sx, sb, batches, flags = None, None, [], []
    if spikes is not None:
        sx, flag = _spikes(net, spikes, int(steps))
        batches.append(sx.shape[0])
        flags.append(flag)
    if bias is not None:
        sb, flag = _bias(net, bias)
        batches.append(sb.shape[0])
        flags.append(flag)
    if len(set(batches)) > 1:
        raise DriveError(f"spikes and bias disagree on the batch size: {batches}")
    variables = {i: ("s",) + net.layers[i].neuron.states for i in net.neuron_layers}
    drive = Drive(int(steps), batches[0] if batches else 1, any(flags), sx, sb,
                  reset_interval, int(reset_offset), tuple(record), silicon_v, layers, variables)
    if not any(drive.records(i, var) for i in layers for var in record):
        have = sorted({v for i in layers for v in variables[i]}, key=VARIABLES.index)
        raise DriveError(f"record {','.join(record)}: no recorded layer has these variables "
                         f"(they have {','.join(have)})")
    return drive


def spike_dtype(net: Network, key: str) -> type:
    """dtype of result ``key`` (``layer<i>/<var>``): bool spikes, int32 payloads and states."""
    i, var = key[5:].split("/")
    return bool if var == "s" and not net.layers[int(i)].neuron.graded else np.int32


def finish(results: dict[str, np.ndarray], drive: Drive) -> dict[str, np.ndarray]:
    """Drop the batch axis of unbatched runs; apply the silicon v reading if asked."""
    out = {}
    for key, value in results.items():
        if key.rsplit("/", 1)[1] not in drive.record:
            continue
        if drive.silicon_v and key.endswith("/v"):
            value = np.where(results[key[:-1] + "s"].astype(bool), SILICON_SPIKE_V, value)
        out[key] = value if drive.batched else value[0]
    return out
