"""Test clips mixed with noise at a chosen signal-to-noise ratio, seeded per clip.

Three kinds (``NOISE_KINDS``):

* ``white``: Gaussian, flat spectrum;
* ``pink``: Gaussian shaped to a 1/f power spectrum (amplitude 1/sqrt(f) above 20 Hz);
* ``babble``: the sum of ``BABBLE_TALKERS`` training clips of *other* speakers (never the
  clip's own), each scaled to the same power, looped or cut to the clip's length.

The noise is scaled so that 10 log10(P_clip / P_noise) = ``snr_db``, both powers the
mean square over the whole clip. Every clip's noise comes from its own generator,
seeded by (``seed``, CRC-32 of the file name), so a clip gets the same noise whatever
else is evaluated with it and in whatever order.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from scnn.data.datasets import AudioDataset, Clip
from scnn.hw.errors import ScnnError

NOISE_KINDS = ("white", "pink", "babble")
BABBLE_TALKERS = 6
SNR_RANGE = (-20.0, 60.0)  # dB; outside it the mixture is all noise or all clip
PINK_LOW_HZ = 20.0


@dataclass(frozen=True)
class NoiseSpec:
    """Which noise, how loud (dB SNR) and its seed."""

    kind: str
    snr_db: float
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in NOISE_KINDS:
            raise ScnnError(f"--noise {self.kind!r}: expected one of {', '.join(NOISE_KINDS)}")
        lo, hi = SNR_RANGE
        if isinstance(self.snr_db, bool) or not (isinstance(self.snr_db, (int, float))
                                                 and lo <= self.snr_db <= hi):
            raise ScnnError(f"--snr {self.snr_db!r}: a signal-to-noise ratio in dB within "
                            f"[{lo:g}, {hi:g}]")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ScnnError(f"--noise-seed {self.seed!r}: a non-negative integer")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "snr_db": float(self.snr_db), "seed": self.seed}


def noise_option(kind: str | None, snr: float | None, seed: int) -> NoiseSpec | None:
    """``--noise KIND --snr DB [--noise-seed N]`` -> a NoiseSpec (None: clean)."""
    if kind is None and snr is None:
        return None
    if kind is None or snr is None:
        raise ScnnError("--noise and --snr go together: --noise white|pink|babble --snr DB")
    if not math.isfinite(snr):
        raise ScnnError(f"--snr {snr}: not a finite number of dB")
    return NoiseSpec(kind, snr, seed)


def clip_rng(spec: NoiseSpec, clip: Clip) -> np.random.Generator:
    return np.random.default_rng([spec.seed, zlib.crc32(clip.key.encode())])


def pink(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with a 1/f power spectrum above ``PINK_LOW_HZ``, unit power."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / rate)
    spec *= 1 / np.sqrt(np.maximum(f, PINK_LOW_HZ))
    spec[0] = 0
    out = np.fft.irfft(spec, n)
    return out / math.sqrt(float(np.mean(out**2)) or 1.0)


def fit_to(wave: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``wave`` looped from a random offset to ``n`` samples."""
    start = int(rng.integers(len(wave)))
    return np.resize(np.roll(wave, -start), n)


def mix(wave: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``wave + g * noise`` with g making the clip-to-noise power ratio ``snr_db``."""
    p_sig = float(np.mean(np.square(wave, dtype=np.float64)))
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if p_sig == 0 or p_noise == 0:
        return wave.astype(np.float32)
    g = math.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10)))
    return (wave + g * noise).astype(np.float32)


class NoiseSource:
    """Noise of each kind for clips of ``ds``: babble talkers come from its training
    split, never the clip's own speaker (loaded once, unit power)."""

    def __init__(self, ds: AudioDataset) -> None:
        self.ds, self.rate = ds, ds.target_rate
        self.pool: dict[str, list[Clip]] = {}
        self.loaded: dict[str, np.ndarray] = {}

    def _talker(self, c: Clip) -> np.ndarray:
        if c.key not in self.loaded:
            w = self.ds.load(c).astype(np.float64)
            self.loaded[c.key] = w / math.sqrt(float(np.mean(w**2)) or 1.0)
        return self.loaded[c.key]

    def talkers(self) -> dict[str, list[Clip]]:
        """The training clips by speaker (raises if there are none)."""
        if not self.pool:
            for c in self.ds.split("train"):
                self.pool.setdefault(c.speaker, []).append(c)
            if not self.pool:
                raise ScnnError(f"{self.ds.root}: babble noise is made of training clips, and "
                                "the training split is empty")
        return self.pool

    def draw(self, kind: str, clip: Clip, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` samples of ``kind`` noise for ``clip``, drawn from ``rng``."""
        if kind == "white":
            return rng.standard_normal(n)
        if kind == "pink":
            return pink(n, self.rate, rng)
        others = [c for s, cs in sorted(self.talkers().items()) if s != clip.speaker
                  for c in cs]
        if not others:
            raise ScnnError(f"{clip.key}: babble needs training clips of other speakers; "
                            "this dataset has none")
        picks = rng.choice(len(others), min(BABBLE_TALKERS, len(others)), replace=False)
        return sum(fit_to(self._talker(others[i]), n, rng) for i in sorted(picks))


def noise_mixer(spec: NoiseSpec, ds: AudioDataset,
                progress: bool = False) -> Callable[[Sequence[np.ndarray], Sequence[Clip]],
                                                    list[np.ndarray]]:
    """A function (waves, clips) -> noisy waves for clips of ``ds`` (see
    :class:`NoiseSource`)."""
    source = NoiseSource(ds)
    if spec.kind == "babble":
        source.talkers()  # an empty training split fails here, before any clip

    def apply(waves: Sequence[np.ndarray], clips: Sequence[Clip]) -> list[np.ndarray]:
        out = []
        for wave, clip in zip(waves, clips, strict=True):
            noise = source.draw(spec.kind, clip, len(wave), clip_rng(spec, clip))
            out.append(mix(wave, noise, spec.snr_db))
        return out

    return apply
