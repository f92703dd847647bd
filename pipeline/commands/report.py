"""``scnn report``."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    run_dir: Path = typer.Argument(..., help="A run directory written by `scnn run`."),
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, else "
                              "the downloaded FSDD)."),
    out: Path = typer.Option(None, "--out", help="Report folder (default: RUN/report)."),
    noise: str = typer.Option("white,babble", "--noise", help="Noise kinds of the "
                              "accuracy-vs-SNR section, comma-separated (white, pink, "
                              "babble), or none."),
    snr: str = typer.Option("20,10,5,0", "--snr", help="Its SNRs in dB, comma-separated."),
) -> None:
    """HTML report of a run: accuracy float vs bit-exact, per speaker and against SNR in
    noise, activity, cores, energy per chip."""
    from scnn.report import build_report

    kinds, snrs = parse_noise_lists(noise, snr)
    path = build_report(run_dir, data, out, kinds, snrs, progress=True)
    typer.echo(f"wrote {path} (open it in a browser; PNGs and metrics.json beside it)")


def parse_noise_lists(noise: str, snr: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """``--noise`` and ``--snr`` as tuples; each entry checked (one-line errors)."""
    import math

    from scnn.data.noise import NOISE_KINDS
    from scnn.hw.errors import ScnnError

    kinds = () if noise.strip() == "none" else tuple(k.strip() for k in noise.split(","))
    for k in kinds:
        if k not in NOISE_KINDS:
            raise ScnnError(f"--noise {noise!r}: {k!r} is not a noise kind; expected a "
                            f"comma-separated list of {', '.join(NOISE_KINDS)}, or none")
    try:
        snrs = tuple(float(x) for x in snr.split(","))
    except ValueError:
        snrs = ()
    if not snrs or not all(math.isfinite(x) and -20 <= x <= 60 for x in snrs):
        raise ScnnError(f"--snr {snr!r}: expected comma-separated SNRs in dB, each in "
                        "[-20, 60]")
    for option, given, values in (("--noise", noise, kinds), ("--snr", snr, snrs)):
        if len(set(values)) != len(values):
            raise ScnnError(f"{option} {given!r}: names a value twice")
    return kinds, snrs


def register(app: typer.Typer) -> None:
    app.command("report")(report)
