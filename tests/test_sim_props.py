"""Property tests: fast == reference loop (many random networks), fast == Lava (few).

Networks are drawn by hypothesis (derandomised, so runs are reproducible): random
shapes, kernels, strides, padding, dilation, groups, weights up to 2**19 (24-bit
conv wrap, u wrap), decays including 0 and 4095, thresholds up to 2**17 - 1,
biases and inputs, resets; explicit cases pin the wraps and the voltage clip.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from scnn.hw import fixed_point as fx
from scnn.hw.errors import ScnnError
from scnn.sim import fast, reference
from scnn.sim.network import (
    LIF,
    Conv,
    Dense,
    Flatten,
    Input,
    Network,
    NetworkError,
    conv_output_shape,
    networks_equal,
)
from scnn.sim.netx import netx_dense_weights, read_netx, write_netx

FAST_VS_REF = settings(max_examples=150, deadline=None, derandomize=True,
                       suppress_health_check=[HealthCheck.too_slow])
FAST_VS_LAVA = settings(max_examples=30, deadline=None, derandomize=True,
                        suppress_health_check=[HealthCheck.too_slow])


def _lif(draw: st.DrawFn, rng: np.random.Generator, shape: tuple[int, ...],
         lava_safe: bool) -> LIF:
    du = draw(st.sampled_from([0, 1, 2048, 4094, 4095]) | st.integers(0, 4095))
    dv = draw(st.sampled_from([0, 1, 1024, 4095]) | st.integers(0, 4095))
    vth = draw(st.sampled_from([0, 1, 25, fx.VTH_MAX]) | st.integers(0, 3000))
    scale = draw(st.sampled_from([0, 8, 64, 4096]))
    bias_shape = draw(st.sampled_from([(), shape[-1:], shape]))
    bias = rng.integers(-scale, scale, bias_shape) if scale else np.zeros(bias_shape, int)
    bias_exp = 6 if lava_safe else draw(st.integers(0, 7))
    return LIF(du, dv, vth, np.clip(bias, fx.BIAS_MANT_MIN, fx.BIAS_MANT_MAX), bias_exp)


def _conv(draw: st.DrawFn, rng: np.random.Generator, shape: tuple[int, ...],
          lava_safe: bool) -> Conv:
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    c_in = shape[2]
    groups = draw(st.sampled_from([1, c_in]))
    c_out = groups * draw(st.integers(1, 3))
    out = conv_output_shape(shape, c_out, kernel, stride, padding, dilation)
    assume(min(out) >= 1)
    wmax = draw(st.sampled_from([1, 10, 255, 1 << 15, 1 << 19, 1 << 22]))
    weight = rng.integers(-wmax, wmax + 1, (c_out,) + kernel + (c_in // groups,))
    return Conv(shape, out, weight, stride, padding, dilation, groups,
                _lif(draw, rng, out, lava_safe))


def _dense(draw: st.DrawFn, rng: np.random.Generator, n_in: int, lava_safe: bool) -> Dense:
    n_out = draw(st.integers(1, 6))
    lo, hi = draw(st.sampled_from([(-256, 254), (0, 255), (-256, -1), (-3, 3), (-128, 127)]))
    step = draw(st.sampled_from([1, 2, 8]))
    w = np.clip(rng.integers(lo // step, hi // step + 1, (n_out, n_in)) * step, lo, hi)
    w[0, 0] = hi if hi != 0 else lo  # never all zero
    neuron = _lif(draw, rng, (n_out,), lava_safe)
    if lava_safe or draw(st.booleans()):
        weight, bits, exp = netx_dense_weights(w)
        return Dense((n_in,), (n_out,), weight, exp, bits, neuron)
    bits = draw(st.integers(1, 8))
    return Dense((n_in,), (n_out,), w, draw(st.integers(-8, 8)), bits, neuron)


@st.composite
def networks(draw: st.DrawFn, lava_safe: bool = False) -> Network:
    """Input (LIF or port) -> 0..2 conv -> [flatten] -> 0..2 dense, at least one synapse
    layer or an input LIF."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (draw(st.integers(2, 6)), draw(st.integers(2, 6)), draw(st.integers(1, 3)))
    with_lif = draw(st.booleans())
    layers: list = [Input(shape, _lif(draw, rng, shape, lava_safe).with_bias(0)
                          if with_lif else None)]
    for _ in range(draw(st.integers(0, 2))):
        layers.append(_conv(draw, rng, layers[-1].shape, lava_safe))
    n_dense = draw(st.integers(0, 2))
    if n_dense:
        layers.append(Flatten(layers[-1].shape))
    for _ in range(n_dense):
        layers.append(_dense(draw, rng, layers[-1].shape[0], lava_safe))
    assume(len(layers) > 1 or with_lif)
    return Network(tuple(layers), shape)


