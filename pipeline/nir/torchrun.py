"""Run a NIR graph in a second framework: nirtorch's graph executor with snntorch neurons.

``torch_from_nir(graph)`` builds a ``torch.fx.GraphModule`` with ``nirtorch.nir_to_torch``;
Conv2d, Linear, Affine and LIF/CubaLIF nodes (with ``v_leak = 0``) are converted by
snntorch's own importer (``snntorch.import_nir._nir_to_snntorch_module``: ``snn.Leaky``
with ``beta = 1 - dt/tau``, ``reset_mechanism="zero"``, ``reset_delay=False``), so
the neuron dynamics are snntorch's, not ours.  What snntorch 1.0.0 lacks is added
as small glue modules, each one line of arithmetic:

* LIF with ``v_leak != 0``: snntorch's Leaky fed ``I + v_leak / r`` (snntorch scales
  its state by ``w = r dt / tau``; the Euler leak term ``(dt/tau) v_leak`` is then
  ``v_leak / r``);
* Scale: ``x * scale``;  Flatten: the same dims shifted by one for the batch axis
  (NIR shapes have no batch axis; ``torch.nn.Flatten(0)`` would merge the batch);
* I (integrator): ``v = v + dt r I`` with its state passed through nirtorch.

Reset timing: snntorch's ``Leaky`` defaults to ``reset_delay=True`` (the reset acts on
the step after the spike); its NIR importer sets ``reset_delay=False``, which is our
(and Loihi's) order: ``v = beta v + I; s = v > thr; v = 0 where s`` in the same step.
With reset-to-zero both give the same spike trains (measured: identical on every layer);
only the membrane read at a spike step differs (above threshold vs 0).
Layout: inputs (batch, *NIR input shape); one call per step.
"""

from __future__ import annotations

import contextlib
import io

import nir
import nirtorch
import numpy as np
import torch
from snntorch import Leaky
from snntorch.import_nir import _nir_to_snntorch_module

from scnn.hw.errors import ScnnError


def graph_dt(graph: nir.NIRGraph, default: float = 1e-4) -> float:
    """The step a graph was discretised with (metadata ``dt``), else ``default``."""
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    return float(meta.get("dt", default))


class _Biased(torch.nn.Module):
    """A neuron module fed ``x + bias`` (a constant current per neuron)."""

    def __init__(self, neuron: torch.nn.Module, bias: np.ndarray) -> None:
        super().__init__()
        self.neuron = neuron
        self.register_buffer("bias", torch.as_tensor(np.asarray(bias, np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(x + self.bias)


class _Scale(torch.nn.Module):
    def __init__(self, scale: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale, np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class _Integrator(torch.nn.Module):
    """NIR ``I``: ``v[t] = v[t-1] + dt r I[t]``; returns ``(v, v)`` (output, nirtorch state)."""

    def __init__(self, r: np.ndarray, dt: float) -> None:
        super().__init__()
        self.register_buffer("gain", torch.as_tensor(np.asarray(r, np.float32) * dt))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None):
        v = x * self.gain if state is None else state + x * self.gain
        return v, v


def _quiet(node: nir.NIRNode) -> torch.nn.Module:
    """snntorch's converter (it prints warnings on stdout; keep them out of our output)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return _nir_to_snntorch_module(node, init_hidden=True)


def _lif(node: nir.LIF) -> torch.nn.Module:
    if np.allclose(node.v_leak, 0.0):
        return _quiet(node)
    bare = nir.LIF(tau=node.tau, r=node.r, v_leak=np.zeros_like(node.v_leak),
                   v_threshold=node.v_threshold, v_reset=node.v_reset)
    return _Biased(_quiet(bare), node.v_leak / node.r)


def _conv2d(node: nir.Conv2d) -> torch.nn.Module:
    pair = [tuple(int(v) for v in np.broadcast_to(getattr(node, k), 2))
            for k in ("stride", "padding", "dilation")]
    clean = nir.Conv2d(input_shape=None, weight=node.weight, stride=pair[0], padding=pair[1],
                       dilation=pair[2], groups=int(node.groups), bias=node.bias)
    return _quiet(clean)


def _flatten(node: nir.Flatten) -> torch.nn.Module:
    end = int(node.end_dim)
    return torch.nn.Flatten(int(node.start_dim) + 1, end if end < 0 else end + 1)


def node_map(dt: float) -> dict:
    """NIR node type -> torch module factory (snntorch's converter where it applies)."""
    return {nir.Linear: _quiet, nir.Affine: _quiet, nir.Conv2d: _conv2d, nir.LIF: _lif,
            nir.CubaLIF: _quiet, nir.Scale: lambda n: _Scale(n.scale), nir.Flatten: _flatten,
            nir.I: lambda n: _Integrator(n.r, dt)}


def torch_from_nir(graph: nir.NIRGraph) -> torch.fx.GraphModule:
    """An executable module: ``out, state = module(x_t, state)`` per step."""
    try:
        return nirtorch.nir_to_torch(graph, node_map(graph_dt(graph)))
    except (ValueError, AssertionError, NotImplementedError) as err:
        raise ScnnError(f"nirtorch/snntorch cannot run this graph: {err}") from err


def reset(module: torch.nn.Module) -> None:
    """Zero the hidden state snntorch keeps inside its neuron modules."""
    for m in module.modules():
        if isinstance(m, Leaky):
            m.reset_mem()


def _neurons_in_order(module: torch.fx.GraphModule) -> list[Leaky]:
    """snntorch neuron modules in execution order (the fx graph's call order)."""
    out: list[Leaky] = []
    for node in module.graph.nodes:
        if node.op == "call_module":
            sub = module.get_submodule(node.target)
            out.extend(m for m in sub.modules() if isinstance(m, Leaky) and m not in out)
    return out


@torch.no_grad()
def run_graph(module: torch.fx.GraphModule, x: torch.Tensor, steps: int
              ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Drive with the constant input x (batch, *input shape) for ``steps`` steps.

    Returns the graph output at every step (batch, steps, *out) and the spikes of every
    snntorch neuron module in graph order, each (batch, steps, *layer shape).
    """
    reset(module)
    neurons = _neurons_in_order(module)
    trace: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(neurons))}
    hooks = [m.register_forward_hook(lambda _m, _i, out, i=i: trace[i].append(out))
             for i, m in enumerate(neurons)]
    outs, state = [], None
    try:
        for _ in range(steps):
            out, state = module(x.float(), state)
            outs.append(out)
    finally:
        for h in hooks:
            h.remove()
    return torch.stack(outs, 1), [torch.stack(trace[i], 1) for i in range(len(neurons))]
