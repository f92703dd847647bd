"""Streamed LIF networks: log-mel frames fed as time, detections in long recordings.

A streamed network reads one log-mel frame (``n_in`` bands, frame-local: no per-clip
normalisation, so a frame of a long recording is the frame of the same audio in a
clip) every ``steps_per_frame`` chip steps, as graded spikes into its first dense
synapse (Loihi 2's graded input, ``input_message_bits`` 8), through feed-forward CUBA
LIF layers into a leaky, non-spiking readout. Nothing is repeated: the network's memory
is its membranes, so the same network classifies a 1 s clip (argmax of the readout
after the clip) and runs unreset over a recording of any length (:func:`detect`).

Per step ``t`` (frame ``f = t // steps_per_frame``), float model and chip alike::

    x[t]  = clamp(round(gain * z[f] + offset), -127, 127)    z: normalised log-mel frame
    a1[t] = W1 x[t]                 (graded: integer payloads times 8-bit weights)
    layer k: v = beta_k v + a_k;  s = v > vth_k;  v = 0 where s;   a_(k+1) = W_(k+1) s
    readout: v_r = beta_r v_r + W_r s_last        (never fires)

The chip delays each synapse layer by one step, so the readout of chip step
``t + L`` (``L`` synapse layers) is this model's readout of step ``t``; a clip runs
``steps + L`` chip steps (``run_steps``) with zero input in the tail.

:class:`StreamLIF` trains in float (surrogate gradients, BPTT); :func:`quantize_stream`
turns it into :class:`LoihiStream`, the chip's integer dynamics exactly (weights on the
even 8-bit grid, graded input in [-127, 127], u and v as Lava's ``PyLifModelBitAcc``),
fine-tuned with straight-through gradients (:func:`fit_stream`; ``scnn train-stream``
is :func:`train_stream_net`); :func:`stream_network` is the network the chip runs
(test: equal to sim.fast bit for bit). :func:`stream_card` is the model card (drive
kind ``stream``).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from snntorch import surrogate
from torch import nn

from scnn import defaults
from scnn.features import FeatureConfig, Normalizer
from scnn.hw.errors import ScnnError
from scnn.hw.quantize import DU_CLEAR, WEIGHT_MAX, decay_from_beta, quantize_weights
from scnn.models.lif import LIF
from scnn.models.loihi import loihi_lif_step, ste

INPUT_MAX = 127          # graded input payloads: signed 8 bits
INPUT_MESSAGE_BITS = 8   # netx's input_message_bits for the first synapse
CURRENT_LIMIT = 1 << 16  # |a| budget of the graded layer: u = a << 6 wraps at 2**23 (margin 2)
READOUT_LIMIT = 1 << 22  # |v| budget of the readout: v clips at 2**23, just above its vth << 6
INPUT_PERCENTILE = 99.9  # of |gain * z + offset| over the training frames -> 127
SPIKE_HOP = 80           # spike-train frames: 80 samples at 8 kHz = 10 ms, 101 per 1 s
# graded: normalised log-mel frames times a learned gain plus offset, scaled to 8 bits;
# spikes: spike counts per frame (SHD/SSC) sent as they are (gain 1, offset 0, scale 1)
STREAM_INPUTS = ("graded", "spikes")


def _input_affine(module: nn.Module, gain: torch.Tensor, offset: torch.Tensor,
                  learned: bool) -> None:
    """``module.in_gain`` / ``in_offset``: parameters when learned, else fixed buffers."""
    for name, value in (("in_gain", gain), ("in_offset", offset)):
        if learned:
            setattr(module, name, nn.Parameter(value))
        else:
            module.register_buffer(name, value)


def check_stream_shape(cfg) -> None:
    """The sizes every streamed model config shares (bands, frames, classes, steps per
    frame, hidden layers) have their types and ranges."""
    for name in ("n_in", "n_frames", "n_classes", "steps_per_frame"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ScnnError(f"stream model {name} must be an integer >= 1, got {value!r}")
    if not 1 <= cfg.steps_per_frame <= 16:
        raise ScnnError(f"steps per frame must be in 1..16, got {cfg.steps_per_frame}")
    if not cfg.hidden or any(isinstance(n, bool) or not isinstance(n, int) or not
                             1 <= n <= 4096 for n in cfg.hidden):
        raise ScnnError(f"hidden layer sizes must be integers in 1..4096, got {cfg.hidden}")


class StreamShape:
    """What every streamed model config (a dataclass with ``n_frames``,
    ``steps_per_frame`` and ``hidden``) derives from its sizes, and its dict form."""

    @property
    def steps(self) -> int:
        """Model steps per clip: every frame held for ``steps_per_frame`` steps."""
        return self.n_frames * self.steps_per_frame

    @property
    def synapse_layers(self) -> int:
        return len(self.hidden) + 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> StreamShape:
        d = dict(d)
        d["hidden"] = tuple(d["hidden"])
        return cls(**d)


@dataclass(frozen=True)
class StreamConfig(StreamShape):
    """A streamed LIF network: ``n_in`` bands -> hidden LIF layers -> leaky readout."""

    name: str = "stream_lif"
    n_in: int = 40
    n_frames: int = 32
    hidden: tuple[int, ...] = (256, 256)
    n_classes: int = 10
    steps_per_frame: int = 1
    beta: float = 0.95
    readout_beta: float = 0.97
    threshold: float = 1.0
    slope: float = 5.0
    seed: int = 0
    notes: str = field(default="", compare=False)
    input: str = "graded"
    input_gain: float = 1.0  # spikes: the float model's fixed gain on the counts

    def __post_init__(self) -> None:
        check_stream_shape(self)
        if not (isinstance(self.input_gain, (int, float)) and math.isfinite(self.input_gain)
                and self.input_gain > 0):
            raise ScnnError(f"stream model input_gain must be a finite number > 0, got "
                            f"{self.input_gain!r}")
        if self.input not in STREAM_INPUTS:
            raise ScnnError(f"stream model input must be one of {', '.join(STREAM_INPUTS)}, "
                            f"got {self.input!r}")
        for name in ("beta", "readout_beta"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 < value <= 1.0):
                raise ScnnError(f"{name} must be in (0, 1], got {value!r}")
        for name in ("threshold", "slope"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ScnnError(f"{name} must be a finite number > 0, got {value!r}")


def frames(x: torch.Tensor) -> torch.Tensor:
    """(batch, 1, F, N) or (batch, F, N) features -> (batch, F, N)."""
    return x[:, 0] if x.dim() == 4 else x


class StreamLIF(nn.Module):
    """The float streamed network (see the module docstring); logits are the readout
    after the last step times ``1 - readout_beta`` (its time average's scale)."""

    def __init__(self, cfg: StreamConfig) -> None:
        super().__init__()
        self.cfg = cfg
        gain = 1.0 if cfg.input == "graded" else float(cfg.input_gain)
        _input_affine(self, torch.full((1, cfg.n_in, 1), gain), torch.zeros(1, cfg.n_in, 1),
                      cfg.input == "graded")
        sizes = (cfg.n_in, *cfg.hidden)
        self.synapses = nn.ModuleList(nn.Linear(a, b, bias=False)
                                      for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.readout = nn.Linear(sizes[-1], cfg.n_classes, bias=False)
        self.neurons = nn.ModuleList(LIF(cfg.beta, cfg.threshold, cfg.slope) for _ in cfg.hidden)

    def drive(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, F, N) input currents of the first synapse, per frame."""
        return self.in_gain * frames(x) + self.in_offset

    def forward(self, x: torch.Tensor, record: bool = False):
        """Logits (batch, classes); with ``record`` also the spikes of every hidden layer
        (batch, T, n) and the readout voltage (batch, T, classes)."""
        cfg, drive = self.cfg, self.drive(x)
        v = [torch.zeros(()) for _ in cfg.hidden]
        v_out = torch.zeros(drive.shape[0], cfg.n_classes)
        trace: list[list[torch.Tensor]] = [[] for _ in cfg.hidden]
        outs = []
        for t in range(cfg.steps):
            h = drive[:, :, t // cfg.steps_per_frame]
            for k, syn in enumerate(self.synapses):
                h, v[k] = self.neurons[k](syn(h), v[k])
                if record:
                    trace[k].append(h)
            v_out = cfg.readout_beta * v_out + self.readout(h)
            if record:
                outs.append(v_out)
        logits = v_out * (1.0 - cfg.readout_beta)
        if not record:
            return logits
        return logits, [torch.stack(tr, dim=1) for tr in trace], torch.stack(outs, dim=1)


@dataclass(frozen=True)
class StreamQuant:
    """Integer units of a streamed network: input scale (units per float input current),
    per synapse layer the weight scale, and per neuron layer dv and vth (readout last)."""

    input_scale: float
    weight_scales: tuple[float, ...]
    dv: tuple[int, ...]
    vth: tuple[int, ...]

    @property
    def readout_units(self) -> float:
        """Readout v per float readout voltage: ``64 * weight scale``."""
        return 64.0 * self.weight_scales[-1]

    @classmethod
    def from_dict(cls, d: dict) -> StreamQuant:
        return cls(d["input_scale"], tuple(d["weight_scales"]), tuple(d["dv"]), tuple(d["vth"]))


class LoihiStream(nn.Module):
    """A streamed network in the chip's integer units with its exact forward pass
    (float64 integers; straight-through gradients for rounding, wrapping, clipping and a
    fast-sigmoid surrogate for the spike)."""

    def __init__(self, model: StreamLIF, quant: StreamQuant) -> None:
        super().__init__()
        self.cfg, self.quant = model.cfg, quant
        s_in, graded = quant.input_scale, model.cfg.input == "graded"
        # spike counts reach the chip as they are: gain exactly 1 (s_in = 1 / input_gain)
        _input_affine(self, model.in_gain.detach().double() * s_in if graded else
                      torch.ones_like(model.in_gain, dtype=torch.float64),
                      model.in_offset.detach().double() * s_in, graded)
        self.weights = nn.ParameterList(
            nn.Parameter(w.weight.detach().double() * s)
            for w, s in zip([*model.synapses, model.readout], quant.weight_scales, strict=True))
        self.spike_fn = surrogate.fast_sigmoid(slope=model.cfg.slope)

    def drive(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, F, N) graded input integers in [-127, 127] (round half to even)."""
        b = self.in_gain * frames(x).double() + self.in_offset
        return ste(b, torch.round(b.detach()).clamp(-INPUT_MAX, INPUT_MAX))

    def int_weights(self) -> list[torch.Tensor]:
        """Every synapse layer's weights on the even 8-bit grid (readout last)."""
        return [ste(w, quantize_weights(w.detach())) for w in self.weights]

    def forward(self, x: torch.Tensor, record: bool = False):
        """Logits: the readout v after the last step, in the float model's units; with
        ``record`` also the hidden spikes (batch, T, n) and the readout v (batch, T,
        classes) as the chip's integers."""
        cfg, q = self.cfg, self.quant
        xin, ws = self.drive(x), self.int_weights()
        n = len(cfg.hidden)
        v = [torch.zeros((), dtype=torch.float64) for _ in range(n + 1)]
        trace: list[list[torch.Tensor]] = [[] for _ in range(n)]
        outs = []
        for t in range(cfg.steps):
            h = xin[:, :, t // cfg.steps_per_frame]
            for k in range(n):
                h, v[k] = loihi_lif_step(h @ ws[k].T, v[k], q.dv[k], q.vth[k], 0, self.spike_fn)
                if record:
                    trace[k].append(h)
            _, v[n] = loihi_lif_step(h @ ws[n].T, v[n], q.dv[n], q.vth[n], 0, self.spike_fn)
            if record:
                outs.append(v[n].detach())
        logits = (v[n] * ((1.0 - cfg.readout_beta) / q.readout_units)).float()
        if not record:
            return logits
        return logits, [torch.stack(tr, dim=1) for tr in trace], torch.stack(outs, dim=1)


def _scale(w: torch.Tensor, percentile: float) -> float:
    a = w.detach().abs().flatten().double()
    ref = float(a.max()) if percentile >= 100 else float(torch.quantile(a, percentile / 100))
    if not ref > 0:
        raise ScnnError("a synapse layer's weights are all zero: nothing to quantise")
    return WEIGHT_MAX / ref


def quantize_stream(model: StreamLIF, x_train: torch.Tensor, percentile: float = 100.0,
                    batch: int = 256) -> LoihiStream:
    """The float model in integer units within the chip's limits on the training clips.

    Input: ``INPUT_PERCENTILE`` of ``|gain z + offset|`` -> 127. Weights: the layer's
    largest (or ``percentile``) -> 254, lowered where needed so the graded layer's
    synaptic input stays under ``CURRENT_LIMIT`` and the readout under ``READOUT_LIMIT``
    (the largest values the float model reaches on the training clips, margin 2).
    Thresholds ``round(threshold * units)``; ``dv = round(4096 (1 - beta))``.
    """
    from scnn.hw.chips import LOIHI2
    from scnn.hw.rules import check_decay, check_threshold

    cfg = model.cfg
    model.eval()
    with torch.no_grad():
        drive, a_max, v_max = [], 0.0, 0.0
        w1 = model.synapses[0].weight.double()
        for i in range(0, len(x_train), batch):
            d = model.drive(x_train[i : i + batch]).double()
            drive.append(d.abs().flatten())
            a_max = max(a_max, float((d.transpose(1, 2) @ w1.T).abs().max()))
            v_max = max(v_max, float(model(x_train[i : i + batch], record=True)[2].abs().max()))
        ref = float(torch.quantile(torch.cat(drive)[: 1 << 24], INPUT_PERCENTILE / 100))
    if not ref > 0:
        raise ScnnError("the input currents of the training clips are all zero")
    s_in = INPUT_MAX / ref if cfg.input == "graded" else 1.0 / cfg.input_gain
    layers = [*model.synapses, model.readout]
    scales = [_scale(syn.weight, percentile) for syn in layers]
    scales[0] = min(scales[0], CURRENT_LIMIT / (s_in * a_max)) if a_max > 0 else scales[0]
    scales[-1] = min(scales[-1], READOUT_LIMIT / (64.0 * v_max)) if v_max > 0 else scales[-1]
    units = [s_in * scales[0], *scales[1:-1]]
    vth = [round(cfg.threshold * u) for u in units] + [LOIHI2.threshold_mant_max]
    dv = [decay_from_beta(cfg.beta)] * len(cfg.hidden) + [decay_from_beta(cfg.readout_beta)]
    for k, (t, d) in enumerate(zip(vth, dv, strict=True)):
        check_threshold(f"neuron layer {k}", t, LOIHI2)
        check_decay(f"neuron layer {k}", "dv", d, LOIHI2)
    q = LoihiStream(model, StreamQuant(s_in, tuple(scales), tuple(dv), tuple(vth)))
    q.eval()
    return q


def check_stream_limits(q: LoihiStream, x: torch.Tensor, batch: int = 256) -> dict:
    """The largest graded synaptic input and readout |v| the integer network reaches on
    ``x``; raises when the readout would reach its threshold (it must never fire)."""
    ws = [w.detach() for w in q.int_weights()]
    a_max = v_max = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xin = q.drive(x[i : i + batch])
            a_max = max(a_max, int((xin.transpose(1, 2) @ ws[0].T).abs().max()))
            v_max = max(v_max, int(q(x[i : i + batch], record=True)[2].abs().max()))
    if v_max >= q.quant.vth[-1] << 6:
        raise ScnnError(f"the readout reaches |v| = {v_max} >= its threshold "
                        f"{q.quant.vth[-1]} << 6: it would fire")
    return {"graded_input_max": a_max, "readout_v_max": v_max}


def stream_network(q: LoihiStream):
    """The sim.Network the chip runs: graded input (``input_message_bits`` 8) into Dense
    layers of CUBA LIF neurons (du = 4095), the readout Dense into leaky integrators."""
    from scnn.sim.network import LIF as ChipLIF
    from scnn.sim.network import Network
    from scnn.sim.netx import netx_dense

    cfg, quant = q.cfg, q.quant
    layers, shape = [], (cfg.n_in,)
    for k, w in enumerate(q.int_weights()):
        w = w.detach().numpy().astype(np.int64)
        if not w.any():
            raise ScnnError(f"synapse layer {k}: every weight rounds to zero")
        out = (w.shape[0],)
        layers.append(netx_dense(shape, out, w, ChipLIF(DU_CLEAR, quant.dv[k], quant.vth[k])))
        shape = out
    return Network(tuple(layers), (cfg.n_in,), INPUT_MESSAGE_BITS)


CARD_RULE = ("x = clamp(round(gain[f] * z + offset[f]), -max, max) (half to even) per "
             "frame, z = normalised log-mel frame (F,); each frame sent as graded spikes "
             "(input_message_bits 8) into the first synapse for steps_per_frame steps, "
             "frames in order, then zeros for the synapse_layers tail steps of a clip")
SPIKE_CARD_RULE = ("x = min(spike count of channel f in the frame, max) per frame (frames "
                   "of features.hop_length / features.sample_rate s; gain 1, offset 0, "
                   "normalisation the identity); each frame sent as graded spikes "
                   "(input_message_bits 8) into the first synapse for steps_per_frame steps, "
                   "frames in order, then zeros for the synapse_layers tail steps of a clip")


def stream_card(q: LoihiStream, net, fcfg: FeatureConfig, norm: Normalizer,
                classes: list[str], net_name: str, detector: dict | None = None) -> dict:
    """The model card of a streamed network (``drive.kind`` = ``stream``)."""
    from scnn.export import card_header

    cfg, quant = q.cfg, q.quant
    n_syn = cfg.synapse_layers
    return {
        **card_header(net_name, cfg.to_dict(), classes, fcfg, norm),
        "input_message_bits": INPUT_MESSAGE_BITS,
        "drive": {"kind": "stream", "max": INPUT_MAX,
                  "rule": CARD_RULE if cfg.input == "graded" else SPIKE_CARD_RULE,
                  "steps_per_frame": cfg.steps_per_frame,
                  "gain": q.in_gain.detach()[0, :, 0].tolist(),
                  "offset": q.in_offset.detach()[0, :, 0].tolist()},
        "steps": cfg.steps,
        "synapse_layers": n_syn,
        "run_steps": cfg.steps + n_syn,
        "readout": {"layer": len(net.layers) - 1, "state": "v",
                    "rule": "clips: prediction = argmax over classes of v of the readout layer "
                            "after run_steps steps (ties: lowest index); streams: see "
                            "stream.detector"},
        "stream": {"frame_seconds": fcfg.hop_length / fcfg.sample_rate,
                   "latency_steps": n_syn, "detector": detector or {}},
        "quantization": {"input_scale": quant.input_scale,
                         "weight_scales": list(quant.weight_scales),
                         "dv": list(quant.dv), "vth": list(quant.vth)},
        "accuracy": {},
    }


def card_frames(card: dict, feats: torch.Tensor) -> np.ndarray:
    """Raw log-mel features (batch, [1,] F, N) -> graded input integers (batch, F, N)."""
    norm = Normalizer.from_dict(card["normalization"])
    d = card["drive"]
    x = frames(feats)
    z = norm(x[:, None])[:, 0].double()
    gain = torch.tensor(d["gain"], dtype=torch.float64)[None, :, None]
    offset = torch.tensor(d["offset"], dtype=torch.float64)[None, :, None]
    return torch.round(gain * z + offset).clamp(-d["max"], d["max"]).numpy().astype(np.int32)


def stream_spikes(card: dict, xin: np.ndarray, tail: bool = True) -> np.ndarray:
    """Graded frames (batch, F, N) -> the input of the chip (batch, F, steps): each frame
    held ``steps_per_frame`` steps, then (``tail``) ``synapse_layers`` steps of zeros."""
    k = card["drive"]["steps_per_frame"]
    x = np.repeat(xin, k, axis=-1)
    if tail:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (card["synapse_layers"],), x.dtype)],
                           axis=-1)
    return x


