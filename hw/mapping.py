"""Layers onto neuromorphic cores: named per-core rules, cores per layer, chips.

Placement model (an assumption, the simplest a Lava-style compiler does): each
neuron layer gets its own cores (no two layers share a core); a layer's neurons,
flattened in Lava order ((W, H, C) C-order, channel fastest), are cut into ``k``
contiguous chunks of ``ceil(n / k)``; ``k`` is the smallest count for which every
chunk passes every rule below.  Synapses live at the destination core.

Rules per core (``Chip`` limits, sources in ``hw.chips``):

* ``compartments-per-core``: neurons on a core <= ``chip.neurons_per_core``.
* ``synaptic-memory-per-core``: bytes of the chunk's synapses <= memory per core.
* ``input-axons-per-core``: distinct presynaptic neurons feeding a core <= limit.
* ``output-axons-per-core``: per source core, sum over its neurons of the number of
  destination cores each reaches (one axon per (neuron, destination core)) <= limit.
* ``cores-per-chip`` / ``synapses-per-chip``: whole network on one chip unless
  ``max_chips`` > 1 allows spreading it over several.

Loihi 2's axon limits are not published: those rules are skipped and listed in
``Mapping.unchecked``; its 7,812 neurons per core are 1 M neurons per chip / 128.

Synaptic-memory model (assumptions stated):

* A synapse costs ``chip.weight_bits`` = 9 bits (8-bit magnitude + sign, [D18]
  weights 1-9 bits), plus 6 delay bits in a layer with axonal delays (Lava's
  ``DelayDense`` width; an assumption), no tag bits, no per-axon list headers or
  index bits (an optimistic lower bound of the real encodings).
* A recurrent layer's own synapses live on its cores beside its input synapses:
  they add to its fan-in, memory and input axons, and to its neurons' destination
  cores (spike messages).  Graded spikes cost a synapse no more memory (the payload
  is in the message, not the synapse).
* Loihi 1 packs whole synapses into 64-bit words ([D18] 16,384 x 64 bit):
  ``floor(64 / 9) = 7`` per word, ``bytes = 8 * ceil(synapses / 7)``.  Loihi 2's
  word size is not published: bits are packed contiguously, ``ceil(9 * syn / 8)``;
  all 192 KB of its "flexible memory" is assumed available for synapses.
* ``synapses="nonzero"`` (default): only nonzero-weight synapses are stored (a
  compiler drops zeros); ``"all"`` stores every structural synapse.
* ``conv_memory="expanded"`` (default): every conv synapse is stored per output
  neuron (no weight sharing; Loihi 1 has none).  ``"shared"``: a core stores each
  output channel's kernel once (``C_in/g * kH * kW`` synapses per channel present
  on the core) — Loihi 2 convolution weight sharing, not in the published figures
  we cite, so it is offered as an option, not the default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scnn.hw.chips import Chip
from scnn.hw.errors import HardwareRuleError
from scnn.sim.activity import (
    conv_reach,
    dense_mask,
    fan_in,
    source_layer,
    unflatten_order,
)
from scnn.sim.network import Conv, Dense, Input, Network, RecurrentDense

CONV_MEMORY = ("expanded", "shared")
DELAY_BITS = 6  # proc/dense/process.py DelayDense: delays 0..63 (an assumption for the chips)
BLOCK = 64  # chunks processed at once when counting axons (bounds memory)


@dataclass(frozen=True, eq=False)
class LayerMap:
    """One neuron layer on ``cores`` cores; per-core maxima of each rule's quantity.

    ``dest_cores`` (Lava shape of this layer): for each neuron, the number of cores
    of the next synapse layer it reaches (spike messages per spike); 0 at the output.
    """

    index: int
    kind: str
    neurons: int
    cores: int
    neurons_per_core: int
    synapse_bytes_per_core: int
    input_axons_per_core: int
    output_axons_per_core: int
    synapses: int
    dest_cores: np.ndarray


@dataclass(frozen=True, eq=False)
class Mapping:
    """A network on a chip: layers, total cores and chips, rules not checked."""

    chip: Chip
    layers: tuple[LayerMap, ...]
    cores: int
    chips: int
    synapses: str
    conv_memory: str
    unchecked: tuple[str, ...]

    def summary(self) -> dict:
        """JSON-ready figures."""
        return {"chip": self.chip.name, "cores": self.cores, "chips": self.chips,
                "synapse_mode": self.synapses, "conv_memory": self.conv_memory,
                "unchecked_rules": list(self.unchecked),
                "layers": [{"layer": x.index, "kind": x.kind, "neurons": x.neurons,
                            "cores": x.cores, "neurons_per_core": x.neurons_per_core,
                            "synapse_bytes_per_core": x.synapse_bytes_per_core,
                            "input_axons_per_core": x.input_axons_per_core,
                            "output_axons_per_core": x.output_axons_per_core}
                           for x in self.layers]}


def synapse_bits(layer: object, chip: Chip) -> int:
    """Bits of one synapse of ``layer``: the weight, plus ``DELAY_BITS`` when the layer has
    delays (an assumption: Lava's DelayDense keeps 6-bit delays; the chips' encodings
    of a delay per synapse are not published)."""
    return chip.weight_bits + (DELAY_BITS if getattr(layer, "delay", None) is not None else 0)


def synapse_bytes(chip: Chip, n_synapses: np.ndarray | int, bits: int | None = None
                  ) -> np.ndarray:
    """Bytes that ``n_synapses`` of ``bits`` each (default: the chip's weight bits) occupy
    (see the memory model in the module docstring)."""
    n = np.asarray(n_synapses, np.int64)
    bits = chip.weight_bits if bits is None else bits
    if chip.synaptic_word_bits:
        per_word = chip.synaptic_word_bits // bits
        return -(-n // per_word) * (chip.synaptic_word_bits // 8)
    return -(-n * bits // 8)


def chunk_ids(n: int, k: int) -> np.ndarray:
    """Core index of each of n neurons (flat Lava order) cut into k contiguous chunks."""
    return np.arange(n) // math.ceil(n / k)


def _chunk_sums(values: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(ids, weights=values.reshape(-1).astype(np.float64), minlength=k)


def _memory(layer, ids: np.ndarray, k: int, chip: Chip, synapses: str,
            conv_memory: str) -> np.ndarray:
    """(k,) bytes of synapses per core."""
    if isinstance(layer, Input):
        return np.zeros(k, np.int64)
    if isinstance(layer, Conv) and conv_memory == "shared":
        c_out = layer.shape[2]
        per_channel = int(np.prod(layer.weight.shape[1:]))  # kW * kH * C_in/g, dense kernel
        chan = np.zeros((k, c_out), bool)
        chan[ids, np.arange(ids.size) % c_out] = True  # channel is the fastest Lava axis
        return synapse_bytes(chip, chan.sum(axis=1) * per_channel)
    return synapse_bytes(chip, np.rint(_chunk_sums(fan_in(layer, synapses), ids, k)),
                         synapse_bits(layer, chip))


def reach(layer: Conv | Dense, ids: np.ndarray, k: int, synapses: str) -> np.ndarray:
    """(k, n_in) bool: input neuron (layer input order) connects to a neuron of core j."""
    out = []
    for lo in range(0, k, BLOCK):
        cores = np.arange(lo, min(k, lo + BLOCK))
        masks = (ids[None, :] == cores[:, None]).astype(np.float64)
        if isinstance(layer, Conv):
            r = conv_reach(layer, masks.reshape((-1,) + layer.shape), synapses)
        else:
            r = masks @ dense_mask(layer, synapses).astype(np.float64)
        out.append(r.reshape(len(cores), -1) > 0.5)
    return np.concatenate(out)


def _input_axons(layer, ids: np.ndarray, k: int, synapses: str, spikes_in: bool) -> np.ndarray:
    """(k,) distinct presynaptic neurons per core (input layer: external spikes, if any)."""
    if isinstance(layer, Input):
        return np.bincount(ids, minlength=k) if spikes_in else np.zeros(k, np.int64)
    return reach(layer, ids, k, synapses).sum(axis=1)


def _violation(chip: Chip, layer, ids, k, synapses, conv_memory, spikes_in) -> tuple | None:
    """(rule, needed, limit) of the first rule a k-core split breaks, else None."""
    per_core = np.bincount(ids, minlength=k).max()
    if per_core > chip.neurons_per_core:
        return "compartments-per-core", int(per_core), chip.neurons_per_core
    mem = _memory(layer, ids, k, chip, synapses, conv_memory).max()
    if mem > chip.synaptic_memory_bytes_per_core:
        return "synaptic-memory-per-core", int(mem), chip.synaptic_memory_bytes_per_core
    if chip.input_axons_per_core is not None:
        ax = _input_axons(layer, ids, k, synapses, spikes_in).max()
        if ax > chip.input_axons_per_core:
            return "input-axons-per-core", int(ax), chip.input_axons_per_core
    return None


def _single_neuron_violation(chip: Chip, layer, synapses: str, conv_memory: str) -> tuple | None:
    """(rule, needed, limit) broken even with one neuron per core, else None.

    One neuron's synapses come from distinct inputs (one kernel tap per input), so its
    input axons equal its fan-in.
    """
    if isinstance(layer, Input):
        return None
    most = int(fan_in(layer, synapses).max())
    if isinstance(layer, Conv) and conv_memory == "shared":
        mem = int(synapse_bytes(chip, int(np.prod(layer.weight.shape[1:]))))
    else:
        mem = int(synapse_bytes(chip, most, synapse_bits(layer, chip)))
    if mem > chip.synaptic_memory_bytes_per_core:
        return "synaptic-memory-per-core", mem, chip.synaptic_memory_bytes_per_core
    if chip.input_axons_per_core is not None and most > chip.input_axons_per_core:
        return "input-axons-per-core", most, chip.input_axons_per_core
    return None


def layer_cores(chip: Chip, layer, name: str, synapses: str = "nonzero",
                conv_memory: str = "expanded", spikes_in: bool = False) -> int:
    """Fewest cores (contiguous chunks) on which ``layer`` passes every per-core rule.

    Raises HardwareRuleError when even one neuron per core breaks a rule.
    """
    n = int(np.prod(layer.shape))
    lo = max(1, math.ceil(n / chip.neurons_per_core))
    if _violation(chip, layer, chunk_ids(n, lo), lo, synapses, conv_memory, spikes_in) is None:
        return lo
    bad = _single_neuron_violation(chip, layer, synapses, conv_memory)
    if bad is not None:
        rule, need, limit = bad
        raise HardwareRuleError(rule, name, f"one neuron alone needs {need} > {limit} "
                                f"on {chip.name} (over by {need - limit})")
    hi = lo
    while _violation(chip, layer, chunk_ids(n, hi), hi, synapses, conv_memory, spikes_in):
        lo, hi = hi, min(n, 2 * hi)
    while hi - lo > 1:  # lo fails, hi passes
        mid = (lo + hi) // 2
        ok = _violation(chip, layer, chunk_ids(n, mid), mid, synapses, conv_memory,
                        spikes_in) is None
        lo, hi = (lo, mid) if ok else (mid, hi)
    return hi


def _dest_cores(net: Network, ids: dict[int, np.ndarray], synapses: str) -> dict[int, np.ndarray]:
    """Per source neuron layer: destination cores per neuron (Lava shape)."""
    dest = {i: np.zeros(net.layers[i].shape, np.int64) for i in net.neuron_layers}
    for i in net.neuron_layers:
        layer, j = net.layers[i], source_layer(net, i)
        if isinstance(layer, Input):
            continue
        k = int(ids[i].max()) + 1
        count = reach(layer, ids[i], k, synapses).sum(axis=0)  # (n_in,) layer input order
        n_in = int(np.prod(layer.in_shape))
        if isinstance(layer, RecurrentDense):  # its own neurons reach its own cores too
            dest[i] += count[n_in:].astype(np.int64)
        if j is None:  # fed by external input: no source layer to send to these cores
            continue
        count = count[:n_in]
        shape = net.layers[j].shape
        if len(shape) == 3 and len(layer.in_shape) == 1:
            count = unflatten_order(count, shape, lead=0)  # Flatten order -> Lava (W, H, C)
        dest[j] += count.reshape(shape).astype(np.int64)
    return dest


def _check_chip(chip: Chip, total: int, syn: int, max_chips: int) -> int:
    """Chips needed; raises when more than ``max_chips``."""
    chips = math.ceil(total / chip.cores_per_chip)
    if chips > max_chips:
        cap = chip.cores_per_chip * max_chips
        raise HardwareRuleError("cores-per-chip", "network", f"needs {total} cores, "
                                f"{max_chips} {chip.name} chip(s) have {cap} (over by "
                                f"{total - cap}); allow more chips to spread it")
    if chip.synapses_per_chip is not None and syn > chip.synapses_per_chip * chips:
        cap = chip.synapses_per_chip * chips
        raise HardwareRuleError("synapses-per-chip", "network", f"{syn} synapses > {cap} "
                                f"on {chips} {chip.name} chip(s) (over by {syn - cap})")
    return chips


def map_network(net: Network, chip: Chip, synapses: str = "nonzero",
                conv_memory: str = "expanded", max_chips: int = 1,
                spikes_in: bool = False) -> Mapping:
    """Cores per layer and in total; raises HardwareRuleError naming a broken rule.

    ``spikes_in``: the input layer receives external spikes (needs input axons).
    """
    if conv_memory not in CONV_MEMORY:
        raise ValueError(f"conv_memory = {conv_memory!r}; choose from {CONV_MEMORY}")
    ids, syn = {}, {}
    for i in net.neuron_layers:
        layer = net.layers[i]
        k = layer_cores(chip, layer, f"{i} ({layer.kind})", synapses, conv_memory, spikes_in)
        ids[i] = chunk_ids(int(np.prod(layer.shape)), k)
        syn[i] = 0 if isinstance(layer, Input) else int(fan_in(layer, synapses).sum())
    dest = _dest_cores(net, ids, synapses)
    layers = []
    for i in net.neuron_layers:
        layer, k = net.layers[i], int(ids[i].max()) + 1
        out_axons = int(_chunk_sums(dest[i], ids[i], k).max())
        if chip.output_axons_per_core is not None and out_axons > chip.output_axons_per_core:
            lim = chip.output_axons_per_core
            raise HardwareRuleError("output-axons-per-core", f"{i} ({layer.kind})",
                                    f"a core needs {out_axons} output axons > {lim} "
                                    f"(over by {out_axons - lim})")
        layers.append(LayerMap(
            index=i, kind=layer.kind, neurons=ids[i].size, cores=k,
            neurons_per_core=int(np.bincount(ids[i]).max()),
            synapse_bytes_per_core=int(_memory(layer, ids[i], k, chip, synapses,
                                               conv_memory).max()),
            input_axons_per_core=int(_input_axons(layer, ids[i], k, synapses, spikes_in).max()),
            output_axons_per_core=out_axons, synapses=syn[i], dest_cores=dest[i]))
    total = sum(x.cores for x in layers)
    chips = _check_chip(chip, total, sum(syn.values()), max_chips)
    unchecked = tuple(r for r, lim in (("input-axons-per-core", chip.input_axons_per_core),
                                       ("output-axons-per-core", chip.output_axons_per_core),
                                       ("synapses-per-chip", chip.synapses_per_chip))
                      if lim is None)
    return Mapping(chip, tuple(layers), total, chips, synapses, conv_memory, unchecked)
