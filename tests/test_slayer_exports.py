"""Networks built and exported by lava-dl's own slayer blocks (random weights) load in our
reader and run in the fast simulator exactly as Lava runs lava-dl's file.

Blocks: ``sigma_delta.Dense`` and ``Conv`` (graded input, ``input_message_bits=16``, also
checked against slayer's own output as lava-dl's tests do), ``cuba.Dense`` with learned
delays, ``cuba.Recurrent`` (``dense_rec``), ``rf.Dense`` (complex weights, RF_PHASE).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

torch = pytest.importorskip("torch")
slayer = pytest.importorskip("lava.lib.dl.slayer")

from scnn.sim import fast  # noqa: E402
from scnn.sim.network import RF, ComplexDense, RecurrentDense  # noqa: E402
from scnn.sim.netx import read_netx  # noqa: E402

CUBA = {"threshold": 0.5, "current_decay": 0.5, "voltage_decay": 0.5}
STEPS = 40


def _export(block: object, path: Path) -> Path:
    with h5py.File(path, "w") as f:
        block.export_hdf5(f.create_group("layer/0"))
    return path


def _lava_on_file(path: Path, x: np.ndarray, **netx_args: object) -> np.ndarray:
    """lava-dl's own loader on lava-dl's file; the output block's spikes (N..., T)."""
    from scnn.sim import lava_backend

    lava_backend.free_start_method()
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io

    net = netx.hdf5.Network(net_config=str(path), **netx_args)
    source = io.source.RingBuffer(data=x.astype(np.int32))
    sink = io.sink.RingBuffer(shape=net.out.shape, buffer=x.shape[-1])
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    net.run(condition=RunSteps(num_steps=x.shape[-1]), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    try:
        return sink.data.get()
    finally:
        net.stop()


def _spikes(n: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, STEPS)) < 0.3).astype(np.int8)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(196)


@pytest.mark.lava
def test_sigma_delta_dense_block(tmp_path: Path) -> None:
    net = slayer.block.sigma_delta.Dense({"threshold": 0.1, "activation": torch.relu}, 10, 5)
    x = slayer.utils.quantize(torch.rand([1, 10, 10]), step=1 / net.neuron.w_scale)
    y = slayer.axon.delay(net(x))
    path = _export(net, tmp_path / "sdn_dense.net")
    ours = read_netx(path, input_message_bits=16)
    drive = (x[0] * net.neuron.s_scale).numpy().astype(np.int64)
    out = fast.simulate(ours, 10, spikes=drive)["layer0/s"]
    assert np.array_equal(out, (y[0] * net.neuron.s_scale).detach().numpy())  # lava-dl's check
    assert np.array_equal(out, _lava_on_file(path, drive, input_message_bits=16))


def test_sigma_delta_conv_block(tmp_path: Path) -> None:
    net = slayer.block.sigma_delta.Conv({"threshold": 0.1, "activation": torch.relu}, 3, 5, 3)
    x = slayer.utils.quantize(torch.rand([1, 3, 16, 24, 10]), step=1 / net.neuron.w_scale)
    y = slayer.axon.delay(net(x).permute((0, 3, 2, 1, 4)))
    path = _export(net, tmp_path / "sdn_conv.net")
    ours = read_netx(path, input_shape=(24, 16, 3), input_message_bits=16)
    drive = (x[0].permute((2, 1, 0, 3)) * net.neuron.s_scale).numpy().astype(np.int64)
    out = fast.simulate(ours, 10, spikes=drive)["layer0/s"]
    assert np.array_equal(out, (y[0] * net.neuron.s_scale).detach().numpy())


@pytest.mark.lava
def test_cuba_dense_with_learned_delays(tmp_path: Path) -> None:
    net = slayer.block.cuba.Dense(CUBA, 20, 8, delay=True)
    net((torch.rand(1, 20, 4) > 0.5).float())  # materialise the delays
    net.delay.delay.data = torch.randint(0, 70, net.delay.delay.shape).float()  # some clip
    path = _export(net, tmp_path / "cuba_delay.net")
    ours = read_netx(path)
    assert ours.layers[0].delay.max() == 62 and len(ours.layers[0].delays) > 2
    x = _spikes(20, 1)
    out = fast.simulate(ours, STEPS, spikes=x)["layer0/s"]
    assert out.any() and np.array_equal(out, _lava_on_file(path, x) != 0)


@pytest.mark.lava
def test_cuba_recurrent_block(tmp_path: Path) -> None:
    net = slayer.block.cuba.Recurrent(CUBA, 10, 6)
    net((torch.rand(1, 10, 4) > 0.5).float())
    path = _export(net, tmp_path / "cuba_rec.net")
    ours = read_netx(path)
    assert isinstance(ours.layers[0], RecurrentDense)
    x = _spikes(10, 2)
    out = fast.simulate(ours, STEPS, spikes=x)["layer0/s"]
    assert out.any() and np.array_equal(out, _lava_on_file(path, x) != 0)


@pytest.mark.lava
def test_rf_dense_block(tmp_path: Path) -> None:
    net = slayer.block.rf.Dense({"threshold": 0.5, "period": 7, "decay": 0.1}, 20, 8)
    net((torch.rand(1, 20, 4) > 0.5).float())
    path = _export(net, tmp_path / "rf.net")
    ours = read_netx(path)
    assert isinstance(ours.layers[0], ComplexDense) and type(ours.layers[0].neuron) is RF
    x = _spikes(20, 3)
    out = fast.simulate(ours, STEPS, spikes=x)["layer0/s"]
    assert np.array_equal(out, _lava_on_file(path, x) != 0)
