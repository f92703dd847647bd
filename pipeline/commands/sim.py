"""``scnn sim``: run a NetX network bit-exactly (fast simulator or Lava) and save states.

Arrays in and out use Lava's neuron order ((W, H, C) for conv/input layers,
(N,) for dense) with time as the last axis and an optional leading batch axis:
``--bias`` ([B,] *layer0_shape), ``--input`` ([B,] *input_shape, steps): 0/1 spikes,
or integers into an SDNN network's Delta input layer; the output .npz holds
``layer<i>/s`` (bool spikes, int32 graded payloads) and the layer's neuron states
(``u``, ``v`` for LIF; ``sigma``, ``act``, ``residue`` for sigma-delta kinds; ``real``,
``imag`` for resonate-and-fire), each
([B,] *shape, steps), per neuron layer i (NetX layer index), ``[..., t]`` after step t + 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import typer

from scnn.hw import fixed_point as fx
from scnn.hw.errors import ScnnError
from scnn.sim.atomic import atomic_output, check_output
from scnn.sim.drive import VARIABLES
from scnn.sim.threads import check_threads


def _fast(**kwargs: object) -> dict[str, np.ndarray]:
    from scnn.sim import fast

    return fast.simulate(**kwargs)


def _lava(threads: int = 1, **kwargs: object) -> dict[str, np.ndarray]:
    from scnn.sim import lava_backend

    return lava_backend.simulate(**kwargs)  # Lava runs one process per layer: no threads


BACKENDS: dict[str, Callable[..., dict[str, np.ndarray]]] = {"fast": _fast, "lava": _lava}


@dataclass(frozen=True)
class SimConfig:
    """Parsed ``scnn sim`` arguments."""

    net: Path
    steps: int
    out: Path
    bias: Path | None = None
    spikes: Path | None = None
    reset_interval: int | None = None
    reset_offset: int = 0
    backend: str = "fast"
    record: tuple[str, ...] = VARIABLES
    silicon_v: bool = False
    threads: int = 1
    spike_exp: int = fx.SDN_SPIKE_EXP_DEFAULT
    input_message_bits: int = 0

    def __post_init__(self) -> None:
        check_threads(self.threads)
        if self.backend not in BACKENDS:
            raise ScnnError(f"unknown backend {self.backend!r} (choose from {', '.join(BACKENDS)})")
        bad = [r for r in self.record if r not in VARIABLES]
        if bad or not self.record:
            raise ScnnError(f"--record {','.join(self.record)}: choose from "
                            f"{','.join(VARIABLES)} or all")
        if not 0 <= self.spike_exp <= fx.SDN_EXP_MAX:
            raise ScnnError(f"--spike-exp {self.spike_exp}: must be in [0, {fx.SDN_EXP_MAX}]")
        if not 0 <= self.input_message_bits <= fx.SDN_MESSAGE_BITS_MAX:
            raise ScnnError(f"--input-message-bits {self.input_message_bits}: must be in "
                            f"[0, {fx.SDN_MESSAGE_BITS_MAX}]")


def load_array(path: Path | None, what: str) -> np.ndarray | None:
    if path is None:
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ScnnError(f"{path}: cannot read {what} as a .npy array ({err})") from err


def _save(out: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the .npz atomically (no half-written output)."""
    with atomic_output(out) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **arrays)


def run_sim(cfg: SimConfig) -> dict[str, np.ndarray]:
    """Read the network and drive, simulate, save; return the results."""
    from scnn.sim.netx import read_netx

    check_output(cfg.out)  # before the work starts
    net = read_netx(cfg.net, spike_exp=cfg.spike_exp, input_message_bits=cfg.input_message_bits)
    results = BACKENDS[cfg.backend](
        net=net, steps=cfg.steps, spikes=load_array(cfg.spikes, "input spikes"),
        bias=load_array(cfg.bias, "input bias"), reset_interval=cfg.reset_interval,
        reset_offset=cfg.reset_offset, record=cfg.record, silicon_v=cfg.silicon_v,
        threads=cfg.threads)
    _save(cfg.out, results)
    return results


def _record(text: str) -> tuple[str, ...]:
    names = tuple(r.strip() for r in text.split(",") if r.strip())
    return VARIABLES if names == ("all",) else names


def sim(net: Path = typer.Argument(..., help="NetX network (.net)."),
        steps: int = typer.Option(..., "--steps", "-T", help="Time steps to run."),
        out: Path = typer.Option(..., "--out", help="Output .npz (layer<i>/s and states)."),
        bias: Path = typer.Option(None, "--bias", help="Input-layer bias mantissas .npy, "
                                  "([B,] W, H, C)."),
        spikes: Path = typer.Option(None, "--input", help="Input .npy ([B,] *input_shape, "
                                    "steps): 0/1 spikes, or integers into an SDNN input layer."),
        reset_interval: int = typer.Option(None, "--reset-interval", help="Zero u, v of "
                                           "neuron layer j when step % K == (O + 1 + j) % K "
                                           "(LIF layers; others keep their place in j)."),
        reset_offset: int = typer.Option(0, "--reset-offset", help="O above (netx's)."),
        backend: str = typer.Option("fast", "--backend", help="fast or lava (the oracle)."),
        record: str = typer.Option("all", "--record", help="Variables to save: s and states "
                                   "(u,v for LIF; sigma,act,residue for SDNN; real,imag for "
                                   "RF), or all."),
        silicon_v: bool = typer.Option(False, "--silicon-v", help="Report v = 128 on spike "
                                       "steps as Loihi silicon reads it (Lava reports 0)."),
        threads: int = typer.Option(1, "--threads", help="Threads of the fast simulator "
                                    "(at most the idle cores)."),
        spike_exp: int = typer.Option(fx.SDN_SPIKE_EXP_DEFAULT, "--spike-exp", help="Fraction "
                                      "bits of SDNN graded spikes (netx's loader argument)."),
        input_message_bits: int = typer.Option(0, "--input-message-bits", help="Payload bits "
                                               "of --input into a synapse-first network "
                                               "(netx's; 0: binary spikes)."),
        ) -> None:
    """Simulate a NetX network bit-exactly as Lava's fixed_pt models do."""
    cfg = SimConfig(net=net, steps=steps, out=out, bias=bias, spikes=spikes,
                    reset_interval=reset_interval, reset_offset=reset_offset, backend=backend,
                    record=_record(record), silicon_v=silicon_v, threads=threads,
                    spike_exp=spike_exp, input_message_bits=input_message_bits)
    results = run_sim(cfg)
    spikes_total = sum(int(np.count_nonzero(v)) for k, v in results.items() if k.endswith("/s"))
    typer.echo(f"{cfg.backend}: {len(results)} arrays, {cfg.steps} steps, "
               f"{spikes_total} spikes -> {cfg.out}")


def register(app: typer.Typer) -> None:
    app.command("sim")(sim)