def fit_float(make_model, tcfg, tensors: dict, progress: bool = True, on_epoch=None):
    """The float training both streamed families start with: ``make_model()`` built after
    seeding, trained on ``tensors["train"]`` (curve on ``tensors["test"]`` if given);
    returns (model, the epoch rows)."""
    from scnn.train import fit, set_determinism

    if tcfg.energy_weight > 0:
        raise ScnnError("energy-aware training (--energy-weight) is not available for "
                        "streamed networks yet")
    set_determinism(tcfg.seed, tcfg.threads)
    model = make_model()
    return model, fit(model, tcfg, tensors["train"], tensors.get("test"), progress, on_epoch)


def fit_stream(cfg: StreamConfig, tcfg, tensors: dict,
               qat_epochs: int = defaults.STREAM_QAT_EPOCHS,
               qat_lr: float = defaults.STREAM_QAT_LR,
               progress: bool = True, on_epoch=None) -> tuple[LoihiStream, dict]:
    """Train the float model, quantise it, fine-tune the integer model (kept only when
    its training accuracy is higher, as ``scnn.qat``); returns it with the metrics.
    ``on_epoch``: called with each float training epoch's row (``scnn.train.fit``)."""
    from dataclasses import replace

    from scnn.train import accuracy, fit

    model, rows = fit_float(lambda: StreamLIF(cfg), tcfg, tensors, progress, on_epoch)
    train, test = tensors["train"], tensors.get("test")
    metrics: dict = {"model": cfg.name, "seed": tcfg.seed, "epochs": tcfg.epochs,
                     "qat_epochs": qat_epochs, "float_train_curve": rows}
    if test is not None:
        metrics["float_accuracy"] = accuracy(model, test)
    q = quantize_stream(model, train[0])
    metrics["quantized_train_accuracy"] = accuracy(q, train)
    if test is not None:
        metrics["quantized_accuracy"] = accuracy(q, test)
    metrics["kept"] = "quantised"
    if qat_epochs > 0:
        state = copy.deepcopy(q.state_dict())
        qrows = fit(q, replace(tcfg, epochs=qat_epochs, lr=qat_lr), train, test, progress)
        metrics["qat_curve"] = qrows
        metrics["finetuned_train_accuracy"] = accuracy(q, train)
        if metrics["finetuned_train_accuracy"] > metrics["quantized_train_accuracy"]:
            metrics["kept"] = "fine-tuned"
        else:
            q.load_state_dict(state)
    q.eval()
    metrics["limits"] = check_stream_limits(q, train[0])
    if test is not None:
        metrics["exact_accuracy"] = accuracy(q, test)
    return q, metrics


