"""The oracle: run a Network in Lava (``Loihi2SimCfg(select_tag='fixed_pt')``, CPU).

The network is written to a temporary .net and loaded by lava-dl's
``netx.hdf5.Network`` (with ``reset_interval``/``reset_offset`` as given), so
Lava's own loader and fixed-point process models compute every bit.  Layer 0's
bias is set on the input neuron's ``bias_mant``; external spikes (or an SDNN input
layer's integers) come from an ``io.source.RingBuffer`` into the input neuron's
``a_in`` (Input layer) or the network's input port (synapse-first networks).  Spikes
(graded payloads included) and each neuron kind's states are written
to .npy files by ``sim.lava_rec``'s recorders (Lava's own sinks and Monitors read back
one value at a time).  Samples of a batch run one after
another (Lava has no batch axis).  Results as ``sim.drive`` describes.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import sys
import tempfile
from pathlib import Path

import numpy as np

from scnn.sim.drive import VARIABLES, Drive, finish, make_drive, spike_dtype
from scnn.sim.network import LIF, Conv, Input, Network
from scnn.sim.netx import spike_exp_of, write_netx


def _input_bias(net: Network, drive: Drive, b: int) -> np.ndarray | None:
    first = net.layers[0]
    if not isinstance(first, Input) or not isinstance(first.neuron, LIF):
        return None
    bias = drive.bias[b] if drive.bias is not None else first.neuron.bias
    return np.broadcast_to(bias, first.shape).astype(np.int32)


def import_netx():  # -> the lava.lib.dl.netx module
    """lava-dl's netx, imported without the notices lava-dl prints on import ("No CUDA
    runtime is found ...", "Prophesee Dataset Toolbox could not be found ...": it is
    CPU-only here and needs neither); real errors still raise."""
    if "lava.lib.dl.netx" not in sys.modules:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            import lava.lib.dl.netx  # noqa: F401
    return sys.modules["lava.lib.dl.netx"]


def _load(net: Network, path: Path, drive: Drive):  # -> netx.hdf5.Network
    netx = import_netx()

    first = net.layers[0]
    if isinstance(first, Input) and isinstance(first.neuron, LIF):
        net = net.with_input_bias(np.zeros((), np.int64))
    write_netx(net, path)
    kwargs = {"input_shape": net.input_shape} if isinstance(first, Conv) else {}
    kwargs["spike_exp"] = spike_exp_of(net)
    kwargs["input_message_bits"] = net.input_message_bits
    if drive.reset_interval is not None:
        kwargs.update(reset_interval=drive.reset_interval, reset_offset=drive.reset_offset)
    return netx.hdf5.Network(net_config=str(path), **kwargs)


def _probes(lava_net, net: Network, drive: Drive, workdir: Path, b: int
            ) -> dict[tuple[int, str], Path]:
    """Recorders for every recorded variable of sample b: spikes from s_out, u and v read
    as Vars; each fills the .npy file in ``workdir`` it is mapped to."""
    from scnn.sim.lava_rec import SpikeFile, VarFile, create

    files = {}
    for j, block in enumerate(lava_net.layers):
        i = net.neuron_layers[j]
        for var in drive.variables[i]:
            if not drive.records(i, var):
                continue
            path = workdir / f"sample{b}-{var}{j}.npy"
            if var == "s":
                shape = block.neuron.s_out.shape
                create(path, shape, drive.steps)
                block.neuron.s_out.connect(SpikeFile(shape=shape, path=path).a_in)
            else:
                target = getattr(block.neuron, var)
                create(path, target.shape, drive.steps)
                VarFile(shape=target.shape, path=path).ref.connect_var(target)
            files[j, var] = path
    return files


def _flat_if_needed(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Spikes (*neurons, T) as int32; flattened C-major ((W, H, C) -> c*H*W + h*W + w) when
    a Flatten precedes the first Lava block (netx then exposes the dense input port)."""
    if x.shape[:-1] != tuple(shape):
        k = x.ndim - 1
        x = x.transpose(tuple(range(k - 1, -1, -1)) + (k,)).reshape(-1, x.shape[-1])
    return x.astype(np.int32)


def _run_sample(net: Network, drive: Drive, b: int, workdir: Path) -> dict[str, np.ndarray]:
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io

    lava_net = _load(net, workdir / f"net{b}.net", drive)
    bias = _input_bias(net, drive, b)
    if bias is not None:
        lava_net.in_layer.neuron.bias_mant.init = bias
    if drive.spikes is not None:
        first = net.layers[0]
        port = lava_net.in_layer.neuron.a_in if isinstance(first, Input) and \
            first.neuron is not None else lava_net.inp
        source = io.source.RingBuffer(data=_flat_if_needed(drive.spikes[b], port.shape))
        source.s_out.connect(port)
    probes = _probes(lava_net, net, drive, workdir, b)
    lava_net.run(condition=RunSteps(num_steps=drive.steps),
                 run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    try:
        return {f"layer{i}/{var}": np.load(probes[j, var])
                for j, i in enumerate(net.neuron_layers) for var in drive.needed
                if drive.records(i, var)}
    finally:
        lava_net.stop()


LAVA_MP_MODULE = "lava.magma.runtime.message_infrastructure.multiprocessing"


def free_start_method() -> None:
    """Let Lava's runtime import succeed in a process that already fixed a start method.

    Importing Lava's message infrastructure calls ``mp.set_start_method('fork')``, which
    raises "context has already been set" if anything in the process asked for the start
    method first (the default on Linux is fork too). Reset it once, before that import.
    """
    if LAVA_MP_MODULE not in sys.modules and multiprocessing.get_start_method(allow_none=True):
        multiprocessing.set_start_method(None, force=True)


def simulate(net: Network, steps: int, spikes: np.ndarray | None = None,
             bias: np.ndarray | None = None, reset_interval: int | None = None,
             reset_offset: int = 0, record: tuple[str, ...] = VARIABLES,
             silicon_v: bool = False, layers: tuple[int, ...] | None = None
             ) -> dict[str, np.ndarray]:
    """Run ``net`` in Lava sample by sample; same arguments and results as ``sim.fast``."""
    free_start_method()
    drive = make_drive(net, steps, spikes, bias, reset_interval, reset_offset, record, silicon_v,
                       layers)
    if drive.batch == 0:  # nothing to run: empty arrays, as the other backends give
        return finish({f"layer{i}/{var}": np.zeros((0,) + net.layers[i].shape + (drive.steps,),
                                                   spike_dtype(net, f"layer{i}/{var}"))
                       for i in net.neuron_layers for var in drive.needed
                       if drive.records(i, var)}, drive)
    with tempfile.TemporaryDirectory(prefix="scnn-lava-") as tmp:
        samples = [_run_sample(net, drive, b, Path(tmp)) for b in range(drive.batch)]
    out = {key: np.stack([s[key] for s in samples]) for key in samples[0]}
    out = {key: (value != 0) if spike_dtype(net, key) is bool else value.astype(np.int32)
           for key, value in out.items()}
    return finish(out, drive)
