"""Our trained float SCNN as a NIR graph (``scnn export RUN --nir OUT.nir``).

NIR parameters are continuous-time; every neuron here is discretised with forward
Euler at the step ``dt`` written into the graph's metadata (``DT = 1e-4`` s, the
step snntorch's NIR importer and exporter assume, so its ``beta = 1 - dt / tau``
reproduces ours).  For a LIF node ``tau dv/dt = (v_leak - v) + r I``::

    v[t] = (1 - dt/tau) v[t-1] + (dt/tau) v_leak + (r dt/tau) I[t]

so ``beta -> tau = dt / (1 - beta)``, ``r = tau / dt`` (unit input gain) and a
constant current ``b`` per step is ``v_leak = b / (1 - beta)``.  The readout
integrator ``I`` (``dv/dt = r I``) gets ``r = 1 / dt``: ``v[t] = v[t-1] + W s[t]``.

Graph (shapes without batch, torch order (C, F, N) = (channel, freq, frame)):

    input (C, F, N) -> polarity: Conv2d 1x1, weight [[+1], [-1]] per channel, C -> 2C
      -> drive_gain: Scale(gain, (2C, F, N)) -> lif0: LIF with v_leak = offset / (1 - beta)
      -> conv<k>: Conv2d (bias 0) -> lif<k+1>: LIF  ...  -> flatten: Flatten(start_dim=0)
      -> dense<j>: Linear -> lif: LIF  ...  -> readout: Linear -> integrator: I -> output

The input drive ``gain * [x, -x] + offset`` is thus exact: the 1x1 convolution is
the polarity split, the Scale the per-(channel, freq) gain, and the offset (a
constant current per (channel, freq)) the input LIF's ``v_leak``.  The graph's
input is the normalised feature map, presented unchanged at every step; logits
are the integrator's voltage after ``steps`` steps divided by ``steps``.  Every
parameter is an explicit array of the node's shape (no scalars).
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np

from scnn.hw.errors import ScnnError
from scnn.models.scnn import SCNN
from scnn.sim.atomic import atomic_output

DT = 1e-4  # seconds per step; snntorch's NIR import/export assume the same
PRODUCER = "scnn-pipeline"


def lif_node(beta: float, threshold: float, shape: tuple[int, ...], dt: float = DT,
             current: np.ndarray | float = 0.0) -> nir.LIF:
    """A NIR LIF whose Euler step at ``dt`` is ``v = beta v + current + I``; spike v > threshold."""
    if not 0.0 < beta < 1.0:
        raise ScnnError(f"beta = {beta} has no finite NIR time constant (need 0 < beta < 1)")
    tau = np.full(shape, dt / (1.0 - beta))
    v_leak = np.broadcast_to(np.asarray(current, np.float64), shape) / (1.0 - beta)
    return nir.LIF(tau=tau, r=tau / dt, v_leak=np.array(v_leak),
                   v_threshold=np.full(shape, float(threshold)), v_reset=np.zeros(shape))


def _conv(w: np.ndarray, in_hw: tuple[int, int], stride: int, padding: int) -> nir.Conv2d:
    return nir.Conv2d(input_shape=in_hw, weight=w, stride=stride, padding=padding, dilation=1,
                      groups=1, bias=np.zeros(w.shape[0], w.dtype))


def _polarity_weight(c: int) -> np.ndarray:
    """(2C, C, 1, 1): output channel c is +x_c, channel C + c is -x_c."""
    eye = np.eye(c, dtype=np.float32)
    return np.concatenate([eye, -eye])[:, :, None, None]


def _input_nodes(model: SCNN, dt: float) -> dict[str, nir.NIRNode]:
    cfg = model.cfg
    c, f, n = cfg.input_shape
    c2 = cfg.layer_shapes()[0][0]
    shape = (c2, f, n)
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array(cfg.input_shape))}
    if cfg.polarity == 2:
        nodes["polarity"] = _conv(_polarity_weight(c), (f, n), 1, 0)
    gain = model.in_gain.detach().numpy()[0]        # (C', F, 1)
    offset = model.in_offset.detach().numpy()[0]    # (C', F, 1)
    nodes["drive_gain"] = nir.Scale(scale=np.ascontiguousarray(np.broadcast_to(gain, shape)))
    nodes["lif0"] = lif_node(float(model.neurons[0].beta), cfg.threshold, shape, dt,
                             offset.astype(np.float64))
    return nodes


def _hidden_nodes(model: SCNN, dt: float) -> dict[str, nir.NIRNode]:
    cfg = model.cfg
    shapes = cfg.layer_shapes()
    nodes: dict[str, nir.NIRNode] = {}
    for k, spec in enumerate(cfg.convs):
        w = model.synapses[k].weight.detach().numpy()
        nodes[f"conv{k}"] = _conv(w, shapes[k][1:], spec.stride, spec.padding)
        nodes[f"lif{k + 1}"] = lif_node(float(model.neurons[k + 1].beta), cfg.threshold,
                                        shapes[k + 1], dt)
    if cfg.convs:
        nodes["flatten"] = nir.Flatten(input_type=np.array(shapes[len(cfg.convs)]),
                                       start_dim=0, end_dim=-1)
    for j in range(len(cfg.dense)):
        k = len(cfg.convs) + j
        nodes[f"dense{j}"] = nir.Linear(weight=model.synapses[k].weight.detach().numpy())
        nodes[f"lif{k + 1}"] = lif_node(float(model.neurons[k + 1].beta), cfg.threshold,
                                        shapes[k + 1], dt)
    return nodes


def model_to_nir(model: SCNN, dt: float = DT) -> nir.NIRGraph:
    """The float SCNN (direct drive, LIF neurons) as a NIR graph; see the module docstring."""
    cfg = model.cfg
    if cfg.neuron != "lif" or cfg.drive != "direct":
        raise ScnnError(f"model {cfg.name}: only LIF models with the direct drive export to NIR "
                        f"(got neuron={cfg.neuron}, drive={cfg.drive})")
    nodes = {**_input_nodes(model, dt), **_hidden_nodes(model, dt)}
    nodes["readout"] = nir.Linear(weight=model.readout.weight.detach().numpy())
    nodes["integrator"] = nir.I(r=np.full(cfg.n_classes, 1.0 / dt))
    nodes["output"] = nir.Output(output_type=np.array([cfg.n_classes]))
    names = list(nodes)
    edges = list(zip(names[:-1], names[1:], strict=True))
    meta = {"dt": dt, "producer": PRODUCER, "model": cfg.name, "steps": cfg.steps,
            "input": "constant",
            "discretisation": "forward Euler at dt; LIF reset to v_reset on the step it spikes",
            "readout": "logits = integrator voltage after `steps` steps / steps; "
                       "prediction = argmax (ties: lowest index)"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write_graph(graph: nir.NIRGraph, path: Path, drop_zero_resets: bool = False) -> Path:
    """Write ``graph`` with ``nir.write`` atomically (temp file, rename): no half-written file.
    ``drop_zero_resets``: leave out all-zero ``v_reset`` arrays (nir 1.0.8 writes them
    always; readers pinned to nir <= 1.0.4, such as sinabs 3.1.3, cannot read the field,
    and NIR's default is 0)."""
    path = Path(path)
    with atomic_output(path) as tmp:
        nir.write(tmp, graph)
        if drop_zero_resets:
            _drop_zero_resets(tmp)
    return path


def _drop_zero_resets(path: Path) -> None:
    import h5py

    with h5py.File(path, "r+") as f:
        for group in f["node/nodes"].values():
            if "v_reset" in group and not np.any(group["v_reset"][()]):
                del group["v_reset"]


def export_nir(run_path: Path, out: Path, dt: float = DT, flavor: str = "portable"
               ) -> nir.NIRGraph:
    """Write the run's float model as OUT.nir; returns the graph.  ``flavor`` "portable"
    (the subset other frameworks run, ``scnn.nir.portable``) or "full" (this module's
    graph, exact in every NIR reader that implements the node types fully)."""
    from scnn.nir.portable import FLAVORS, portable_graph
    from scnn.train import load_run

    out = Path(out)
    if flavor not in FLAVORS:
        raise ScnnError(f"--nir-flavor {flavor!r}: expected one of {', '.join(FLAVORS)}")
    if out.suffix != ".nir":
        raise ScnnError(f"{out}: a NIR file name must end in .nir")
    run = load_run(run_path)
    graph = model_to_nir(run.model, dt)
    if flavor == "portable":
        graph = portable_graph(graph)
    write_graph(graph, out, drop_zero_resets=flavor == "portable")
    return graph
