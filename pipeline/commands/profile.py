"""``scnn profile``: activity, cores, energy and latency of a network per chip.

Driven by a model card's audio (an exported network), or by ``--input``/``--bias``
arrays exactly as ``scnn sim`` drives any network (no model card or audio needed).

Output JSON: for ``--chip loihi1`` or ``--chip loihi2`` one profile object (keys
``chip``, ``chips``, ``cores``, ``synops``, ``neuron_updates``, ``spikes``,
``energy_uj`` {``dynamic``, ``static``, ``total``, ``dynamic_parts``},
``latency_ms``, ``inferences_per_s``, ``layers`` [per-layer entries],
``neurobench`` {``effective_acs``, ``effective_macs``, ``dense_synops``,
``activation_sparsity``, ``connection_sparsity``, ``footprint_bytes``},
``conventional_uj``, ``mapping``, ``sources``); for ``--chip all`` a list of such
objects, one per chip that can run the network, in the order loihi1, loihi2 (Loihi 1
runs LIF and integrators with binary spikes only: a chip left out is named on stdout).
Figures are means per inference.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from scnn.commands.options import ADDRESS_OPTION, WORKERS_OPTION
from scnn.hw.errors import ScnnError
from scnn.sim.atomic import atomic_output, check_output


def _write_json(out: Path, obj: object) -> None:
    """Write atomically (no half-written output)."""
    with atomic_output(out) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def _arrays_profile(net: Path, names: tuple[str, ...], spikes: Path | None, bias: Path | None,
                    steps: int | None, reset_interval: int | None, reset_offset: int,
                    spike_exp: int, input_message_bits: int, max_chips: int) -> list[dict]:
    """``--input``/``--bias`` mode: the arrays drive the network as in ``scnn sim``."""
    from scnn.commands.sim import SimConfig, load_array
    from scnn.profiling import profile_arrays
    from scnn.sim.netx import read_netx

    if steps is None:
        raise ScnnError("--steps is required with --input/--bias")
    SimConfig(net=net, steps=steps, out=Path("unused.npz"), spike_exp=spike_exp,
              input_message_bits=input_message_bits)  # validates
    recs = profile_arrays(read_netx(net, spike_exp=spike_exp,
                                    input_message_bits=input_message_bits), steps,
                          load_array(spikes, "input spikes"), load_array(bias, "input bias"),
                          names, reset_interval, reset_offset, max_chips)
    for r in recs:
        r["network"] = str(net)
    return recs


def profile(
    net: Path = typer.Argument(..., help="NetX network (.net): an export with its model card, "
                               "or any network driven by --input/--bias."),
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, else "
                              "the downloaded FSDD)."),
    chip: str = typer.Option("loihi2", "--chip", help="loihi1, loihi2 or all."),
    limit: int = typer.Option(None, "--limit", min=1, help="Clips, spread evenly over the "
                              "split."),
    out: Path = typer.Option(..., "--json", help="Write the profile JSON here."),
    split: str = typer.Option("test", "--split", help="Dataset split to drive."),
    batch: int = typer.Option(16, "--batch", help="Clips per simulation batch."),
    max_chips: int = typer.Option(1, "--max-chips", help="Spread over up to N chips."),
    spikes: Path = typer.Option(None, "--input", help="Drive with this .npy instead of audio "
                                "(as scnn sim: 0/1 spikes, or integers into an SDNN input)."),
    bias: Path = typer.Option(None, "--bias", help="Input-layer bias mantissas .npy, "
                              "([B,] W, H, C), instead of audio."),
    steps: int = typer.Option(None, "--steps", "-T", help="Time steps (with --input/--bias)."),
    reset_interval: int = typer.Option(None, "--reset-interval", help="As scnn sim."),
    reset_offset: int = typer.Option(0, "--reset-offset", help="As scnn sim."),
    spike_exp: int = typer.Option(6, "--spike-exp", help="SDNN graded-spike fraction bits."),
    input_message_bits: int = typer.Option(0, "--input-message-bits", help="As scnn sim."),
    workers: int = WORKERS_OPTION,
    address: str = ADDRESS_OPTION,
) -> None:
    """Spikes, SynOps, cores, energy and latency per inference on Loihi 1 / Loihi 2."""
    from scnn.profiling import chip_names, profile_netx

    if not net.is_file():
        raise ScnnError(f"{net}: no such network file")
    check_output(out)  # before the work starts
    if batch < 1 or max_chips < 1:
        raise ScnnError("--batch and --max-chips must be >= 1")
    names = chip_names(chip)
    if spikes is not None or bias is not None:
        if data is not None or limit is not None:
            raise ScnnError("--data/--limit drive a model card's audio; with --input/--bias "
                            "the arrays drive the network")
        recs = _arrays_profile(net, names, spikes, bias, steps, reset_interval, reset_offset,
                               spike_exp, input_message_bits, max_chips)
    else:
        given = [name for name, value, default in (
            ("--steps", steps, None), ("--reset-interval", reset_interval, None),
            ("--reset-offset", reset_offset, 0), ("--spike-exp", spike_exp, 6),
            ("--input-message-bits", input_message_bits, 0)) if value != default]
        if given:
            raise ScnnError(f"{'/'.join(given)} go with --input/--bias (a model card sets "
                            "its own drive)")
        recs = profile_netx(net, data, names, limit, split, batch, max_chips, progress=True,
                            workers=workers, address=address)
    _write_json(out, recs if chip == "all" else recs[0])
    from scnn.profiling import chip_refusal, energy_text
    from scnn.sim.netx import read_netx

    for r in recs:
        typer.echo(f"{r['chip']}: {r['cores']} cores on {r['chips']} chip(s), "
                   f"{r['synops']:.4g} SynOps, {r['spikes']:.4g} spikes, "
                   f"{energy_text(r, 'dynamic')} + {energy_text(r, 'static')}, "
                   f"{r['latency_ms']:.4g} ms "
                   f"per inference ({r['samples']} samples)")
        if "stream" in r:
            st = r["stream"]
            typer.echo(f"{r['chip']}: streamed, {st['dynamic_uj_per_s']:.4g} uJ dynamic per "
                       f"second of audio, {st['ms_per_frame']:.3g} ms of chip time per frame "
                       f"(static for a chip powered all second: "
                       f"{st['static_uj_per_s_powered']:.4g} uJ)")
    done = {r["chip"] for r in recs}
    if len(done) < len(names):
        graph = read_netx(net, spike_exp=spike_exp, input_message_bits=input_message_bits)
        for name in names:
            if name not in done:
                typer.echo(f"{name}: not profiled: {chip_refusal(graph, name)}")
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("profile")(profile)