# ---------------------------------------------------------------- recordings

@dataclass(frozen=True)
class Utterance:
    """One clip of a generated recording: where it is (seconds) and what it says."""

    onset: float
    offset: float
    label: int
    clip: str = ""


def make_recording(waves: list[np.ndarray], labels: list[int], sample_rate: int,
                   seconds: float = 30.0, gap: tuple[float, float] = (0.5, 1.0),
                   seed: int = 0, names: list[str] | None = None,
                   noise_db: float | None = None) -> tuple[np.ndarray, list[Utterance]]:
    """Clips drawn without replacement (seeded) from ``waves``, each after a silence of
    ``gap`` seconds (uniform in the range), until the next would end after ``seconds``;
    optional white noise at ``noise_db`` dB full scale over the whole recording."""
    if not (math.isfinite(seconds) and seconds > 0):
        raise ScnnError(f"recording length must be > 0 seconds, got {seconds}")
    lo, hi = gap
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi):
        raise ScnnError(f"gap must be 0 <= MIN <= MAX seconds, got {lo}:{hi}")
    if not waves:
        raise ScnnError("no clips to make a recording from")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(waves))
    total = int(round(seconds * sample_rate))
    parts, truth, pos = [], [], 0
    for i in order:
        silence = int(round(rng.uniform(lo, hi) * sample_rate))
        clip = np.asarray(waves[i], np.float32)
        if pos + silence + len(clip) > total:
            break
        parts += [np.zeros(silence, np.float32), clip]
        start = pos + silence
        truth.append(Utterance(start / sample_rate, (start + len(clip)) / sample_rate,
                               int(labels[i]), names[i] if names else ""))
        pos = start + len(clip)
    if not truth:
        raise ScnnError(f"no clip fits in {seconds} s with gaps of {lo}-{hi} s")
    wave = np.concatenate(parts + [np.zeros(total - pos, np.float32)])
    if noise_db is not None:
        wave = wave + rng.normal(0.0, 10 ** (noise_db / 20), wave.shape).astype(np.float32)
    return wave, truth


