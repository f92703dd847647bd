"""``scnn convert``: a trained CNN twin to an IF SNN run (weight/threshold balancing)."""

from __future__ import annotations

from pathlib import Path

import typer

from scnn.commands.options import ENERGY_CHIP_OPTION, ENERGY_WARMUP_OPTION, ENERGY_WEIGHT_OPTION
from scnn.defaults import CONVERT_METHODS


def convert_cmd(
    run_dir: Path = typer.Argument(..., help="A trained CNN twin run (scnn train --model "
                                   "cnn_scnn)."),
    out: Path = typer.Option(..., "--out", help="Run directory for the converted SNN."),
    method: str = typer.Option("data", help=f"Normalisation: {' or '.join(CONVERT_METHODS)} "
                               "(data: activations on the training split; model: weights)."),
    percentile: float = typer.Option(100.0, help="Data-based: scale by this percentile of "
                                     "the non-zero activations (Rueckauer 2017: 99.9) "
                                     "instead of the maximum."),
    steps: int = typer.Option(8, "--steps", "-T", help="Time steps of the converted SNN."),
    max_rate: float = typer.Option(1.0, help="Firing rate (spikes per step) the normalised "
                                   "maximum activation reaches (the input drive's scale)."),
    retrain_epochs: int = typer.Option(0, min=0, help="Then retrain the converted SNN with "
                                       "surrogate gradients for this many epochs."),
    retrain_lr: float = typer.Option(1e-3, help="Peak learning rate of the retraining."),
    energy_weight: float = ENERGY_WEIGHT_OPTION,
    energy_chip: str = ENERGY_CHIP_OPTION,
    energy_warmup: float = ENERGY_WARMUP_OPTION,
    seed: int = typer.Option(0, help="Seed for shuffling and augmentation of the retraining."),
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, else "
                              "the downloaded FSDD)."),
) -> None:
    """Convert a CNN twin to an integrate-and-fire SNN (Diehl 2015 / Rueckauer 2017).

    The result is an SNN run directory: `scnn finetune` (Loihi-exact), `scnn export`
    and `scnn run --net` take it through the same path as a trained SNN.
    """
    from scnn.convert import convert_run
    from scnn.train import TrainConfig, load_run, run_tensors

    run = load_run(run_dir)
    tensors = run_tensors(run, data, run_dir.parent / ".feature-cache")
    retrain = TrainConfig(epochs=retrain_epochs, lr=retrain_lr, seed=seed,
                          energy_weight=energy_weight, energy_chip=energy_chip,
                          energy_warmup=energy_warmup)
    m = convert_run(run, tensors, out, method, percentile, steps, max_rate, retrain)
    factors = ", ".join(f"{f:.3g}" for f in m["conversion"]["factors"])
    typer.echo(f"{m['model']}: {method}-normalised (factors {factors}), T={steps} -> {out}")
    if "cnn_accuracy" in m:
        line = (f"test accuracy: CNN {100 * m['cnn_accuracy']:.2f} %, converted "
                f"{100 * m['converted_accuracy']:.2f} %")
        if retrain_epochs > 0:
            line += (f", after {retrain_epochs} epochs of retraining "
                     f"{100 * m['test_accuracy']:.2f} %")
        typer.echo(line + " (float SNN; bit-exact after scnn export + scnn eval)")


def register(app: typer.Typer) -> None:
    app.command("convert")(convert_cmd)
