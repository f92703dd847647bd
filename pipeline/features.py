"""Audio front ends: MFCC and log-mel spectrograms on torchaudio.

Defaults (8 kHz FSDD): a fixed 1 s window (8,000 samples; shorter clips are
zero-padded on both sides so the utterance sits in the centre, longer ones are
centre-cropped), 32 ms analysis windows (``n_fft = win = 256``) with a 32 ms hop
(256 samples), giving 32 frames; 40 mel bands from 20 Hz to 4 kHz; 32 MFCCs
(DCT-II, orthonormal, dB with an 80 dB floor per clip) or 32 log-mel bands.
A feature map is therefore 32 x 32, an input layer of 1,024 neurons.

Layout: waveforms (batch, samples) -> features (batch, 1, n_coef, n_frames), i.e.
(batch, channel, freq, frame). Normalisation statistics (per coefficient mean and
standard deviation) are computed on the training split only and stored as JSON
with every model that uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from scnn.hw.errors import ScnnError

FRONT_ENDS = ("mfcc", "logmel", "spikes")
SPIKE_CHANNELS = 700  # SHD/SSC: the cochlea model's channels


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of the audio front end (all sizes in samples or bins)."""

    kind: str = "mfcc"
    sample_rate: int = 8000
    clip_seconds: float = 1.0
    n_fft: int = 256
    win_length: int = 256
    hop_length: int = 256
    n_mels: int = 40
    n_mfcc: int = 32
    f_min: float = 20.0
    f_max: float = 4000.0
    top_db: float = 80.0
    log_eps: float = 1e-6
    cmn: bool = False  # per-clip mean of each coefficient over the clip's frames removed

    def __post_init__(self) -> None:
        if self.kind not in FRONT_ENDS:
            raise ScnnError(f"unknown front end {self.kind!r}; expected one of {FRONT_ENDS}")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ScnnError(f"n_mfcc={self.n_mfcc} exceeds n_mels={self.n_mels}")
        if not 0 < self.f_min < self.f_max <= self.sample_rate / 2:
            raise ScnnError(f"need 0 < f_min < f_max <= {self.sample_rate / 2}: "
                            f"f_min={self.f_min}, f_max={self.f_max}")
        if not isinstance(self.cmn, bool) or (self.cmn and self.kind == "spikes"):
            raise ScnnError(f"cmn (per-clip mean normalisation) must be true or false, and is "
                            f"for audio front ends; got {self.cmn!r} with {self.kind}")
        if self.win_length > self.n_fft or self.hop_length <= 0:
            raise ScnnError("need win_length <= n_fft and hop_length > 0")

    @property
    def n_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def n_coef(self) -> int:
        if self.kind == "spikes":
            return SPIKE_CHANNELS
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    @property
    def frame_seconds(self) -> float:
        return self.hop_length / self.sample_rate

    @property
    def n_frames(self) -> int:
        return self.n_samples // self.hop_length + 1  # torch.stft with center=True

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channel, freq, frame) of one feature map."""
        return (1, self.n_coef, self.n_frames)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        return cls(**d)


def fix_length(wave: np.ndarray, n: int) -> np.ndarray:
    """Centre ``wave`` (samples,) in a window of ``n``: zero-pad both sides or centre-crop."""
    if wave.shape[0] >= n:
        start = (wave.shape[0] - n) // 2
        return wave[start : start + n]
    left = (n - wave.shape[0]) // 2
    return np.pad(wave, (left, n - wave.shape[0] - left))


def _transform(cfg: FeatureConfig) -> torch.nn.Module:
    import torchaudio.transforms as T

    mel = dict(n_fft=cfg.n_fft, win_length=cfg.win_length, hop_length=cfg.hop_length,
               n_mels=cfg.n_mels, f_min=cfg.f_min, f_max=cfg.f_max, center=True, power=2.0)
    if cfg.kind == "mfcc":
        return T.MFCC(sample_rate=cfg.sample_rate, n_mfcc=cfg.n_mfcc, dct_type=2, norm="ortho",
                      log_mels=False, melkwargs=mel)
    return T.MelSpectrogram(sample_rate=cfg.sample_rate, **mel)


def extract(waves: Sequence[np.ndarray], cfg: FeatureConfig, batch: int = 256) -> torch.Tensor:
    """Features of 1-D waveforms at ``cfg.sample_rate``: (batch, 1, n_coef, n_frames) float32.

    Each clip is processed as its own channel group so that the MFCC's 80 dB floor
    is relative to that clip's maximum, independent of what else is in the batch.
    """
    if cfg.kind == "spikes":
        raise ScnnError("the 'spikes' front end bins spike trains (SHD/SSC), not audio")
    if not len(waves):
        return torch.zeros((0, *cfg.shape))
    transform = _transform(cfg)
    out = []
    with torch.no_grad():
        for i in range(0, len(waves), batch):
            chunk = np.stack([fix_length(np.asarray(w, np.float32), cfg.n_samples)
                              for w in waves[i : i + batch]])
            x = torch.from_numpy(chunk).unsqueeze(1)  # (b, 1, samples): one clip per group
            y = transform(x)  # (b, 1, n_coef, n_frames)
            if cfg.kind == "logmel":
                y = torch.log(y + cfg.log_eps)
            if cfg.cmn:
                y = y - y.mean(dim=-1, keepdim=True)
            out.append(y.float())
    return torch.cat(out)



def recording_features(wave: np.ndarray, cfg: FeatureConfig) -> torch.Tensor:
    """Log-mel frames of a whole recording of any length: (1, n_mels, n) float32, frame
    ``j`` centred on sample ``j * hop_length`` (torch.stft with center=True), each frame
    computed from its own window only, so a clip's frames are the same in a clip and in a
    recording (up to the window's edges). MFCCs are refused: their dB floor is relative
    to the loudest frame of what is transformed, not frame-local."""
    if cfg.kind != "logmel" or cfg.cmn:
        raise ScnnError("recordings need the logmel front end without per-clip mean "
                        f"normalisation (frame-local); {cfg.kind}" + (
                            " with cmn removes a mean over each clip" if cfg.cmn else
                            "'s 80 dB floor is relative to the loudest frame of each clip"))
    x = np.asarray(wave, np.float32)
    if x.ndim != 1 or x.shape[0] < cfg.n_fft:
        raise ScnnError(f"a recording must be 1-D with at least n_fft = {cfg.n_fft} samples, "
                        f"got shape {x.shape}")
    with torch.no_grad():
        y = _transform(cfg)(torch.from_numpy(x)[None])
        return torch.log(y + cfg.log_eps).float()

@dataclass(frozen=True)
class Normalizer:
    """Per-coefficient standardisation ``(x - mean[f]) / std[f]`` over (batch, frame)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, feats: torch.Tensor, eps: float = 1e-5) -> Normalizer:
        """Statistics of training features (batch, 1, n_coef, n_frames)."""
        if feats.shape[0] == 0:
            raise ScnnError("cannot fit feature normalisation on an empty training split")
        per_coef = feats.transpose(0, 2).reshape(feats.shape[2], -1).double()
        std = per_coef.std(dim=1, unbiased=False).clamp_min(eps)
        return cls(tuple(per_coef.mean(dim=1).tolist()), tuple(std.tolist()))

    def __call__(self, feats: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, dtype=feats.dtype).view(1, 1, -1, 1)
        std = torch.tensor(self.std, dtype=feats.dtype).view(1, 1, -1, 1)
        return (feats - mean) / std

    def to_dict(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        return cls(tuple(d["mean"]), tuple(d["std"]))
