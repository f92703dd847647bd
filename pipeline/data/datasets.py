"""Datasets of labelled audio clips behind one interface.

* :class:`FSDD` — the Free Spoken Digit Dataset, files ``{digit}_{speaker}_{index}.wav``.
  Official split: recording index 0-4 is test (300 clips), 5-49 train (2,700). An
  optional validation split is carved from train by index and/or speaker, never
  from test.
* :class:`LabelledFolder` — ``ROOT/<label>/*.wav`` for any other audio set; the split
  comes from ``ROOT/splits.csv`` (``relative/path.wav,train|val|test``) when present,
  else from a stable hash of the file name (10 % test).

Both return :class:`Clip` records; :meth:`AudioDataset.load` gives the waveform as
mono float32 at 8 kHz (see :mod:`pipeline.data.audio`).
"""

from __future__ import annotations

import csv
import logging
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scnn.data.audio import TARGET_RATE, AudioError, load_audio
from scnn.hw.errors import ScnnError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
DATASET_KINDS = ("auto", "fsdd", "folder", "gsc", "gsc12", "shd", "ssc")


def check_kind(kind: object, option: str = "--dataset") -> str:
    """``kind`` if it is a dataset kind, else a one-line error naming ``option``."""
    if kind not in DATASET_KINDS:
        raise ScnnError(f"{option} {kind!r}: unknown dataset kind; expected one of "
                        f"{', '.join(DATASET_KINDS)}")
    return kind
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif")


@dataclass(frozen=True)
class Clip:
    """One labelled recording. ``index`` is the repetition number (-1 when unknown).

    ``segment``: (start, length) in seconds when the clip is a window of a longer file
    (Speech Commands' silence), scaled by ``gain``; ``rel``: the clip's name, unique within
    its dataset, when the file name alone is not (default: the file name).
    """

    path: Path
    label: int
    speaker: str
    index: int
    split: str
    segment: tuple[float, float] | None = None
    gain: float = 1.0
    rel: str = ""

    @property
    def key(self) -> str:
        """The clip's unique name within its dataset (caches, noise seeds, errors)."""
        return self.rel or self.path.name


@dataclass(frozen=True)
class SplitSpec:
    """How FSDD clips are assigned to splits.

    ``test_indices``: half-open range of recording indices that form the test split
    (official: 0-4). ``test_speakers``: when given, the test split is every clip of
    these speakers instead (all indices; a speaker-independent split such as
    leave-one-speaker-out), and no clip of theirs is trained on. ``val_indices`` /
    ``val_speakers``: training clips with an index in that range, or by one of those
    speakers, form the validation split. ``dataset``: the kind the folder is opened as
    (:data:`DATASET_KINDS`; ``auto`` detects it), recorded with the split because a kind
    such as ``gsc12`` decides the classes.
    """

    test_indices: tuple[int, int] = (0, 5)
    val_indices: tuple[int, int] | None = None
    val_speakers: tuple[str, ...] = ()
    test_speakers: tuple[str, ...] = ()
    dataset: str = "auto"

    def __post_init__(self) -> None:
        check_kind(self.dataset)

    def assign(self, speaker: str, index: int) -> str:
        if self.test_speakers:
            if speaker in self.test_speakers:
                return "test"
        elif self.test_indices[0] <= index < self.test_indices[1]:
            return "test"
        vi = self.val_indices
        in_val = (vi is not None and vi[0] <= index < vi[1]) or speaker in self.val_speakers
        return "val" if in_val else "train"

    def to_dict(self) -> dict:
        """The test split and dataset kind as a run directory and a model card record them
        ({} if official and detected)."""
        out: dict = {"test_speakers": list(self.test_speakers)} if self.test_speakers else {}
        return {**out, "dataset": self.dataset} if self.dataset != "auto" else out

    @classmethod
    def from_dict(cls, d: object, source: object = "split") -> SplitSpec:
        """Inverse of :meth:`to_dict`; ``source`` names the file in errors."""
        if not isinstance(d, dict) or set(d) - {"test_speakers", "dataset"}:
            raise ScnnError(f"{source}: 'split' must be {{}} or hold \"test_speakers\": "
                            f"[names] and/or \"dataset\": kind, got {d!r}")
        names = d.get("test_speakers", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and SPEAKER_NAME.match(n)
                                                  for n in names):
            raise ScnnError(f"{source}: split test_speakers must be a list of speaker names "
                            f"(letters only), got {names!r}")
        kind = d.get("dataset", "auto")
        if kind not in DATASET_KINDS:
            raise ScnnError(f"{source}: split dataset must be one of "
                            f"{', '.join(DATASET_KINDS)}, got {kind!r}")
        return cls(test_speakers=tuple(names), dataset=kind)

    def check_speakers(self, speakers: Iterable[str], root: Path) -> None:
        """Refuse a held-out (test or validation) speaker the dataset does not have, or
        holding out every speaker for test."""
        have = sorted(set(speakers))
        for role, names in (("test", self.test_speakers), ("validation", self.val_speakers)):
            for name in names:
                if name not in have:
                    raise ScnnError(f"{role} speaker {name!r}: not a speaker of {root} (its "
                                    f"speakers: {', '.join(have)})")
        if self.test_speakers and set(have) <= set(self.test_speakers):
            raise ScnnError(f"test speakers {', '.join(self.test_speakers)}: that is every "
                            f"speaker of {root}, nothing is left to train on")


