"""Lava processes that record spikes (``SpikeFile``) and neuron variables (``VarFile``)
into .npy files, step by step.

Lava's own recorders (``io.sink.RingBuffer``, ``Monitor``) hold their data in a Var, and
reading a Var back sends it one element at a time (``PyLoihiProcessModel._get_var``):
about 46 s for PilotNet's spikes over 15 steps.  These write each step into a
memory-mapped .npy the caller created (``create``), so the caller reads it directly.
They live in their own package because Lava's compiler imports every module beside a
process to find its models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class SpikeFile(AbstractProcess):
    """Records its input of every step t (1-based) into ``path[..., t - 1]``.

    ``path`` must hold an int32 .npy of shape ``shape + (steps,)`` (see ``create``).
    """

    def __init__(self, *, shape: tuple[int, ...], path: str) -> None:
        super().__init__(shape=shape, path=str(path))
        self.a_in = InPort(shape=shape)



def create(path: Path, shape: tuple[int, ...], steps: int) -> None:
    """An int32 .npy of shape ``shape + (steps,)`` for a recorder to fill."""
    np.lib.format.open_memmap(path, mode="w+", dtype=np.int32, shape=shape + (steps,))


class VarFile(AbstractProcess):
    """Records the value of a Var after every step t (1-based) into ``path[..., t - 1]``,
    read through a RefPort in the management phase, as Lava's Monitor reads it."""

    def __init__(self, *, shape: tuple[int, ...], path: str) -> None:
        super().__init__(shape=shape, path=str(path))
        self.ref = RefPort(shape=shape)


class _FileModel(PyLoihiProcessModel):
    """Opens the caller's .npy as a shared file mapping (writes are visible at once)."""

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.out = np.load(proc_params["path"], mmap_mode="r+")


@implements(proc=SpikeFile, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeFileModel(_FileModel):
    """Writes each step's input spikes."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)

    def run_spk(self) -> None:
        self.out[..., self.time_step - 1] = self.a_in.recv()


@implements(proc=VarFile, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyVarFileModel(_FileModel):
    """Reads the Var after each step's spiking phase."""

    ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32)

    def post_guard(self) -> bool:
        return True

    def run_post_mgmt(self) -> None:
        self.out[..., self.time_step - 1] = self.ref.read()
