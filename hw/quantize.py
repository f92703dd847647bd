"""From a trained float SCNN to Loihi fixed point.

Per neuron layer k the quantiser picks a scale ``S_k`` (float -> integer units):

* input layer: ``S_0 = drive_scale``; the drive ``gain * [x, -x] + offset`` becomes
  the bias mantissa ``round(S_0 * drive)``, clipped to the 13-bit bias range;
* a layer fed by synapse layer j: ``S = 254 / max|W_j|`` (or a percentile of
  |W_j|, clipping the few weights above it), weights ``W_int = 2 round(S W / 2)``
  clipped to [-256, 254] — the grid Lava's Dense keeps unchanged;
* threshold mantissa ``vth = round(threshold * S)``; voltage decay
  ``dv = round(4096 (1 - beta))``; current decay ``du = 4095`` (the current is the
  step's synaptic input);
* the readout is a non-spiking integrator: ``dv = 0`` and the largest threshold
  mantissa, so it never fires in practice; the prediction is the argmax of its
  voltage at the last step (ties: lowest index).

Every emitted value passes the named checks of :mod:`hw.rules`.
"""

from __future__ import annotations

import numpy as np
import torch

from scnn.hw.chips import LOIHI2, Chip
from scnn.hw.rules import (
    check_bias,
    check_decay,
    check_threshold,
    check_weight_grid,
    check_weight_scale,
)
from scnn.models.loihi import LayerQuant, LoihiSCNN
from scnn.models.scnn import SCNN

WEIGHT_MAX = 254  # largest weight on the grid of even integers in [-256, 254]
DRIVE_SCALE = 256  # input drive units per threshold of the float model


def quantize_weights(w: torch.Tensor) -> torch.Tensor:
    """Integer-unit weights -> the chip grid (even integers in [-256, 254])."""
    return 2 * torch.clamp(torch.round(w / 2), -128, 127)


def decay_from_beta(beta: float) -> int:
    """Voltage decay constant dv for a float decay beta (v <- beta v)."""
    return int(np.clip(round(4096 * (1 - float(beta))), 0, 4095))


def layer_scale(w: torch.Tensor, percentile: float) -> tuple[float, float]:
    """(scale, reference |w|) so that the reference weight maps to WEIGHT_MAX."""
    a = w.detach().abs().flatten().double()
    ref = float(a.max()) if percentile >= 100 else float(torch.quantile(a, percentile / 100))
    return (WEIGHT_MAX / ref if ref > 0 else float("inf")), ref


def quantize_model(model: SCNN, chip: Chip = LOIHI2, percentile: float = 100.0,
                   drive_scale: int = DRIVE_SCALE) -> LoihiSCNN:
    """A LoihiSCNN with the float model's weights on the chip's grid (rules checked)."""
    cfg = model.cfg
    if cfg.neuron != "lif":
        raise ValueError(f"model {cfg.name} has {cfg.neuron} neurons; convert it to an SNN first")
    quants = [LayerQuant(float(drive_scale), decay_from_beta(model.neurons[0].beta),
                         round(cfg.threshold * drive_scale))]
    for k, syn in enumerate(model.synapses):
        scale, ref = layer_scale(syn.weight, percentile)
        check_weight_scale(f"synapse {k}", scale, ref)
        quants.append(LayerQuant(scale, decay_from_beta(model.neurons[k + 1].beta),
                                 round(cfg.threshold * scale)))
    scale, ref = layer_scale(model.readout.weight, percentile)
    check_weight_scale("readout", scale, ref)
    readout = LayerQuant(scale, 0, chip.threshold_mant_max)
    for k, q in enumerate(quants):
        check_threshold(f"neuron layer {k}", q.vth, chip)
        check_decay(f"neuron layer {k}", "dv", q.dv, chip)
    lo, hi = chip.bias_mant_range
    qmodel = LoihiSCNN(model, quants, readout, drive_max=min(-lo, hi), slope=cfg.slope)
    for k, w in enumerate(qmodel.int_weights()):
        check_weight_grid(f"synapse {k}", w.detach().numpy())
    check_bias("input drive", np.array([-qmodel.drive_max, qmodel.drive_max]), chip)
    return qmodel


DU_CLEAR = 4095  # du = 4095: the current holds only this step's synaptic input


def torch_to_lava_conv_weight(w: np.ndarray) -> np.ndarray:
    """(C_out, C_in, kH, kW) cross-correlation kernel -> sim.network's (C_out, kW, kH, C_in).

    sim.network stores kernels as the NetX loader leaves them (spatially flipped, Lava
    then convolves), so the net effect is torch's cross-correlation.
    """
    return np.ascontiguousarray(np.flip(w.transpose(0, 3, 2, 1), axis=(1, 2)))


def torch_to_lava_map(x: np.ndarray) -> np.ndarray:
    """(batch, C, H, W) feature/drive maps -> Lava's neuron order (batch, W, H, C)."""
    return np.ascontiguousarray(x.transpose(0, 3, 2, 1))


def to_network(q: LoihiSCNN):
    """The sim.Network a LoihiSCNN runs as on the chip (input bias set per clip).

    Layers: Input (W, H, C) LIF driven by its bias; per conv a Conv; a Flatten; per
    hidden dense a Dense; the readout a Dense into non-spiking integrators.
    """
    from scnn.sim.network import LIF

    q0, r = q.quants[0], q.readout_q
    ws = [w.detach().numpy().astype(np.int64) for w in q.int_weights()]
    return layered_network(q.cfg, ws, LIF(DU_CLEAR, q0.dv, q0.vth),
                           [LIF(DU_CLEAR, qk.dv, qk.vth) for qk in q.quants[1:]],
                           LIF(DU_CLEAR, r.dv, r.vth))


def layered_network(cfg, ws: list[np.ndarray], input_neuron, neurons: list, readout,
                    dense=None):
    """The sim.Network of an SCNN-family geometry ``cfg`` with integer weights ``ws`` (torch
    layouts, readout last) and given neurons: Input (W, H, C), a Conv per conv, a
    Flatten, a Dense per hidden dense layer, the readout Dense.  ``dense(in_shape,
    out_shape, weight, neuron)`` builds the Dense layers (default: the ``weight_exp`` and
    ``num_weight_bits`` lava-dl derives from the weights, so the network reads back from
    NetX unchanged)."""
    from scnn.sim.network import Conv, Flatten, Input, Network, conv_output_shape
    from scnn.sim.netx import netx_dense

    dense = dense or netx_dense
    c0, h0, w0 = cfg.layer_shapes()[0]
    in_shape = (w0, h0, c0)
    layers: list = [Input(in_shape, input_neuron)]
    shape = in_shape
    for k, spec in enumerate(cfg.convs):
        weight = torch_to_lava_conv_weight(ws[k])
        out = conv_output_shape(shape, spec.channels, weight.shape[1:3], (spec.stride,) * 2,
                                (spec.padding,) * 2, (1, 1))
        layers.append(Conv(shape, out, weight, (spec.stride,) * 2, (spec.padding,) * 2,
                           neuron=neurons[k]))
        shape = out
    if len(shape) == 3:  # after the convs, or a dense network on the (W, H, C) input
        layers.append(Flatten(shape))
        shape = layers[-1].shape
    for j in range(len(cfg.dense)):
        k = len(cfg.convs) + j
        layers.append(dense(shape, (ws[k].shape[0],), ws[k], neurons[k]))
        shape = (ws[k].shape[0],)
    layers.append(dense(shape, (cfg.n_classes,), ws[-1], readout))
    return Network(tuple(layers), in_shape)
