"""Folding the linear nodes between two neuron nodes into one Loihi synapse layer.

A chain ``ops`` (see ``pipeline.nir_ops``) fed ``in_shape`` becomes either

* a convolution: at most one Conv (conv or pool) with Scales before it that are
  constant per input channel (``W[:, c] *= s_c``) and Scales after it constant per
  output channel (``W[o] *= s_o``, ``b[o] *= s_o``); no conv at all is a 1x1 identity;
* a dense matrix (when the chain contains a Flatten or Linear/Affine, or works on
  vectors): ``M = f(I) - f(0)``, ``b = f(0)`` evaluated in float64 on the identity basis
  of the flattened input (C-major, the order of ``sim.network.Flatten``).

Returns ``(kind, weight, bias, conv geometry, flattens, out_shape)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pipeline.nir_graph import NirError, Shape
from pipeline.nir_ops import Conv, Dense, Flatten, Op, Scale

MAX_DENSE_ENTRIES = 1 << 26


@dataclass(frozen=True, eq=False)
class Synapse:
    """A folded chain: conv weight (C_out, C_in, kH, kW) or dense (N, M); bias per output."""

    kind: str
    weight: np.ndarray
    bias: np.ndarray
    out_shape: Shape
    flattens: bool = False
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)


def _per_channel(name: str, s: np.ndarray, shape: Shape) -> np.ndarray:
    full = np.broadcast_to(s, shape)
    if not np.allclose(full, full[:, :1, :1]):
        raise NirError(f"node {name!r} (Scale): varies within a channel next to a convolution; "
                       "a convolution shares weights across positions")
    return np.array(full[:, 0, 0])


def _dense(names: list[str], ops: list[Op], in_shape: Shape, out_shape: Shape) -> Synapse:
    n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
    if n_in * n_out > MAX_DENSE_ENTRIES:
        raise NirError(f"nodes {names}: a {n_out} x {n_in} dense matrix is too large")
    with torch.no_grad():
        x = torch.cat([torch.zeros(1, n_in, dtype=torch.float64),
                       torch.eye(n_in, dtype=torch.float64)]).reshape(-1, *in_shape)
        for op in ops:
            x = op.apply(x)
        y = x.reshape(n_in + 1, n_out).numpy()
    b = y[0]
    flattens = len(in_shape) > 1
    return Synapse("dense", (y[1:] - b).T.copy(), b.copy(), (n_out,), flattens)


def _conv(names: list[str], ops: list[Op], in_shape: Shape, out_shape: Shape) -> Synapse:
    convs = [i for i, op in enumerate(ops) if isinstance(op, Conv)]
    if len(convs) > 1:
        raise NirError(f"nodes {names[convs[0]]!r} and {names[convs[1]]!r}: two convolution/"
                       "pooling nodes without neurons between them map to no single Loihi layer")
    if convs:
        k = convs[0]
        conv = ops[k]
        w, b = conv.weight.copy(), conv.bias.copy()
    else:
        k, conv = len(ops), Conv(np.eye(in_shape[0])[:, :, None, None], np.zeros(in_shape[0]))
        w, b = conv.weight.copy(), conv.bias.copy()
    for i, op in enumerate(ops):
        if i < k:
            w *= _per_channel(names[i], op.scale, in_shape)[None, :, None, None]
        elif i > k:
            s = _per_channel(names[i], op.scale, out_shape)
            w, b = w * s[:, None, None, None], b * s
    return Synapse("conv", w, b, out_shape, False, conv.stride, conv.padding, conv.dilation)


def fold(names: list[str], ops: list[Op], in_shape: Shape, out_shape: Shape) -> Synapse:
    """One synapse for the chain ``ops`` (named ``names``) from in_shape to out_shape."""
    if any(isinstance(op, (Dense, Flatten)) for op in ops) or len(out_shape) == 1:
        return _dense(names, ops, in_shape, out_shape)
    assert all(isinstance(op, (Conv, Scale)) for op in ops)
    return _conv(names, ops, in_shape, out_shape)
