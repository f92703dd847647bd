"""The portable NIR flavour: the full graph's logits with Conv2d/Flatten/Linear/LIF only."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from test_nir import _model, _read_back

from scnn.hw.errors import ScnnError
from scnn.nir.export import model_to_nir
from scnn.nir.portable import portable_graph
from scnn.nir.torchrun import run_graph, torch_from_nir

torch.set_num_threads(1)


@pytest.mark.parametrize(("name", "shape"), [("model_b", (1, 8, 8)), ("scnn", (1, 12, 10))])
def test_portable_graph_gives_the_models_spikes_and_logits(name: str, shape, tmp_path: Path
                                                           ) -> None:
    m = _model(name, shape, steps=6)
    g = _read_back(portable_graph(model_to_nir(m)), tmp_path)
    kinds = {type(n).__name__ for n in g.nodes.values()}
    assert kinds == {"Input", "Conv2d", "LIF", "Flatten", "Linear", "Output"}
    for node in g.nodes.values():
        if isinstance(node, nir.LIF):
            assert np.all(node.r == 1) and np.all(node.v_leak == 0)
    x = torch.randn(16, *shape, generator=torch.Generator().manual_seed(3))
    out, spikes = run_graph(torch_from_nir(g), x.reshape(16, -1, 1, shape[2]), 6)
    with torch.no_grad():
        logits, rec = m(x, record=True)
    assert all(r.sum() > 0 for r in rec)  # every layer spikes: the comparison is not vacuous
    for s, r in zip(spikes, rec, strict=True):  # unrolled maps: same neurons, (C F, 1, N)
        assert torch.equal(s.reshape(r.shape).float(), r.float())
    assert torch.allclose(out.mean(1), logits, atol=1e-5)


def test_portable_graph_refuses_graphs_it_did_not_write() -> None:
    g = model_to_nir(_model())
    g.metadata["producer"] = "someone"
    with pytest.raises(ScnnError, match="not a graph scnn export wrote"):
        portable_graph(g)
