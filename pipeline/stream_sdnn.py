"""Streamed sigma-delta networks: log-mel frames fed as time through graded spikes.

The chip side is an SDNN as netx builds one: an input layer of ``Delta`` encoders fed
one graded frame per ``steps_per_frame`` steps, dense ``SigmaDelta`` ReLU layers with
biases, a dense ``Sigma`` readout. Each layer sends only what changed (by at least its
threshold), so a slowly changing spectrogram costs little. The readout's sigma is the
current frame's logits; the host keeps their leaky average (Lava's leaky readouts
cannot follow graded payloads: a LIF shifts them left by 6 bits into a 24-bit ``v``),
one integer rule per step, in the model card::

    y[t] = y[t-1] + ((sigma[t] - y[t-1]) >> leak_shift)      (int64, arithmetic shift)

so ``beta = 1 - 2**-leak_shift``. Clips: prediction = argmax of ``y`` after
``run_steps``; streams: the detector of :mod:`scnn.stream` on ``y``.

Float model (:class:`StreamSDNN`), per frame ``f`` (input ``d = gain * z + offset``)::

    h_0 = d;  h_k = relu(W_k h_(k-1) + b_k);  o = W_r h_L;  y = y + (o - y) * 2**-s

The chip's readout at step ``t + L`` (``L`` synapse layers) is the logits of step ``t``;
during the first ``L`` steps it reads the biases' response to no input, which the float
model takes as one extra frame of zeros before the clip (during those steps the chip
is still filling its pipeline, so this frame is exact only once it is full; its weight
in ``y`` is ``(1 - a)**T (1 - (1 - a)**L)``, about 2 % for ``T = 32``, ``s = 4``).

Quantisation (:func:`plan_stream`) follows :mod:`scnn.sdnn`: the input gets
``INPUT_PERCENTILE`` -> 127 integer units (``u_0``), every hidden layer the smallest
unit ``u_k`` within the chip's limits on the training clips (resolution, 8-bit weights,
16-bit payloads, int32 sums), ``u_k = 64 u_(k-1) / r_(k-1)``, biases ``round(b_k /
u_k)`` units, thresholds ``round(threshold * lambda_k / u_k)`` (the input's
``round(threshold * 127)``), the readout scale keeping sigma below ``2**30``.
:func:`train_stream_sdnn_net` is ``scnn train-stream --neuron sdnn``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from scnn import defaults
from scnn.convert import activation_scale
from scnn.defaults import LEAK_SHIFT_MAX, SDNN_PERCENTILE
from scnn.hw import fixed_point as fx
from scnn.hw.errors import ScnnError
from scnn.hw.quantize import WEIGHT_MAX
from scnn.sdnn import (
    ACT_LEVELS,
    DENSE_UNITS,
    PAYLOAD_BUDGET,
    PAYLOAD_SHIFT,
    READOUT_LIMIT,
    SIGMA_FRAC,
    sdnn_weights,
)
from scnn.stream import (
    INPUT_MAX,
    INPUT_PERCENTILE,
    StreamShape,
    check_stream_shape,
    fit_float,
    frames,
)

# bias << 12 must fit the int32 sigma-delta state
BIAS_LIMIT = ((1 << (fx.INT32_BITS - 1)) - 1) >> (fx.SDN_SPIKE_EXP_DEFAULT + fx.SDN_STATE_EXP)


@dataclass(frozen=True)
class StreamSDNNConfig(StreamShape):
    """A streamed SDNN: ``n_in`` bands -> hidden sigma-delta ReLU layers -> Sigma readout,
    the host's leaky average (``leak_shift``) over the readout."""

    name: str = "stream_sdnn"
    n_in: int = 40
    n_frames: int = 32
    hidden: tuple[int, ...] = (512, 256)
    n_classes: int = 10
    steps_per_frame: int = 1
    leak_shift: int = defaults.STREAM_SDNN_LEAK_SHIFT
    threshold: float = defaults.STREAM_SDNN_THRESHOLD
    seed: int = 0
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        check_stream_shape(self)
        s = self.leak_shift
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= LEAK_SHIFT_MAX:
            raise ScnnError(f"leak shift (--leak-shift) must be an integer in "
                            f"0..{LEAK_SHIFT_MAX} (readout beta = 1 - 2**-shift), got {s!r}")
        t = self.threshold
        if not (isinstance(t, (int, float)) and math.isfinite(t) and 0 <= t < 1):
            raise ScnnError(f"SDNN threshold (--sdnn-threshold) must be a fraction in [0, 1) "
                            f"of a layer's activation scale, got {t!r}")

    @property
    def readout_beta(self) -> float:
        return 1.0 - 2.0 ** -self.leak_shift


