"""Core mapping: named per-core rules, cores per layer, chips, errors naming the excess."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scnn.hw.chips import LOIHI1, LOIHI2
from scnn.hw.errors import HardwareRuleError
from scnn.hw.mapping import map_network, synapse_bytes
from scnn.sim.network import LIF, Conv, Dense, Input, Network, RecurrentDense

NEURON = LIF(4095, 0, 10)


def _dense_net(n_in: int, weight: np.ndarray) -> Network:
    dense = Dense((n_in,), (weight.shape[0],), weight, 0, 8, NEURON)
    return Network((Input((n_in,), LIF(0, 0, 1)), dense), (n_in,))


def test_compartments_set_the_core_count() -> None:
    net = _dense_net(10, np.full((2500, 10), 2))
    m = map_network(net, LOIHI1)
    assert [x.cores for x in m.layers] == [1, math.ceil(2500 / 1024)]
    assert m.cores == 4 and m.chips == 1 and m.layers[1].neurons_per_core <= 1024


def test_synaptic_memory_sets_the_core_count() -> None:
    net = _dense_net(2000, np.full((100, 2000), 2))
    m = map_network(net, LOIHI1)
    # 7 nine-bit synapses per 64-bit word; fewest contiguous chunks that fit 128 KB
    want = next(k for k in range(1, 101)
                if 8 * math.ceil(math.ceil(100 / k) * 2000 / 7) <= 128 * 1024)
    assert m.layers[1].cores == want == 2
    assert m.layers[1].synapse_bytes_per_core == 8 * math.ceil(50 * 2000 / 7)
    assert synapse_bytes(LOIHI2, 8) == 9  # Loihi 2: bits packed contiguously, 72 bits


def test_zero_weights_are_not_stored_unless_asked() -> None:
    w = np.zeros((100, 2000), np.int64)
    w[:, :10] = 2
    assert map_network(_dense_net(2000, w), LOIHI1).layers[1].cores == 1
    assert map_network(_dense_net(2000, w), LOIHI1, synapses="all").layers[1].cores == 2


def test_too_many_input_axons_names_rule_and_excess() -> None:
    with pytest.raises(HardwareRuleError, match="input-axons-per-core.*over by 904"):
        map_network(_dense_net(5000, np.full((3, 5000), 2)), LOIHI1)
    assert "input-axons-per-core" in map_network(_dense_net(5000, np.full((3, 5000), 2)),
                                                 LOIHI2).unchecked


def test_one_neuron_over_memory_names_rule_and_excess() -> None:
    net = _dense_net(200_000, np.full((1, 200_000), 2))
    over = math.ceil(9 * 200_000 / 8) - 192 * 1024
    with pytest.raises(HardwareRuleError, match=f"synaptic-memory-per-core.*over by {over}"):
        map_network(net, LOIHI2)


def test_output_axons_per_source_core() -> None:
    w = np.zeros((5 * 1024, 1024), np.int64)
    w[np.arange(5 * 1024), np.arange(5 * 1024) % 1024] = 2  # each input feeds all 5 cores
    net = _dense_net(1024, w)
    with pytest.raises(HardwareRuleError, match="output-axons-per-core.*over by 1024"):
        map_network(net, LOIHI1)
    m = map_network(net, LOIHI2)  # unpublished limit: not checked
    assert (m.layers[0].dest_cores == 1).all()  # 5120 neurons fit one Loihi 2 core


def test_cores_per_chip_and_spreading_over_chips() -> None:
    net = Network((Input((140 * 1024,), LIF(0, 0, 1)),), (140 * 1024,))
    with pytest.raises(HardwareRuleError, match="cores-per-chip.*140 cores.*over by 12"):
        map_network(net, LOIHI1)
    m = map_network(net, LOIHI1, max_chips=2)
    assert m.cores == 140 and m.chips == 2


def _conv_net() -> Network:
    rng = np.random.default_rng(0)
    w = rng.integers(1, 9, (16, 3, 3, 8)) * 2
    conv = Conv((40, 30, 8), (20, 15, 16), w, (2, 2), (1, 1), neuron=NEURON)
    return Network((Input((40, 30, 8), LIF(0, 0, 1)), conv), (40, 30, 8))


def test_conv_axons_and_destination_cores_match_brute_force() -> None:
    net = _conv_net()
    m = map_network(net, LOIHI1)
    conv = m.layers[1]
    per = math.ceil(20 * 15 * 16 / conv.cores)  # contiguous chunks of the Lava flat order
    sources: list[set] = [set() for _ in range(conv.cores)]
    for x, y, k in np.ndindex(20, 15, 16):
        core = np.ravel_multi_index((x, y, k), (20, 15, 16)) // per
        sources[core].update((2 * x + i - 1, 2 * y + j - 1) for i in range(3) for j in range(3)
                             if 0 <= 2 * x + i - 1 < 40 and 0 <= 2 * y + j - 1 < 30)
    assert conv.input_axons_per_core == max(len(s) for s in sources) * 8
    dest = np.zeros((40, 30), np.int64)
    for s in sources:
        for xy in s:
            dest[xy] += 1
    assert np.array_equal(m.layers[0].dest_cores, dest[..., None].repeat(8, axis=2))


def test_shared_conv_weights_need_less_memory() -> None:
    net = _conv_net()
    expanded = map_network(net, LOIHI1)
    shared = map_network(net, LOIHI1, conv_memory="shared")
    assert shared.layers[1].synapse_bytes_per_core == 8 * math.ceil(16 * 3 * 3 * 8 / 7)
    assert shared.layers[1].cores <= expanded.layers[1].cores


def test_delays_widen_synapses_and_recurrent_synapses_count() -> None:
    """A delayed layer's synapses carry 6 delay bits (15 bits on Loihi 2: 8 synapses in 15
    bytes); a recurrent layer stores its own synapses and its neurons reach its own cores."""
    w = np.full((2, 8), 2)
    plain = map_network(_dense_net(8, w), LOIHI2).layers[1]
    delayed = Dense((8,), (2,), w, 0, 8, NEURON, delay=np.ones((2, 8), int))
    slow = map_network(Network((Input((8,), LIF(0, 0, 1)), delayed), (8,)), LOIHI2).layers[1]
    assert (plain.synapse_bytes_per_core, slow.synapse_bytes_per_core) == (18, 30)
    assert synapse_bytes(LOIHI1, 7, 15) == 16  # Loihi 1 words: 4 fifteen-bit synapses each
    rec = RecurrentDense((8,), (2,), w, 0, 8, NEURON, weight_rec=np.array([[0, 2], [2, 2]]))
    m = map_network(Network((Input((8,), LIF(0, 0, 1)), rec), (8,)), LOIHI1)
    assert m.layers[1].synapses == 16 + 3 and m.layers[1].input_axons_per_core == 8 + 2
    assert m.layers[1].dest_cores.tolist() == [1, 1]  # each reaches its own (one) core
    assert m.layers[0].dest_cores.tolist() == [1] * 8
