"""``scnn run``: the main job."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.features import FeatureConfig
from pipeline.runner import STAGES, RunContext, run_pipeline


def run(data: Path = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, "
                                  "else FSDD downloaded to the cache)."),
        out: Path = typer.Option(Path("runs/default"), "--out", help="Run directory."),
        front_end: str = typer.Option("mfcc", help="Audio front end: mfcc or logmel."),
        skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip unreadable audio files "
                                      "(counted) instead of stopping."),
        ) -> None:
    """Run the whole pipeline into one run directory (stages: see below)."""
    ctx = RunContext(out=out, data=data, features=FeatureConfig(kind=front_end), skip_bad=skip_bad)
    summary = run_pipeline(ctx, echo=typer.echo)
    typer.echo(f"run directory: {out}  (stages: {', '.join(summary)})")


run.__doc__ = (run.__doc__ or "") + "\n\nStages, in order: " + ", ".join(n for n, _ in STAGES) + "."


def register(app: typer.Typer) -> None:
    app.command("run")(run)
