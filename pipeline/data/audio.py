"""Audio loading: any readable file to mono float32 at the target rate (8 kHz by default).

Stereo is mixed down (mean of channels); other sample rates are resampled with
torchaudio's band-limited sinc resampler. A file that cannot be used (unreadable,
empty, truncated, not audio) raises :class:`AudioError` naming the file.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import soundfile as sf

from scnn.hw.errors import ScnnError

TARGET_RATE = 8000  # Hz; FSDD's native rate


class AudioError(ScnnError):
    """An audio file that cannot be used; the message names the file."""


def _check_riff(path: Path, raw: bytes) -> None:
    """Raise AudioError when a RIFF/WAVE file declares more data than it holds."""
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return  # not a WAV container: soundfile decides
    pos = 12
    while pos + 8 <= len(raw):
        chunk_id, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        if chunk_id == b"data":
            have = len(raw) - pos - 8
            if size > have:
                raise AudioError(f"{path}: truncated WAV (data chunk declares {size} bytes, "
                                 f"file holds {have})")
            return
        pos += 8 + size + (size & 1)
    raise AudioError(f"{path}: WAV file has no data chunk")


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a file as (frames, channels) float32 in [-1, 1] and its sample rate."""
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        raise AudioError(f"{path}: not a regular file (a device or FIFO): audio is read from "
                         "files")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise AudioError(f"{path}: cannot read ({err.strerror or err})") from None
    if not raw:
        raise AudioError(f"{path}: empty file (0 bytes)")
    _check_riff(path, raw)
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        reason = str(err).rsplit(": ", 1)[-1].strip().rstrip(".") or type(err).__name__
        raise AudioError(f"{path}: not a readable audio file ({reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: audio file holds no samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: audio contains NaN or infinite samples")
    return data, int(rate)


def to_mono(data: np.ndarray) -> np.ndarray:
    """(frames, channels) -> (frames,) by averaging the channels."""
    return data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]


def resample(wave: np.ndarray, rate: int, target: int = TARGET_RATE) -> np.ndarray:
    """Resample a 1-D float32 waveform from ``rate`` to ``target`` Hz."""
    if rate == target:
        return wave
    import torch
    import torchaudio.functional as taf

    out = taf.resample(torch.from_numpy(np.ascontiguousarray(wave)), rate, target)
    return out.numpy().astype(np.float32, copy=False)


def load_audio(path: str | Path, target_rate: int = TARGET_RATE) -> tuple[np.ndarray, int]:
    """Load ``path`` as mono float32 at ``target_rate``.

    Returns ``(wave, original_rate)``; ``wave`` has shape (samples,). The caller
    decides whether to log a resampling (datasets do it once per rate).
    """
    data, rate = read_audio(path)
    wave = resample(to_mono(data), rate, target_rate)
    if wave.size == 0:
        raise AudioError(f"{path}: too short to resample from {rate} Hz to {target_rate} Hz")
    return wave, rate
