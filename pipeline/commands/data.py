"""``scnn data check`` and ``scnn data fetch``."""

from __future__ import annotations

from pathlib import Path

import typer

from scnn.data.datasets import FSDD, AudioDataset, SplitSpec, open_dataset
from scnn.data.fetch import fetch_fsdd, raise_on_mismatch, resolve_data, verify_folder

data_app = typer.Typer(help="Inspect, validate and download datasets.", no_args_is_help=True)

DATA_OPT = typer.Option(None, "--data", help="Dataset folder (default: $SCNN_DATA, else the "
                        "downloaded FSDD cache).")


def _table(title: str, counts: dict[str, int]) -> str:
    width = max(len(k) for k in counts)
    rows = [f"  {k:<{width}}  {v:>6}" for k, v in sorted(counts.items())]
    return "\n".join([f"{title}:"] + rows)


def check_dataset(ds: AudioDataset, skip_bad: bool) -> list[str]:
    """Decode every clip; return the one-line problems (raise on the first unless skip_bad)."""
    _, report = ds.load_many(ds.clips, skip_bad=skip_bad, progress=True)
    return report.skipped


@data_app.command("check")
def check(data: Path = DATA_OPT,
          kind: str = typer.Option("auto", help="Dataset kind: auto, fsdd or folder."),
          val_speaker: list[str] = typer.Option([], help="FSDD: speakers whose training clips "
                                                "form the validation split (repeatable)."),
          skip_bad: bool = typer.Option(False, "--skip-bad", help="Count bad files instead of "
                                        "stopping at the first."),
          manifest: bool = typer.Option(False, "--manifest", help="FSDD: also verify every file "
                                        "against the shipped SHA-256 manifest."),
          ) -> None:
    """Validate a dataset folder: decode every file, print counts per class, speaker, split."""
    root = resolve_data(data)
    ds = open_dataset(root, kind, SplitSpec(val_speakers=tuple(val_speaker)))
    bad = check_dataset(ds, skip_bad)
    counts = ds.counts()
    typer.echo(f"{ds.name} dataset at {ds.root}: {len(ds.clips)} clips, {len(ds.classes)} classes")
    for key in ("split", "class", "speaker"):
        typer.echo(_table(f"per {key}", counts[key]))
    if isinstance(ds, FSDD) and ds.ignored:
        typer.echo(f"ignored {len(ds.ignored)} audio file(s) not named digit_speaker_index.wav")
    if bad:
        typer.echo(f"bad files: {len(bad)} (skipped)")
    if manifest:
        raise_on_mismatch(ds.root, verify_folder(ds.root))
        typer.echo("manifest: every file matches FSDD v1.0.10")


@data_app.command("fetch")
def fetch(cache: Path = typer.Option(None, help="Folder to hold recordings/ (default: "
                                     "$SCNN_CACHE/fsdd-v1.0.10 or ~/.cache/scnn-pipeline/...).")
          ) -> None:
    """Download FSDD v1.0.10 from its upstream repository and verify every file."""
    folder = fetch_fsdd(cache)
    typer.echo(f"FSDD ready at {folder}")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
