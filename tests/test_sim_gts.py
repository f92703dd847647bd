"""Golden files: lava-dl's ground truths (tinynet, dense, pilotnet_lif), exact equality.

Alignments follow lava-dl's own tests (see docs/LOIHI_FIXED_POINT.md).  ``gt(x)``
is ``x[0].transpose(2, 1, 0, 3)``: (1, C, H, W, T) -> Lava's (W, H, C, T).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scnn.sim import fast
from scnn.sim.network import LIF, Conv, Dense, Input, Network
from scnn.sim.netx import read_netx

PILOT_STEPS = 24
# pilotnet_lif layer index -> truth file stem (layer 6 is the flatten)
PILOT_LAYERS = {0: "input"} | {1 + k: f"conv-{k}" for k in range(5)} | \
    {7 + k: f"fc-{k}" for k in range(3)}


def gt(x: np.ndarray) -> np.ndarray:
    return x[0].transpose(2, 1, 0, 3)


def test_tinynet_reader_matches_lava_layout(lava_gts: Path) -> None:
    """netx's flip + transpose of tiny.net layer 1 gives lava-dl's layer1_kernel.npy."""
    net = read_netx(lava_gts / "tinynet" / "tiny.net")
    conv = net.layers[1]
    assert np.array_equal(conv.weight, np.load(lava_gts / "tinynet" / "layer1_kernel.npy"))
    assert np.array_equal(conv.neuron.bias, np.load(lava_gts / "tinynet" / "layer1_bias.npy"))
    assert (conv.neuron.du, conv.neuron.dv, conv.neuron.vth, conv.neuron.bias_exp) == \
        (4095, 1024, 25, 6)


def test_tinynet_input_layer(lava_gts: Path) -> None:
    net = read_netx(lava_gts / "tinynet" / "tiny.net")
    alone = Network(net.layers[:1], net.input_shape)
    out = fast.simulate(alone, 15, bias=np.load(lava_gts / "tinynet" / "input_bias.npy"))
    assert np.array_equal(out["layer0/s"], gt(np.load(lava_gts / "tinynet" / "input.npy"))[..., 1:])


def test_tinynet_first_conv_layer(lava_gts: Path) -> None:
    """Fed gt(input)[..., 1:] (ring buffer wraps on step 16); u, v zeroed after step 1."""
    d = lava_gts / "tinynet"
    conv = Conv((16, 16, 3), (6, 6, 24), np.load(d / "layer1_kernel.npy"), stride=2,
                neuron=LIF(4095, 1024, 25, np.load(d / "layer1_bias.npy")))
    net = Network((Input((16, 16, 3)), conv), (16, 16, 3))
    x = gt(np.load(d / "input.npy"))[..., 1:]
    x = np.concatenate([x, x[..., :1]], axis=-1).astype(np.int8)
    # reset at the start of step 2 == zeroing after step 1 (only neuron layer: phase O + 1)
    out = fast.simulate(net, 16, spikes=x, reset_interval=100, reset_offset=1)
    s = out["layer1/s"].copy()
    s[..., 0] = 0
    assert np.array_equal(s, gt(np.load(d / "layer1.npy")))
    assert np.array_equal(out["layer1/u"], gt(np.load(d / "current.npy")) * 64)


def test_tinynet_whole_network(lava_gts: Path) -> None:
    """lava-dl's Reset(interval 17, offset i - 1) == netx reset_interval 17, offset 0."""
    net = read_netx(lava_gts / "tinynet" / "tiny.net")
    steps = 17 + len(net.neuron_layers)
    out = fast.simulate(net, steps, bias=np.load(lava_gts / "tinynet" / "input_bias.npy"),
                        reset_interval=17, record=("s",))
    want = gt(np.load(lava_gts / "tinynet" / "output.npy"))[..., 1:]
    assert np.array_equal(out["layer2/s"][..., 2:17], want)


def test_dense_2000_steps(lava_gts: Path) -> None:
    """lava-dl's Dense block: weight.npy as given (no optimize), 8 weight bits, exponent 0."""
    d = lava_gts / "dense"
    layer = Dense((200,), (256,), np.load(d / "weight.npy"), 0, 8, LIF(4095, 415, 6))
    out = fast.simulate(Network((layer,), (200,)), 2000,
                        spikes=np.load(d / "in.npy").astype(np.int8), record=("s", "u"))
    assert np.array_equal(out["layer0/s"], np.load(d / "out.npy"))
    assert np.array_equal(out["layer0/u"], np.load(d / "current.npy") * 64)


