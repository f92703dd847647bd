"""Lowered NIR layers to Loihi fixed point: a ``sim.network.Network`` (for ``scnn import``).

The lowered float layers (``scnn.nir.lower``: threshold units, Euler at ``dt``) are
put on the chip per layer with the quantiser's own rules (``hw.quantize``):

* synapse layer: scale ``S = 254 / max|W|`` (``layer_scale``), ``W_int = quantize_weights(S W)``
  (even integers in [-256, 254]); threshold mantissa ``vth = round(S)`` (threshold 1 in
  these units), the largest mantissa for non-spiking layers (LI, I, CubaLI);
* bias mantissa ``round(S bias)`` with bias_exp 6 (the same << 6 as the synaptic input);
* ``dv = decay_from_beta(beta)``, ``du = 4095 - round(4096 alpha)`` (Lava's current factor
  is ``(4096 - du - 1) / 4096``);
* a bias-driven input layer uses ``S = DRIVE_SCALE`` (256 units per threshold): the
  per-clip bias is ``clamp(round(S drive(x)), +-4095)``, as ``hw.quantize`` does; with
  calibration inputs (``scnn import --data``) ``S`` is the largest integer that keeps
  their peak drive inside the bias range (``calibrate_drive``);
* a spike-driven input layer with neurons receives each spike as 1 unit:
  ``S = 1 / gain`` (the gain must be uniform).

Graphs written by ``network_to_nir`` (metadata ``scnn_fixed_point = 1``) hold integers
already; ``fixed=True`` keeps ``S`` = the layer's threshold (integer units), so
Network -> NIR -> Network is the identity.
Everything emitted passes the named checks of ``hw.rules``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from scnn.hw import fixed_point as fx
from scnn.hw.chips import LOIHI2, Chip
from scnn.hw.quantize import (
    DRIVE_SCALE,
    decay_from_beta,
    layer_scale,
    quantize_weights,
    torch_to_lava_conv_weight,
)
from scnn.hw.rules import check_bias, check_decay, check_threshold, check_weight_scale
from scnn.nir.graph import NirError
from scnn.nir.lower import FloatLayer, Lowered, Neuron
from scnn.sim.network import LIF, Conv, Dense, Flatten, Input, Network, RecurrentDense
from scnn.sim.netx import netx_dense, netx_dense_weights


@dataclass(frozen=True)
class LayerError:
    """Quantisation error of one layer (relative weight error in L2, threshold units)."""

    name: str
    kind: str
    scale: float
    weight_err: float
    vth_err: float
    bias_err: float
    decay_err: float
    note: str = ""


def current_decay_from_alpha(alpha: float) -> int:
    """Lava's du for a current decay alpha: ``(4096 - du - 1) / 4096 = alpha``."""
    return int(np.clip(fx.DECAY_MAX - round(fx.DECAY_UNITY * alpha), 0, fx.DECAY_MAX))


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Torch (C, H, W) -> Lava (W, H, C); vectors unchanged."""
    return tuple(reversed(shape)) if len(shape) == 3 else tuple(shape)


def lava_bias(b: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bias (broadcastable to torch ``shape``) in Lava order, full layer shape."""
    full = np.broadcast_to(np.asarray(b), shape)
    return np.ascontiguousarray(full.transpose(2, 1, 0)) if len(shape) == 3 else np.array(full)


def _neuron(name: str, n: Neuron, scale: float, bias: np.ndarray, shape, chip: Chip
            ) -> tuple[LIF, LayerError]:
    vth = round(scale) if n.spiking else chip.threshold_mant_max
    du, dv = current_decay_from_alpha(n.alpha), decay_from_beta(n.beta)
    check_threshold(name, vth, chip)
    check_decay(name, "du", du, chip)
    check_decay(name, "dv", dv, chip)
    b_int = np.round(scale * np.broadcast_to(np.asarray(bias, np.float64), shape))
    check_bias(name, b_int, chip)
    b_err = float(np.abs(b_int / scale - bias).max()) if np.size(b_int) else 0.0
    d_err = max(abs((fx.DECAY_UNITY - dv) / fx.DECAY_UNITY - n.beta),
                abs((fx.DECAY_UNITY - du - 1) / fx.DECAY_UNITY - n.alpha))
    v_err = abs(vth / scale - 1.0) if n.spiking else 0.0
    b_lava = lava_bias(b_int.astype(np.int64), shape)
    return LIF(du, dv, vth, b_lava), LayerError(name, "", scale, 0.0, v_err, b_err, d_err)


