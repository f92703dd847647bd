"""``scnn export``."""

from __future__ import annotations

from pathlib import Path

import typer

from hw.errors import ScnnError
from pipeline.export import export_netx


def export(
    run_dir: Path = typer.Argument(..., help="A trained SCNN run directory (fine-tuned "
                                   "loihi.pt used if present, else quantised now)."),
    netx: Path = typer.Option(None, "--netx", help="Write NetX HDF5 here (OUT.net; the model "
                              "card goes to OUT.json)."),
) -> None:
    """Export a trained SCNN in Loihi fixed point: NetX HDF5 plus a model card."""
    if netx is None:
        raise ScnnError("nothing to export: pass --netx OUT.net")
    card = export_netx(run_dir, netx)
    typer.echo(f"wrote {netx} ({card['run_steps']} steps per clip, readout layer "
               f"{card['readout']['layer']}) and {netx.with_suffix('.json')}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
