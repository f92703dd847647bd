"""``scnn profile``: activity, cores, energy and latency of an exported network per chip.

Output JSON: for ``--chip loihi1`` or ``--chip loihi2`` one profile object (keys
``chip``, ``chips``, ``cores``, ``synops``, ``neuron_updates``, ``spikes``,
``energy_uj`` {``dynamic``, ``static``, ``total``, ``dynamic_parts``},
``latency_ms``, ``inferences_per_s``, ``layers`` [per-layer entries],
``neurobench`` {``effective_acs``, ``effective_macs``, ``dense_synops``,
``activation_sparsity``, ``connection_sparsity``, ``footprint_bytes``},
``conventional_uj``, ``mapping``, ``sources``); for ``--chip all`` a list of such
objects, one per chip, in the order loihi1, loihi2.  Figures are means per inference.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from scnn.commands.options import ADDRESS_OPTION, WORKERS_OPTION
from scnn.hw.errors import ScnnError
from scnn.sim.atomic import atomic_output


def _write_json(out: Path, obj: object) -> None:
    """Write atomically (no half-written output)."""
    with atomic_output(out) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def profile(
    net: Path = typer.Argument(..., help="Exported NetX network (.net) with its model card."),
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, else "
                              "the downloaded FSDD)."),
    chip: str = typer.Option("loihi2", "--chip", help="loihi1, loihi2 or all."),
    limit: int = typer.Option(None, "--limit", help="Clips, spread evenly over the split."),
    out: Path = typer.Option(..., "--json", help="Write the profile JSON here."),
    split: str = typer.Option("test", "--split", help="Dataset split to drive."),
    batch: int = typer.Option(16, "--batch", help="Clips per simulation batch."),
    max_chips: int = typer.Option(1, "--max-chips", help="Spread over up to N chips."),
    workers: int = WORKERS_OPTION,
    address: str = ADDRESS_OPTION,
) -> None:
    """Spikes, SynOps, cores, energy and latency per inference on Loihi 1 / Loihi 2."""
    from scnn.profile import chip_names, profile_netx

    if not net.is_file():
        raise ScnnError(f"{net}: no such network file")
    if batch < 1 or max_chips < 1:
        raise ScnnError("--batch and --max-chips must be >= 1")
    names = chip_names(chip)
    recs = profile_netx(net, data, names, limit, split, batch, max_chips, progress=True,
                        workers=workers, address=address)
    _write_json(out, recs if chip == "all" else recs[0])
    for r in recs:
        typer.echo(f"{r['chip']}: {r['cores']} cores on {r['chips']} chip(s), "
                   f"{r['synops']:.4g} SynOps, {r['spikes']:.4g} spikes, "
                   f"{r['energy_uj']['dynamic']:.4g} uJ dynamic + "
                   f"{r['energy_uj']['static']:.4g} uJ static, {r['latency_ms']:.4g} ms "
                   f"per inference ({r['samples']} clips)")
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("profile")(profile)
