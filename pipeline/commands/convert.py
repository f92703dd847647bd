"""``scnn convert``: a trained CNN twin to an IF SNN run (weight/threshold balancing) or,
with ``--to sdnn``, to a sigma-delta network with graded spikes written as NetX."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from scnn.commands.options import ENERGY_CHIP_OPTION, ENERGY_WARMUP_OPTION, ENERGY_WEIGHT_OPTION
from scnn.defaults import (
    CONVERT_METHODS,
    CONVERT_TARGETS,
    ENERGY_WARMUP,
    SDNN_PERCENTILE,
    SDNN_RETRAIN_LR,
    SDNN_THRESHOLD,
)
from scnn.hw.errors import ScnnError


def convert_cmd(
    run_dir: Path = typer.Argument(..., help="A trained CNN twin run (scnn train --model "
                                   "cnn_scnn)."),
    out: Path = typer.Option(..., "--out", help="Run directory for the converted SNN (--to "
                             "lif), or the NetX file NET.net (--to sdnn; its model card "
                             "NET.json beside it)."),
    to: str = typer.Option("lif", "--to", help=f"Target: {' or '.join(CONVERT_TARGETS)} (lif: "
                           "integrate-and-fire, rate-coded; sdnn: sigma-delta ReLU neurons "
                           "with graded spikes, Loihi 2)."),
    method: str = typer.Option("data", help=f"Normalisation: {' or '.join(CONVERT_METHODS)} "
                               "(data: activations on the training split; model: weights)."),
    percentile: float = typer.Option(None, help="Data-based: scale by this percentile of "
                                     "the non-zero activations (Rueckauer 2017: 99.9) "
                                     "instead of the maximum (default: 100 for lif, "
                                     f"{SDNN_PERCENTILE} for sdnn)."),
    steps: int = typer.Option(None, "--steps", "-T", min=1, max=1024, help="Time steps of "
                              "the converted SNN (default: 8 for lif; 1 for sdnn, whose "
                              "static input is sent once)."),
    sdnn_threshold: float = typer.Option(None, "--sdnn-threshold", help="SDNN: a layer sends "
                                         "a change only when it reaches this fraction of the "
                                         "layer's activation scale (0: every change; default "
                                         f"{SDNN_THRESHOLD})."),
    max_rate: float = typer.Option(1.0, help="Firing rate (spikes per step) the normalised "
                                   "maximum activation reaches (the input drive's scale)."),
    retrain_epochs: int = typer.Option(0, min=0, help="Then retrain the converted network "
                                       "for this many epochs (lif: surrogate gradients; "
                                       "sdnn: its integer weights, Loihi-exact forward)."),
    retrain_lr: float = typer.Option(None, help="Peak learning rate of the retraining "
                                     f"(default: 1e-3 for lif; {SDNN_RETRAIN_LR} for sdnn, whose "
                                     "weights are in integer units)."),
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
    from scnn.train import TrainConfig, load_run

    if to not in CONVERT_TARGETS:
        raise ScnnError(f"--to {to!r}: expected one of {', '.join(CONVERT_TARGETS)}")
    if not retrain_epochs:
        given = [name for name, value, default in (
            ("--energy-weight", energy_weight, 0.0), ("--retrain-lr", retrain_lr, None),
            ("--seed", seed, 0), ("--energy-chip", energy_chip, "loihi2"),
            ("--energy-warmup", energy_warmup, ENERGY_WARMUP)) if value != default]
        if given:
            raise ScnnError(f"{', '.join(given)}: options of the retraining; give "
                            "--retrain-epochs N too")
    if retrain_lr is None:
        retrain_lr = SDNN_RETRAIN_LR if to == "sdnn" else 1e-3
    retrain = TrainConfig(epochs=retrain_epochs, seed=seed, energy_weight=energy_weight,
                          energy_chip=energy_chip, energy_warmup=energy_warmup, lr=retrain_lr)
    if to == "sdnn":
        lif_only = {"--method": method != "data", "--max-rate": max_rate != 1.0}
        given = [name for name, yes in lif_only.items() if yes]
        if given:
            raise ScnnError(f"{', '.join(given)}: not for --to sdnn (its units are "
                            "data-based and it has no firing rates)")
        from scnn.sdnn import check_sdnn_options

        run = load_run(run_dir)
        percentile = SDNN_PERCENTILE if percentile is None else percentile
        threshold = SDNN_THRESHOLD if sdnn_threshold is None else sdnn_threshold
        steps = 1 if steps is None else steps
        check_sdnn_options(run.model.cfg, out, percentile, threshold, steps)
        return _to_sdnn(run, run_dir, out, percentile, steps, threshold, data, retrain)
    if sdnn_threshold is not None:
        raise ScnnError("--sdnn-threshold applies to --to sdnn only")
    from scnn.convert import convert_run
    from scnn.train import run_tensors

    percentile = 100.0 if percentile is None else percentile
    steps = 8 if steps is None else steps
    if not (math.isfinite(percentile) and 0 < percentile <= 100):
        raise ScnnError(f"percentile (--percentile) must be in (0, 100], got {percentile}")
    if not (math.isfinite(max_rate) and 0 < max_rate <= 1):
        raise ScnnError(f"max rate (--max-rate) must be in (0, 1], got {max_rate}")
    run = load_run(run_dir)
    tensors = run_tensors(run, data, run_dir.parent / ".feature-cache")
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


def _to_sdnn(run, run_dir: Path, out: Path, percentile: float, steps: int, threshold: float,
             data: Path | None, retrain) -> None:
    from scnn.sdnn import convert_sdnn_run
    from scnn.train import load_features

    raw, _ = load_features(data, run.features, cache_dir=run_dir.parent / ".feature-cache",
                           spec=run.split)
    if "train" not in raw:
        raise ScnnError("the training split is empty: the conversion's statistics need it")
    tensors = {s: (run.normalizer(x), y) for s, (x, y) in raw.items()}
    card = convert_sdnn_run(run, tensors, raw.get("test"), out, percentile, threshold, steps,
                            retrain=retrain, progress=True)
    q = card["quantization"]
    typer.echo(f"{card['model']['name']}: SDNN, units {', '.join(f'{u:.3g}' for u in q['units'])}"
               f", thresholds {q['vth']} units, {card['run_steps']} steps -> {out} (+ "
               f"{out.with_suffix('.json').name})")
    acc = card["accuracy"]
    if "bit_exact" in acc:
        tuned = card["conversion"].get("finetune")
        after = f" after {tuned['epochs']} epochs of Loihi-exact training" if tuned else ""
        typer.echo(f"test accuracy: CNN {100 * acc['cnn_float']['accuracy']:.2f} % (float), "
                   f"SDNN{after} {100 * acc['bit_exact']['accuracy']:.2f} % bit-exact on "
                   f"{acc['bit_exact']['n']} clips (sim.fast); scnn profile {out} for energy")


def register(app: typer.Typer) -> None:
    app.command("convert")(convert_cmd)
