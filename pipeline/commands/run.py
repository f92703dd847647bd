"""``scnn run``: the main job."""

from __future__ import annotations

from pathlib import Path

import typer

from scnn import defaults
from scnn.commands.options import (
    CMN_OPTION,
    DATASET_OPTION,
    ENERGY_CHIP_OPTION,
    ENERGY_WARMUP_OPTION,
    ENERGY_WEIGHT_OPTION,
    TEST_SPEAKER_OPTION,
)
from scnn.defaults import MODEL_NAMES, QAT_EPOCHS
from scnn.hw.errors import ScnnError


def run(data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, "
                                  "else FSDD downloaded to the cache)."),
        out: Path = typer.Option(Path("runs/default"), "--out", help="Run directory."),
        model: str = typer.Option("scnn", "--model", help=f"Model to train: {MODEL_NAMES}."),
        steps: int = typer.Option(None, "--steps", "-T", help="Time steps (default: the model's)."),
        epochs: int = typer.Option(defaults.TRAIN_EPOCHS, min=1, help="Training epochs."),
        seed: int = typer.Option(0, help="Seed for training."),
        qat_epochs: int = typer.Option(QAT_EPOCHS, min=0, help="Epochs of Loihi-exact fine-tuning "
                                       "(0: quantise only)."),
        width: float = typer.Option(1.0, help="Channel multiplier of the trained model."),
        energy_weight: float = ENERGY_WEIGHT_OPTION,
        energy_chip: str = ENERGY_CHIP_OPTION,
        energy_warmup: float = ENERGY_WARMUP_OPTION,
        net: Path = typer.Option(None, "--net", help="Start from an exported NET.net (with its "
                                 "model card) instead of training, e.g. "
                                 "netx_exports/fsdd_scnn.net."),
        lava_clips: int = typer.Option(20, min=0, help="Test clips cross-checked in Lava (0: skip; "
                                       "Lava needs seconds per clip)."),
        front_end: str = typer.Option("mfcc", help="Audio front end: mfcc or logmel."),
        cmn: bool = CMN_OPTION,
        skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip unreadable audio files "
                                      "(counted) instead of stopping."),
        test_speaker: list[str] = TEST_SPEAKER_OPTION,
        dataset: str = DATASET_OPTION,
        ) -> None:
    """Run the whole pipeline into one run directory (stages: see below)."""
    from scnn.data.datasets import test_speakers_option
    from scnn.energy_loss import check_energy_options
    from scnn.features import FeatureConfig
    from scnn.models.scnn import get_config, with_width
    from scnn.qat import QAT_LR
    from scnn.runner import RunContext, run_pipeline
    from scnn.train import TrainConfig

    spec = test_speakers_option(test_speaker, dataset)
    if net is not None and test_speaker:
        raise ScnnError("--test-speaker: a run from --net tests on the split its card records; "
                        "train with --test-speaker instead")
    fcfg = FeatureConfig(kind=front_end, cmn=cmn)
    mcfg = with_width(get_config(model, input_shape=fcfg.shape, steps=steps, seed=seed), width)
    energy = {"energy_weight": energy_weight, "energy_chip": energy_chip,
              "energy_warmup": energy_warmup}
    check_energy_options(mcfg, energy_weight, energy_chip)  # before any work
    if net is not None:
        from scnn.export import drive_kind, load_card

        if drive_kind(load_card(net)) == "stream":
            raise ScnnError(f"--net {net}: a streamed network; `scnn run` stages static-input "
                            "networks (use scnn eval, scnn profile and scnn stream on it)")
    ctx = RunContext(out=out, data=data, features=fcfg, skip_bad=skip_bad, model=mcfg,
                     train=TrainConfig(epochs=epochs, seed=seed, **energy),
                     qat=TrainConfig(epochs=qat_epochs, lr=QAT_LR, seed=seed, **energy),
                     lava_clips=lava_clips, net=net, splits=spec)
    summary = run_pipeline(ctx, echo=typer.echo)
    typer.echo(f"run directory: {out}  (stages: {', '.join(summary)})")


run.__doc__ = (run.__doc__ or "") + "\n\nStages, in order: " + ", ".join(defaults.STAGE_NAMES) + "."


def register(app: typer.Typer) -> None:
    app.command("run")(run)