@st.composite
def runs(draw: st.DrawFn, lava_safe: bool = False, max_batch: int = 3) -> tuple:
    """(network, kwargs for simulate)."""
    net = draw(networks(lava_safe))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    steps = draw(st.integers(1, 10))
    batch = draw(st.sampled_from([None] + list(range(1, max_batch + 1))))
    lead = () if batch is None else (batch,)
    kwargs: dict = {"reset_interval": None}
    first = net.layers[0]
    if first.neuron is None or draw(st.booleans()):
        density = draw(st.sampled_from([0.1, 0.5, 1.0]))
        kwargs["spikes"] = (rng.random(lead + net.input_shape + (steps,)) < density).astype(np.int8)
    if first.neuron is not None and draw(st.booleans()):
        scale = draw(st.sampled_from([4, 64, 4096]))
        kwargs["bias"] = rng.integers(-scale, scale, lead + first.shape)
    if draw(st.booleans()):
        kwargs["reset_interval"] = draw(st.integers(1, 6))
        kwargs["reset_offset"] = draw(st.integers(0, 5))
    return net, steps, kwargs


def _events(net: Network, out: dict[str, np.ndarray]) -> None:
    """Label what an example exercised (see --hypothesis-show-statistics)."""
    for layer in net.layers:
        event(layer.kind)
        if isinstance(layer, Conv):
            if np.abs(layer.weight).sum(axis=(1, 2, 3)).max() >= fx.UV_LIMIT:
                event("conv sums can wrap at 24 bits")
    for key, value in out.items():
        if key.endswith("/u") and value.size and np.abs(value).max() >= fx.UV_LIMIT // 2:
            event("|u| >= 2**22")
        if key.endswith("/v") and value.size and np.abs(value).max() == fx.V_MAX:
            event("v saturated")
        if key.endswith("/s") and value.any():
            event("spikes")


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].shape == b[key].shape, key
        assert np.array_equal(a[key], b[key]), key


@FAST_VS_REF
@given(runs())
def test_fast_equals_reference(run: tuple) -> None:
    net, steps, kwargs = run
    out = fast.simulate(net, steps, **kwargs)
    _events(net, out)
    _assert_same(out, reference.simulate(net, steps, **kwargs))


def _wide_conv_net(seed: int, c_in: int, c_out: int, stride: int, scale: int) -> Network:
    """Input LIF -> two ordinary convs (inside fast's int8 envelope); conv1's weights are
    int8 times ``scale`` (a power of two), or odd and beyond int8 when ``scale`` is 0."""
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(4, 8)), int(rng.integers(4, 8)), c_in)
    first = Input(shape, LIF(int(rng.integers(0, 4096)), 1024, 20))
    w1 = rng.integers(-127, 128, (c_out, 3, 2, c_in)) * scale if scale else \
        rng.integers(-300, 300, (c_out, 3, 2, c_in)) | 1
    conv1 = Conv(shape, conv_output_shape(shape, c_out, (3, 2), (stride, 1), (1, 0), (1, 1)),
                 w1, (stride, 1), (1, 0),
                 neuron=LIF(4095, 1024, 25 * max(scale, 4), rng.integers(-30, 60, c_out)))
    conv2 = Conv(conv1.shape, conv_output_shape(conv1.shape, 8, (2, 2), (1, 1), (0, 0), (1, 1)),
                 rng.integers(-20, 20, (8, 2, 2, c_out)),
                 neuron=LIF(int(rng.integers(0, 4096)), 512, 10))
    return Network((first, conv1, conv2), shape)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1), st.integers(3, 4), st.integers(8, 10), st.integers(1, 2),
       st.sampled_from([1, 2, 8, 0]))