def _weights(name: str, w: np.ndarray, fixed: float | None) -> tuple[float, np.ndarray, float]:
    """(scale, integer weights, relative L2 error); ``fixed``: the scale to keep."""
    if fixed is not None:
        scale = fixed
    else:
        scale, ref = layer_scale(torch.as_tensor(w), 100.0)
        check_weight_scale(name, scale, ref)
    w_int = quantize_weights(torch.as_tensor(w, dtype=torch.float64) * scale).numpy()
    norm = float(np.linalg.norm(w))
    err = float(np.linalg.norm(w_int / scale - w) / norm) if norm else 0.0
    return scale, w_int.astype(np.int64), err


def _synapse_layer(layer: FloatLayer, in_shape, fixed: bool, chip: Chip
                   ) -> tuple[Conv | Dense, LayerError]:
    w = layer.weight if layer.weight_rec is None else np.hstack((layer.weight,
                                                                 layer.weight_rec))
    scale, w_int, w_err = _weights(layer.name, w, layer.unit if fixed else None)
    bias, note = layer.bias, ""
    if np.any(layer.bias_u != 0):  # Loihi's bias adds to v: the current's steady state
        bias = bias + np.asarray(layer.bias_u) / (1.0 - layer.neuron.alpha)
        note = (f"bias into the synaptic current (tau_syn) put on v as its steady state "
                f"b / (1 - alpha), alpha = {layer.neuron.alpha:.4g}: the first steps differ")
    lif, err = _neuron(layer.name, layer.neuron, scale, bias, layer.shape, chip)
    out = lava_shape(layer.shape)
    if layer.kind == "conv":
        syn = Conv(in_shape, out, torch_to_lava_conv_weight(w_int), layer.stride[::-1],
                   layer.padding[::-1], layer.dilation[::-1], neuron=lif)
    else:
        if not w_int.any():
            raise NirError(f"node {layer.name!r}: every weight rounds to zero at scale "
                           f"{scale:.3g}")
        n_in = layer.weight.shape[1]
        if layer.weight_rec is None:
            syn = netx_dense(in_shape, out, w_int, lif)  # the bits lava-dl derives on reading
            chip = syn.chip_weight()
        else:  # one scale, one bit count and exponent for both matrices (netx's dense_rec)
            wf, bits, exp = netx_dense_weights(w_int)
            syn = RecurrentDense(in_shape, out, wf[:, :n_in], exp, bits, lif,
                                 weight_rec=wf[:, n_in:])
            chip = np.hstack((syn.chip_weight(), syn.chip_weight_rec()))  # own sign modes
        if not np.array_equal(chip.astype(np.int64) >> -syn.weight_exp, w_int):
            raise NirError(f"node {layer.name!r}: Lava's dense weight truncation changes the "
                           "quantised weights (single-sign matrix)")
    return syn, LayerError(layer.name, syn.kind, scale, w_err, err.vth_err, err.bias_err,
                           err.decay_err, note)


