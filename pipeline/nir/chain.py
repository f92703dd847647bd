"""Folding the linear nodes between two neuron nodes into one Loihi synapse layer.

A chain ``ops`` (see ``scnn.nir.ops``) fed ``in_shape`` becomes either

* a convolution: one Conv (conv or pool) with Scales before it that are constant per
  input channel (``W[:, c] *= s_c``) and Scales after it constant per output channel
  (``W[o] *= s_o``, ``b[o] *= s_o``); no conv at all is a 1x1 identity. Several Convs
  in a row (a pool feeding a convolution) are composed into one (``compose``) when the
  composition equals the chain exactly on the input shape (checked numerically: it
  does when the pool tiles the map and earlier stages have no bias), else refused;
* a dense matrix (when the chain contains a Flatten or Linear/Affine, or works on
  vectors): ``M = f(I) - f(0)``, ``b = f(0)`` evaluated in float64 on the identity basis
  of the flattened input (C-major, the order of ``sim.network.Flatten``).

Returns ``(kind, weight, bias, conv geometry, flattens, out_shape)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from scnn.nir.graph import NirError, Shape
from scnn.nir.ops import Conv, Dense, Flatten, Op, Scale

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


def compose(a: Conv, b: Conv) -> Conv:
    """``b`` after ``a`` as one convolution: kernel ``ka + (kb - 1) sa``, stride ``sa sb``,
    padding ``pa + pb sa``. Exact in the interior; the caller checks the borders."""
    if a.dilation != (1, 1) or b.dilation != (1, 1):
        raise ValueError("dilated convolutions do not compose")
    (sa0, sa1), (ka0, ka1) = a.stride, a.weight.shape[2:]
    kb0, kb1 = b.weight.shape[2:]
    w = np.zeros((b.weight.shape[0], a.weight.shape[1], ka0 + (kb0 - 1) * sa0,
                  ka1 + (kb1 - 1) * sa1))
    for p in range(kb0):
        for q in range(kb1):
            w[:, :, p * sa0:p * sa0 + ka0, q * sa1:q * sa1 + ka1] += np.einsum(
                "om,mihw->oihw", b.weight[:, :, p, q], a.weight)
    bias = b.bias + b.weight.sum(axis=(2, 3)) @ a.bias
    return Conv(w, bias, (sa0 * b.stride[0], sa1 * b.stride[1]),
                (a.padding[0] + b.padding[0] * sa0, a.padding[1] + b.padding[1] * sa1))


def _merge_first_convs(names: list[str], ops: list[Op], in_shape: Shape
                       ) -> tuple[list[str], list[Op]]:
    """Replace the first two convolutions (and the Scales between) by their composition,
    if it equals them exactly on this input shape (e.g. a pool feeding a convolution)."""
    i, j = [k for k, op in enumerate(ops) if isinstance(op, Conv)][:2]
    a, b = ops[i], ops[j]
    mid = a.out_shape(names[i], in_shape)
    wa, ba = a.weight.copy(), a.bias.copy()
    for k in range(i + 1, j):  # per-channel scales between the two act on a's outputs
        s = _per_channel(names[k], ops[k].scale, mid)
        wa, ba = wa * s[:, None, None, None], ba * s
    what = f"nodes {names[i]!r} and {names[j]!r}"
    try:
        merged = compose(Conv(wa, ba, a.stride, a.padding), b)
    except ValueError as err:
        raise NirError(f"{what}: {err}; they map to no single Loihi layer") from None
    x = torch.randn(2, *in_shape, generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64)
    with torch.no_grad():
        ref = x
        for op in ops[i:j + 1]:
            ref = op.apply(ref)
        got = merged.apply(x)
    if got.shape != ref.shape or not torch.allclose(got, ref, rtol=1e-9, atol=1e-9):
        raise NirError(f"{what}: two convolution/pooling nodes without neurons between them "
                       f"do not compose into one convolution on input {list(in_shape)} (the "
                       "borders differ: pad or crop so the pool tiles the map)")
    return names[:i] + [f"{names[i]}+{names[j]}"] + names[j + 1:], ops[:i] + [merged] + ops[j + 1:]


def _conv(names: list[str], ops: list[Op], in_shape: Shape, out_shape: Shape) -> Synapse:
    while sum(isinstance(op, Conv) for op in ops) > 1:
        names, ops = _merge_first_convs(names, ops, in_shape)
    convs = [i for i, op in enumerate(ops) if isinstance(op, Conv)]
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
