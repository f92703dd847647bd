"""Spike-train datasets: Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC).

Cramer et al. 2020: spoken words through a cochlea model into 700 channels of spikes,
one HDF5 file per official split (``shd_train.h5``, ``shd_test.h5``; ``ssc_train.h5``,
``ssc_valid.h5``, ``ssc_test.h5``), each holding ``spikes/times`` (seconds) and
``spikes/units`` (channel ids) as one variable-length array per sample, ``labels``, and
optionally ``extra/speaker`` and ``extra/keys`` (the class names).

A sample goes to the chip as input spikes, not as a bias: binned into frames of
``hop_length / sample_rate`` seconds (the front end's frame), each channel's spike
count in a frame is the graded payload it sends (at most 127). Spikes after
``clip_seconds`` are dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scnn.data.audio import AudioError
from scnn.data.datasets import AudioDataset, Clip
from scnn.hw.errors import ScnnError

CHANNELS = 700
COUNT_MAX = 127
FILES = {"shd": ("train", "test"), "ssc": ("train", "valid", "test")}
SPLIT_OF = {"train": "train", "valid": "val", "test": "test"}


def looks_spikes(root: Path) -> str | None:
    """``shd`` or ``ssc`` if ``root`` holds that dataset's training file, else None."""
    for kind in FILES:
        if (root / f"{kind}_train.h5").is_file():
            return kind
    return None


def _h5(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ScnnError(f"{path}: not a readable HDF5 file ({err})") from None


def _read_index(path: Path, kind: str):
    """(labels, speakers, class names or None) of one file, every value checked."""
    with _h5(path) as f:
        try:
            for name in ("spikes/times", "spikes/units", "labels"):
                if name not in f or not hasattr(f[name], "shape"):
                    raise ScnnError(f"{path}: no '{name}' dataset (not {kind.upper()})")
            labels = np.asarray(f["labels"][()])
            if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or (
                    labels.size and labels.min() < 0):
                raise ScnnError(f"{path}: 'labels' must be one non-negative integer per "
                                "sample")
            n = len(labels)
            for name in ("spikes/times", "spikes/units"):
                if f[name].ndim != 1 or len(f[name]) != n:
                    raise ScnnError(f"{path}: '{name}' holds {f[name].shape} samples, "
                                    f"'labels' {n}")
            speakers = np.full(n, -1)
            if "extra/speaker" in f:
                speakers = np.asarray(f["extra/speaker"][()])
                if speakers.shape != (n,) or not np.issubdtype(speakers.dtype, np.integer):
                    raise ScnnError(f"{path}: 'extra/speaker' must be one integer per sample "
                                    f"({n})")
            keys = None
            if "extra/keys" in f:
                raw = np.asarray(f["extra/keys"][()])
                if raw.ndim != 1:
                    raise ScnnError(f"{path}: 'extra/keys' must be a list of class names")
                keys = [k.decode() if isinstance(k, bytes) else str(k) for k in raw]
        except (TypeError, ValueError, UnicodeDecodeError, KeyError, OSError) as err:
            reason = " ".join(str(err).split())[:160]
            raise ScnnError(f"{path}: not a readable {kind.upper()} file ({reason})") from None
    return labels, speakers, keys


class SpikeDataset(AudioDataset):
    """SHD or SSC from the folder holding its ``.h5`` files (``kind``: shd or ssc)."""

    spiking = True

    def __init__(self, root: str | Path, kind: str = "shd") -> None:
        root = Path(root)
        if kind not in FILES:
            raise ScnnError(f"unknown spike dataset {kind!r}; expected shd or ssc")
        if not root.is_dir():
            raise ScnnError(f"{root}: not a directory")
        self.name = kind
        clips, classes, n_labels = [], None, 0
        for part in FILES[kind]:
            path = root / f"{kind}_{part}.h5"
            if path.exists() and not path.is_file():
                raise ScnnError(f"{path}: not a regular file")
            if not path.is_file():
                if part == "train":
                    raise ScnnError(f"{root}: no {path.name} (an {kind.upper()} folder holds "
                                    f"{', '.join(f'{kind}_{p}.h5' for p in FILES[kind])})")
                continue
            labels, speakers, keys = _read_index(path, kind)
            if part == "train" and not len(labels):
                raise ScnnError(f"{path}: holds no samples")
            if classes is None and keys is not None:
                classes = keys
            n_labels = max(n_labels, int(labels.max()) + 1 if len(labels) else 0)
            split = SPLIT_OF[part]
            clips += [Clip(path, int(lab), f"speaker{int(spk)}" if spk >= 0 else "unknown",
                           i, split, rel=f"{path.name}#{i}")
                      for i, (lab, spk) in enumerate(zip(labels, speakers, strict=True))]
        if classes is None or len(classes) < n_labels:
            if classes is not None:
                raise ScnnError(f"{root}: 'extra/keys' names {len(classes)} classes but a "
                                f"label is {n_labels - 1}")
            classes = [str(i) for i in range(n_labels)]
        if len(set(classes)) != len(classes):
            dup = next(c for c in classes if classes.count(c) > 1)
            raise ScnnError(f"{root}: 'extra/keys' names class {dup!r} twice")
        self._open: dict[Path, object] = {}
        super().__init__(root, classes, clips)

    def load(self, clip: Clip) -> np.ndarray:
        """The sample's spikes as (events, 2) float64: time (s), channel."""
        f = self._open.get(clip.path)
        if f is None:
            f = self._open[clip.path] = _h5(clip.path)
        where = f"{clip.path}: sample {clip.index}"
        try:
            times = np.asarray(f["spikes/times"][clip.index], dtype=np.float64)
            units = np.asarray(f["spikes/units"][clip.index])
        except (TypeError, ValueError, OSError) as err:
            reason = " ".join(str(err).split())[:160]
            raise AudioError(f"{where}: unreadable spikes ({reason})") from None
        if times.shape != units.shape or times.ndim != 1:
            raise AudioError(f"{where}: {times.size} spike times but {units.size} units")
        if not np.isfinite(times).all() or (times.size and times.min() < 0):
            raise AudioError(f"{where}: spike times must be finite and >= 0 seconds")
        if units.size and (not np.issubdtype(units.dtype, np.integer) or units.min() < 0
                           or units.max() >= CHANNELS):
            raise AudioError(f"{where}: spike units must be channel ids 0..{CHANNELS - 1}")
        return np.stack([times, units.astype(np.float64)], axis=1)

    def close(self) -> None:
        for f in self._open.values():
            f.close()
        self._open.clear()


def bin_spikes(events: list[np.ndarray], frame_seconds: float, n_frames: int,
               channels: int = CHANNELS) -> np.ndarray:
    """Samples' (events, 2) spikes -> counts (n, 1, channels, n_frames) float32, at most
    ``COUNT_MAX`` per channel and frame; spikes at or after ``n_frames`` frames dropped."""
    out = np.zeros((len(events), 1, channels, n_frames), np.float32)
    for i, ev in enumerate(events):
        frame = np.floor(ev[:, 0] / frame_seconds).astype(np.int64)
        keep = frame < n_frames
        np.add.at(out[i, 0], (ev[keep, 1].astype(np.int64), frame[keep]), 1.0)
    return np.minimum(out, COUNT_MAX, out=out)
