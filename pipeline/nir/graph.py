"""Reading a NIR file into an ordered chain of nodes, with shapes checked.

Feed-forward chains are supported: one Input, one Output, every node with at most one
predecessor and one successor, no cycles, except for recurrent loops: a neuron node
feeding a single Linear/Affine node that feeds only it back (``lif -> w_rec -> lif``,
as snntorch's RLeaky/RSynaptic and the NIR paper's braille RNN write them) is a
recurrent synapse of that neuron layer (``recurrent_loops``).  Anything else (other
cycles, branches, Delay, subgraphs, unknown nodes, shapes that do not fit) is a
:class:`NirError` naming the node.  Shapes are torch order without batch: (C, H, W)
for maps, (C, L, 1) for 1-D maps (a Conv1d is a 2-D convolution with a 1-wide axis),
(N,) for vectors.
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np

from scnn.hw.errors import ScnnError

Shape = tuple[int, ...]

LINEAR_OPS = (nir.Conv2d, nir.Conv1d, nir.SumPool2d, nir.AvgPool2d, nir.Affine, nir.Linear,
              nir.Scale, nir.Flatten)
NEURONS = (nir.IF, nir.LIF, nir.CubaLIF, nir.LI, nir.I, nir.CubaLI)


class NirError(ScnnError):
    """A NIR graph we cannot read or map (the message names the node)."""


def read_graph(path: Path) -> nir.NIRGraph:
    """``nir.read`` without its type check (we check shapes ourselves, naming the node)."""
    try:
        return nir.read(str(path), type_check=False)
    except FileNotFoundError:
        raise NirError(f"{path}: no such file") from None
    except Exception as err:  # noqa: BLE001 - h5py/nir raise many kinds; all mean "bad file"
        raise NirError(f"{path}: not a readable NIR graph ({type(err).__name__}: {err})") \
            from None


def _single(names: list[str], what: str) -> str:
    if len(names) != 1:
        raise NirError(f"graph needs exactly one {what} node, found {sorted(names)}")
    return names[0]


def recurrent_loops(graph: nir.NIRGraph) -> dict[str, tuple[str, nir.NIRNode]]:
    """Neuron node -> (name, node) of its recurrent Linear/Affine: the node's only
    predecessor and only successor is that neuron node."""
    edges = [(str(a), str(b)) for a, b in graph.edges]
    loops: dict[str, tuple[str, nir.NIRNode]] = {}
    for name, node in graph.nodes.items():
        if not isinstance(node, (nir.Linear, nir.Affine)):
            continue
        ins = {a for a, b in edges if b == name}
        outs = {b for a, b in edges if a == name}
        if len(ins) == 1 and ins == outs and isinstance(graph.nodes.get(next(iter(ins))),
                                                        NEURONS):
            owner = next(iter(ins))
            if owner in loops:
                raise NirError(f"node {owner!r}: two recurrent loops ({loops[owner][0]!r}, "
                               f"{name!r})")
            loops[owner] = (name, node)
    return loops


def chain(graph: nir.NIRGraph) -> list[tuple[str, nir.NIRNode]]:
    """The nodes from Input to Output in order, recurrent loops (``recurrent_loops``) left
    out; rejects anything else that is not a simple chain."""
    loop_names = {r for r, _ in recurrent_loops(graph).values()}
    nodes = {k: n for k, n in graph.nodes.items() if k not in loop_names}
    edges = [(str(a), str(b)) for a, b in graph.edges
             if str(a) not in loop_names and str(b) not in loop_names]
    for name, node in nodes.items():
        if isinstance(node, nir.Delay):
            raise NirError(f"node {name!r} (Delay): synaptic delays are not supported")
        if isinstance(node, nir.NIRGraph):
            raise NirError(f"node {name!r} (subgraph): recurrent/nested graphs are not supported")
        if not isinstance(node, (nir.Input, nir.Output, *LINEAR_OPS, *NEURONS)):
            raise NirError(f"node {name!r}: unsupported node type {type(node).__name__}")
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise NirError(f"edge ({a!r}, {b!r}) names a node {end!r} not in the graph")
        if a == b:
            raise NirError(f"node {a!r}: recurrent edge to itself is not supported")
    succ: dict[str, str] = {}
    pred: dict[str, str] = {}
    for a, b in edges:
        if a in succ:
            raise NirError(f"node {a!r}: branches to {succ[a]!r} and {b!r} (only chains)")
        if b in pred:
            raise NirError(f"node {b!r}: merges inputs from {pred[b]!r} and {a!r} (only chains)")
        succ[a], pred[b] = b, a
    start = _single([k for k, n in nodes.items() if isinstance(n, nir.Input)], "Input")
    _single([k for k, n in nodes.items() if isinstance(n, nir.Output)], "Output")
    order, seen = [start], {start}
    while order[-1] in succ:
        nxt = succ[order[-1]]
        if nxt in seen:
            raise NirError(f"node {nxt!r}: recurrent connection (cycle) is not supported")
        order.append(nxt)
        seen.add(nxt)
    if not isinstance(nodes[order[-1]], nir.Output):
        raise NirError(f"node {order[-1]!r}: the chain from {start!r} ends without an Output")
    rest = set(nodes) - seen
    if rest:
        raise NirError(f"node {sorted(rest)[0]!r}: not on the chain from Input to Output "
                       "(recurrent or disconnected)")
    return [(k, nodes[k]) for k in order]


def input_shapes(name: str, node: nir.Input) -> list[Shape]:
    """The Input node's shape in our convention (1-D maps as (C, L, 1)), and without
    leading axes of 1 if they may be batch/time axes (Norse writes (1, N), Rockpool
    (1, 1, N)): the candidates, most literal first; the nodes after the Input decide."""
    shape = np.asarray(node.input_type.get("input"))
    dims = tuple(int(s) for s in np.atleast_1d(shape)) if shape.ndim == 1 else ()
    lead = next((i for i, d in enumerate(dims) if d != 1), max(len(dims) - 1, 0))
    cands = [dims[i:] for i in range(min(lead, len(dims) - 1) + 1) if len(dims[i:]) <= 3]
    if not cands or min(dims) < 1:
        raise NirError(f"node {name!r} (Input): shape {shape.tolist()} is not (N,), (C, L) "
                       "or (C, H, W), with or without leading batch axes of 1")
    return [c + (1,) if len(c) == 2 else c for c in cands]


def declared(node: nir.NIRNode, key: str) -> Shape | None:
    """A node's declared input/output shape, if it has one."""
    types = node.input_type if key == "input" else node.output_type
    value = (types or {}).get(key)
    if value is None or np.size(value) == 0:
        return None  # none, or the empty shape of scalar parameters (sinabs): nothing declared
    return tuple(int(s) for s in np.atleast_1d(np.asarray(value)))


def check_declared(name: str, node: nir.NIRNode, key: str, ours: Shape) -> None:
    """A declared shape must equal ours (1-D maps may drop the trailing 1; leading axes of 1
    are allowed: Rockpool declares (1, 1, N) outputs)."""
    shape = declared(node, key)
    if shape is None:
        return
    alts = {ours, ours[:-1] if len(ours) == 3 and ours[-1] == 1 else ours}
    lead = next((i for i, d in enumerate(shape) if d != 1), len(shape))
    if not any(shape[i:] in alts for i in range(lead + 1)):  # leading batch/time axes of 1
        raise NirError(f"node {name!r} ({type(node).__name__}): declared {key} shape "
                       f"{list(shape)} does not match the inferred {list(ours)}")
