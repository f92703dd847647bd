"""Waveform augmentation of the training split: speed perturbation and noise.

``copies`` augmented copies of every training clip are added to the originals (test and
validation clips are never touched). Copy ``k`` of a clip draws from its own generator,
seeded by (seed, k, the clip's name), so it does not depend on which other clips load:

* ``speed`` (LO, HI): the clip resampled by a factor drawn uniformly from [LO, HI]
  (Kaldi-style speed perturbation: tempo and pitch change together, as a shorter or
  longer vocal tract would), within [0.5, 2];
* ``noise`` (kinds): a kind drawn from the list, mixed at an SNR drawn uniformly from
  ``snr`` (LO, HI) dB (:mod:`scnn.data.noise`; babble from other speakers' training
  clips).

Speed first, then noise.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scnn.data.datasets import AudioDataset, Clip
from scnn.data.noise import NOISE_KINDS, SNR_RANGE, NoiseSource, mix
from scnn.hw.errors import ScnnError

SPEED_RANGE = (0.5, 2.0)
COPIES_MAX = 16


def _range(text: str, option: str, lo: float, hi: float) -> tuple[float, float]:
    parts = text.split(":")
    try:
        a, b = (float(parts[0]), float(parts[-1])) if len(parts) <= 2 else (math.nan, math.nan)
    except ValueError:
        a = b = math.nan
    if not (math.isfinite(a) and math.isfinite(b) and lo <= a <= b <= hi):
        raise ScnnError(f"{option} {text!r}: expected LO:HI with {lo:g} <= LO <= HI <= {hi:g}")
    return a, b


@dataclass(frozen=True)
class AugmentSpec:
    """How many augmented copies of each training clip, and what each does."""

    copies: int = 1
    speed: tuple[float, float] | None = None
    noise: tuple[str, ...] = ()
    snr: tuple[float, float] = (0.0, 20.0)
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.copies, bool) or not isinstance(self.copies, int) or not \
                1 <= self.copies <= COPIES_MAX:
            raise ScnnError(f"--augment-copies {self.copies!r}: an integer in 1..{COPIES_MAX}")
        if self.speed is None and not self.noise:
            raise ScnnError("augmentation needs --augment-speed LO:HI and/or "
                            "--augment-noise KINDS")
        for k in self.noise:
            if k not in NOISE_KINDS:
                raise ScnnError(f"--augment-noise: {k!r} is not a noise kind; expected a "
                                f"comma-separated list of {', '.join(NOISE_KINDS)}")
        if self.speed is not None:
            _range(f"{self.speed[0]}:{self.speed[1]}", "--augment-speed", *SPEED_RANGE)
        _range(f"{self.snr[0]}:{self.snr[1]}", "--augment-snr", *SNR_RANGE)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ScnnError(f"augmentation seed {self.seed!r}: a non-negative integer")

    def to_dict(self) -> dict:
        return {"copies": self.copies, "speed": list(self.speed) if self.speed else None,
                "noise": list(self.noise), "snr": list(self.snr), "seed": self.seed}


def augment_option(copies: int, speed: str | None, noise: str | None, snr: str | None,
                   seed: int) -> AugmentSpec | None:
    """The ``--augment-*`` options -> an AugmentSpec (None: no augmentation); ``snr``
    None: 0:20."""
    if snr is not None and noise is None:
        raise ScnnError(f"--augment-snr {snr}: the SNR of what? add --augment-noise KINDS")
    snr = "0:20" if snr is None else snr
    if speed is None and noise is None:
        if copies != 1:
            raise ScnnError(f"--augment-copies {copies}: copies of what? add --augment-speed "
                            "LO:HI and/or --augment-noise KINDS")
        return None
    kinds = tuple(k.strip() for k in noise.split(",")) if noise else ()
    return AugmentSpec(copies, _range(speed, "--augment-speed", *SPEED_RANGE) if speed else
                       None, kinds, _range(snr, "--augment-snr", *SNR_RANGE), seed)


def speed_perturb(wave: np.ndarray, factor: float) -> np.ndarray:
    """``wave`` played ``factor`` times faster (resampled: length / factor)."""
    if factor == 1.0:
        return wave
    import torch
    import torchaudio.functional as taf

    orig, new = int(round(1000 * factor)), 1000
    out = taf.resample(torch.from_numpy(np.ascontiguousarray(wave, np.float32)), orig, new)
    return out.numpy()


def augmented(spec: AugmentSpec, ds: AudioDataset, waves: Sequence[np.ndarray],
              clips: Sequence[Clip]) -> tuple[list[np.ndarray], list[Clip]]:
    """The augmented copies of ``waves`` (copy-major: every clip's copy 0, then 1, ...),
    with the clip each comes from."""
    source = NoiseSource(ds)
    out_w, out_c = [], []
    for k in range(spec.copies):
        for wave, clip in zip(waves, clips, strict=True):
            rng = np.random.default_rng([spec.seed, k, zlib.crc32(clip.key.encode())])
            w = wave
            if spec.speed is not None:
                w = speed_perturb(w, float(rng.uniform(*spec.speed)))
            if spec.noise:
                kind = spec.noise[int(rng.integers(len(spec.noise)))]
                snr = float(rng.uniform(*spec.snr))
                w = mix(w, source.draw(kind, clip, len(w), rng), snr)
            out_w.append(np.asarray(w, np.float32))
            out_c.append(clip)
    return out_w, out_c
