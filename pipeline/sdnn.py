"""CNN twin -> sigma-delta network (SDNN, graded spikes) in Loihi 2's fixed point.

The source is a CNN twin (``neuron = "relu"``, bias-free, first layer
``relu(gain * [x, -x] + offset)``). The result runs as netx builds an SDNN
(``sim.network``): the input layer a ``Delta`` encoder fed graded integers, every
conv and hidden dense layer a ``SigmaDelta`` neuron with ReLU, the readout a
``Sigma`` whose state is read after the last step. No training: each layer's
activation gets an integer unit, as in weight/threshold balancing.

Arithmetic (``spike_exp = state_exp = 6``, netx's): a layer's activation ``act`` is
held with 12 fraction bits per *unit*; it sends the change ``q`` (when ``|q| >= vth``
units) as the payload ``q >> 6`` (6 fraction bits); the next synapse sums ``w *
payload`` into sigma (12 fraction bits again). With float activations ``a_k = act_k *
u_k`` and integer weights ``w = round(W * r_k)`` on the chip's grid::

    u_(k+1) = 64 * u_k / r_k                (the unit follows from the weight scale)

The conversion picks, per layer, the smallest unit that keeps the chip's limits on
the training split (percentile ``p`` of the non-zero activations ``lambda_k``):

* resolution: ``lambda_(k+1) / u_(k+1) <= act_levels`` (default 256 units);
* weights: ``r_k <= 254 / max|W_k|`` (8 bits: integers in [-127, 127] where the layer's
  largest fits, else even integers in [-256, 254]);
* payloads: ``max a_k / u_k <= 2**15 / 64 / 1.5`` (netx's 16-bit messages, a margin
  of 1.5 for louder clips), the input layer's included;
* sums: Lava's Conv wraps its output to 24 bits, so the largest pre-activation
  (negative ones too) stays below ``2**23 / 4096`` units, a dense layer's below
  ``2**31 / 4096``, with a factor 2 of margin;
* readout: the largest logit in sigma's units stays below ``2**30`` (int32 state).

The input: ``x_int = clamp(round(relu(gain * xs + offset) / u_0), 0, input_max)``,
``u_0 = lambda_0 / act_levels``, held for every step (the Delta sends it once).
Thresholds: ``vth_k = round(threshold * lambda_k / u_k)`` units (``threshold`` a
fraction of the layer's activation scale; 0 sends every change, exact up to the
payload's 6 fraction bits). A static input reaches the readout after one step per
synapse layer; then nothing changes and no layer sends again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from scnn.convert import activation_scale, check_factors
from scnn.defaults import SDNN_PERCENTILE, SDNN_THRESHOLD
from scnn.export import card_header, card_path
from scnn.hw import fixed_point as fx
from scnn.hw.errors import ScnnError
from scnn.hw.quantize import WEIGHT_MAX, layered_network, quantize_weights
from scnn.models.scnn import SCNN
from scnn.sim.atomic import atomic_output, check_output
from scnn.train import LoadedRun

ACT_LEVELS = 256  # units spanned by a layer's activation scale lambda_k
PAYLOAD_UNITS = ((1 << (fx.SDN_MESSAGE_BITS_DEFAULT - 1)) - 1) >> fx.SDN_STATE_EXP  # 511
SIGMA_FRAC = 1 << (fx.SDN_SPIKE_EXP_DEFAULT + fx.SDN_STATE_EXP)  # 4096 per unit in sigma/act
PAYLOAD_SHIFT = 1 << fx.SDN_STATE_EXP  # 64 per unit in a payload: payload = act >> 6
# limits on the training split, each with a margin for clips louder than any there
PAYLOAD_BUDGET = PAYLOAD_UNITS / 1.5  # 341 units: 16-bit payloads, margin 1.5
CONV_UNITS = (1 << (fx.CONV_BITS - 1)) / SIGMA_FRAC / 2  # 1024: 24-bit conv sums, margin 2
DENSE_UNITS = (1 << 31) / SIGMA_FRAC / 2  # int32 dense sums, margin 2
READOUT_LIMIT = 1 << 30  # largest readout sigma (int32 state, margin 2)


@dataclass(frozen=True)
class LayerStats:
    """Training-split statistics of one neuron layer of the CNN twin."""

    scale: float   # lambda_k: the percentile of the non-zero ReLU activations
    act_max: float  # the largest activation
    pre_max: float  # the largest |pre-activation| (what a conv sum must hold)


@torch.no_grad()
def layer_stats(cnn: SCNN, x: torch.Tensor, percentile: float,
                batch: int = 256) -> tuple[list[LayerStats], float]:
    """Per neuron layer (input, convs, hidden dense) statistics, and the largest |logit|."""
    cnn.eval()
    pre: list[list[np.ndarray]] = [[] for _ in range(len(cnn.synapses) + 1)]
    logit_max = 0.0
    for i in range(0, len(x), batch):
        h = cnn.input_current(x[i : i + batch])
        for k in range(len(cnn.synapses) + 1):
            if k:
                h = cnn._synapse(k - 1, torch.relu(h))
            pre[k].append(h.flatten().numpy().astype(np.float32))
        logit_max = max(logit_max, float(cnn.readout(torch.relu(h).flatten(1)).abs().max()))
    stats = []
    for parts in pre:
        p = np.concatenate(parts)
        a = np.maximum(p, 0)
        stats.append(LayerStats(activation_scale(a, percentile), float(a.max()),
                                float(np.abs(p).max())))
    return stats, logit_max


@dataclass(frozen=True)
class SDNNPlan:
    """The integer units and scales of a conversion (one entry per neuron layer)."""

    units: tuple[float, ...]          # u_k: float activation per unit
    weight_scales: tuple[float, ...]  # r_k per synapse layer, readout last
    vth: tuple[int, ...]              # SigmaDelta thresholds of layers 1..L-1 (units)
    input_max: int                    # largest graded input integer
    act_scales: tuple[float, ...] = ()  # lambda_k / u_k: each layer's activation scale in units

    def to_dict(self) -> dict:
        return {"units": list(self.units), "weight_scales": list(self.weight_scales),
                "vth": list(self.vth), "input_max": self.input_max,
                "act_scales": list(self.act_scales)}


def plan_units(cnn: SCNN, stats: list[LayerStats], logit_max: float, threshold: float,
               act_levels: int = ACT_LEVELS) -> SDNNPlan:
    """Units, weight scales and thresholds within the chip's limits (module docstring)."""
    check_factors([s.scale for s in stats])
    if not 1 <= act_levels <= PAYLOAD_UNITS:
        raise ScnnError(f"act_levels must be in 1..{PAYLOAD_UNITS} (16-bit payloads with 6 "
                        f"fraction bits), got {act_levels}")
    check_threshold(threshold)
    n_conv = len(cnn.cfg.convs)
    units = [max(stats[0].scale / act_levels, stats[0].act_max / PAYLOAD_BUDGET)]
    scales = []
    for k, syn in enumerate(cnn.synapses):
        nxt = stats[k + 1]
        w_max = float(syn.weight.detach().abs().max())
        if w_max == 0:
            raise ScnnError(f"synapse layer {k} has only zero weights")
        u = max(nxt.scale / act_levels,                     # resolution
                PAYLOAD_SHIFT * units[k] * w_max / WEIGHT_MAX,  # weights on the grid
                nxt.act_max / PAYLOAD_BUDGET,                # 16-bit payloads
                nxt.pre_max / (CONV_UNITS if k < n_conv else DENSE_UNITS))  # 24/32-bit sums
        scales.append(PAYLOAD_SHIFT * units[k] / u)
        units.append(u)
    w_max = float(cnn.readout.weight.detach().abs().max())
    if w_max == 0 or logit_max == 0:
        raise ScnnError("the readout has only zero weights or outputs on the training split: "
                        "nothing to convert")
    # sigma = r * 64 / u_last * logit: below READOUT_LIMIT for the largest training logit
    scales.append(min(WEIGHT_MAX / w_max,
                      READOUT_LIMIT * units[-1] / (PAYLOAD_SHIFT * logit_max)))
    vth = tuple(int(round(threshold * s.scale / u)) for s, u in zip(stats[1:], units[1:],
                                                                         strict=True))
    input_max = min(PAYLOAD_UNITS, int(math.ceil(stats[0].act_max / units[0])))
    act_scales = tuple(s.scale / u for s, u in zip(stats, units, strict=True))
    return SDNNPlan(tuple(units), tuple(scales), vth, input_max, act_scales)