def test_speakers_option(names: Sequence[str] | None, dataset: str = "auto") -> SplitSpec:
    """``--test-speaker NAME`` (repeatable) and ``--dataset KIND`` -> the SplitSpec; names
    checked for form."""
    check_kind(dataset)
    names = list(names or ())
    for n in names:
        if not SPEAKER_NAME.match(n):
            raise ScnnError(f"--test-speaker {n!r}: a speaker name is letters only "
                            "(FSDD: george, jackson, lucas, nicolas, theo, yweweler)")
    if len(set(names)) != len(names):
        raise ScnnError(f"--test-speaker: {', '.join(names)} names a speaker twice")
    if names and dataset not in ("auto", "fsdd"):
        raise ScnnError(f"--test-speaker needs FSDD; --dataset {dataset} keeps its official "
                        "split")
    return SplitSpec(test_speakers=tuple(names), dataset=dataset)


def split_of(record: dict, source: object) -> SplitSpec:
    """The split a run's config.json or a model card records (official if none)."""
    return SplitSpec.from_dict(record["split"], source) if "split" in record else SplitSpec()


@dataclass
class LoadReport:
    """What :meth:`AudioDataset.load_many` kept and skipped."""

    clips: list[Clip] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one message per bad file


class AudioDataset:
    """Common interface: ``classes``, ``clips``, ``split(name)``, ``load(clip)``."""

    name = "audio"
    native_rates: tuple[int, ...] = ()  # the dataset's own rates: resampled without a warning
    spiking = False  # clips are spike trains (SHD/SSC), not audio

    def __init__(self, root: Path, classes: Sequence[str], clips: Sequence[Clip],
                 target_rate: int = TARGET_RATE) -> None:
        self.root = root
        self.classes = list(classes)
        self.clips = sorted(clips, key=lambda c: (c.label, c.speaker, c.index, c.key))
        self.target_rate = target_rate
        self._rates_logged: set[int] = set()

    def split(self, name: str) -> list[Clip]:
        """Clips of one split ("train", "val" or "test")."""
        if name not in SPLITS:
            raise ScnnError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return [c for c in self.clips if c.split == name]

    def load(self, clip: Clip) -> np.ndarray:
        """Waveform of ``clip``: mono float32 at ``target_rate``, shape (samples,)."""
        wave, rate = load_audio(clip.path, self.target_rate)
        if rate != self.target_rate and rate not in self._rates_logged | set(self.native_rates):
            self._rates_logged.add(rate)
            log.warning("%s: resampling %d Hz audio to %d Hz (first seen in %s)",
                        self.name, rate, self.target_rate, clip.path.name)
        if clip.segment is not None:
            start = int(round(clip.segment[0] * self.target_rate))
            wave = wave[start : start + int(round(clip.segment[1] * self.target_rate))]
            if wave.size == 0:
                raise AudioError(f"{clip.path}: segment {clip.segment} is past the end")
        return wave if clip.gain == 1.0 else (wave * np.float32(clip.gain))

    def load_many(self, clips: Iterable[Clip], skip_bad: bool = False,
                  progress: bool = False) -> tuple[list[np.ndarray], LoadReport]:
        """Load clips in order; with ``skip_bad`` a bad file is counted, not raised."""
        from tqdm import tqdm

        clips = list(clips)
        waves, report = [], LoadReport()
        bar = tqdm(clips, desc="loading audio", unit="clip", leave=False,
                   disable=None if progress else True)
        for clip in bar:
            try:
                waves.append(self.load(clip))
            except AudioError as err:
                if not skip_bad:
                    raise
                report.skipped.append(str(err))
                continue
            report.clips.append(clip)
        if report.skipped:
            log.warning("skipped %d bad file(s); first: %s", len(report.skipped), report.skipped[0])
        return waves, report

    def counts(self) -> dict[str, dict[str, int]]:
        """Clip counts per split, per class name and per speaker."""
        out: dict[str, dict[str, int]] = {"split": {}, "class": dict.fromkeys(self.classes, 0),
                                          "speaker": {}}
        for c in self.clips:
            for key, val in (("split", c.split), ("class", self.classes[c.label]),
                             ("speaker", c.speaker)):
                out[key][val] = out[key].get(val, 0) + 1
        return out


FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")
SPEAKER_NAME = re.compile(r"^[A-Za-z]+$")


class FSDD(AudioDataset):
    """Free Spoken Digit Dataset from a folder (the dataset root or its ``recordings/``)."""

    name = "fsdd"

    def __init__(self, root: str | Path, splits: SplitSpec | None = None,
                 target_rate: int = TARGET_RATE) -> None:
        root = Path(root)
        rec = root / "recordings" if (root / "recordings").is_dir() else root
        if not rec.is_dir():
            raise ScnnError(f"{root}: not a directory (expected FSDD recordings)")
        splits = splits or SplitSpec()
        clips, self.ignored = [], []
        for p in sorted(rec.iterdir()):
            m = FSDD_NAME.match(p.name)
            if m is None:
                if p.suffix.lower() in AUDIO_SUFFIXES:
                    self.ignored.append(p.name)
                continue
            digit, speaker, index = int(m[1]), m[2], int(m[3])
            clips.append(Clip(p, digit, speaker, index, splits.assign(speaker, index)))
        if not clips:
            raise ScnnError(f"{rec}: no FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav)")
        splits.check_speakers((c.speaker for c in clips), rec)
        super().__init__(rec, [str(d) for d in range(10)], clips, target_rate)


def _hash_split(name: str, test_percent: int = 10) -> str:
    return "test" if zlib.crc32(name.encode()) % 100 < test_percent else "train"


class LabelledFolder(AudioDataset):
    """``ROOT/<label>/<file>`` audio; splits from ``ROOT/splits.csv`` or a name hash."""

    name = "folder"

    def __init__(self, root: str | Path, target_rate: int = TARGET_RATE) -> None:
        root = Path(root)
        if not root.is_dir():
            raise ScnnError(f"{root}: not a directory")
        classes = sorted(d.name for d in root.iterdir()
                         if d.is_dir() and not d.name.startswith("."))
        if not classes:
            raise ScnnError(f"{root}: no class sub-folders (expected ROOT/<label>/*.wav)")
        given = self._read_splits(root)
        clips = []
        for label, cls in enumerate(classes):
            for p in sorted((root / cls).iterdir()):
                if p.suffix.lower() not in AUDIO_SUFFIXES:
                    continue
                rel = f"{cls}/{p.name}"
                speaker = p.stem.split("_")[0]
                clips.append(Clip(p, label, speaker, -1, given.get(rel, _hash_split(rel)),
                                  rel=rel))
        if not clips:
            raise ScnnError(f"{root}: no audio files in the class folders")
        super().__init__(root, classes, clips, target_rate)

    @staticmethod
    def _read_splits(root: Path) -> dict[str, str]:
        path = root / "splits.csv"
        if not path.exists():
            return {}
        out = {}
        with path.open(newline="") as fh:
            for n, row in enumerate(csv.reader(fh), 1):
                if len(row) != 2 or row[1] not in SPLITS:
                    raise ScnnError(f"{path}:{n}: expected 'relative/path.wav,train|val|test'")
                out[row[0]] = row[1]
        return out


def detect_kind(root: Path) -> str:
    """The kind of dataset folder ``root`` holds (fsdd, gsc, shd, ssc or folder)."""
    from scnn.data.gsc import looks_gsc
    from scnn.data.spikes import looks_spikes

    rec = root / "recordings" if (root / "recordings").is_dir() else root
    if rec.is_dir() and any(FSDD_NAME.match(p.name) for p in rec.iterdir()):
        return "fsdd"
    if looks_gsc(root):
        return "gsc"
    return looks_spikes(root) or "folder"


def open_dataset(root: str | Path, kind: str = "auto", splits: SplitSpec | None = None,
                 target_rate: int = TARGET_RATE) -> AudioDataset:
    """Open ``root`` as a dataset of ``kind`` (:data:`DATASET_KINDS`; ``auto``: the
    kind ``splits`` records, else detected from the folder)."""
    root = Path(root)
    check_kind(kind, "dataset kind")
    if kind == "auto" and splits is not None:
        kind = splits.dataset
    if kind == "auto":
        kind = detect_kind(root) if root.is_dir() else "folder"
    if kind == "fsdd":
        return FSDD(root, splits, target_rate)
    if splits is not None and (splits.test_speakers or splits.val_speakers):
        raise ScnnError(f"{root}: {'test' if splits.test_speakers else 'validation'} speakers "
                        "need FSDD file names ({digit}_{speaker}_{index}.wav); other "
                        "datasets keep their official split")
    if kind in ("gsc", "gsc12"):
        from scnn.data.gsc import SpeechCommands

        return SpeechCommands(root, kind, target_rate)
    if kind in ("shd", "ssc"):
        from scnn.data.spikes import SpikeDataset

        return SpikeDataset(root, kind)
    return LabelledFolder(root, target_rate)