def write_labels(path, truth: list[Utterance], classes: list[str]) -> None:
    """The recording's ground truth as CSV: onset_s, offset_s, label, clip."""
    import csv

    with Path(path).open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["onset_s", "offset_s", "label", "clip"])
        out.writerows([f"{u.onset:.4f}", f"{u.offset:.4f}", classes[u.label], u.clip]
                      for u in truth)


def read_labels(path, classes: list[str]) -> list[Utterance]:
    """Ground truth written by :func:`write_labels` (labels must be the card's classes)."""
    import csv

    path = Path(path)
    if path.exists() and not path.is_file():
        raise ScnnError(f"{path}: labels must be a regular file")
    try:
        rows = list(csv.reader(path.read_text().splitlines()))
    except OSError as err:
        raise ScnnError(f"{path}: cannot read labels ({err.strerror or err})") from None
    except (UnicodeDecodeError, csv.Error):
        raise ScnnError(f"{path}: not a labels CSV (binary or malformed content)") from None
    if not rows or rows[0][:3] != ["onset_s", "offset_s", "label"]:
        raise ScnnError(f"{path}: labels must be CSV with the header onset_s,offset_s,label")
    out = []
    for n, cells in enumerate(rows[1:], start=2):
        try:
            onset, offset = float(cells[0]), float(cells[1])
        except (ValueError, IndexError):
            raise ScnnError(f"{path} line {n}: onset_s and offset_s must be numbers") from None
        if len(cells) < 3 or cells[2] not in classes:
            raise ScnnError(f"{path} line {n}: label must be one of the network's classes "
                            f"{', '.join(classes)}")
        if not (math.isfinite(onset) and math.isfinite(offset) and 0 <= onset <= offset):
            raise ScnnError(f"{path} line {n}: need 0 <= onset_s <= offset_s")
        out.append(Utterance(onset, offset, classes.index(cells[2]),
                             cells[3] if len(cells) > 3 else ""))
    return out