def test_fast_equals_reference_wide_convs(seed: int, c_in: int, c_out: int, stride: int,
                                          scale: int) -> None:
    """Ordinary convs (fast's int8 oneDNN path, scaled weights, the float path) vs reference."""
    net = _wide_conv_net(seed, c_in, c_out, stride, scale)
    assert (fast._ConvSynapse(net.layers[1]).packed is not None) == bool(scale)
    assert fast._ConvSynapse(net.layers[2]).packed is not None
    rng = np.random.default_rng(seed + 1)
    kwargs = {"bias": rng.integers(0, 80, (2,) + net.input_shape), "reset_interval": 5}
    _assert_same(fast.simulate(net, 8, **kwargs), reference.simulate(net, 8, **kwargs))


def test_int8_scale() -> None:
    assert fast._int8_scale(np.array([-128, 0, 127])) == 1
    assert fast._int8_scale(np.array([-256, 2, 254])) == 2
    assert fast._int8_scale(np.array([-1024, 8, 1016])) == 8
    assert fast._int8_scale(np.array([-256, 1, 254])) is None  # odd and wider than int8
    assert fast._int8_scale(np.array([128, 2])) == 2
    assert fast._int8_scale(np.zeros(3, int)) == 1


def test_int8_path_falls_back_when_onednn_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """A layer whose int8 convolution differs from the float one on the probe runs in float."""
    net = _wide_conv_net(3, 3, 8, 1, 1)
    honest = fast._ConvSynapse._int8
    monkeypatch.setattr(fast._ConvSynapse, "_int8", lambda self, s: honest(self, s) + 1)
    assert fast._ConvSynapse(net.layers[1]).packed is None
    kwargs = {"bias": np.random.default_rng(0).integers(0, 80, net.input_shape)}
    _assert_same(fast.simulate(net, 6, **kwargs), reference.simulate(net, 6, **kwargs))


