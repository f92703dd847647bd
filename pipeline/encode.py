"""Input drives for SNNs, from feature maps to what the input layer receives.

Shapes: a feature map batch is (batch, C, F, N) = (batch, channel, freq, frame);
every encoder returns (batch, T, ...) with time as axis 1 (the torch/snntorch
convention of this project; exporters move time last for Lava).

* ``direct``: the same real-valued map every step — on Loihi, a bias (constant
  current) on the input layer.
* ``rate``: Bernoulli spikes with probability ``clip(gain * x, 0, 1)`` per step,
  from a seeded generator (the same seed gives the same spikes).
* ``delta``: send-on-delta / threshold-crossing spikes of a sequence
  (batch, T, ...): an ON spike when the signal has risen by ``threshold`` since
  the last reference level, an OFF spike when it has fallen by as much; output
  (batch, T, 2, ...) with ON in channel 0 and OFF in channel 1.
  ``frames_as_time`` turns a feature map into such a sequence (frames become steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from scnn.hw.errors import ScnnError

DRIVES = ("direct", "rate", "delta")


def direct(x: torch.Tensor, steps: int) -> torch.Tensor:
    """(batch, ...) -> (batch, steps, ...): the same input at every step (a view)."""
    return x.unsqueeze(1).expand(x.shape[0], steps, *x.shape[1:])


def rate(x: torch.Tensor, steps: int, seed: int = 0, gain: float = 1.0) -> torch.Tensor:
    """(batch, ...) -> (batch, steps, ...) Bernoulli spikes (0./1.), p = clip(gain*x, 0, 1)."""
    gen = torch.Generator().manual_seed(seed)
    p = (gain * x).clamp(0.0, 1.0)
    u = torch.rand((x.shape[0], steps, *x.shape[1:]), generator=gen, dtype=x.dtype)
    return (u < p.unsqueeze(1)).to(x.dtype)


def delta(seq: torch.Tensor, threshold: float) -> torch.Tensor:
    """(batch, T, ...) -> (batch, T, 2, ...) ON/OFF threshold-crossing spikes.

    The reference level starts at the first sample; at step t an ON (OFF) spike is
    emitted when ``seq[:, t] - ref >= threshold`` (``<= -threshold``) and the
    reference moves by one threshold towards the signal (at most one spike per
    element and step, so fast changes spread over several steps).
    """
    if threshold <= 0:
        raise ScnnError(f"delta threshold must be > 0, got {threshold}")
    ref = seq[:, 0].clone()
    out = torch.zeros((seq.shape[0], seq.shape[1], 2, *seq.shape[2:]), dtype=seq.dtype)
    for t in range(seq.shape[1]):
        diff = seq[:, t] - ref
        on, off = diff >= threshold, diff <= -threshold
        out[:, t, 0], out[:, t, 1] = on.to(seq.dtype), off.to(seq.dtype)
        ref = ref + threshold * (on.to(seq.dtype) - off.to(seq.dtype))
    return out


def frames_as_time(feats: torch.Tensor) -> torch.Tensor:
    """(batch, C, F, N) feature maps -> (batch, N, C, F): each frame becomes a step."""
    return feats.permute(0, 3, 1, 2)


@dataclass(frozen=True)
class DriveConfig:
    """Which drive, and its parameters. ``steps`` is T for direct and rate drives."""

    kind: str = "direct"
    steps: int = 8
    gain: float = 0.5
    threshold: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in DRIVES:
            raise ScnnError(f"unknown input drive {self.kind!r}; expected one of {DRIVES}")
        if self.steps < 1:
            raise ScnnError(f"time steps must be >= 1, got {self.steps}")

    def __call__(self, feats: torch.Tensor) -> torch.Tensor:
        """(batch, C, F, N) features -> (batch, T, ...) drive (see module docstring)."""
        if self.kind == "direct":
            return direct(feats, self.steps)
        if self.kind == "rate":
            return rate(feats, self.steps, self.seed, self.gain)
        return delta(frames_as_time(feats), self.threshold)