# ---------------------------------------------------------------- detection

@dataclass(frozen=True)
class Detection:
    """A detected word: when the readout's margin first crossed the threshold (seconds,
    the frame's centre), its class at the event's largest margin, that margin and when."""

    time: float
    label: int
    margin: int
    peak_time: float


def margins(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Readout v (classes, steps) -> (leading class, top-1 minus top-2 v) per step."""
    order = np.sort(v, axis=0)
    return v.argmax(axis=0), (order[-1] - order[-2]).astype(np.int64)


def detect(v: np.ndarray, card: dict, threshold: int | None = None,
           release: float | None = None, drop: float | None = None) -> list[Detection]:
    """Words in a stream from its readout v (classes, chip steps). An event starts when
    the margin (top-1 minus top-2 v) reaches ``threshold``; it ends when the margin falls
    below ``release * threshold`` or below ``drop`` times the event's largest margin (a
    dip between two words), or when another class leads by ``threshold`` (the next
    word); each event is one detection. Defaults: the card's calibrated detector."""
    det = card["stream"]["detector"]
    threshold = det.get("threshold") if threshold is None else threshold
    if threshold is None:
        raise ScnnError("the model card has no calibrated detector threshold; pass one")
    release = det.get("release", 0.5) if release is None else release
    drop = det.get("drop", 0.0) if drop is None else drop
    lead, margin = margins(v)
    k, lat = card["drive"]["steps_per_frame"], card["stream"]["latency_steps"]
    frame_s = card["stream"]["frame_seconds"]

    def when(step: int) -> float:
        return max(step - lat, 0) // k * frame_s

    out, start, best = [], None, 0
    for t in range(margin.shape[0]):
        if start is not None:
            other = lead[t] != lead[best] and margin[t] >= threshold
            if other or margin[t] < max(release * threshold, drop * margin[best]):
                out.append(Detection(when(start), int(lead[best]), int(margin[best]), when(best)))
                start = None
            elif margin[t] > margin[best]:
                best = t
        if start is None and margin[t] >= threshold:
            start, best = t, t
    if start is not None:
        out.append(Detection(when(start), int(lead[best]), int(margin[best]), when(best)))
    return out