def on_grid(w: torch.Tensor, even: bool) -> torch.Tensor:
    """Unit-scaled weights on an 8-bit grid: the even integers in [-256, 254] (``even``),
    else every integer in [-127, 127]."""
    if even:
        return quantize_weights(w)
    return torch.clamp(torch.round(w), -(WEIGHT_MAX // 2), WEIGHT_MAX // 2)


def sdnn_weights(w: torch.Tensor) -> torch.Tensor:
    """Unit-scaled weights -> 8-bit integers: every integer in [-127, 127] where the layer's
    largest fits (twice the resolution of the even grid), else the even grid in [-256, 254]
    (Lava's Dense shifts odd weights of mixed-sign layers below 128 by its weight_exp)."""
    return on_grid(w, float(w.abs().max()) > WEIGHT_MAX // 2 + 0.5)


def plan_weights(cnn: SCNN, plan: SDNNPlan) -> list[np.ndarray]:
    """The CNN's weights in the plan's integer units on their 8-bit grids (readout last)."""
    weights = [*(syn.weight for syn in cnn.synapses), cnn.readout.weight]
    return [sdnn_weights(w.detach().double() * r).numpy().astype(np.int64)
            for w, r in zip(weights, plan.weight_scales, strict=True)]


def sdnn_network(cnn: SCNN, plan: SDNNPlan, ws: list[np.ndarray] | None = None):
    """The sim.Network of the converted SDNN (graded input into a Delta encoder); ``ws``:
    integer weights to use instead of the plan's (a fine-tuned SDNN's)."""
    from scnn.sim.network import Delta, Sigma, SigmaDelta
    from scnn.sim.netx import netx_dense

    ws = plan_weights(cnn, plan) if ws is None else ws
    for k, w in enumerate(ws):
        if not w.any():
            raise ScnnError(f"synapse layer {k}: every weight rounds to zero at scale "
                            f"{plan.weight_scales[k]:.3g}")
    return layered_network(cnn.cfg, ws, Delta(0), [SigmaDelta(v) for v in plan.vth], Sigma(),
                           netx_dense)


def sdnn_card(run: LoadedRun, plan: SDNNPlan, net, net_name: str, steps: int,
              conversion: dict) -> dict:
    cfg = run.model.cfg
    base = cfg.name[4:] if cfg.name.startswith("cnn_") else cfg.name
    n_syn = sum(layer.neuron is not None for layer in net.layers) - 1  # one step each
    u0 = plan.units[0]
    gain = run.model.in_gain.detach().double()[0, :, :, 0] / u0
    offset = run.model.in_offset.detach().double()[0, :, :, 0] / u0
    model = {**cfg.to_dict(), "name": f"{base}_sdnn", "neuron": "sdnn", "steps": steps}
    return {
        **card_header(net_name, model, run.classes, run.features, run.normalizer),
        "drive": {
            "kind": "graded",
            "rule": "x_int = clamp(round(gain * xs + offset), 0, max) (half to even), xs = "
                    "[x, -x] if polarity == 2 else x, x = normalised features (C, F, N); fed "
                    "as layer 0's graded input in Lava order (W=N, H=F, C), the same at every "
                    "step (its Delta encoder sends it once)",
            "polarity": cfg.polarity,
            "max": plan.input_max,
            "gain": gain.tolist(),
            "offset": offset.tolist(),
        },
        "steps": steps,
        "synapse_layers": n_syn,
        "run_steps": steps + n_syn,
        "readout": {
            "layer": len(net.layers) - 1,
            "state": "sigma",
            "rule": "prediction = argmax over classes of the readout layer's sigma (its "
                    "Sigma state, int32) after run_steps steps; ties go to the lowest class "
                    "index",
        },
        "quantization": {"kind": "sdnn", **plan.to_dict()},
        "conversion": conversion,
        "accuracy": {},
        **({"split": run.split.to_dict()} if run.split.to_dict() else {}),
    }


def convert_sdnn(run: LoadedRun, x_train: torch.Tensor, out: Path,
                 percentile: float = SDNN_PERCENTILE, threshold: float = SDNN_THRESHOLD,
                 steps: int = 1, act_levels: int = ACT_LEVELS,
                 train: Callable | None = None, write: bool = True) -> tuple[object, dict]:
    """Write OUT.net (NetX, SDNN) and OUT.json (model card) for a CNN twin run; returns
    (network, card). ``x_train``: normalised training features (the statistics);
    ``train(plan, weights) -> (weights, figures)`` trains the integer weights before
    they are written (``scnn.sdnn_qat``; its figures go into the card); ``write=False``
    leaves the writing to the caller."""
    from scnn.sim.netx import write_netx

    cnn = run.model
    out = check_sdnn_options(cnn.cfg, out, percentile, threshold, steps)
    stats, logit_max = layer_stats(cnn, x_train, percentile)
    plan = plan_units(cnn, stats, logit_max, threshold, act_levels)
    ws = plan_weights(cnn, plan)
    conversion = {"source_run": str(run.path), "to": "sdnn", "percentile": percentile,
                  "threshold": threshold, "act_levels": act_levels,
                  "layer_scales": [s.scale for s in stats]}
    if train is not None:
        ws, conversion["finetune"] = train(plan, ws)
    net = sdnn_network(cnn, plan, ws)
    card = sdnn_card(run, plan, net, out.name, steps, conversion)
    if write:
        write_netx(net, out)
        write_card(out, card)
    return net, card


def write_card(net_path: Path, card: dict) -> None:
    """NET.json beside NET.net, atomically."""
    with atomic_output(card_path(net_path)) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")


def check_threshold(threshold: float) -> None:
    if not (math.isfinite(threshold) and 0 <= threshold < 1):
        raise ScnnError(f"SDNN threshold must be a fraction in [0, 1) of a layer's "
                        f"activation scale (--sdnn-threshold), got {threshold}")


def check_sdnn_options(cfg, out: Path, percentile: float, threshold: float,
                       steps: int) -> Path:
    """Everything a conversion can refuse, before any work: the source model, the
    numbers, and both output files (NET.net and its card NET.json)."""
    if cfg.neuron != "relu":
        raise ScnnError(f"{cfg.name} is an SNN; SDNN conversion starts from a CNN twin "
                        "(train one with --model cnn_<name>)")
    if cfg.drive != "direct":
        raise ScnnError(f"{cfg.name}: only the direct drive converts, not {cfg.drive!r}")
    if not (math.isfinite(percentile) and 0 < percentile <= 100):
        raise ScnnError(f"percentile (--percentile) must be in (0, 100], got {percentile}")
    check_threshold(threshold)
    if not 1 <= steps <= 1024:
        raise ScnnError(f"steps must be in 1..1024, got {steps}")
    out = Path(out)
    if out.suffix != ".net":
        raise ScnnError(f"--out {out}: with --to sdnn the output is a NetX file ending in .net")
    check_output(out)
    check_output(card_path(out))
    return out


def convert_sdnn_run(run: LoadedRun, tensors: dict, raw_test: tuple | None, out: Path,
                     percentile: float = SDNN_PERCENTILE, threshold: float = SDNN_THRESHOLD,
                     steps: int = 1, act_levels: int = ACT_LEVELS,
                     retrain=None, progress: bool = False) -> dict:
    """:func:`convert_sdnn`, then the bit-exact test accuracy (``sim.fast`` on every clip of
    ``raw_test`` = (raw features, labels), driven as the card says) beside the CNN's
    float accuracy, both recorded in the card; returns the card. ``retrain``: a
    TrainConfig with epochs > 0 trains the SDNN's integer weights first (Loihi-exact,
    :mod:`scnn.sdnn_qat`); its curve is written beside OUT as OUT_curve.csv/png."""
    from scnn.hweval import predict_netx
    from scnn.sim.netx import write_netx
    from scnn.train import accuracy, accuracy_report, save_curve

    train = None
    if retrain is not None and retrain.epochs > 0:
        def train(plan, ws):
            from scnn.sdnn_qat import finetune_sdnn

            trained, figures, rows = finetune_sdnn(run.model, plan, ws, tensors, retrain,
                                                   progress)
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            save_curve(rows, Path(out).parent, f"{Path(out).stem}: Loihi-exact SDNN training",
                       f"{Path(out).stem}_curve")
            return trained, figures

    net, card = convert_sdnn(run, tensors["train"][0], out, percentile, threshold, steps,
                             act_levels, train, write=False)
    if "test" in tensors:
        card["accuracy"]["cnn_float"] = {"accuracy": accuracy(run.model, tensors["test"]),
                                         "n": len(tensors["test"][1])}
    if raw_test is not None:
        x, y = raw_test
        pred, _ = predict_netx(net, card, x, progress=progress)
        rep = accuracy_report(torch.from_numpy(pred), y, len(card["classes"]))
        card["accuracy"]["bit_exact"] = {
            "accuracy": rep["accuracy"], "n": rep["n"], "split": "test", "backend": "fast",
            "how": "scnn convert --to sdnn: every clip of the split driven as the chip would "
                   "be, readout rule applied"}
    write_netx(net, out)  # only now: an interrupted conversion leaves no network behind
    write_card(out, card)
    return card
