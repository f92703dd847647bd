"""``scnn export``."""

from __future__ import annotations

from pathlib import Path

import typer

from scnn.hw.errors import ScnnError


def export(
    run_dir: Path = typer.Argument(..., help="A trained SCNN run directory (fine-tuned "
                                   "loihi.pt used if present, else quantised now)."),
    netx: Path = typer.Option(None, "--netx", help="Write NetX HDF5 here (OUT.net; the model "
                              "card goes to OUT.json)."),
    nir_out: Path = typer.Option(None, "--nir", help="Write the float model as a NIR graph "
                                 "here (OUT.nir; continuous-time, dt in its metadata)."),
    nir_flavor: str = typer.Option("portable", "--nir-flavor", help="portable: Conv2d, "
                                   "Flatten, Linear and LIF nodes only (r = 1, no v_leak, "
                                   "frequency unrolled into channels, logits = mean output) "
                                   "for other frameworks (README: which reader runs what); "
                                   "full: our exact graph (Scale, LIF v_leak, I readout)."),
) -> None:
    """Export a trained SCNN: NetX HDF5 (Loihi fixed point) plus a model card, and/or NIR."""
    if netx is None and nir_out is None:
        raise ScnnError("nothing to export: pass --netx OUT.net and/or --nir OUT.nir")
    from scnn.nir.portable import FLAVORS

    if nir_flavor not in FLAVORS:  # before anything is written
        raise ScnnError(f"--nir-flavor {nir_flavor!r}: expected one of {', '.join(FLAVORS)}")
    if netx is not None:
        from scnn.export import export_netx

        card = export_netx(run_dir, netx)
        typer.echo(f"wrote {netx} ({card['run_steps']} steps per clip, readout layer "
                   f"{card['readout']['layer']}) and {netx.with_suffix('.json')}")
    if nir_out is not None:
        from scnn.nir.export import export_nir

        graph = export_nir(run_dir, nir_out, flavor=nir_flavor)
        typer.echo(f"wrote {nir_out} ({nir_flavor}, {len(graph.nodes)} NIR nodes, dt = "
                   f"{graph.metadata['dt']:g} s)")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
