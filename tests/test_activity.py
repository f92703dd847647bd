"""Exact fan-out, synaptic operations, neuron updates and NeuroBench counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from scnn.sim import fast
from scnn.sim.activity import (
    conv_fan_in,
    conv_fan_out,
    conv_torch_mask,
    flatten_order,
    layer_activity,
    unflatten_order,
)
from scnn.sim.network import (
    LIF,
    Conv,
    Delta,
    Dense,
    Flatten,
    Input,
    Network,
    RecurrentDense,
    SigmaDelta,
    conv_output_shape,
)
from scnn.sim.netx import netx_dense_weights
from scnn.sim.neurobench import footprint_bytes, neurobench_metrics

NEURON = LIF(4095, 0, 10)


def _conv(in_shape, c_out, k, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1, weight=None):
    kshape = (c_out, k[0], k[1], in_shape[2] // groups)
    w = np.ones(kshape, np.int64) if weight is None else weight
    out = conv_output_shape(in_shape, c_out, k, stride, pad, dil)
    return Conv(in_shape, out, w, stride, pad, dil, groups, NEURON)


def _row(layer: Conv) -> list[int]:
    return conv_fan_out(layer)[:, 0, 0].tolist()


def test_fan_out_by_hand_along_w() -> None:
    # width 5, kernel 3: windows [0-2], [1-3], [2-4]
    assert _row(_conv((5, 1, 1), 1, (3, 1))) == [1, 2, 3, 2, 1]
    # padding 1: 5 windows starting at -1..3
    assert _row(_conv((5, 1, 1), 1, (3, 1), pad=(1, 0))) == [2, 3, 3, 3, 2]
    # stride 2 on width 6: windows [0-2], [2-4]; input 5 is never reached (border)
    assert _row(_conv((6, 1, 1), 1, (3, 1), stride=(2, 1))) == [1, 1, 2, 1, 1, 0]
    # dilation 2: one window with taps 0, 2, 4
    assert _row(_conv((5, 1, 1), 1, (3, 1), dil=(2, 1))) == [1, 0, 1, 0, 1]


def test_fan_out_2d_stride_pad_channels_groups() -> None:
    # 4x4, k 3, stride 2, pad 1: windows per axis {-1,0,1}, {1,2,3} -> [1, 2, 1, 1]
    axis = np.array([1, 2, 1, 1])
    fan = conv_fan_out(_conv((4, 4, 2), 3, (3, 3), (2, 2), (1, 1)))
    assert np.array_equal(fan, np.outer(axis, axis)[..., None].repeat(2, 2) * 3)
    # groups 2, C_in 2, C_out 4: each input channel reaches only its group's 2 channels
    fan = conv_fan_out(_conv((3, 1, 2), 4, (1, 1), groups=2))
    assert np.array_equal(fan, np.full((3, 1, 2), 2))
    # fan-in at a padded corner: 2x2 taps inside of 3x3, 2 channels
    fan_in = conv_fan_in(_conv((4, 4, 2), 3, (3, 3), (2, 2), (1, 1)))
    assert fan_in[0, 0, 0] == 2 * 2 * 2 and fan_in[1, 1, 0] == 3 * 3 * 2


def _brute_fan_out(layer: Conv) -> np.ndarray:
    """Loop over the Conv docstring's definition, counting nonzero-weight synapses."""
    fan = np.zeros(layer.in_shape, np.int64)
    c_out, kw, kh, cg = layer.weight.shape
    per_group = c_out // layer.groups
    (sx, sy), (px, py), (dx, dy) = layer.stride, layer.padding, layer.dilation
    w_out, h_out, _ = layer.shape
    for x, y, k, i, j, c in itertools.product(range(w_out), range(h_out), range(c_out),
                                               range(kw), range(kh), range(cg)):
        xi, yi = x * sx + i * dx - px, y * sy + j * dy - py
        inside = 0 <= xi < layer.in_shape[0] and 0 <= yi < layer.in_shape[1]
        if inside and layer.weight[k, kw - 1 - i, kh - 1 - j, c] != 0:
            fan[xi, yi, (k // per_group) * cg + c] += 1
    return fan


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_fan_out_equals_brute_force_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2]))
    c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    k = tuple(int(v) for v in rng.integers(1, 4, 2))
    dil = tuple(int(v) for v in rng.integers(1, 3, 2))
    pad = tuple(int(v) for v in rng.integers(0, 3, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    size = tuple(int(v) for v in rng.integers(1, 9, 2))
    if any(size[a] + 2 * pad[a] < dil[a] * (k[a] - 1) + 1 for a in range(2)):
        return
    w = rng.integers(-2, 3, (c_out, k[0], k[1], c_in // groups))
    layer = _conv(size + (c_in,), c_out, k, stride, pad, dil, groups, w)
    assert np.array_equal(conv_fan_out(layer), _brute_fan_out(layer))


def _net() -> Network:
    rng = np.random.default_rng(3)
    w = rng.integers(-40, 60, (4, 3, 3, 2)) * (rng.random((4, 3, 3, 2)) < 0.7)
    conv = Conv((6, 5, 2), (3, 3, 4), w, (2, 2), (1, 1), neuron=LIF(300, 400, 8, 2))
    weight, bits, exp = netx_dense_weights(rng.integers(-60, 60, (5, 36)) * 2)
    dense = Dense((36,), (5,), weight, exp, bits, LIF(4095, 0, 5))
    return Network((Input((6, 5, 2), LIF(0, 512, 3)), conv, Flatten((3, 3, 4)), dense),
                   (6, 5, 2))


def test_synops_match_forward_convolution_of_recorded_spikes() -> None:
    net = _net()
    bias = np.random.default_rng(4).integers(0, 120, (3, 6, 5, 2))
    res = fast.simulate(net, 9, bias=bias)
    act = layer_activity(net, res)
    conv, dense = net.layers[1], net.layers[3]
    s0 = res["layer0/s"].astype(np.float64)  # (B, W, H, C, T)
    x = torch.from_numpy(s0.transpose(0, 4, 3, 2, 1).reshape(-1, 2, 5, 6))  # (B*T, C, H, W)
    per_out = F.conv2d(x, conv_torch_mask(conv), stride=(2, 2), padding=(1, 1))
    assert act.layers[1].synops.sum() == per_out.sum().item()
    assert act.layers[1].synops_all.sum() >= act.layers[1].synops.sum()
    s1 = flatten_order(res["layer1/s"].astype(np.int64))  # (B, 36, T)
    nz = (dense.chip_weight() != 0).astype(np.int64)
    assert np.array_equal(act.layers[2].synops, np.einsum("nm,bmt->t", nz, s1))
    assert np.array_equal(act.layers[2].synops_all, 5 * s1.sum(axis=(0, 1)))
    for a, i in zip(act.layers, (0, 1, 3), strict=True):
        assert np.array_equal(a.spikes, res[f"layer{i}/s"].reshape(3, -1, 9).sum(axis=(0, 1)))
        assert a.active.max() <= a.neurons * 3 and act.active_exact
    assert act.layers[0].synops.sum() == 0  # bias drive is not a synaptic operation


def test_activity_without_states_counts_all_updates_active_and_merges() -> None:
    net = _net()
    bias = np.random.default_rng(5).integers(0, 120, (2, 6, 5, 2))
    full = layer_activity(net, fast.simulate(net, 6, bias=bias))
    spikes_only = layer_activity(net, fast.simulate(net, 6, bias=bias, record=("s",)))
    assert not spikes_only.active_exact
    assert all((x.active == x.neurons * 2).all() for x in spikes_only.layers)
    halves = [layer_activity(net, fast.simulate(net, 6, bias=bias[i : i + 1])) for i in (0, 1)]
    merged = halves[0].merge(halves[1])
    assert merged.samples == 2 and merged.total("synops") == full.total("synops")
    assert merged.total("active") == full.total("active")


def test_neurobench_metrics_by_hand() -> None:
    # input 4 neurons -> dense 2x4 with weights [[2, 0, 0, 4], [0, 0, 6, 0]] (3 nonzero of 8)
    dense = Dense((4,), (2,), np.array([[2, 0, 0, 4], [0, 0, 6, 0]]), 0, 8, LIF(4095, 0, 1))
    net = Network((Input((4,), LIF(0, 0, 1)), dense), (4,))
    s_in = np.array([[1, 0], [1, 1], [0, 1], [1, 1]], bool)  # (4 neurons, 2 steps)
    res = {"layer0/s": s_in, "layer1/s": np.zeros((2, 2), bool)}
    act = layer_activity(net, res)
    # step 0: inputs 0, 1, 3 -> fan 1 + 0 + 1; step 1: inputs 1, 2, 3 -> 0 + 1 + 1
    assert act.layers[1].synops.tolist() == [2, 2]
    assert act.layers[1].synops_all.tolist() == [6, 6]
    nb = neurobench_metrics(act, net)
    assert nb["effective_acs"] == 4 and nb["effective_macs"] == 0
    assert nb["dense_synops"] == 8 * 2
    assert nb["activation_sparsity"] == pytest.approx(1 - 6 / 12)
    assert nb["connection_sparsity"] == pytest.approx(5 / 8)
    # 2 layers x 8 B constants, 6 neurons x 6 B states, 8 weights x 1 B, 2 biases x 2 B
    assert footprint_bytes(net) == 16 + 36 + 8 + 4 == nb["footprint_bytes"]


def test_flatten_order_round_trip() -> None:
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)  # (B, W, H, C)
    flat = flatten_order(x)
    assert flat[1, 2 * 4 * 3 + 1 * 3 + 2] == x[1, 2, 1, 2]  # c*H*W + h*W + w
    assert np.array_equal(unflatten_order(flat, (3, 4, 5)), x)


def _loihi2_net() -> Network:
    """Delta input -> dense SigmaDelta with delays -> recurrent LIF (graded input)."""
    rng = np.random.default_rng(8)
    w1, b1, e1 = netx_dense_weights(rng.integers(-90, 90, (6, 4)) * (rng.random((6, 4)) < .7))
    delayed = Dense((4,), (6,), w1, e1, b1, SigmaDelta(0, spike_exp=3),
                    delay=rng.integers(0, 4, (6, 4)))
    w2, b2, e2 = netx_dense_weights(rng.integers(-90, 90, (5, 6 + 5)) * (rng.random((5, 11)) < .6))
    rec = RecurrentDense((6,), (5,), w2[:, :6], e2, b2, LIF(1000, 100, 2), weight_rec=w2[:, 6:])
    return Network((Input((4,), Delta(1, spike_exp=3)), delayed, rec), (4,))


def test_graded_delayed_recurrent_counts_by_hand() -> None:
    """Messages are nonzero payloads; SynOps = messages x nonzero synapses reached, with a
    recurrent layer's own messages through its recurrent weights; graded inputs are MACs."""
    net = _loihi2_net()
    x = np.random.default_rng(9).integers(-50, 50, (2, 4, 12))
    res = fast.simulate(net, 12, spikes=x)
    act = layer_activity(net, res)
    s0, s1, s2 = (res[f"layer{i}/s"] != 0 for i in (0, 1, 2))
    w1 = net.layers[1].chip_weight() != 0
    w2, w2r = net.layers[2].chip_weight() != 0, net.layers[2].chip_weight_rec() != 0
    want1 = [sum(int(w1[n, m]) * int(s0[b, m, t]) for b in range(2) for n in range(6)
                 for m in range(4)) for t in range(12)]
    want2 = [sum(int(w2[n, m]) * int(s1[b, m, t]) for b in range(2) for n in range(5)
                 for m in range(6)) + sum(int(w2r[n, m]) * int(s2[b, m, t]) for b in range(2)
                                          for n in range(5) for m in range(5))
             for t in range(12)]
    assert act.layers[1].synops.tolist() == want1 and act.layers[2].synops.tolist() == want2
    assert act.layers[0].spikes.sum() == s0.sum() > 0
    assert [x.binary_input for x in act.layers[1:]] == [False, False]
    assert [x.payload_bits for x in act.layers] == [16, 16, 0]
    assert [x.delay_slots for x in act.layers] == [0, 4, 0]
    assert act.layers[2].synapses == 5 * 11 and act.active_exact
    nb = neurobench_metrics(act, net)
    assert nb["effective_macs"] == (sum(want1) + sum(want2)) / 2 and nb["effective_acs"] == 0
