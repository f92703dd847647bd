"""Our full NIR graph rewritten into the subset other frameworks' importers run.

The full graph (``scnn.nir.export``) is exact but uses what most readers drop or
refuse: a Scale node of per-(channel, freq) gains, LIF ``v_leak`` arrays for the
input offsets, ``r = tau / dt`` input gains, ``v_reset`` arrays and an ``I``
integrator readout.  The portable graph computes the same numbers with Conv2d,
Flatten, Linear and LIF nodes only (``r = 1``, ``v_leak = 0``, no ``v_reset``):

* **frequency unrolled into channels.**  A map (C, F, N) is carried as (C F, 1, N),
  channel ``c F + f``; the graph's input is the feature map reshaped so (a view, no
  copy).  The first node is a 1x1 Conv2d holding ``+-gain[c, f]`` and bias
  ``offset[c, f]`` (the polarity split, gain and offset in one convolution); every
  later (k, k) convolution becomes a (k, k) convolution over the unrolled channels
  (stride as before, padding ((k-1)/2, pw)) whose middle kernel row holds the kernel
  rows at the frequencies they touch.  Kernels stay square: nir 1.0's shape inference
  reads one kernel size for both axes.  The flatten order ``c H W + h W + w`` is
  unchanged, so the dense layers keep their weights.
* **unit input gain with r = 1.**  Each LIF's Euler input gain ``dt / tau`` is
  cancelled by multiplying its incoming weights and biases by ``tau / dt``.
* **readout as the graph's output.**  The graph ends at the readout Linear; the
  logits are its output averaged over the ``steps`` steps (metadata ``readout``).

Both graphs give the same logits up to float rounding (``tests/test_nir_portable.py``
runs both with our own NIR executor).  Sizes for the reference FSDD net: the first
convolutions become 512 x 64 x 3 x 3 and 512 x 512 x 3 x 3 weights (mostly zeros).
"""

from __future__ import annotations

import nir
import numpy as np

from scnn.hw.errors import ScnnError

FLAVORS = ("portable", "full")


def _unrolled_conv(node: nir.Conv2d, in_chw: tuple[int, int, int]
                   ) -> tuple[nir.Conv2d, tuple[int, int, int]]:
    """A (k, k) convolution on (C, H, W) as one on (C H, 1, W): a (k, k) kernel whose
    middle row holds the rows of the original kernel at the frequencies they touch (kernels
    stay square: nir 1.0's shape inference reads one kernel size for both axes)."""
    w = np.asarray(node.weight, np.float64)
    co, ci, kh, kw = w.shape
    c, h, wd = in_chw
    (sh, sw), (ph, pw), (dh, dw) = (np.broadcast_to(np.asarray(getattr(node, k)), (2,))
                                    for k in ("stride", "padding", "dilation"))
    if int(node.groups) != 1 or ci != c or kh != kw or kw % 2 == 0 or dw != 1:
        raise ScnnError("portable NIR: only ungrouped, undilated convolutions with odd "
                        "square kernels unroll")
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - (kw - 1) - 1) // sw + 1
    mid = (kw - 1) // 2
    u = np.zeros((co, ho, ci, h, kw, kw))
    for fo in range(ho):
        for k in range(kh):
            fi = fo * sh - ph + k * dh
            if 0 <= fi < h:
                u[:, fo, :, fi, mid, :] = w[:, :, k, :]
    bias = np.repeat(np.asarray(node.bias, np.float64), ho)
    u = u.reshape(co * ho, ci * h, kw, kw).astype(np.float32)
    conv = nir.Conv2d(input_shape=(1, wd), weight=u, stride=(int(sw), int(sw)),
                      padding=(mid, int(pw)), dilation=(1, 1), groups=1,
                      bias=bias.astype(np.float32))
    return conv, (co, ho, wo)


def _unit_lif(node: nir.LIF, shape: tuple[int, ...]) -> tuple[nir.LIF, float]:
    """(LIF with r = 1 and no v_leak / v_reset, the factor r for its incoming weights):
    the Euler input gain ``r dt / tau`` becomes ``dt / tau`` times weights ``r W``."""
    tau, r = (np.asarray(getattr(node, k), np.float64) for k in ("tau", "r"))
    if np.ptp(r) > 1e-6 * np.abs(r).max() or np.ptp(tau) > 1e-9 * tau.max():
        raise ScnnError("portable NIR: every neuron of a layer needs the same tau and r")
    if np.any(np.asarray(node.v_reset) != 0):
        raise ScnnError("portable NIR: only reset to 0")
    theta = float(np.asarray(node.v_threshold, np.float64).ravel()[0])
    lif = nir.LIF(tau=np.full(shape, float(tau.ravel()[0])), r=np.ones(shape),
                  v_leak=np.zeros(shape), v_threshold=np.full(shape, theta))
    return lif, float(r.ravel()[0])


