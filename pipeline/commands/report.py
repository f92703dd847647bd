"""``scnn report``."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    run_dir: Path = typer.Argument(..., help="A run directory written by `scnn run`."),
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, else "
                              "the downloaded FSDD)."),
    out: Path = typer.Option(None, "--out", help="Report folder (default: RUN/report)."),
) -> None:
    """HTML report of a run: accuracy float vs bit-exact, activity, cores, energy per chip."""
    from scnn.report import build_report

    path = build_report(run_dir, data, out)
    typer.echo(f"wrote {path} (open it in a browser; PNGs and metrics.json beside it)")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
