"""``scnn sweep``: Ray Tune over training/quantisation parameters, chip in the loop."""

from __future__ import annotations

from pathlib import Path

import typer

from scnn.commands.options import ADDRESS_OPTION


def sweep_cmd(
    config: Path = typer.Argument(..., help="Sweep TOML: [sweep] options and [space] "
                                  "(see pipeline/sweep.py or bench/sweep_fsdd.toml)."),
    out: Path = typer.Option(..., "--out", help="Sweep directory (trials/, trials.csv, "
                             "pareto.png, report.html, best.net)."),
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, else "
                              "the downloaded FSDD)."),
    address: str = ADDRESS_OPTION,
) -> None:
    """Sweep SCNN parameters on Ray Tune (ASHA): every surviving trial is trained, fine-tuned
    for the chip, exported, evaluated bit-exactly and profiled on Loihi 2."""
    from scnn.sweep import load_sweep, run_sweep

    summary = run_sweep(load_sweep(config), out, data, address)
    typer.echo(f"{summary['trials']} trials: {summary['completed']} completed, "
               f"{summary['stopped']} stopped early (ASHA), {summary['errors']} failed")
    best = summary.get("best")
    if best:
        typer.echo(f"best {best['trial']}: bit-exact validation {100 * best['val_bitexact']:.2f} "
                   f"%, test {100 * best['test_bitexact']:.2f} %, Loihi 2 "
                   f"{best['energy_uj']:.1f} uJ per inference -> {out / 'best.net'}")
        typer.echo(f"Pareto front: {', '.join(summary['pareto'])}; report: "
                   f"{out / 'report.html'}")


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep_cmd)
