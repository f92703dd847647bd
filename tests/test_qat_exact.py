"""The Loihi-exact QAT forward equals the fast bit-exact simulator, bit for bit.

Same network (quantised from a random float SCNN), same inputs: the simulator runs
the chip's schedule (one step of synaptic delay per synapse layer, so T + L steps);
the QAT model runs T undelayed steps. Every hidden layer's spike train must equal
the QAT train shifted by its depth, and the readout voltage after T + L chip steps
must equal the QAT readout register.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scnn.hw.quantize import quantize_model, to_network, torch_to_lava_map
from scnn.models.scnn import SCNN, ConvSpec, get_config
from scnn.sim.fast import simulate

CASES = [
    dict(name="model_b", input_shape=(1, 12, 10), steps=5),
    dict(name="scnn", input_shape=(1, 16, 16), steps=6, beta=0.9),
    dict(name="model_a", input_shape=(1, 9, 11), steps=4,
         convs=(ConvSpec(4, 3, 2, 1), ConvSpec(5, 2, 1, 0))),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
@pytest.mark.parametrize("seed", [0, 1])
def test_qat_forward_equals_fast_simulator(case: dict, seed: int) -> None:
    torch.manual_seed(seed)
    case = dict(case)
    model = SCNN(get_config(case.pop("name"), **case))
    with torch.no_grad():  # a livelier net than the default initialisation
        for syn in model.synapses:
            syn.weight.mul_(3.0)
        model.in_gain.mul_(2.5)
    q = quantize_model(model)
    x = torch.randn(4, *model.cfg.input_shape, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        _, trace, v_out = q(x, record=True)
    net = to_network(q)
    bias = torch_to_lava_map(q.drive(x).detach().numpy()).astype(np.int64)
    n_syn = len(model.synapses) + 1
    T = model.cfg.steps
    res = simulate(net, T + n_syn, bias=bias, record=("s", "v"))
    neuron_layers = net.neuron_layers
    assert len(neuron_layers) == len(trace) + 1  # + readout
    for depth, (idx, qat_s) in enumerate(zip(neuron_layers, trace, strict=False)):
        chip = res[f"layer{idx}/s"][..., depth : depth + T]  # (B, *Lava shape, T)
        qat = qat_s.numpy().astype(bool)  # (B, T, C, H, W) or (B, T, N)
        qat = np.moveaxis(qat, 1, -1)
        if qat.ndim == 5:
            qat = qat.transpose(0, 3, 2, 1, 4)  # (B, C, H, W, T) -> (B, W, H, C, T)
        assert np.array_equal(chip.astype(bool), qat), f"layer {idx} spikes differ"
        assert chip.any(), f"layer {idx} never spiked: the test would be vacuous"
    readout = res[f"layer{neuron_layers[-1]}/v"][..., T + n_syn - 1]
    assert np.array_equal(readout, v_out.numpy().astype(np.int64))