def _input_conv(g: nir.NIRGraph, dt: float) -> tuple[nir.Conv2d, tuple[int, ...]]:
    """The polarity split, gain and offset (lif0's leak) as one 1x1 convolution on the
    unrolled input (C F, 1, N)."""
    c, f, n = (int(s) for s in np.asarray(g.nodes["input"].input_type["input"]))
    gain = np.asarray(g.nodes["drive_gain"].scale, np.float64)[:, :, 0]   # (C', F)
    lif0 = g.nodes["lif0"]
    tau = float(np.asarray(lif0.tau).ravel()[0])
    offset = np.asarray(lif0.v_leak, np.float64)[:, :, 0] * dt / tau      # per-step current
    c2 = gain.shape[0]
    sign = np.ones((c2, c))
    if "polarity" in g.nodes:
        sign = np.asarray(g.nodes["polarity"].weight, np.float64)[:, :, 0, 0]
    w = np.zeros((c2, f, c, f))
    for fi in range(f):
        w[:, fi, :, fi] = sign * gain[:, fi:fi + 1]
    w = w.reshape(c2 * f, c * f, 1, 1).astype(np.float32)
    conv = nir.Conv2d(input_shape=(1, n), weight=w, stride=(1, 1), padding=(0, 0),
                      dilation=(1, 1), groups=1, bias=offset.reshape(-1).astype(np.float32))
    return conv, (c2, f, n)


def portable_graph(full: nir.NIRGraph) -> nir.NIRGraph:
    """The portable form of a graph ``scnn.nir.export.model_to_nir`` wrote (see above)."""
    meta = dict(full.metadata or {})
    dt = float(meta["dt"])
    nodes = full.nodes
    names = [a for a, _ in full.edges] + [full.edges[-1][1]]
    if meta.get("producer") != "scnn-pipeline" or names[-2:] != ["integrator", "output"]:
        raise ScnnError("portable NIR: not a graph scnn export wrote")
    conv, shape = _input_conv(full, dt)
    lif, k = _unit_lif(nodes["lif0"], (shape[0] * shape[1], 1, shape[2]))
    c, f, n = (int(s) for s in np.asarray(nodes["input"].input_type["input"]))
    out = {"input": nir.Input(input_type=np.array([c * f, 1, n])), "drive": _scaled(conv, k),
           "lif0": lif}
    for name in names[names.index("lif0") + 1:-2]:
        node = nodes[name]
        if isinstance(node, nir.Conv2d):
            out[name], shape = _unrolled_conv(node, shape)
        elif isinstance(node, nir.Flatten):
            out[name] = nir.Flatten(input_type=np.array([shape[0] * shape[1], 1, shape[2]]),
                                    start_dim=0, end_dim=-1)
            shape = (int(np.prod(shape)),)
        elif isinstance(node, nir.Linear):
            out[name] = node
            shape = (int(np.asarray(node.weight).shape[0]),)
        elif isinstance(node, nir.LIF):
            flat = shape if len(shape) == 1 else (shape[0] * shape[1], 1, shape[2])
            lif, k = _unit_lif(node, flat)
            prev = list(out)[-1]
            out[prev] = _scaled(out[prev], k)
            out[name] = lif
        else:
            raise ScnnError(f"portable NIR: node {name!r} ({type(node).__name__}) not expected")
    n_classes = int(np.asarray(nodes["readout"].weight).shape[0])
    out["output"] = nir.Output(output_type=np.array([n_classes]))
    keys = list(out)
    meta.update(flavor="portable", readout="logits = mean over `steps` steps of the output "
                "(the readout Linear); prediction = argmax (ties: lowest index)",
                input_layout="the feature map (C, F, N) reshaped to (C*F, 1, N)",
                layout="maps (C, F, N) carried as (C*F, 1, N): channel c*F + f")
    return nir.NIRGraph(nodes=out, edges=list(zip(keys[:-1], keys[1:], strict=True)),
                        metadata=meta)


def _scaled(node: nir.NIRNode, k: float) -> nir.NIRNode:
    """``node`` with weight and bias multiplied by ``k``."""
    if isinstance(node, nir.Conv2d):
        return nir.Conv2d(input_shape=node.input_shape, weight=np.asarray(node.weight) * k,
                          stride=node.stride, padding=node.padding, dilation=node.dilation,
                          groups=node.groups, bias=np.asarray(node.bias) * k)
    if isinstance(node, nir.Linear):
        return nir.Linear(weight=np.asarray(node.weight) * k)
    raise ScnnError(f"portable NIR: cannot scale a {type(node).__name__}")
