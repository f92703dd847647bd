"""NIR's linear nodes as four float operations, one table from node type to op.

Every op works on batched float64 torch tensors, torch order: maps (B, C, H, W)
(1-D maps (B, C, L, 1)), vectors (B, N).

* ``Conv``: ``y = conv2d(x, weight, stride, padding, dilation) + bias[c]``, weight
  (C_out, C_in, kH, kW) with groups expanded (block-diagonal, zeros elsewhere).
  Conv2d and Conv1d (kernel (C_out, C_in, K) -> (C_out, C_in, K, 1)) map here, and so
  do the pools: SumPool2d = a per-channel box of ones, AvgPool2d = ones / (kH kW)
  (torch's default ``count_include_pad``).
* ``Dense``: ``y = W x + b`` (Linear: b = 0).
* ``Scale``: ``y = x * s`` elementwise.
* ``Flatten``: (C, H, W) -> (C H W,), index ``c H W + h W + w`` (torch's C-major).
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np
import torch
import torch.nn.functional as F

from scnn.nir.graph import NirError, Shape

Pair = tuple[int, int]


def _pair(x: object, name: str, node: str) -> Pair:
    if isinstance(x, str):
        raise NirError(f"node {node!r}: string {name} {x!r} is resolved by the caller")
    v = np.atleast_1d(np.asarray(x)).astype(np.int64)
    if v.size == 1:
        v = np.repeat(v, 2)
    if v.size != 2:
        raise NirError(f"node {node!r}: {name} {v.tolist()} is not one or two integers")
    return int(v[0]), int(v[1])


@dataclass(frozen=True, eq=False)
class Conv:
    """A 2-D convolution with per-output-channel bias (see the module docstring)."""

    weight: np.ndarray
    bias: np.ndarray
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)

    def out_shape(self, name: str, shape: Shape) -> Shape:
        c_out, c_in, kh, kw = self.weight.shape
        if len(shape) != 3 or shape[0] != c_in:
            raise NirError(f"node {name!r}: convolution over {c_in} channels cannot take input "
                           f"of shape {list(shape)}")
        hw = [(shape[1 + i] + 2 * self.padding[i] - self.dilation[i] * (k - 1) - 1)
              // self.stride[i] + 1 for i, k in enumerate((kh, kw))]
        if min(hw) < 1:
            raise NirError(f"node {name!r}: kernel larger than the padded input {list(shape)}")
        return (c_out, *hw)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, torch.as_tensor(self.weight, dtype=x.dtype),
                        torch.as_tensor(self.bias, dtype=x.dtype), self.stride, self.padding,
                        self.dilation)


@dataclass(frozen=True, eq=False)
class Dense:
    weight: np.ndarray
    bias: np.ndarray

    def out_shape(self, name: str, shape: Shape) -> Shape:
        if len(shape) != 1 or shape[0] != self.weight.shape[1]:
            raise NirError(f"node {name!r}: weight {list(self.weight.shape)} cannot take input "
                           f"of shape {list(shape)} (flatten maps first)")
        return (self.weight.shape[0],)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, torch.as_tensor(self.weight, dtype=x.dtype),
                        torch.as_tensor(self.bias, dtype=x.dtype))


@dataclass(frozen=True, eq=False)
class Scale:
    scale: np.ndarray

    def out_shape(self, name: str, shape: Shape) -> Shape:
        try:
            if np.broadcast_shapes(self.scale.shape, shape) != tuple(shape):
                raise ValueError
        except ValueError:
            raise NirError(f"node {name!r} (Scale): scale of shape {list(self.scale.shape)} does "
                           f"not fit input {list(shape)}") from None
        return shape

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.as_tensor(self.scale, dtype=x.dtype)


@dataclass(frozen=True, eq=False)
class Flatten:
    def out_shape(self, name: str, shape: Shape) -> Shape:
        return (int(np.prod(shape)),)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


Op = Conv | Dense | Scale | Flatten


def _expand_groups(w: np.ndarray, groups: int, name: str) -> np.ndarray:
    """(C_out, C_in/g, ...) grouped kernel -> (C_out, C_in, ...) with zeros across groups."""
    c_out, c_g = w.shape[:2]
    if groups < 1 or c_out % groups:
        raise NirError(f"node {name!r}: {groups} groups do not divide {c_out} output channels")
    full = np.zeros((c_out, c_g * groups, *w.shape[2:]), np.float64)
    per = c_out // groups
    for g in range(groups):
        full[g * per:(g + 1) * per, g * c_g:(g + 1) * c_g] = w[g * per:(g + 1) * per]
    return full


def _padding(node: nir.NIRNode, kernel: Pair, dil: Pair, stride: Pair, name: str) -> Pair:
    pad = node.padding
    if isinstance(pad, (str, bytes)):
        pad = pad.decode() if isinstance(pad, bytes) else pad
        if pad == "valid":
            return (0, 0)
        if pad == "same" and stride == (1, 1) and all(d * (k - 1) % 2 == 0
                                                        for d, k in zip(dil, kernel, strict=True)):
            return tuple(d * (k - 1) // 2 for d, k in zip(dil, kernel, strict=True))
        raise NirError(f"node {name!r}: padding {pad!r} with stride {stride} and kernel "
                       f"{kernel} is not a symmetric zero padding")
    return _pair(pad, "padding", name)


def _conv2d(name: str, node: nir.Conv2d) -> Conv:
    w = np.asarray(node.weight, np.float64)
    if w.ndim != 4:
        raise NirError(f"node {name!r} (Conv2d): weight of shape {list(w.shape)} is not 4-D")
    stride, dil = _pair(node.stride, "stride", name), _pair(node.dilation, "dilation", name)
    pad = _padding(node, w.shape[2:], dil, stride, name)
    return Conv(_expand_groups(w, int(node.groups), name), _bias(node, w.shape[0]), stride, pad,
                dil)


def _conv1d(name: str, node: nir.Conv1d) -> Conv:
    w = np.asarray(node.weight, np.float64)
    if w.ndim != 3:
        raise NirError(f"node {name!r} (Conv1d): weight of shape {list(w.shape)} is not 3-D")
    s, d = _pair(node.stride, "stride", name)[0], _pair(node.dilation, "dilation", name)[0]
    p = _padding(node, (w.shape[2], 1), (d, 1), (s, 1), name)[0]
    return Conv(_expand_groups(w[..., None], int(node.groups), name), _bias(node, w.shape[0]),
                (s, 1), (p, 0), (d, 1))


def _bias(node: nir.NIRNode, n: int) -> np.ndarray:
    b = getattr(node, "bias", None)
    b = np.zeros(n) if b is None else np.broadcast_to(np.asarray(b, np.float64), (n,))
    return np.array(b)


def pool(name: str, node: nir.SumPool2d | nir.AvgPool2d, channels: int) -> Conv:
    """A pool over ``channels`` channels as a fixed-weight strided convolution."""
    k = _pair(node.kernel_size, "kernel_size", name)
    w = np.zeros((channels, channels, *k))
    w[np.arange(channels), np.arange(channels)] = 1.0
    if isinstance(node, nir.AvgPool2d):
        w /= k[0] * k[1]
    return Conv(w, np.zeros(channels), _pair(node.stride, "stride", name),
                _pair(node.padding, "padding", name))


def to_op(name: str, node: nir.NIRNode, shape: Shape) -> Op:
    """The op of a linear NIR node fed ``shape`` (pools need the channel count)."""
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        if len(shape) != 3:
            raise NirError(f"node {name!r}: pooling needs a (C, H, W) input, got {list(shape)}")
        return pool(name, node, shape[0])
    if isinstance(node, nir.Flatten):
        _check_flatten(name, node, shape)
    if isinstance(node, nir.Scale) and len(shape) == 3 and shape[2] == 1 \
            and np.ndim(node.scale) == 2:
        return Scale(np.asarray(node.scale, np.float64)[..., None])  # (C, L) on a 1-D map
    return OPS[type(node)](name, node)


def _check_flatten(name: str, node: nir.Flatten, shape: Shape) -> None:
    """Only full flattening maps to Loihi: start_dim 0 (1 counting a batch axis, -ndim
    counting from the end), to the end."""
    decl = node.input_type.get("input") if node.input_type else None
    n_decl = None if decl is None else np.atleast_1d(np.asarray(decl)).size
    start, end = int(node.start_dim), int(node.end_dim)
    if start == -len(shape) and end == -1:  # counted from the end (snntorch's Flatten(-3))
        return
    batch = 1 if start == 1 and (n_decl is None or n_decl == len(shape) + 1) else 0
    last = len(shape) - 1 + batch
    if start != batch or end not in (-1, last):
        raise NirError(f"node {name!r} (Flatten): start_dim {start}, end_dim {end} on "
                       f"{list(shape)} is a partial flatten; only full flattening is supported")


OPS = {
    nir.Conv2d: _conv2d,
    nir.Conv1d: _conv1d,
    nir.Affine: lambda name, n: Dense(np.asarray(n.weight, np.float64),
                                      _bias(n, np.asarray(n.weight).shape[0])),
    nir.Linear: lambda name, n: Dense(np.asarray(n.weight, np.float64),
                                      np.zeros(np.asarray(n.weight).shape[0])),
    nir.Scale: lambda name, n: Scale(np.asarray(n.scale, np.float64)),
    nir.Flatten: lambda name, n: Flatten(),
}
