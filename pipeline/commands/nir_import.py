"""``scnn import IN.nir --netx OUT.net``: a NIR graph to Loihi fixed point."""

from __future__ import annotations

from pathlib import Path

import typer


def import_(
    nir_file: Path = typer.Argument(..., help="A NIR graph (.nir, HDF5)."),
    netx: Path = typer.Option(..., "--netx", help="Write the fixed-point network here (.net)."),
    data: Path = typer.Option(None, "--data", help="Calibration and check inputs: "
                              "DIR/inputs.npy or a .npy file, (B, *input) analog or "
                              "(B, T, *input) spikes (NIR order); analog inputs set the input "
                              "drive scale. Default: seeded random, drive scale 256."),
    mode: str = typer.Option(None, "--mode", help="bias (analog input drives the first "
                             "neurons' bias) or spikes; default from the graph's metadata."),
    dt: float = typer.Option(None, "--dt", help="Euler step in seconds (default: metadata "
                             "dt, else the step at which every neuron's input gain is 1)."),
    steps: int = typer.Option(None, "--steps", help="Steps per analog input (default: "
                              "metadata steps, else 16)."),
    lava: bool = typer.Option(False, "--lava", help="Also run one input in Lava (slow) and "
                              "check it equals the fast simulator bit for bit."),
) -> None:
    """Map a NIR graph (a chain, with recurrent loops) to Loihi fixed point; print errors and
    agreement."""
    from scnn.nir.check import agreement_table
    from scnn.nir.importer import import_nir
    from scnn.nir.quantize import error_table

    res = import_nir(nir_file, netx, data, mode, dt, steps, lava)
    typer.echo(f"quantisation error per layer ({res.imported.low.mode} input, "
               f"dt = {res.imported.low.dt:g} s, {res.dt_from}):")
    typer.echo(error_table(res.imported))
    cal = res.calibration
    if cal is not None:
        typer.echo(f"input drive calibrated on {cal['inputs']} inputs: peak |drive| "
                   f"{cal['max_abs_drive']:.4g} thresholds -> {cal['drive_scale']} units per "
                   "threshold (bias mantissa = round(scale * drive))")
    typer.echo(f"\nfloat (NIR Euler) vs fixed (sim.fast), {res.steps} steps:")
    typer.echo(agreement_table(res.agreement))
    if res.lava_agreement is not None:
        typer.echo("\nfloat vs fixed (Lava fixed_pt), 1 input:")
        typer.echo(agreement_table(res.lava_agreement))
        typer.echo(f"Lava == fast bit for bit: {res.lava_bit_exact}")
    typer.echo(f"\nwrote {netx} ({len(res.imported.net.layers)} layers)")


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
