"""``scnn train`` and ``scnn eval``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from scnn import defaults
from scnn.commands.options import (
    ADDRESS_OPTION,
    AUGMENT_COPIES_OPTION,
    AUGMENT_NOISE_OPTION,
    AUGMENT_SNR_OPTION,
    AUGMENT_SPEED_OPTION,
    CMN_OPTION,
    DATASET_OPTION,
    ENERGY_CHIP_OPTION,
    ENERGY_WARMUP_OPTION,
    ENERGY_WEIGHT_OPTION,
    TEST_SPEAKER_OPTION,
    WORKERS_OPTION,
)
from scnn.defaults import MODEL_NAMES, QAT_EPOCHS, QAT_LR
from scnn.hw.errors import ScnnError
from scnn.sim.atomic import check_output

if TYPE_CHECKING:  # the training stack (torch) is imported by the commands that run it
    from scnn.train import TrainConfig


def train(
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, else "
                              "the downloaded FSDD)."),
    model: str = typer.Option("scnn", "--model", help=f"Model name: {MODEL_NAMES}."),
    out: Path = typer.Option(None, "--out", help="Run directory (default: runs/MODEL)."),
    steps: int = typer.Option(None, "--steps", "-T", help="Time steps T (default: the model's)."),
    beta: float = typer.Option(None, help="Membrane decay beta in (0, 1]."),
    learn_beta: bool = typer.Option(None, "--learn-beta/--fixed-beta",
                                    help="Learn beta per layer."),
    threshold: float = typer.Option(None, help="Firing threshold."),
    slope: float = typer.Option(None, help="Fast-sigmoid surrogate slope."),
    drive: str = typer.Option(None, help="Input drive: direct (bias) or rate (Bernoulli)."),
    width: float = typer.Option(1.0, help="Channel multiplier: every conv's channels and "
                                "hidden dense size times this."),
    epochs: int = typer.Option(defaults.TRAIN_EPOCHS, min=1, help="Training epochs."),
    lr: float = typer.Option(defaults.TRAIN_LR, help="Peak learning rate (one-cycle schedule)."),
    batch_size: int = typer.Option(defaults.TRAIN_BATCH_SIZE, help="Mini-batch size."),
    seed: int = typer.Option(0, help="Seed for initialisation, shuffling and augmentation."),
    front_end: str = typer.Option("mfcc", help="Audio front end: mfcc or logmel."),
    cmn: bool = CMN_OPTION,
    qat: bool = typer.Option(False, "--qat", help="Then fine-tune with the Loihi-exact layer "
                             "(as `scnn finetune`), into the same run directory."),
    qat_epochs: int = typer.Option(QAT_EPOCHS, min=0, help="Epochs of Loihi-exact fine-tuning."),
    energy_weight: float = ENERGY_WEIGHT_OPTION,
    energy_chip: str = ENERGY_CHIP_OPTION,
    energy_warmup: float = ENERGY_WARMUP_OPTION,
    test_speaker: list[str] = TEST_SPEAKER_OPTION,
    dataset: str = DATASET_OPTION,
    augment_copies: int = AUGMENT_COPIES_OPTION,
    augment_speed: str = AUGMENT_SPEED_OPTION,
    augment_noise: str = AUGMENT_NOISE_OPTION,
    augment_snr: str = AUGMENT_SNR_OPTION,
) -> None:
    """Train an SCNN (or its CNN twin) on the training split; evaluate on the test split.

    With --energy-weight the loss adds the modelled chip energy of the spikes (the same
    weight applies to --qat fine-tuning)."""
    from scnn.data.augment import augment_option
    from scnn.data.datasets import test_speakers_option
    from scnn.energy_loss import check_energy_options
    from scnn.features import FeatureConfig
    from scnn.models.scnn import get_config, with_width
    from scnn.train import TrainConfig, load_splits, train_run

    spec = test_speakers_option(test_speaker, dataset)
    augment = augment_option(augment_copies, augment_speed, augment_noise, augment_snr, seed)

    fcfg = FeatureConfig(kind=front_end, cmn=cmn)
    mcfg = get_config(model, input_shape=fcfg.shape, steps=steps, beta=beta,
                      learn_beta=learn_beta, threshold=threshold, slope=slope, drive=drive,
                      seed=seed)
    mcfg = with_width(mcfg, width)
    check_energy_options(mcfg, energy_weight, energy_chip)  # before any work
    energy = {"energy_weight": energy_weight, "energy_chip": energy_chip,
              "energy_warmup": energy_warmup}
    tcfg = TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, **energy)
    qcfg = TrainConfig(epochs=qat_epochs, lr=QAT_LR, seed=seed, **energy)
    out = out or Path("runs") / model
    tensors, norm, classes = load_splits(data, fcfg, cache_dir=out.parent / ".feature-cache",
                                         spec=spec, augment=augment)
    metrics = train_run(mcfg, tcfg, tensors, norm, fcfg, classes, out, split=spec,
                        augment=augment)
    acc = metrics.get("test_accuracy")
    typer.echo(f"{model}: test accuracy {100 * acc:.2f} % on {metrics['test_n']} clips, "
               f"trained in {metrics['train_seconds']} s -> {out}" if acc is not None else
               f"{model}: trained in {metrics['train_seconds']} s -> {out}")
    if qat:
        _finetune(out, out, tensors, qcfg)


def _finetune(run_dir: Path, out: Path, tensors: dict, tcfg: TrainConfig) -> None:
    from scnn.qat import finetune
    from scnn.train import load_run

    m = finetune(load_run(run_dir), tcfg, tensors, out)
    if "qat_accuracy" in m:
        tuned = m.get("finetuned_accuracy")
        typer.echo(f"Loihi-exact test accuracy: quantised {100 * m['quantized_accuracy']:.2f} %"
                   + (f", after {tcfg.epochs} epochs of fine-tuning {100 * tuned:.2f} %"
                      if tuned is not None else "")
                   + f"; kept the {m['kept']} model (by training-split accuracy): "
                   f"{100 * m['qat_accuracy']:.2f} % (float {100 * m['float_accuracy']:.2f} %)"
                   f" -> {out}")


def finetune_cmd(
    run_dir: Path = typer.Argument(..., help="A float SCNN run directory."),
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, else "
                              "the downloaded FSDD)."),
    out: Path = typer.Option(None, "--out", help="Output run directory (default: the input)."),
    epochs: int = typer.Option(QAT_EPOCHS, min=0, help="Fine-tuning epochs (0: quantise only)."),
    lr: float = typer.Option(QAT_LR, help="Peak learning rate (integer-unit weights)."),
    seed: int = typer.Option(0, help="Seed for shuffling and augmentation."),
) -> None:
    """Quantise a float SCNN to Loihi fixed point and fine-tune it with the exact forward."""
    from scnn.train import TrainConfig, load_run, run_tensors

    tensors = run_tensors(load_run(run_dir), data, run_dir.parent / ".feature-cache")
    _finetune(run_dir, out or run_dir, tensors, TrainConfig(epochs=epochs, lr=lr, seed=seed))


def evaluate(
    target: Path = typer.Argument(..., help="A run directory (float model) or an exported "
                                  "NET.net with its model card (bit-exact)."),
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, else "
                              "the downloaded FSDD)."),
    split: str = typer.Option("test", help="Split to evaluate."),
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    backend: str = typer.Option("fast", help="For .net files: fast (bit-exact simulator) or "
                                "lava (Lava fixed_pt on CPU, slow)."),
    limit: int = typer.Option(None, min=1, help="For .net files: evaluate this many clips, "
                              "spread evenly over the split."),
    workers: int = WORKERS_OPTION,
    address: str = ADDRESS_OPTION,
    test_speaker: list[str] = TEST_SPEAKER_OPTION,
    noise: str = typer.Option(None, "--noise", help="Mix noise into every clip first: white, "
                              "pink or babble (other speakers' training clips); with --snr."),
    snr: float = typer.Option(None, "--snr", help="Signal-to-noise ratio of the mixture, dB "
                              "(clip power over noise power, whole clip)."),
    noise_seed: int = typer.Option(0, "--noise-seed", help="Seed of the noise (each clip's "
                                   "own generator: seed and file name)."),
) -> None:
    """Evaluate on a split: accuracy, per-class accuracy, confusion matrix PNG.

    A run directory evaluates the float model; a .net file is driven exactly as the chip
    would be and evaluated in bit-exact simulation (the model card beside it gives the
    front end, drive, steps and readout rule).
    """
    from scnn.data.datasets import test_speakers_option
    from scnn.data.noise import noise_option

    spec = test_speakers_option(test_speaker) if test_speaker else None
    mixed = noise_option(noise, snr, noise_seed)
    if json_out is not None:
        check_output(json_out)  # before the work starts
    if target.suffix == ".net":
        _evaluate_netx(target, data, split, json_out, backend, limit, workers, address, spec,
                       mixed)
        return
    if not target.is_dir():
        raise ScnnError(f"{target}: expected a run directory or a .net file")
    from scnn.train import accuracy_report, load_features, load_run, predict, save_confusion

    run = load_run(target)
    spec = run.split if spec is None else spec
    raw, classes = load_features(data, run.features, splits=(split,), spec=spec, noise=mixed)
    if split not in raw:
        raise ScnnError(f"split {split!r} is empty in this dataset")
    x, y = run.normalizer(raw[split][0]), raw[split][1]
    rep = accuracy_report(predict(run.model, x), y, run.model.cfg.n_classes)
    rep.update({"backend": "float", "model": run.model.cfg.name, "split": split,
                **({"split_spec": spec.to_dict()} if spec.to_dict() else {}),
                **({"noise": mixed.to_dict()} if mixed else {})})
    png = target / f"confusion-{split}.png"
    save_confusion(rep["confusion"], classes, png,
                   f"{run.model.cfg.name} ({split}): {100 * rep['accuracy']:.2f} %")
    typer.echo(f"{run.model.cfg.name} on {split}{_noise_text(mixed)}: accuracy "
               f"{100 * rep['accuracy']:.2f} % ({rep['n']} clips)")
    for cls, acc in zip(classes, rep["per_class"], strict=True):
        typer.echo(f"  class {cls:>8}: {100 * acc:6.2f} %")
    typer.echo(f"confusion matrix: {png}")
    if json_out:
        _write_report(json_out, rep)


def _noise_text(noise) -> str:
    return f" with {noise.kind} noise at {noise.snr_db:g} dB SNR" if noise is not None else ""


def _evaluate_netx(net: Path, data: Path | None, split: str, json_out: Path | None,
                   backend: str, limit: int | None, workers: int = 1,
                   address: str | None = None, spec=None, noise=None) -> None:
    if not net.exists():
        raise ScnnError(f"{net}: no such file")
    from scnn.export import load_card
    from scnn.hweval import evaluate_netx

    rep = evaluate_netx(net, data, backend, limit, split, workers=workers, address=address,
                        spec=spec, noise=noise)
    typer.echo(f"{net.name} ({backend}, bit-exact) on {split}{_noise_text(noise)}: accuracy "
               f"{100 * rep['accuracy']:.2f} % ({rep['n']} clips, {rep['run_steps']} steps)")
    for cls, acc in zip(load_card(net)["classes"], rep["per_class"], strict=True):
        typer.echo(f"  class {cls:>8}: {100 * acc:6.2f} %")
    if json_out:
        _write_report(json_out, rep)


def _write_report(path: Path, rep: dict) -> None:
    from scnn.sim.atomic import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(rep, indent=2) + "\n")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("finetune")(finetune_cmd)
    app.command("eval")(evaluate)
