"""The SCNN family and its CNN twins: strided convolutions, LIF everywhere, no pooling.

Every network is built from a frozen :class:`SCNNConfig`, so a checkpoint is a
state_dict plus the config's JSON. Topology, per time step ``t`` (direct drive):

    input LIF   i0 = gain[c,f] * [x, -x] + offset[c,f] (x: normalised features; ON/OFF)
                s0, v0 = LIF(i0, v0)                   -> on Loihi: input layer, bias drive
    conv k      ik = conv_k(s_{k-1})  (bias-free, stride s, padding p)
                sk, vk = LIF(ik, vk)
    dense j     ij = W_j s_{j-1}      (bias-free)
                sj, vj = LIF(ij, vj)
    readout     out += W_out s_last   (a non-spiking integrator: dv = 0, never fires)

    logits = out / T  after T steps; prediction = argmax, exactly the chip's rule
    "largest readout voltage at the last step" (ties: lowest class index).

With the rate drive the input LIF is replaced by Bernoulli spikes (pipeline.encode.rate)
fed to the first convolution. The CNN twin (``neuron = "relu"``) has the same
layers with ReLU instead of LIF, one pass, no time: ``relu(gain * [x, -x] + offset)``
stands for the input layer's firing rate, so the twin is a bias-free ReLU network
end to end and converts to the SNN layer by layer (:mod:`pipeline.convert`).

Layout: x (batch, C, F, N) = (batch, channel, freq, frame).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn

from scnn.encode import rate as rate_drive
from scnn.hw.errors import ScnnError
from scnn.models.lif import LIF

NEURONS = ("lif", "relu")
MODEL_DRIVES = ("direct", "rate")


@dataclass(frozen=True)
class ConvSpec:
    """A bias-free 2-D convolution: out channels, square kernel, stride, padding."""

    channels: int
    kernel: int = 3
    stride: int = 2
    padding: int = 1


@dataclass(frozen=True)
class SCNNConfig:
    """Everything needed to rebuild a model (architecture and neuron options)."""

    name: str = "scnn"
    input_shape: tuple[int, int, int] = (1, 32, 32)
    convs: tuple[ConvSpec, ...] = (ConvSpec(32), ConvSpec(64))
    dense: tuple[int, ...] = (256,)
    n_classes: int = 10
    neuron: str = "lif"
    steps: int = 8
    beta: float = 0.75
    learn_beta: bool = False
    threshold: float = 1.0
    slope: float = 5.0
    drive: str = "direct"
    rate_gain: float = 0.5
    polarity: int = 2
    seed: int = 0
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.neuron not in NEURONS:
            raise ScnnError(f"unknown neuron {self.neuron!r}; expected one of {NEURONS}")
        if self.drive not in MODEL_DRIVES:
            raise ScnnError(f"input drive {self.drive!r} is not supported by the SCNN family "
                            f"(expected one of {MODEL_DRIVES})")
        if not 1 <= self.steps <= 1024:
            raise ScnnError(f"time steps must be in 1..1024, got {self.steps}")
        if not 0.0 < self.beta <= 1.0:
            raise ScnnError(f"beta must be in (0, 1], got {self.beta}")
        if self.polarity not in (1, 2):
            raise ScnnError(f"polarity must be 1 (x) or 2 (x and -x), got {self.polarity}")
        if not (math.isfinite(self.threshold) and self.threshold > 0):
            raise ScnnError(f"threshold must be a finite number > 0, got {self.threshold}")
        if not (math.isfinite(self.slope) and self.slope > 0):
            raise ScnnError(f"surrogate slope must be a finite number > 0, got {self.slope}")
        if not (math.isfinite(self.rate_gain) and 0 < self.rate_gain <= 1):
            raise ScnnError(f"rate_gain must be in (0, 1], got {self.rate_gain}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SCNNConfig:
        d = dict(d)
        d["input_shape"] = tuple(d["input_shape"])
        d["convs"] = tuple(ConvSpec(**c) for c in d["convs"])
        d["dense"] = tuple(d["dense"])
        return cls(**d)

    def layer_shapes(self) -> list[tuple[int, ...]]:
        """Output shape of every neuron layer: input, each conv (C, H, W), each dense (n,)."""
        c, h, w = self.input_shape
        c *= self.polarity if self.drive == "direct" else 1
        shapes: list[tuple[int, ...]] = [(c, h, w)]
        for spec in self.convs:
            h = (h + 2 * spec.padding - spec.kernel) // spec.stride + 1
            w = (w + 2 * spec.padding - spec.kernel) // spec.stride + 1
            c = spec.channels
            if h < 1 or w < 1:
                raise ScnnError(f"model {self.name}: convolution {spec} shrinks the map to {h}x{w}")
            shapes.append((c, h, w))
        shapes.extend((n,) for n in self.dense)
        return shapes


# Named members of the family. Model A/B follow the ISCAS 2023 seeds (6C3-16C3-128-64-10
# and 6C3-128-10) with stride-2 convolutions in place of pooling.
FAMILY: dict[str, SCNNConfig] = {
    "scnn": SCNNConfig(name="scnn"),
    "model_a": SCNNConfig(name="model_a", convs=(ConvSpec(6), ConvSpec(16)), dense=(128, 64),
                          beta=0.5),
    "model_b": SCNNConfig(name="model_b", convs=(ConvSpec(6),), dense=(128,), beta=0.5),
}


def get_config(name: str, **overrides) -> SCNNConfig:
    """A family member by name; ``cnn_<name>`` gives its ReLU twin (e.g. ``cnn_scnn``)."""
    twin = name.startswith("cnn_")
    base = FAMILY.get(name[4:] if twin else name)
    if base is None:
        names = ", ".join(sorted(FAMILY) + [f"cnn_{n}" for n in sorted(FAMILY)])
        raise ScnnError(f"unknown model {name!r}; expected one of {names}")
    cfg = replace(base, name=name, neuron="relu" if twin else base.neuron)
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


def with_width(cfg: SCNNConfig, width: float) -> SCNNConfig:
    """``cfg`` with every conv's channels and every hidden dense layer scaled by ``width``
    (rounded, at least 1); the input and the readout keep their sizes."""
    if not (isinstance(width, (int, float)) and math.isfinite(width) and width > 0):
        raise ScnnError(f"width (--width) must be a finite number > 0, got {width!r}")
    if width == 1.0:
        return cfg
    return replace(cfg, convs=tuple(replace(c, channels=max(1, round(c.channels * width)))
                                    for c in cfg.convs),
                   dense=tuple(max(1, round(n * width)) for n in cfg.dense))


class SCNN(nn.Module):
    """An SCNN (``neuron="lif"``) or its CNN twin (``neuron="relu"``) from a config."""

    def __init__(self, cfg: SCNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        shapes = cfg.layer_shapes()
        c_in, n_freq = shapes[0][0], cfg.input_shape[1]
        self.in_gain = nn.Parameter(torch.ones(1, c_in, n_freq, 1))
        self.in_offset = nn.Parameter(torch.zeros(1, c_in, n_freq, 1))
        layers: list[nn.Module] = []
        for spec in cfg.convs:
            layers.append(nn.Conv2d(c_in, spec.channels, spec.kernel, spec.stride, spec.padding,
                                    bias=False))
            c_in = spec.channels
        n_in = 1
        for dim in shapes[len(cfg.convs)]:
            n_in *= dim
        for n in cfg.dense:
            layers.append(nn.Linear(n_in, n, bias=False))
            n_in = n
        self.synapses = nn.ModuleList(layers)
        self.readout = nn.Linear(n_in, cfg.n_classes, bias=False)
        if cfg.neuron == "lif":
            n_lif = 1 + len(layers)
            self.neurons = nn.ModuleList(LIF(cfg.beta, cfg.threshold, cfg.slope, cfg.learn_beta)
                                         for _ in range(n_lif))

    @property
    def n_conv(self) -> int:
        return len(self.cfg.convs)

    def _synapse(self, k: int, s: torch.Tensor) -> torch.Tensor:
        if k == self.n_conv and s.dim() > 2:
            s = s.flatten(1)  # (batch, C, H, W) -> (batch, C*H*W), C-major as torch flattens
        return self.synapses[k](s)

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, C, F, N) normalised features -> the input layer's drive.

        With ``polarity = 2`` (direct drive) the features and their negation form
        two channels, so negative deviations drive neurons too: (batch, 2C, F, N).
        """
        if self.cfg.polarity == 2 and self.cfg.drive == "direct":
            x = torch.cat([x, -x], dim=1)
        return self.in_gain * x + self.in_offset

    def forward(self, x: torch.Tensor, record: bool = False):
        """Logits (batch, n_classes); with ``record`` also the spikes per layer and step.

        Recorded spikes: list over layers of (batch, T, *layer_shape) tensors; for the
        CNN twin the ReLU activations of the same layers, (batch, *layer_shape).
        """
        if self.cfg.neuron == "relu":
            h = torch.relu(self.input_current(x))
            acts = [h]
            for k in range(len(self.synapses)):
                h = torch.relu(self._synapse(k, h))
                acts.append(h)
            logits = self.readout(h.flatten(1))
            return (logits, acts) if record else logits
        return self._run_snn(x, record)

    def _run_snn(self, x: torch.Tensor, record: bool):
        cfg = self.cfg
        drive = self.input_current(x)
        spikes_in = None
        if cfg.drive == "rate":
            spikes_in = rate_drive(x, cfg.steps, cfg.seed, cfg.rate_gain)
        v = [torch.zeros(()) for _ in self.neurons]
        out = torch.zeros(x.shape[0], cfg.n_classes, dtype=x.dtype)
        trace: list[list[torch.Tensor]] = [[] for _ in self.neurons]
        for t in range(cfg.steps):
            if spikes_in is None:
                s, v[0] = self.neurons[0](drive, v[0])
            else:
                s = spikes_in[:, t]
            if record:
                trace[0].append(s)
            for k in range(len(self.synapses)):
                s, v[k + 1] = self.neurons[k + 1](self._synapse(k, s), v[k + 1])
                if record:
                    trace[k + 1].append(s)
            out = out + self.readout(s.flatten(1))
        logits = out / cfg.steps
        if not record:
            return logits
        return logits, [torch.stack(tr, dim=1) for tr in trace]