def _input_layer(layer: FloatLayer, low: Lowered, fixed: bool, chip: Chip,
                 drive_scale: float = DRIVE_SCALE) -> tuple[Input, LayerError | None]:
    shape = lava_shape(layer.shape)
    if layer.neuron is None:
        return Input(shape), None
    if low.mode == "bias":
        scale = layer.unit if fixed else float(drive_scale)
    else:
        gain = np.asarray(layer.weight, np.float64)
        if np.ptp(gain) > 1e-9 * np.abs(gain).max() or gain.max() <= 0:
            raise NirError(f"node {layer.name!r}: a spike-driven input layer needs one positive "
                           "input gain for all neurons")
        scale = 1.0 / float(gain.ravel()[0])
    lif, err = _neuron(layer.name, layer.neuron, scale, layer.bias, layer.shape, chip)
    if low.mode == "bias":  # the per-clip drive (input_bias) carries the constant part too
        lif = lif.with_bias(np.zeros((), np.int64))
    return Input(shape, lif), LayerError(layer.name, "input", scale, 0.0, err.vth_err,
                                         err.bias_err, err.decay_err)


@dataclass(frozen=True, eq=False)
class Imported:
    """The fixed-point network, the float layers it came from and per-layer errors.

    ``scales[i]`` is the integer units per threshold unit of network layer i (None for
    layers without neurons); bias mode: ``input_bias(x)`` gives layer 0's bias mantissas.
    """

    net: Network
    low: Lowered
    errors: tuple[LayerError, ...]
    scales: tuple[float | None, ...]

    def input_bias(self, x: torch.Tensor) -> np.ndarray:
        """Analog input (B, *input_shape) -> layer-0 bias mantissas (B, W, H, C), int64."""
        lim = min(-LOIHI2.bias_mant_range[0], LOIHI2.bias_mant_range[1])
        b = torch.round(self.low.drive(x) * self.scales[0]).clamp(-lim, lim).numpy()
        if b.ndim == 4:
            b = b.transpose(0, 3, 2, 1)
        return np.ascontiguousarray(b).astype(np.int64)


def calibrate_drive(low: Lowered, x: torch.Tensor, chip: Chip = LOIHI2) -> tuple[int, float]:
    """(drive scale, max |drive|): the most integer units per threshold that keep the
    largest input drive over the calibration inputs ``x`` inside the bias mantissa range
    (finer than the default 256 for small drives; no clipping for large ones)."""
    peak = float(low.drive(x).abs().max())
    lim = min(-chip.bias_mant_range[0], chip.bias_mant_range[1])
    if peak <= 0:
        raise NirError("calibration: the input drive is zero on every calibration input")
    return max(1, min(int(lim // peak), chip.threshold_mant_max)), peak


def quantize_lowered(low: Lowered, fixed: bool = False, chip: Chip = LOIHI2,
                     drive_scale: float = DRIVE_SCALE) -> Imported:
    """Put every lowered layer on the chip (see the module docstring); ``drive_scale``:
    integer units per threshold of a bias-driven input layer (``calibrate_drive``)."""
    layers, errors, scales = [], [], []
    shape = lava_shape(low.layers[0].in_shape)  # bias mode: the input layer's own shape
    for layer in low.layers:
        if layer.kind == "input":
            new, err = _input_layer(layer, low, fixed, chip, drive_scale)
        elif layer.kind == "flatten":
            new, err = Flatten(shape), None
        else:
            new, err = _synapse_layer(layer, shape, fixed, chip)
        layers.append(new)
        scales.append(err.scale if err else None)
        if err:
            errors.append(err)
        shape = new.shape
    return Imported(Network(tuple(layers), layers[0].in_shape), low, tuple(errors),
                    tuple(scales))


def error_table(imp: Imported) -> str:
    """The per-layer quantisation error as a printable table."""
    head = f"{'layer':<14}{'kind':<10}{'scale':>10}{'weight err':>12}{'vth err':>10}" \
           f"{'bias err':>10}{'decay err':>11}"
    rows = [f"{e.name[:13]:<14}{e.kind:<10}{e.scale:>10.3f}{e.weight_err:>12.2%}"
            f"{e.vth_err:>10.2%}{e.bias_err:>10.4f}{e.decay_err:>11.5f}" for e in imp.errors]
    notes = [f"note: {e.name}: {e.note}" for e in imp.errors if e.note]
    return "\n".join([head, *rows, *notes])