def test_synapses_are_built_once_per_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeated runs of one network reuse its packed synapses; another network gets its own."""
    built = []
    init = fast._ConvSynapse.__init__
    monkeypatch.setattr(fast._ConvSynapse, "__init__",
                        lambda self, layer: built.append(layer) or init(self, layer))
    net, other = _wide_conv_net(3, 3, 8, 1, 1), _wide_conv_net(3, 3, 8, 1, 1)
    bias = np.random.default_rng(0).integers(0, 80, net.input_shape)
    first = fast.simulate(net, 4, bias=bias)
    _assert_same(fast.simulate(net, 4, bias=bias), first)
    assert built == list(net.layers[1:])
    fast.simulate(other, 4, bias=bias)
    assert built == list(net.layers[1:]) + list(other.layers[1:])


@pytest.mark.parametrize("limit", ["CHUNK_BYTES", "INNER_BYTES"])
def test_chunked_batch_equals_whole(monkeypatch: pytest.MonkeyPatch, limit: str) -> None:
    """A batch split into chunks (bounded memory) or each layer's work split into pieces
    (cache-sized) gives the same arrays as the whole batch at once."""
    net = _wide_conv_net(5, 3, 9, 2, 2)
    kwargs = {"bias": np.random.default_rng(1).integers(0, 80, (5,) + net.input_shape),
              "reset_interval": 4}
    whole = fast.simulate(net, 7, **kwargs)
    monkeypatch.setattr(fast, limit, 1)
    batches = []
    run = fast.kernels.lif_run
    monkeypatch.setattr(fast.kernels, "lif_run",
                        lambda a_in, *args: batches.append(a_in.shape[0]) or run(a_in, *args))
    _assert_same(fast.simulate(net, 7, **kwargs), whole)
    assert batches == [1] * 5 * len(net.neuron_layers)


@FAST_VS_REF
@given(networks(lava_safe=True))
def test_netx_round_trip(tmp_path_factory: pytest.TempPathFactory, net: Network) -> None:
    path = tmp_path_factory.mktemp("rt") / "net.net"
    assert networks_equal(read_netx(write_netx(net, path)), net)


def _import_lava() -> None:
    """Lava's import fixes the multiprocessing start method: free it when an earlier test
    (of this file alone) has already asked for it."""
    from scnn.sim import lava_backend

    lava_backend.free_start_method()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(-256, 254), (0, 255), (-256, -1), (-5, 5),
                                                   (-128, 0), (1, 3)]), st.integers(1, 16))
def test_dense_weight_rules_match_lava(seed: int, bounds: tuple[int, int], step: int) -> None:
    """netx_dense_weights == lava-dl's optimize_weight_bits; chip weights == Lava's
    clip_weights + truncate_weights."""
    _import_lava()
    from lava.lib.dl.netx.utils import optimize_weight_bits
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    rng = np.random.default_rng(seed)
    w = np.clip(rng.integers(bounds[0] // step, bounds[1] // step + 1, (4, 5)) * step, *bounds)
    assume(np.any(w))
    ours = netx_dense_weights(w)
    theirs = optimize_weight_bits(w.copy())
    assert np.array_equal(ours[0], theirs[0]) and ours[1:] == tuple(theirs[1:3])
    mode = determine_sign_mode(theirs[0])
    try:
        want = truncate_weights(clip_weights(theirs[0], mode, num_bits=8), mode, theirs[1])
    except ValueError:
        return
    layer = Dense((5,), (4,), ours[0], ours[2], ours[1], LIF(0, 0, 0))
    assert np.array_equal(layer.chip_weight(), want)


def test_wrap_helpers_match_lava() -> None:
    _import_lava()
    from lava.proc.conv.utils import signed_clamp

    x = np.arange(-(1 << 25), 1 << 25, 4099, dtype=np.int64)
    assert np.array_equal(fx.wrap_signed(x, 24), signed_clamp(x, bits=24))
    lim = fx.UV_LIMIT
    edges = np.array([lim, lim + 1, -lim, -lim + 1, -lim - 1, 3 * lim])
    assert fx.wrap_current(edges).tolist() == [lim, -lim + 1, lim, -lim + 1, lim - 1, lim]
    assert fx.rtz_shift(np.array([-4097, -4095, 4097]), 12).tolist() == [-1, 0, 1]


def _wrap_clip_network() -> tuple[Network, dict]:
    """u wraps (du 0, large conv weights), conv sums wrap at 24 bits, v clips (dv 0)."""
    big = np.full((2, 2, 2, 1), 1 << 21)
    big[1] *= -1
    conv = Conv((3, 3, 1), (2, 2, 2), big, neuron=LIF(0, 0, fx.VTH_MAX, np.array([4095, -4096])))
    net = Network((Input((3, 3, 1), LIF(0, 0, fx.VTH_MAX)), conv), (3, 3, 1))
    return net, {"bias": np.full((3, 3, 1), 4095)}


def test_wrap_and_clip_are_exercised() -> None:
    net, kwargs = _wrap_clip_network()
    out = fast.simulate(net, 40, **kwargs)
    _assert_same(out, reference.simulate(net, 40, **kwargs))
    v = out["layer1/v"]
    assert v.min() == fx.V_MIN  # voltage saturated
    u = out["layer1/u"]
    assert (np.diff(np.sign(u[:, :, 0, :]), axis=-1) < 0).any()  # u wrapped positive -> negative


def test_reader_rejects_unsupported_layers(tmp_path: Path, lava_gts: Path) -> None:
    src = lava_gts / "tinynet" / "tiny.net"
    path = tmp_path / "pool.net"
    path.write_bytes(src.read_bytes())
    with h5py.File(path, "r+") as f:
        del f["layer/2/type"]
        f["layer/2"].create_dataset("type", data=np.array([b"pool"], dtype="S10"))
    with pytest.raises(ScnnError, match=r"layer 2.*'pool'"):
        read_netx(path)
    with h5py.File(path, "r+") as f:
        del f["layer/2/type"]
        f["layer/2"].create_dataset("type", data=np.array([b"conv"], dtype="S10"))
        f["layer/1/neuron"].create_dataset("messageBits", data=np.int64(3))
    with pytest.raises(ScnnError, match=r"layer 1 \(conv\): messageBits on a CUBA neuron"):
        read_netx(path)


def test_network_validation_names_the_value() -> None:
    with pytest.raises(NetworkError, match="du = 4096"):
        LIF(4096, 0, 1)
    with pytest.raises(ValueError, match="bias mantissa"):
        LIF(0, 0, 1, np.array([5000]))
    with pytest.raises(ScnnError, match=r"input shape \(4,\) != previous output \(3,\)"):
        Network((Dense((4,), (2,), np.ones((2, 4)), neuron=LIF(0, 0, 1)),), (3,))


@pytest.mark.lava
def test_lava_wrap_and_clip() -> None:
    from scnn.sim import lava_backend

    net, kwargs = _wrap_clip_network()
    _assert_same(fast.simulate(net, 40, **kwargs), lava_backend.simulate(net, 40, **kwargs))


@pytest.mark.lava
@FAST_VS_LAVA
@given(runs(lava_safe=True, max_batch=1))
def test_fast_equals_lava(run: tuple) -> None:
    from scnn.sim import lava_backend

    net, steps, kwargs = run
    out = fast.simulate(net, steps, **kwargs)
    _events(net, out)
    _assert_same(out, lava_backend.simulate(net, steps, **kwargs))


def test_conv_first_network(tmp_path: Path) -> None:
    """No input entry: the file needs input_shape, as netx.hdf5.Network(input_shape=...)."""
    rng = np.random.default_rng(3)
    conv = Conv((5, 4, 2), (3, 2, 4), rng.integers(-90, 90, (4, 3, 3, 2)),
                neuron=LIF(10, 200, 2, rng.integers(-9, 9, 4)))
    net = Network((conv,), (5, 4, 2))
    spikes = (rng.random((5, 4, 2, 9)) < 0.4).astype(np.int8)
    _assert_same(fast.simulate(net, 9, spikes=spikes), reference.simulate(net, 9, spikes=spikes))
    path = write_netx(net, tmp_path / "conv.net")
    with pytest.raises(ScnnError, match="layer 0 \\(conv\\).*input shape"):
        read_netx(path)
    assert networks_equal(read_netx(path, input_shape=(5, 4, 2)), net)


@pytest.mark.lava
def test_lava_conv_first_network() -> None:
    from scnn.sim import lava_backend

    rng = np.random.default_rng(4)
    conv = Conv((5, 4, 2), (3, 2, 4), rng.integers(-90, 90, (4, 3, 3, 2)),
                neuron=LIF(10, 200, 2, rng.integers(-9, 9, 4)))
    net = Network((conv,), (5, 4, 2))
    spikes = (rng.random((5, 4, 2, 9)) < 0.4).astype(np.int8)
    _assert_same(fast.simulate(net, 9, spikes=spikes),
                 lava_backend.simulate(net, 9, spikes=spikes))


def test_no_spikes_and_no_input_neurons_runs_on_silence() -> None:
    """Spikes are optional: synapse-first networks without them see all-zero input."""
    rng = np.random.default_rng(0)
    conv = Conv((4, 5, 3), (3, 4, 8), rng.integers(-5, 5, (8, 2, 2, 3)),
                neuron=LIF(100, 200, 1, rng.integers(0, 50, 8)))
    dense = Dense((60,), (4,), rng.integers(-100, 100, (4, 60)), neuron=LIF(0, 0, 1, 30))
    for layers in ((Input((4, 5, 3)), conv), (conv,), (Input((4, 5, 3)), Flatten((4, 5, 3)),
                                                       dense)):
        net = Network(layers, (4, 5, 3))
        out = fast.simulate(net, 5)
        assert any(v.any() for k, v in out.items() if k.endswith("/s"))  # biases alone spike
        _assert_same(out, reference.simulate(net, 5))


def test_empty_batch() -> None:
    shape = (4, 4, 3)
    net = Network((Input(shape, LIF(0, 0, 1)),), shape)
    kwargs = {"bias": np.zeros((0,) + shape, int)}
    out = fast.simulate(net, 4, **kwargs)
    assert out["layer0/s"].shape == (0,) + shape + (4,)
    _assert_same(out, reference.simulate(net, 4, **kwargs))


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4, 5)])
def test_input_must_be_flat_or_a_map(shape: tuple[int, ...]) -> None:
    with pytest.raises(NetworkError, match="must be"):
        Input(shape, LIF(0, 0, 1))
