"""``scnn data check``, ``scnn data fetch`` and ``scnn data recording``."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from scnn.commands.options import DATASET_OPTION, TEST_SPEAKER_OPTION
from scnn.data.datasets import FSDD, AudioDataset, SplitSpec, open_dataset, test_speakers_option
from scnn.data.fetch import fetch_fsdd, raise_on_mismatch, resolve_data, verify_folder
from scnn.hw.errors import ScnnError

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
          dataset: str = DATASET_OPTION,
          val_speaker: list[str] = typer.Option([], help="FSDD: speakers whose training clips "
                                                "form the validation split (repeatable)."),
          skip_bad: bool = typer.Option(False, "--skip-bad", help="Count bad files instead of "
                                        "stopping at the first."),
          manifest: bool = typer.Option(False, "--manifest", help="FSDD: also verify every file "
                                        "against the shipped SHA-256 manifest."),
          test_speaker: list[str] = TEST_SPEAKER_OPTION,
          ) -> None:
    """Validate a dataset folder: decode every file, print counts per class, speaker, split."""
    held_out = test_speakers_option(test_speaker, dataset).test_speakers
    if manifest and dataset not in ("auto", "fsdd"):
        raise ScnnError(f"--manifest: the shipped manifest is FSDD's; --dataset {dataset} is "
                        "verified by `scnn data fetch`")
    root = resolve_data(data, dataset=dataset)
    ds = open_dataset(root, dataset, SplitSpec(val_speakers=tuple(val_speaker),
                                               test_speakers=held_out))
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
def fetch(dataset: str = typer.Option("fsdd", "--dataset", help="fsdd, gsc (Speech Commands "
                                      "v0.02, 2.4 GB), shd or ssc (Heidelberg spike trains)."),
          cache: Path = typer.Option(None, help="Folder to unpack into (default: "
                                     "$SCNN_CACHE/<dataset folder> or "
                                     "~/.cache/scnn-pipeline/...); FSDD: the folder holding "
                                     "recordings/."),
          url: str = typer.Option(None, "--url", help="Download from a mirror: FSDD, the "
                                  "tarball's URL; others, the folder holding the files."),
          checksums: Path = typer.Option(None, "--checksums", help="gsc/shd/ssc: a "
                                         "'DIGEST  FILE' list (md5sum or sha256sum format) "
                                         "replacing the pinned checksums, for a mirror that "
                                         "repacked the files."),
          ) -> None:
    """Download a dataset from upstream (or --url) into the cache and verify its checksums;
    prints the folder to pass as --data."""
    if dataset == "fsdd":
        if checksums is not None:
            raise ScnnError("--checksums: FSDD is verified file by file against the shipped "
                            "manifest; the option is for gsc, shd and ssc")
        folder = fetch_fsdd(cache, **({"url": url} if url is not None else {}))
        typer.echo(f"FSDD ready at {folder}")
        return
    from scnn.data.sources import fetch_dataset, source

    src = source(dataset)
    folder = fetch_dataset(dataset, cache, url, checksums)
    hint = " (--dataset gsc12 for the 12-class task)" if dataset == "gsc" else ""
    typer.echo(f"{src.title} ready at {folder}: pass --data {folder}{hint}")



def parse_gap(text: str) -> tuple[float, float]:
    """``MIN:MAX`` seconds of silence (or one number for a fixed gap)."""
    parts = text.split(":")
    try:
        lo, hi = (float(parts[0]), float(parts[-1])) if len(parts) <= 2 else (None, None)
    except ValueError:
        lo = hi = None
    if lo is None or not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi <= 60):
        raise ScnnError(f"--gap {text!r}: expected MIN:MAX seconds with 0 <= MIN <= MAX <= 60")
    return lo, hi


@data_app.command("recording")
def recording(out: Path = typer.Option(..., "--out", help="WAV file to write; its ground truth "
                                       "goes beside it as OUT.csv (onset_s,offset_s,label,clip)."),
              data: Path = DATA_OPT,
              split: str = typer.Option("test", help="Split whose clips are used."),
              seconds: float = typer.Option(30.0, min=1.0, max=3600.0, help="Length."),
              gap: str = typer.Option("0.5:1.0", help="Silence before each clip, MIN:MAX "
                                      "seconds (uniform)."),
              seed: int = typer.Option(0, min=0, max=2**32 - 1, help="Which clips, in which "
                                       "order, which gaps."),
              noise_db: float = typer.Option(None, "--noise-db", min=-120.0, max=0.0,
                                             help="White noise over the whole recording, dB "
                                             "full scale (default: digital silence)."),
              ) -> None:
    """Write a long recording of a split's clips separated by silence, with its labels
    (for `scnn stream NET.net OUT.wav --labels OUT.csv`)."""
    import numpy as np
    import soundfile as sf

    from scnn.data.datasets import SPLITS
    from scnn.sim.atomic import atomic_output, check_output
    from scnn.stream import make_recording, write_labels

    if out.suffix.lower() != ".wav" or len(out.name) <= 4:
        raise ScnnError(f"--out {out}: the recording is a WAV file; its name must end in .wav")
    if split not in SPLITS:
        raise ScnnError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    labels_path = out.with_suffix(".csv")
    check_output(out)
    check_output(labels_path)
    lo_hi = parse_gap(gap)
    ds = open_dataset(resolve_data(data))
    clips = ds.split(split)
    if not clips:
        raise ScnnError(f"split {split!r} is empty in {ds.root}")
    waves, report = ds.load_many(clips, progress=True)
    wave, truth = make_recording(waves, [c.label for c in report.clips], ds.target_rate, seconds,
                                 lo_hi, seed, [c.path.name for c in report.clips], noise_db)
    with atomic_output(out) as tmp:
        sf.write(tmp, np.clip(wave, -1.0, 1.0), ds.target_rate, subtype="PCM_16", format="WAV")
    with atomic_output(labels_path) as tmp:
        write_labels(tmp, truth, ds.classes)
    typer.echo(f"wrote {out} ({len(wave) / ds.target_rate:.1f} s, {len(truth)} clips of the "
               f"{split} split) and {labels_path}")

def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