def score_detections(dets: list[Detection], truth: list[Utterance],
                     tolerance: float = 0.5) -> dict:
    """Precision and recall: a detection is correct when its time lies within
    [onset - tolerance, offset + tolerance] of an utterance not matched before and its
    class is the utterance's (in time order)."""
    used, hits = set(), 0
    for d in sorted(dets, key=lambda d: d.time):
        for j, u in enumerate(truth):
            if j not in used and u.onset - tolerance <= d.time <= u.offset + tolerance \
                    and d.label == u.label:
                used.add(j)
                hits += 1
                break
    p = hits / len(dets) if dets else 0.0
    r = hits / len(truth) if truth else 0.0
    return {"detections": len(dets), "utterances": len(truth), "correct": hits,
            "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "tolerance_s": tolerance}


DROPS = (0.0, 0.3, 0.5, 0.7)  # candidate dips (fraction of an event's peak) that end it


def calibrate_threshold(v: np.ndarray, card: dict, truth: list[Utterance],
                        tolerance: float = 0.5, candidates: int = 64) -> dict:
    """The detector (threshold, drop) with the best F1 on a recording (of training clips):
    thresholds from quantiles of the positive margins, drops from ``DROPS``; of the
    candidates that reach the best F1, the middle threshold of the first drop that does
    (the least fragile choice)."""
    _, margin = margins(v)
    if not (margin > 0).any():
        raise ScnnError("the readout never leads by a positive margin: nothing to calibrate")
    grid = np.unique(np.quantile(margin[margin > 0], np.linspace(0.5, 0.999, candidates))
                     .round().astype(np.int64))
    scored = [(int(th), drop, score_detections(detect(v, card, int(th), 0.5, drop), truth,
                                               tolerance))
              for drop in DROPS for th in grid]
    top = max(sc["f1"] for *_, sc in scored)
    drop = next(d for _, d, sc in scored if sc["f1"] == top)
    plateau = [row for row in scored if row[1] == drop and row[2]["f1"] == top]
    th, drop, sc = plateau[len(plateau) // 2]
    return {"threshold": th, "release": 0.5, "drop": drop, "calibration": sc}


def stream_input(card: dict, wave: np.ndarray) -> np.ndarray:
    """A recording -> the chip's graded input (F, steps), with the latency tail."""
    from scnn.features import recording_features

    feats = recording_features(wave, FeatureConfig.from_dict(card["features"]))
    return stream_spikes(card, card_frames(card, feats[None])[0])


def run_recording(net, card: dict, wave: np.ndarray, backend: str = "fast") -> np.ndarray:
    """The detector's signal (classes, steps) of a recording streamed through the network."""
    return readout_trace(net, card, stream_input(card, wave), backend)


def readout_trace(net, card: dict, x: np.ndarray, backend: str = "fast") -> np.ndarray:
    """What the detector reads (classes, steps) for the chip input ``x`` (F, steps): the
    readout layer's v (LIF) or the host's leaky average of its sigma (SDNN)."""
    from scnn.export import readout_signal, readout_state
    from scnn.hweval import backend_simulate

    layer, state = card["readout"]["layer"], readout_state(card)
    res = backend_simulate(backend)(net, x.shape[-1], spikes=x, record=(state,),
                                    layers=(layer,))
    return readout_signal(card, res[f"layer{layer}/{state}"])


def _card_value(card: dict, key: str, where) -> object:
    value = card
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ScnnError(f"{where}: model card has no {key!r}")
        value = value[part]
    return value


def _card_int(card: dict, key: str, where, lo: int, hi: int) -> int:
    value = _card_value(card, key, where)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ScnnError(f"{where}: model card {key!r} must be an integer in [{lo}, {hi}], "
                        f"got {value!r:.40}")
    return value


def _card_numbers(card: dict, key: str, where, n: int, positive: bool = False) -> None:
    value = _card_value(card, key, where)
    ok = isinstance(value, list) and len(value) == n and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
        and (x > 0 or not positive) for x in value)
    if not ok:
        raise ScnnError(f"{where}: model card {key!r} must be {n} finite numbers"
                        f"{' > 0' if positive else ''}")


def card_message_bits(card: dict, where) -> int:
    """The card's ``input_message_bits`` (the netx loader argument), checked: 1..32 into
    a first synapse, 0 when the network's input layer has Delta encoders."""
    return _card_int(card, "input_message_bits", where, 0, 32)


def stream_kind(net) -> str:
    """``lif`` (graded input into a first dense synapse, a leaky LIF readout) or ``sdnn``
    (an input layer of Delta encoders, sigma-delta layers, a Sigma readout); else ''."""
    from scnn.sim.network import Delta, Input, Sigma

    first, last = net.layers[0], net.layers[-1]
    if first.kind == "dense" and net.input_message_bits:
        return "lif"
    if isinstance(first, Input) and isinstance(first.neuron, Delta) and \
            len(net.layers) > 1 and all(layer.kind == "dense" for layer in net.layers[1:]) \
            and isinstance(last.neuron, Sigma):
        return "sdnn"
    return ""


def check_stream_card(card: dict, net, where) -> None:
    """Every value a streamed card gives the host (front end, normalisation, drive, steps,
    readout, detector) has its type and range and fits the network it sits beside."""
    from scnn.export import readout_leak, readout_state

    kind = stream_kind(net)
    if not kind:
        raise ScnnError(f"{where}: a streamed card needs a network whose first layer is a "
                        "dense synapse taking graded input, or an input layer of Delta "
                        "encoders before dense layers into a Sigma readout")
    feats = _card_value(card, "features", where)
    try:
        fcfg = FeatureConfig.from_dict(feats)
    except (TypeError, ScnnError) as err:
        raise ScnnError(f"{where}: model card 'features': {err}") from None
    if fcfg.kind not in ("logmel", "spikes") or fcfg.n_coef != net.input_shape[0] or (
            fcfg.kind == "spikes" and kind != "lif"):
        raise ScnnError(f"{where}: model card 'features' must be log-mel with "
                        f"{net.input_shape[0]} bands (the network's input)"
                        + (", or spike trains of as many channels into LIF layers"
                           if fcfg.kind == "spikes" else ""))
    if not (isinstance(fcfg.sample_rate, int) and 1000 <= fcfg.sample_rate <= 192000
            and 16 <= fcfg.n_fft <= 8192 and 1 <= fcfg.hop_length <= fcfg.n_fft):
        raise ScnnError(f"{where}: model card 'features': sample_rate, n_fft or hop_length "
                        "outside any front end this project writes")
    n = fcfg.n_coef
    _card_numbers(card, "normalization.mean", where, n)
    _card_numbers(card, "normalization.std", where, n, positive=True)
    k = _card_int(card, "drive.steps_per_frame", where, 1, 16)
    if kind == "lif":
        bits = card_message_bits(card, where)
        _card_int(card, "drive.max", where, 1, (1 << (bits - 1)) - 1)
        n_syn = len(net.layers)
    else:
        delta = net.layers[0].neuron
        # a frame-to-frame change of up to 2 max, << spike_exp, must fit the payload
        top = ((1 << (delta.message_bits - 1)) - 1) >> (delta.spike_exp + 1)
        _card_int(card, "drive.max", where, 1, top)
        n_syn = len(net.layers) - 1
    if not isinstance(_card_value(card, "readout", where), dict):
        raise ScnnError(f"{where}: model card 'readout' must be an object")
    try:
        state, leak = readout_state(card), readout_leak(card)
    except ScnnError as err:
        raise ScnnError(f"{where}: {err}") from None
    if state != ("v" if kind == "lif" else "sigma") or (leak is None) != (kind == "lif"):
        raise ScnnError(f"{where}: model card 'readout' must read "
                        + ("'v' (a LIF readout)" if kind == "lif" else
                           "'sigma' with a 'leak_shift' (a Sigma readout)"))
    _card_numbers(card, "drive.gain", where, n)
    _card_numbers(card, "drive.offset", where, n)
    _card_int(card, "synapse_layers", where, n_syn, n_syn)
    _card_int(card, "stream.latency_steps", where, n_syn, n_syn)
    steps = _card_int(card, "steps", where, fcfg.n_frames * k, fcfg.n_frames * k)
    _card_int(card, "run_steps", where, steps + n_syn, steps + n_syn)
    last = len(net.layers) - 1
    _card_int(card, "readout.layer", where, last, last)
    classes = _card_value(card, "classes", where)
    n_out = net.layers[-1].shape[0]
    if not (isinstance(classes, list) and len(classes) == n_out and
            all(isinstance(c, str) and c for c in classes)):
        raise ScnnError(f"{where}: model card 'classes' must be {n_out} names (the readout's "
                        "neurons)")
    frame = _card_value(card, "stream.frame_seconds", where)
    if not (isinstance(frame, (int, float)) and
            math.isclose(frame, fcfg.hop_length / fcfg.sample_rate, rel_tol=1e-9)):
        raise ScnnError(f"{where}: model card 'stream.frame_seconds' must be hop_length / "
                        f"sample_rate = {fcfg.hop_length / fcfg.sample_rate:g}")
    det = _card_value(card, "stream.detector", where)
    if not isinstance(det, dict):
        raise ScnnError(f"{where}: model card 'stream.detector' must be an object")
    if det.get("threshold") is not None:
        _card_int(card, "stream.detector.threshold", where, 1, 1 << 31)
    for key, lo, hi in (("release", 0.0, 1.0), ("drop", 0.0, 1.0)):
        value = det.get(key, lo if key == "drop" else 0.5)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not lo <= value <= hi:
            raise ScnnError(f"{where}: model card 'stream.detector.{key}' must be a number in "
                            f"[{lo:g}, {hi:g}]")


def load_stream_net(net_path):
    """(network, card) of a streamed NET.net; refuses networks of other drive kinds."""
    from scnn.export import drive_kind, load_card, read_card_net

    if not Path(net_path).is_file():
        raise ScnnError(f"{net_path}: no such network file")
    card = load_card(net_path)
    kind = drive_kind(card)
    if kind != "stream":
        raise ScnnError(f"{net_path}: not a streamed network (its card's drive kind is "
                        f"{kind!r}); streaming needs drive kind 'stream' (scnn.stream)")
    return read_card_net(net_path, card), card


def _mac_uj() -> float:
    from scnn.hw.energy import COSTS

    return COSTS["horowitz.mac"].value * 1e6


def audio_rates(rec: dict, seconds: float, steps: int, card: dict) -> dict:
    """A Loihi 2 profile of ``steps`` chip steps that stream ``seconds`` of audio, per
    second of audio and per frame. Static energy twice: while the chip computes (the
    profile's convention) and for a chip powered through the whole second (real time)."""
    from scnn.hw.energy import cost_table

    e, band = rec["energy_uj"], rec["energy_band_uj"]["dynamic"]
    step_ms = rec["latency_ms"] / steps
    powered = cost_table("loihi2").static_power * rec["chips"] * 1e6  # uJ per second
    return {"dynamic_uj_per_s": e["dynamic"] / seconds, "static_uj_per_s": e["static"] / seconds,
            "total_uj_per_s": e["total"] / seconds,
            "static_uj_per_s_powered": powered,
            "band_uj_per_s": [band[0] / seconds, band[1] / seconds],
            "ms_per_frame": step_ms * card["drive"]["steps_per_frame"],
            "latency_ms": step_ms * card["stream"]["latency_steps"],
            "cores": rec["cores"], "synops_per_s": rec["synops"] / seconds,
            "spikes_per_s": rec["spikes"] / seconds,
            # the same layers as a conventional network, once per frame (Horowitz MACs)
            "conventional_uj_per_s": rec["neurobench"]["dense_synops"]
            / card["drive"]["steps_per_frame"] * _mac_uj() / seconds}


def stream_profile(net, x: np.ndarray, seconds: float, card: dict) -> dict:
    """Loihi 2 figures of one streamed run, per second of audio and per frame."""
    from scnn.profiling import profile_arrays

    rec = profile_arrays(net, x.shape[-1], spikes=x, chips=("loihi2",))[0]
    return {**audio_rates(rec, seconds, x.shape[-1], card), "sources": rec["sources"]}


def stream_recording(net_path, wav, labels=None, tolerance: float = 0.5,
                     threshold: int | None = None, backend: str = "fast",
                     seconds: float | None = None, profile: bool = True) -> dict:
    """``scnn stream``: detections (and, with ``labels``, precision/recall) of a recording
    streamed through NET.net frame by frame; with ``profile`` the Loihi 2 energy per
    second of audio. JSON-ready."""
    from scnn.data.audio import load_audio

    net, card = load_stream_net(net_path)
    classes = card["classes"]
    truth = read_labels(labels, classes) if labels is not None else None
    if threshold is None and card["stream"]["detector"].get("threshold") is None:
        raise ScnnError(f"{net_path}: its card has no calibrated detector threshold; pass "
                        "--threshold")
    fcfg = FeatureConfig.from_dict(card["features"])
    wave, _ = load_audio(wav, fcfg.sample_rate)
    if seconds is not None:
        wave = wave[: int(round(seconds * fcfg.sample_rate))]
    duration = len(wave) / fcfg.sample_rate
    if len(wave) < fcfg.n_fft:
        raise ScnnError(f"{wav}: {len(wave)} samples at {fcfg.sample_rate} Hz: a recording "
                        f"needs at least one analysis window ({fcfg.n_fft} samples)")
    if truth and seconds is None and max(u.offset for u in truth) > duration + tolerance:
        raise ScnnError(f"{labels}: utterances run to {max(u.offset for u in truth):.2f} s but "
                        f"{wav} lasts {duration:.2f} s (the labels of another recording? "
                        "--seconds streams only the start)")
    x = stream_input(card, wave)
    dets = detect(readout_trace(net, card, x, backend), card, threshold)
    out = {"network": str(net_path), "recording": str(wav), "backend": backend,
           "seconds": duration, "frames": (x.shape[-1] - card["stream"]["latency_steps"])
           // card["drive"]["steps_per_frame"],
           "steps": int(x.shape[-1]), "frame_seconds": card["stream"]["frame_seconds"],
           "threshold": threshold or card["stream"]["detector"]["threshold"],
           "detections": [dict(asdict(d), word=classes[d.label]) for d in dets]}
    if truth is not None:
        truth = [u for u in truth if u.offset <= duration]
        out["score"] = score_detections(dets, truth, tolerance)
    if profile:
        out["profile"] = stream_profile(net, x, duration, card)
    return out


# ---------------------------------------------------------------- training to a NetX file

CALIBRATION_SECONDS = 120.0  # training-split recording the detector threshold is fitted on
CALIBRATION_GAP = (0.5, 1.0)


def fit_streamed(cfg, tcfg, tensors: dict, fcfg: FeatureConfig, norm: Normalizer,
                 classes: list[str], net_name: str, qat_epochs: int, qat_lr: float,
                 progress: bool = True, on_epoch=None) -> tuple[object, dict, dict]:
    """(network, model card, metrics) of a streamed network trained on ``tensors``
    (normalised features): LIF for a :class:`StreamConfig`, sigma-delta for a
    ``scnn.stream_sdnn.StreamSDNNConfig``; ``tensors["test"]``, if given, is what the
    training curves and float accuracy are measured on."""
    if isinstance(cfg, StreamConfig):
        q, metrics = fit_stream(cfg, tcfg, tensors, qat_epochs, qat_lr, progress, on_epoch)
        net = stream_network(q)
        return net, stream_card(q, net, fcfg, norm, classes, net_name), metrics
    from scnn.stream_sdnn import fit_stream_sdnn, stream_sdnn_card, stream_sdnn_network

    model, plan, ws, bs, metrics = fit_stream_sdnn(cfg, tcfg, tensors, qat_epochs, qat_lr,
                                                   progress, on_epoch)
    net = stream_sdnn_network(ws, bs, plan)
    return net, stream_sdnn_card(model, plan, net, fcfg, norm, classes, net_name), metrics


def train_stream_net(out, data, cfg: StreamConfig, tcfg,
                     qat_epochs: int = defaults.STREAM_QAT_EPOCHS,
                     qat_lr: float = defaults.STREAM_QAT_LR, progress: bool = True,
                     spec=None) -> dict:
    """``scnn train-stream``: train, quantise and fine-tune a streamed network, measure it
    bit-exactly on the test split (sim.fast), calibrate its detector on a recording of
    training clips (audio datasets), then write OUT.net and its model card (nothing before
    the end). ``spec``: the dataset kind (a ``SplitSpec``; default: detected). On SHD/SSC
    spike trains the input is the spike counts per 10 ms frame (``input="spikes"``)."""
    from dataclasses import replace

    from scnn.data.datasets import SplitSpec, open_dataset
    from scnn.data.fetch import resolve_data
    from scnn.export import card_path
    from scnn.hweval import predict_netx
    from scnn.sim.atomic import atomic_output, check_output
    from scnn.sim.netx import write_netx
    from scnn.train import load_features

    out = Path(out)
    if out.suffix != ".net":
        raise ScnnError(f"--out {out}: a NetX file name must end in .net")
    check_output(out)
    check_output(card_path(out))
    if tcfg.energy_weight > 0:
        raise ScnnError("energy-aware training (--energy-weight) is not available for "
                        "streamed networks yet")
    spec = spec or SplitSpec()
    ds = open_dataset(resolve_data(data, dataset=spec.dataset), splits=spec)
    spiking = ds.spiking
    if spiking and not isinstance(cfg, StreamConfig):
        raise ScnnError(f"{ds.root}: {ds.name} spike trains train streamed LIF networks "
                        "(--neuron lif); the sigma-delta family reads log-mel frames")
    fcfg = FeatureConfig(kind="spikes", hop_length=SPIKE_HOP) if spiking else \
        FeatureConfig(kind="logmel")
    raw, classes = load_features(ds.root, fcfg, progress=progress,
                                 spec=replace(spec, dataset=ds.name))
    if "train" not in raw:
        raise ScnnError("the training split is empty")
    shape = {"n_classes": len(classes), "n_in": fcfg.n_coef, "n_frames": fcfg.n_frames}
    if spiking:  # the float model sees counts at unit variance; the chip the counts
        std = float(raw["train"][0].double().std())
        shape.update(input="spikes", input_gain=1.0 / std if std > 0 else 1.0)
    if any(getattr(cfg, k) != v for k, v in shape.items()):
        cfg = replace(cfg, **shape)
    norm = (Normalizer((0.0,) * fcfg.n_coef, (1.0,) * fcfg.n_coef) if spiking
            else Normalizer.fit(raw["train"][0]))
    tensors = {s: (norm(x), y) for s, (x, y) in raw.items()}
    net, card, metrics = fit_streamed(cfg, tcfg, tensors, fcfg, norm, classes, out.name,
                                      qat_epochs, qat_lr, progress)
    if spec.to_dict():
        card["split"] = spec.to_dict()
    card["accuracy"]["training_run"] = {k: metrics[k] for k in (
        "float_accuracy", "quantized_accuracy", "exact_accuracy", "deadband_accuracy", "kept")
        if k in metrics}
    if "test" in raw:
        x, y = raw["test"]
        pred, _ = predict_netx(net, card, x, progress=progress)
        card["accuracy"]["bit_exact"] = {
            "accuracy": float((torch.from_numpy(pred) == y).double().mean()), "n": len(y),
            "split": "test", "backend": "fast",
            "how": "every clip of the split driven frame by frame as the card says (fast "
                   "simulator), readout rule applied"}
        metrics["bit_exact_accuracy"] = card["accuracy"]["bit_exact"]["accuracy"]
    if not spiking:
        clips = ds.split("train")
        waves, report = ds.load_many(clips, progress=progress)
        wave, truth = make_recording(waves, [c.label for c in report.clips], ds.target_rate,
                                     CALIBRATION_SECONDS, CALIBRATION_GAP, tcfg.seed)
        card["stream"]["detector"] = calibrate_threshold(run_recording(net, card, wave), card,
                                                         truth)
        card["stream"]["detector"]["calibration"].update(
            {"split": "train", "seconds": CALIBRATION_SECONDS, "gap_s": list(CALIBRATION_GAP),
             "seed": tcfg.seed})
    card["training"] = {"epochs": tcfg.epochs, "qat_epochs": qat_epochs, "seed": tcfg.seed,
                        "lr": tcfg.lr, "qat_lr": qat_lr, "limits": metrics["limits"]}
    write_netx(net, out)
    with atomic_output(card_path(out)) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    metrics["card"] = card
    return metrics