@pytest.fixture(scope="module")
def pilot(lava_gts: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """The silicon truths are LIFReset with interval 17 (tSample 16 + 1), offset 0."""
    d = lava_gts / "pilotnet_lif"
    net = read_netx(d / "network.net")
    out = fast.simulate(net, PILOT_STEPS, bias=np.load(d / "image.npy"), reset_interval=17,
                        silicon_v=False)
    return d, out


@pytest.mark.parametrize("index", sorted(PILOT_LAYERS))
def test_pilotnet_spikes_every_step(pilot: tuple[Path, dict], index: int) -> None:
    d, out = pilot
    assert np.array_equal(out[f"layer{index}/s"], np.load(d / f"{PILOT_LAYERS[index]}.npy"))


@pytest.mark.parametrize("index", [i for i in sorted(PILOT_LAYERS) if i >= 2])
def test_pilotnet_u_and_v_every_step(pilot: tuple[Path, dict], index: int) -> None:
    d, out = pilot
    stem = PILOT_LAYERS[index]
    s = np.load(d / f"{stem}.npy")
    u, v = np.load(d / f"{stem}-u.npy"), np.load(d / f"{stem}-v.npy")
    assert np.array_equal(out[f"layer{index}/u"], u)
    assert np.array_equal(out[f"layer{index}/v"][~s], v[~s])  # Lava reads 0 where it spiked
    assert np.all(out[f"layer{index}/v"][s] == 0)
    assert np.all(v[s] == 128)  # silicon reads 128 there


def test_pilotnet_silicon_v_reading(lava_gts: Path) -> None:
    d = lava_gts / "pilotnet_lif"
    out = fast.simulate(read_netx(d / "network.net"), PILOT_STEPS, bias=np.load(d / "image.npy"),
                        reset_interval=17, record=("v",), silicon_v=True)
    assert set(out) == {f"layer{i}/v" for i in (0, 1, 2, 3, 4, 5, 7, 8, 9, 10)}
    for index in (2, 3, 4, 5, 7, 8, 9):
        assert np.array_equal(out[f"layer{index}/v"], np.load(d / f"{PILOT_LAYERS[index]}-v.npy"))


def test_pilotnet_lava_dl_reset_16_agrees_until_second_reset(lava_gts: Path) -> None:
    """lava-dl passes reset_interval=16 and checks step 15: identical there; the silicon
    truths only part from interval 16 at a layer's second reset (step 17 + j)."""
    d = lava_gts / "pilotnet_lif"
    out = fast.simulate(read_netx(d / "network.net"), PILOT_STEPS, bias=np.load(d / "image.npy"),
                        reset_interval=16, record=("s",))
    differs = []
    for j, index in enumerate(sorted(PILOT_LAYERS)):
        truth, got = np.load(d / f"{PILOT_LAYERS[index]}.npy"), out[f"layer{index}/s"]
        assert np.array_equal(got[..., :16 + j], truth[..., :16 + j])
        differs.append(not np.array_equal(got, truth))
    assert differs[0] and differs[1]


def test_pilotnet_fc3_files(lava_gts: Path) -> None:
    """fc-3-{s,u,v}.npy: (1, 25) float64, one neuron (layer 10: du 4095, dv 0, vth 131071)
    over 25 steps of another run (its inputs -84, -60, 10 are sums of the layer's weights
    that the fc-2 truths never produce).  They are a LIF trace with u = a_in << 6 and
    resets at steps 9 and 25 (interval 16); drive layer 10's neuron with that a_in."""
    d = lava_gts / "pilotnet_lif"
    u, v, s = (np.load(d / f"fc-3-{k}.npy") for k in "uvs")
    assert u.shape == v.shape == s.shape == (1, 25) and u.dtype == np.float64
    neuron = read_netx(d / "network.net").layers[10].neuron
    values = np.unique(u[u != 0] / 64).astype(int)  # the distinct a_in values
    one_hot = np.zeros((values.size, 25), np.int8)  # spike on input k the step before a_in
    for t in np.flatnonzero(u[0]):
        one_hot[np.flatnonzero(values == u[0, t] / 64), t - 1] = 1
    layer = Dense((values.size,), (1,), values[None, :], 0, 8, neuron)
    out = fast.simulate(Network((layer,), (values.size,)), 25, spikes=one_hot,
                        reset_interval=16, reset_offset=8)  # phase (8 + 1) % 16 = 9
    assert np.array_equal(out["layer0/u"], u) and np.array_equal(out["layer0/v"], v)
    assert np.array_equal(out["layer0/s"], s.astype(bool))


@pytest.mark.lava
def test_lava_reproduces_pilotnet_truths(lava_gts: Path) -> None:
    """The oracle itself: Lava fixed_pt, 24 steps, interval 17, layers conv-4, fc-1, fc-2
    (small layers: reading big arrays back from Lava is slow)."""
    from scnn.sim import lava_backend

    d = lava_gts / "pilotnet_lif"
    out = lava_backend.simulate(read_netx(d / "network.net"), PILOT_STEPS,
                                bias=np.load(d / "image.npy"), reset_interval=17,
                                layers=(5, 8, 9))
    for index in (5, 8, 9):
        stem = PILOT_LAYERS[index]
        s = np.load(d / f"{stem}.npy")
        assert np.array_equal(out[f"layer{index}/s"], s)
        assert np.array_equal(out[f"layer{index}/u"], np.load(d / f"{stem}-u.npy"))
        assert np.array_equal(out[f"layer{index}/v"][~s], np.load(d / f"{stem}-v.npy")[~s])