def leak_weights(steps: int, steps_per_frame: int, leak_shift: int,
                 lead: int = 0) -> torch.Tensor:
    """The weight of each frame's logits in ``y`` after ``lead + steps`` steps (float
    rule): the ``lead`` steps first (one entry), then one per frame."""
    a = 2.0 ** -leak_shift
    n = lead + steps
    t = torch.arange(n, dtype=torch.float64)
    w = a * (1 - a) ** (n - 1 - t)
    return torch.cat([w[:lead].sum().reshape(1), w[lead:].reshape(-1, steps_per_frame).sum(1)])


class StreamSDNN(nn.Module):
    """The float streamed SDNN (module docstring); logits = ``y`` after the clip."""

    def __init__(self, cfg: StreamSDNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.in_gain = nn.Parameter(torch.ones(1, cfg.n_in, 1))
        self.in_offset = nn.Parameter(torch.zeros(1, cfg.n_in, 1))
        sizes = (cfg.n_in, *cfg.hidden)
        self.synapses = nn.ModuleList(nn.Linear(a, b)
                                      for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.readout = nn.Linear(sizes[-1], cfg.n_classes, bias=False)
        self.register_buffer("leak", leak_weights(cfg.steps, cfg.steps_per_frame,
                                                  cfg.leak_shift, cfg.synapse_layers).float(),
                             persistent=False)

    def drive(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, N, F) input of the first synapse per frame (N bands, F frames)."""
        return self.in_gain * frames(x) + self.in_offset

    deadbands: tuple[float, ...] | None = None  # per neuron layer, input first (float units)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per frame: the input drive, every hidden activation and the readout's logits,
        each (batch, 1 + F, n); frame 0 is the chip before the clip (no input: the biases'
        response, what the readout reads during the first ``synapse_layers`` steps). With
        ``deadbands`` every layer passes on what a sigma-delta neuron sends
        (:func:`deadband`) instead of its activation."""
        d = self.drive(x).transpose(1, 2)
        h = torch.cat([torch.zeros_like(d[:, :1]), d], dim=1)
        bands = self.deadbands
        if bands is not None:
            h = deadband(h, bands[0])
        out = [h]
        for k, syn in enumerate(self.synapses):
            h = torch.relu(syn(h))
            if bands is not None:
                h = deadband(h, bands[k + 1])
            out.append(h)
        out.append(self.readout(h))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = self.layers(x)[-1]
        return torch.einsum("bfc,f->bc", o, self.leak.to(o.dtype))


def deadband(h: torch.Tensor, vth: float) -> torch.Tensor:
    """What a sigma-delta neuron with threshold ``vth`` has sent in total, per frame of
    ``h`` (batch, F, n): it sends ``act - sent`` when that reaches ``vth`` in magnitude,
    else nothing (Lava's residue makes the running total exactly this; holding a frame
    for more steps sends nothing more). Straight-through gradient."""
    if vth <= 0:
        return h
    hd = h.detach()
    sent = torch.zeros_like(hd[:, 0])
    out = []
    for f in range(hd.shape[1]):
        sent = torch.where((hd[:, f] - sent).abs() >= vth, hd[:, f], sent)
        out.append(sent)
    return h + (torch.stack(out, dim=1) - hd)


@dataclass(frozen=True)
class StreamSDNNPlan:
    """Integer units of a streamed SDNN: per neuron layer (input first) the float
    activation per unit, per synapse layer the weight scale (readout last), thresholds
    (input Delta first), bias mantissas per hidden layer."""

    units: tuple[float, ...]
    weight_scales: tuple[float, ...]
    vth: tuple[int, ...]
    act_scales: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"kind": "stream_sdnn", "units": list(self.units),
                "weight_scales": list(self.weight_scales), "vth": list(self.vth),
                "act_scales": list(self.act_scales)}


@torch.no_grad()
def layer_stats(model: StreamSDNN, x: torch.Tensor, percentile: float = SDNN_PERCENTILE,
                batch: int = 256) -> dict:
    """Training-clip statistics: the input's ``INPUT_PERCENTILE`` of |d|, per hidden
    layer the activation scale, largest activation and largest |pre-activation|, the
    largest |logit|."""
    model.eval()
    n = len(model.cfg.hidden)
    acts: list[list[np.ndarray]] = [[] for _ in range(n + 1)]
    pre_max = [0.0] * n
    logit_max = 0.0
    for i in range(0, len(x), batch):
        hs = model.layers(x[i : i + batch])
        acts[0].append(hs[0].abs().flatten().numpy())
        for k, syn in enumerate(model.synapses):
            pre_max[k] = max(pre_max[k], float(syn(hs[k]).abs().max()))
            acts[k + 1].append(hs[k + 1].flatten().numpy())
        logit_max = max(logit_max, float(hs[-1].abs().max()))
    d = np.concatenate(acts[0])
    hidden = [np.concatenate(a) for a in acts[1:]]
    return {"input": float(np.percentile(d, INPUT_PERCENTILE)),
            "scale": [activation_scale(a, percentile) for a in hidden],
            "act_max": [float(a.max()) for a in hidden], "pre_max": pre_max,
            "logit_max": logit_max}


def plan_stream(model: StreamSDNN, stats: dict, act_levels: int = ACT_LEVELS,
                deadbands: tuple[float, ...] | None = None) -> StreamSDNNPlan:
    """Units, weight scales and thresholds within the chip's limits (module docstring);
    with ``deadbands`` (float units, input first: what the model was trained through)
    the thresholds are those instead, in the new units."""
    cfg = model.cfg
    if not stats["input"] > 0:
        raise ScnnError("the input currents of the training clips are all zero")
    units = [stats["input"] / INPUT_MAX]
    scales = []
    for k, syn in enumerate(model.synapses):
        w_max = float(syn.weight.detach().abs().max())
        if w_max == 0 or stats["scale"][k] == 0:
            raise ScnnError(f"hidden layer {k} is silent or has only zero weights on the "
                            "training clips: nothing to quantise")
        u = max(stats["scale"][k] / act_levels,                   # resolution
                PAYLOAD_SHIFT * units[k] * w_max / WEIGHT_MAX,     # weights on the 8-bit grid
                stats["act_max"][k] / PAYLOAD_BUDGET,              # 16-bit payloads
                stats["pre_max"][k] / DENSE_UNITS)                 # int32 sums
        scales.append(PAYLOAD_SHIFT * units[k] / u)
        units.append(u)
    w_max = float(model.readout.weight.detach().abs().max())
    if w_max == 0 or stats["logit_max"] == 0:
        raise ScnnError("the readout has only zero weights or outputs: nothing to quantise")
    scales.append(min(WEIGHT_MAX / w_max,
                      READOUT_LIMIT * units[-1] / (PAYLOAD_SHIFT * stats["logit_max"])))
    act_scales = [stats["scale"][k] / units[k + 1] for k in range(len(cfg.hidden))]
    if deadbands is None:
        vth = [int(round(cfg.threshold * INPUT_MAX))] + \
            [int(round(cfg.threshold * a)) for a in act_scales]
    else:
        vth = [int(round(b / u)) for b, u in zip(deadbands, units, strict=True)]
    return StreamSDNNPlan(tuple(units), tuple(scales), tuple(vth),
                          (float(INPUT_MAX), *act_scales))


def plan_weights(model: StreamSDNN, plan: StreamSDNNPlan) -> tuple[list[np.ndarray],
                                                                    list[np.ndarray]]:
    """(integer weights on their 8-bit grids, readout last; bias mantissas per hidden
    layer in units)."""
    layers = [*model.synapses, model.readout]
    ws = [sdnn_weights(syn.weight.detach().double() * r).numpy().astype(np.int64)
          for syn, r in zip(layers, plan.weight_scales, strict=True)]
    bs = []
    for k, syn in enumerate(model.synapses):
        b = np.round(syn.bias.detach().double().numpy() / plan.units[k + 1]).astype(np.int64)
        if np.abs(b).max(initial=0) > BIAS_LIMIT:
            raise ScnnError(f"hidden layer {k}: a bias of {np.abs(b).max()} units overflows "
                            f"the sigma-delta state (bias << 12 in int32)")
        bs.append(b)
    return ws, bs


def stream_sdnn_network(ws: list[np.ndarray], bs: list[np.ndarray], plan: StreamSDNNPlan):
    """The sim.Network the chip runs: Input(Delta) -> Dense + SigmaDelta (ReLU, bias) per
    hidden layer -> Dense + Sigma readout."""
    from scnn.sim.network import Delta, Input, Network, Sigma, SigmaDelta
    from scnn.sim.netx import netx_dense

    n_in = ws[0].shape[1]
    layers, shape = [Input((n_in,), Delta(plan.vth[0]))], (n_in,)
    neurons = [SigmaDelta(v, b) for v, b in zip(plan.vth[1:], bs, strict=True)] + [Sigma()]
    for k, (w, neuron) in enumerate(zip(ws, neurons, strict=True)):
        if not w.any():
            raise ScnnError(f"synapse layer {k}: every weight rounds to zero")
        out = (w.shape[0],)
        layers.append(netx_dense(shape, out, w, neuron))
        shape = out
    return Network(tuple(layers), (n_in,), 0)


READOUT_RULE = ("y[t] = y[t-1] + ((sigma[t] - y[t-1]) >> leak_shift) (int64, arithmetic "
                "shift, y[-1] = 0) over the readout layer's sigma at every chip step; clips: "
                "prediction = argmax over classes of y after run_steps steps (ties: lowest "
                "index); streams: stream.detector on y")
CARD_RULE = ("x = clamp(round(gain[f] * z + offset[f]), -max, max) (half to even) per "
             "frame, z = normalised log-mel frame (F,); each frame sent as graded input "
             "into layer 0's Delta encoders for steps_per_frame steps, frames in order, "
             "then zeros for the synapse_layers tail steps of a clip")


def stream_sdnn_card(model: StreamSDNN, plan: StreamSDNNPlan, net, fcfg, norm,
                     classes: list[str], net_name: str) -> dict:
    """The model card of a streamed SDNN (``drive.kind`` = ``stream``, readout ``sigma``
    with the host's ``leak_shift``)."""
    from scnn.export import card_header

    cfg = model.cfg
    u0 = plan.units[0]
    n_syn = cfg.synapse_layers
    return {
        **card_header(net_name, {**cfg.to_dict(), "neuron": "sdnn"}, classes, fcfg, norm),
        "input_message_bits": 0,
        "drive": {"kind": "stream", "rule": CARD_RULE, "max": INPUT_MAX,
                  "steps_per_frame": cfg.steps_per_frame,
                  "gain": (model.in_gain.detach().double()[0, :, 0] / u0).tolist(),
                  "offset": (model.in_offset.detach().double()[0, :, 0] / u0).tolist()},
        "steps": cfg.steps,
        "synapse_layers": n_syn,
        "run_steps": cfg.steps + n_syn,
        "readout": {"layer": len(net.layers) - 1, "state": "sigma",
                    "leak_shift": cfg.leak_shift, "rule": READOUT_RULE},
        "stream": {"frame_seconds": fcfg.hop_length / fcfg.sample_rate,
                   "latency_steps": n_syn, "detector": {}},
        "quantization": plan.to_dict(),
        "accuracy": {},
    }


def bands(plan: StreamSDNNPlan) -> tuple[float, ...]:
    """The plan's thresholds in float units (input first): the model's deadbands."""
    return tuple(v * u for v, u in zip(plan.vth, plan.units, strict=True))


def fit_stream_sdnn(cfg: StreamSDNNConfig, tcfg, tensors: dict,
                    qat_epochs: int = defaults.STREAM_SDNN_QAT_EPOCHS,
                    qat_lr: float = defaults.STREAM_SDNN_QAT_LR,
                    progress: bool = True, on_epoch=None
                    ) -> tuple[StreamSDNN, StreamSDNNPlan, list, list, dict]:
    """Train the float model, quantise it, then (``qat_epochs``) train it again through
    the sigma-delta neurons' deadbands at the plan's thresholds and quantise it anew
    (kept when its training accuracy through the deadbands is higher): (model, plan,
    weights, biases, metrics). ``on_epoch``: as :func:`scnn.stream.fit_stream`."""
    from dataclasses import replace

    from scnn.train import accuracy, fit

    model, rows = fit_float(lambda: StreamSDNN(cfg), tcfg, tensors, progress, on_epoch)
    train, test = tensors["train"], tensors.get("test")
    metrics: dict = {"model": cfg.name, "seed": tcfg.seed, "epochs": tcfg.epochs,
                     "float_train_curve": rows, "kept": "quantised"}
    if test is not None:
        metrics["float_accuracy"] = accuracy(model, test)
    model.eval()
    stats = layer_stats(model, train[0])
    plan = plan_stream(model, stats)
    if qat_epochs > 0 and any(plan.vth):
        model.deadbands = bands(plan)
        metrics["deadband_train_accuracy"] = before = accuracy(model, train)
        state = copy.deepcopy(model.state_dict())
        metrics["deadband_curve"] = fit(model, replace(tcfg, epochs=qat_epochs, lr=qat_lr),
                                        train, test, progress)
        metrics["finetuned_train_accuracy"] = accuracy(model, train)
        if metrics["finetuned_train_accuracy"] > before:
            metrics["kept"] = "fine-tuned"
            stats = layer_stats(model, train[0])
            plan = plan_stream(model, stats, deadbands=model.deadbands)
            model.deadbands = bands(plan)
        else:
            model.load_state_dict(state)
        if test is not None:
            metrics["deadband_accuracy"] = accuracy(model, test)
        model.eval()
    ws, bs = plan_weights(model, plan)
    metrics["limits"] = {"logit_max": stats["logit_max"], "input_percentile": stats["input"],
                         "act_max_units": [a / u for a, u in zip(stats["act_max"],
                                                                 plan.units[1:], strict=True)],
                         "sigma_frac": SIGMA_FRAC}
    return model, plan, ws, bs, metrics
