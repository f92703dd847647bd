"""``scnn stream``: a long recording through a streamed network, frame by frame."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import typer

from scnn import defaults
from scnn.commands.options import DATASET_OPTION
from scnn.hw.errors import ScnnError
from scnn.sim.atomic import check_output

BACKENDS = ("fast", "lava")


def stream(
    net: Path = typer.Argument(..., help="A streamed network (NET.net with its model card, "
                               "drive kind 'stream')."),
    wav: Path = typer.Argument(..., help="The recording (any length; resampled to the card's "
                               "rate)."),
    labels: Path = typer.Option(None, "--labels", help="Ground truth CSV (onset_s,offset_s,"
                                "label; `scnn data recording` writes one): prints precision "
                                "and recall."),
    tolerance: float = typer.Option(0.5, "--tolerance", min=0.0, max=60.0,
                                    help="Seconds a detection may lie before an utterance's "
                                    "onset or after its offset."),
    threshold: int = typer.Option(None, "--threshold", min=1, help="Detector threshold on the "
                                  "readout's top-1 minus top-2 v (default: the card's "
                                  "calibrated one)."),
    backend: str = typer.Option("fast", "--backend", help="fast (bit-exact simulator) or lava "
                                "(Lava's fixed_pt CPU models, slow)."),
    seconds: float = typer.Option(None, "--seconds", min=0.1, max=86400.0,
                                  help="Stream only the first SECONDS of the recording."),
    json_out: Path = typer.Option(None, "--json", help="Write detections, scores and the "
                                  "Loihi 2 profile here."),
    profile: bool = typer.Option(True, "--profile/--no-profile", help="Loihi 2 energy per "
                                 "second of audio and time per frame."),
) -> None:
    """Stream a recording through a streamed network and print the words it detects."""
    if backend not in BACKENDS:
        raise ScnnError(f"--backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if json_out is not None:
        check_output(json_out)
    from scnn.stream import stream_recording

    out = stream_recording(net, wav, labels, tolerance, threshold, backend, seconds, profile)
    for d in out["detections"]:
        typer.echo(f"{d['time']:8.2f} s  {d['word']:>6}  (margin {d['margin']}, peak at "
                   f"{d['peak_time']:.2f} s)")
    typer.echo(f"{len(out['detections'])} detection(s) in {out['seconds']:.1f} s of audio "
               f"({out['frames']} frames, {out['steps']} chip steps, {backend})")
    sc = out.get("score")
    if sc:
        typer.echo(f"precision {100 * sc['precision']:.1f} %, recall {100 * sc['recall']:.1f} % "
                   f"({sc['correct']} of {sc['utterances']} utterances, {sc['detections']} "
                   f"detections, tolerance {sc['tolerance_s']:g} s)")
    prof = out.get("profile")
    if prof:
        typer.echo(f"loihi2: {prof['dynamic_uj_per_s']:.4g} uJ dynamic per second of audio "
                   f"({prof['band_uj_per_s'][0]:.3g}-{prof['band_uj_per_s'][1]:.3g} over "
                   f"measured runs), {prof['total_uj_per_s']:.4g} uJ total while busy "
                   f"(a chip powered for the whole second: {prof['static_uj_per_s_powered']:.4g}"
                   " uJ static); "
                   f"{prof['ms_per_frame']:.3g} ms per frame on the chip (real time: "
                   f"{1000 * out['frame_seconds']:.3g} ms), {prof['cores']} cores")
    if json_out is not None:
        from scnn.sim.atomic import atomic_output

        with atomic_output(json_out) as tmp:
            tmp.write_text(json.dumps(out, indent=2) + "\n")
        typer.echo(f"wrote {json_out}")


def parse_hidden(text: str) -> tuple[int, ...]:
    """``256,256`` -> (256, 256): hidden layer sizes, each in 1..4096."""
    parts = [p.strip() for p in text.split(",")]
    # plain decimal digits only: int() would also take '+8', '1_0' and non-ASCII digits
    sizes = tuple(int(p) for p in parts) if all(re.fullmatch(r"[0-9]+", p, re.ASCII)
                                                  for p in parts) else ()
    if not sizes or not all(1 <= n <= 4096 for n in sizes) or len(sizes) > 8:
        raise ScnnError(f"--hidden {text!r}: expected 1 to 8 comma-separated layer sizes in "
                        "1..4096 (e.g. 256,256)")
    return sizes


NEURONS = ("lif", "sdnn")


def scaled_hidden(sizes: tuple[int, ...], width: float) -> tuple[int, ...]:
    """Hidden layer sizes times ``width`` (rounded, within 1..4096)."""
    if not (isinstance(width, (int, float)) and math.isfinite(width) and width > 0):
        raise ScnnError(f"width must be a finite number > 0, got {width!r}")
    return tuple(min(4096, max(1, round(n * width))) for n in sizes)


def train_stream(
    out: Path = typer.Option(..., "--out", help="NET.net to write (model card beside it)."),
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, else "
                              "the downloaded FSDD)."),
    neuron: str = typer.Option("lif", "--neuron", help="lif (CUBA LIF layers, binary spikes, "
                               "a leaky LIF readout) or sdnn (sigma-delta ReLU layers, graded "
                               "spikes that send only changes, a Sigma readout averaged by "
                               "the host)."),
    hidden: str = typer.Option(None, help="Hidden layer sizes, comma-separated (default: "
                               "256,256 for lif, 512,256 for sdnn)."),
    steps_per_frame: int = typer.Option(1, "--steps-per-frame", min=1, max=16,
                                        help="Chip steps each log-mel frame is held."),
    beta: float = typer.Option(None, min=0.0, max=1.0, help="lif: hidden membrane decay "
                               "beta in (0, 1] (default 0.95)."),
    readout_beta: float = typer.Option(None, min=0.0, max=1.0, help="lif: readout decay in "
                                       "(0, 1] (default 0.97; its memory: about 1 / (1 - "
                                       "beta) steps)."),
    leak_shift: int = typer.Option(None, "--leak-shift", help="sdnn: the host's leaky "
                                   "average over the readout, beta = 1 - 2**-SHIFT, "
                                   f"0..{defaults.LEAK_SHIFT_MAX} (default "
                                   f"{defaults.STREAM_SDNN_LEAK_SHIFT})."),
    sdnn_threshold: float = typer.Option(None, "--sdnn-threshold", help="sdnn: send "
                                         "threshold as a fraction in [0, 1) of each layer's "
                                         "activation scale (default "
                                         f"{defaults.STREAM_SDNN_THRESHOLD})."),
    epochs: int = typer.Option(defaults.STREAM_EPOCHS, min=1, help="Float training epochs."),
    lr: float = typer.Option(defaults.TRAIN_LR, help="Peak learning rate (one-cycle)."),
    batch_size: int = typer.Option(defaults.TRAIN_BATCH_SIZE, min=1, help="Mini-batch size."),
    qat_epochs: int = typer.Option(None, "--qat-epochs", min=0, help="Epochs of fine-tuning: "
                                   "Loihi-exact (lif, default "
                                   f"{defaults.STREAM_QAT_EPOCHS}) or through the sigma-delta "
                                   f"deadbands (sdnn, default {defaults.STREAM_SDNN_QAT_EPOCHS})."),
    qat_lr: float = typer.Option(None, "--qat-lr", help="Peak learning rate of the "
                                 f"fine-tuning (default {defaults.STREAM_QAT_LR} for lif, "
                                 f"{defaults.STREAM_SDNN_QAT_LR} for sdnn)."),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="Initialisation, shuffling, "
                             "augmentation and the calibration recording."),
    dataset: str = DATASET_OPTION,
) -> None:
    """Train a streamed network on log-mel frames fed as time and export it to NetX: float
    training, fine-tuning as the chip computes, bit-exact test accuracy, detector
    calibrated on a recording of training clips (for `scnn stream`)."""
    from scnn.data.datasets import test_speakers_option
    from scnn.stream import StreamConfig, train_stream_net
    from scnn.train import TrainConfig

    if neuron not in NEURONS:
        raise ScnnError(f"--neuron {neuron!r}: expected one of {', '.join(NEURONS)}")
    given = {"--beta": beta, "--readout-beta": readout_beta, "--leak-shift": leak_shift,
             "--sdnn-threshold": sdnn_threshold}
    foreign = ("--leak-shift", "--sdnn-threshold") if neuron == "lif" else \
        ("--beta", "--readout-beta")
    for name in foreign:
        if given[name] is not None:
            raise ScnnError(f"{name} does not apply to --neuron {neuron}")
    if qat_lr is not None and not (math.isfinite(qat_lr) and qat_lr > 0):
        raise ScnnError(f"--qat-lr must be a finite number > 0, got {qat_lr}")
    if neuron == "lif":
        cfg = StreamConfig(hidden=parse_hidden(hidden or "256,256"),
                           steps_per_frame=steps_per_frame,
                           beta=0.95 if beta is None else beta,
                           readout_beta=0.97 if readout_beta is None else readout_beta,
                           seed=seed)
        qat = (defaults.STREAM_QAT_EPOCHS, defaults.STREAM_QAT_LR)
    else:
        from scnn.stream_sdnn import StreamSDNNConfig

        cfg = StreamSDNNConfig(hidden=parse_hidden(hidden or "512,256"),
                               steps_per_frame=steps_per_frame,
                               leak_shift=(defaults.STREAM_SDNN_LEAK_SHIFT if leak_shift is None
                                           else leak_shift),
                               threshold=(defaults.STREAM_SDNN_THRESHOLD if sdnn_threshold
                                          is None else sdnn_threshold), seed=seed)
        qat = (defaults.STREAM_SDNN_QAT_EPOCHS, defaults.STREAM_SDNN_QAT_LR)
    tcfg = TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
    spec = test_speakers_option(None, dataset)
    m = train_stream_net(out, data, cfg, tcfg, qat[0] if qat_epochs is None else qat_epochs,
                         qat[1] if qat_lr is None else qat_lr, spec=spec)
    card = m["card"]
    exact = card["accuracy"].get("bit_exact")
    det = card["stream"]["detector"]
    typer.echo(f"{cfg.name} {'-'.join(map(str, cfg.hidden))}: float "
               f"{100 * m.get('float_accuracy', float('nan')):.2f} %, bit-exact "
               + (f"{100 * exact['accuracy']:.2f} % on {exact['n']} test clips" if exact else "n/a")
               + f" (kept the {m['kept']} model)"
               + (f"; detector threshold {det['threshold']} (F1 "
                  f"{det['calibration']['f1']:.3f} on a training recording)" if det else
                  "; no detector (spike trains come as clips, not recordings)")
               + f" -> {out}")


def register(app: typer.Typer) -> None:
    app.command("stream")(stream)
    app.command("train-stream")(train_stream)
