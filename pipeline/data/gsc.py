"""Google Speech Commands v2 (Warden 2018): ``ROOT/<word>/<speaker>_nohash_<n>.wav``.

The official split: ``ROOT/validation_list.txt`` and ``ROOT/testing_list.txt`` name the
validation and test clips (``word/file.wav`` per line); every other clip trains. The
split is by speaker (a hash of the speaker id), so no voice is in two splits.

Two tasks:

* ``gsc``: every word folder is a class (35 in v2), sorted by name.
* ``gsc12``: the 12-class keyword task, ``_silence_``, ``_unknown_`` and the ten command
  words (yes no up down left right on off stop go), as TensorFlow's ``input_data``
  builds it: per split, ``_unknown_`` is 10 % as many clips as the command words have
  in that split, drawn from the other words' clips of the split, and ``_silence_`` as
  many 1 s windows of the ``_background_noise_`` recordings. Here both draws are
  deterministic (a hash of the clip's name), each noise recording is cut in time
  (first 80 % for training, next 10 % validation, last 10 % test, so no split hears
  another's noise), and a silence window is scaled by a gain in [0, 0.1] (as
  TensorFlow mixes background into silence), in every split.

Clips are 16 kHz; the pipeline resamples them to its 8 kHz front end.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import soundfile as sf

from scnn.data.datasets import AUDIO_SUFFIXES, AudioDataset, Clip
from scnn.hw.errors import ScnnError

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE, UNKNOWN = "_silence_", "_unknown_"
NOISE_DIR = "_background_noise_"
LISTS = {"val": "validation_list.txt", "test": "testing_list.txt"}
EXTRA_PERCENT = 10            # _unknown_ and _silence_, each, per split
SILENCE_GAIN = 0.1            # largest gain of a silence window
NOISE_CUTS = {"train": (0.0, 0.8), "val": (0.8, 0.9), "test": (0.9, 1.0)}


def looks_gsc(root: Path) -> bool:
    return all((root / name).is_file() for name in LISTS.values())


def _hash(text: str) -> int:
    return zlib.crc32(text.encode())


class SpeechCommands(AudioDataset):
    """Speech Commands v2 from ``root`` (the unpacked archive); ``task``: gsc or gsc12."""

    native_rates = (16000,)

    def __init__(self, root: str | Path, task: str = "gsc", target_rate: int = 8000) -> None:
        root = Path(root)
        if task not in ("gsc", "gsc12"):
            raise ScnnError(f"unknown Speech Commands task {task!r}; expected gsc or gsc12")
        if not root.is_dir() or not looks_gsc(root):
            raise ScnnError(f"{root}: not a Speech Commands folder (expected "
                            f"{LISTS['val']} and {LISTS['test']} beside the word folders)")
        self.name = task
        listed = self._read_lists(root)
        words = sorted(d.name for d in root.iterdir()
                       if d.is_dir() and not d.name.startswith((".", "_")))
        if not words:
            raise ScnnError(f"{root}: no word folders")
        by_word: dict[str, list[tuple[Path, str, str, int]]] = {}
        for word in words:
            for p in sorted((root / word).iterdir()):
                if p.suffix.lower() not in AUDIO_SUFFIXES:
                    continue
                rel = f"{word}/{p.name}"
                speaker, _, rest = p.stem.partition("_nohash_")
                index = int(rest) if rest.isdigit() else -1
                by_word.setdefault(word, []).append((p, rel, speaker, index))
        unknown_lists = sorted(set(listed) - {r for items in by_word.values()
                                              for _, r, _, _ in items})
        if unknown_lists:
            raise ScnnError(f"{root}: the split lists name {len(unknown_lists)} file(s) that "
                            f"are not there (first: {unknown_lists[0]})")
        if task == "gsc":
            classes = [w for w in words if w in by_word]
            clips = [Clip(p, classes.index(w), spk, idx, listed.get(rel, "train"), rel=rel)
                     for w in classes for p, rel, spk, idx in by_word[w]]
        else:
            classes, clips = self._twelve(root, by_word, listed, target_rate)
        if not clips:
            raise ScnnError(f"{root}: no audio files in the word folders")
        super().__init__(root, classes, clips, target_rate)

    @staticmethod
    def _read_lists(root: Path) -> dict[str, str]:
        out = {}
        for split, name in LISTS.items():
            path = root / name
            try:
                lines = path.read_text().splitlines()
            except (OSError, UnicodeDecodeError) as err:
                raise ScnnError(f"{path}: cannot read ({err})") from None
            for n, line in enumerate(lines, 1):
                rel = line.strip()
                if not rel:
                    continue
                if rel.count("/") != 1 or ".." in rel:
                    raise ScnnError(f"{path}:{n}: expected 'word/file.wav', got {rel[:60]!r}")
                if out.get(rel, split) != split:
                    raise ScnnError(f"{path}:{n}: {rel} is also in {LISTS[out[rel]]}")
                out[rel] = split
        return out

    @staticmethod
    def _twelve(root: Path, by_word: dict, listed: dict[str, str], rate: int):
        missing = [w for w in COMMANDS if w not in by_word]
        if missing:
            raise ScnnError(f"{root}: the 12-class task needs the command words; missing "
                            f"{', '.join(missing)}")
        classes = [SILENCE, UNKNOWN, *COMMANDS]
        clips = [Clip(p, classes.index(w), spk, idx, listed.get(rel, "train"), rel=rel)
                 for w in COMMANDS for p, rel, spk, idx in by_word[w]]
        others = [(p, rel, spk, idx) for w, items in sorted(by_word.items())
                  if w not in COMMANDS for p, rel, spk, idx in items]
        noise = sorted(p for p in (root / NOISE_DIR).glob("*")
                       if p.suffix.lower() in AUDIO_SUFFIXES) if (root / NOISE_DIR).is_dir() else []
        for split in ("train", "val", "test"):
            n_known = sum(c.split == split for c in clips)
            n_extra = math.ceil(n_known * EXTRA_PERCENT / 100)
            if n_extra == 0:
                continue
            pool = sorted((it for it in others if listed.get(it[1], "train") == split),
                          key=lambda it: _hash(it[1]))
            clips += [Clip(p, 1, spk, idx, split, rel=rel) for p, rel, spk, idx in pool[:n_extra]]
            clips += _silence(root, noise, split, n_extra)
        return classes, clips


def _silence(root: Path, noise: list[Path], split: str, n: int) -> list[Clip]:
    """``n`` one-second windows of the split's part of the noise recordings."""
    if not noise:
        raise ScnnError(f"{root}: the 12-class task makes _silence_ from {NOISE_DIR}/*.wav; "
                        "there are none")
    lo, hi = NOISE_CUTS[split]
    spans = []
    for p in noise:
        try:
            seconds = sf.info(str(p)).duration
        except (sf.LibsndfileError, RuntimeError) as err:
            raise ScnnError(f"{p}: not a readable audio file ({err})") from None
        a, b = lo * seconds, hi * seconds - 1.0
        if b >= a:
            spans.append((p, a, b))
    if not spans:
        raise ScnnError(f"{root}: no {NOISE_DIR} recording is long enough for a 1 s "
                        f"{split} window (each is cut 80/10/10 % in time)")
    out = []
    for i in range(n):
        p, a, b = spans[i % len(spans)]
        h = _hash(f"{split}/{i}")
        start = round(a + (b - a) * (h % 10_000) / 9_999, 3)
        gain = round(SILENCE_GAIN * ((h >> 14) % 1_000) / 999, 4)
        out.append(Clip(p, 0, NOISE_DIR, i, split, segment=(start, 1.0), gain=gain,
                        rel=f"{NOISE_DIR}/{p.name}@{start:.3f}s#{i}"))
    return out
