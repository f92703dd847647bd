"""NIR export (float SCNN -> NIR, run by nirtorch + snntorch) and import (NIR -> Loihi)."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from scnn.hw.quantize import quantize_model, to_network
from scnn.models.scnn import SCNN, get_config
from scnn.nir.check import agreement
from scnn.nir.export import DT, model_to_nir, write_graph
from scnn.nir.from_network import network_to_nir
from scnn.nir.graph import NirError, chain, read_graph
from scnn.nir.lower import lower
from scnn.nir.quantize import quantize_lowered
from scnn.nir.torchrun import run_graph, torch_from_nir
from scnn.sim import fast
from scnn.sim.network import networks_equal

torch.set_num_threads(1)


def _model(name: str = "model_b", shape=(1, 8, 8), steps: int = 6, seed: int = 0) -> SCNN:
    """A random SCNN with lively activity (gain, offset and weights scaled up)."""
    torch.manual_seed(seed)
    m = SCNN(get_config(name, input_shape=shape, steps=steps))
    with torch.no_grad():
        m.in_gain.copy_(1 + torch.rand_like(m.in_gain) * 2)
        m.in_offset.copy_(torch.rand_like(m.in_offset) * 0.4)
        for syn in m.synapses:
            syn.weight.mul_(5)
    return m


def _read_back(graph: nir.NIRGraph, tmp_path: Path) -> nir.NIRGraph:
    write_graph(graph, tmp_path / "g.nir")
    return nir.read(tmp_path / "g.nir")  # nir's own reader, with its type check


def test_export_reads_back_with_explicit_shapes_and_dt(tmp_path: Path) -> None:
    g = _read_back(model_to_nir(_model()), tmp_path)
    assert float(g.metadata["dt"]) == DT and int(g.metadata["steps"]) == 6
    kinds = {type(n).__name__ for n in g.nodes.values()}
    assert {"Input", "Conv2d", "Scale", "LIF", "Flatten", "Linear", "I", "Output"} <= kinds
    for node in g.nodes.values():
        if isinstance(node, nir.LIF):
            assert node.tau.shape == node.v_threshold.shape == tuple(node.input_type["input"])
            assert node.tau.ndim >= 1


def test_snntorch_runs_export_with_identical_spikes(tmp_path: Path) -> None:
    m = _model(steps=6)
    g = _read_back(model_to_nir(m), tmp_path)
    x = torch.randn(12, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    out, spikes = run_graph(torch_from_nir(g), x, 6)
    with torch.no_grad():
        logits, rec = m(x, record=True)
    assert [s.shape for s in spikes] == [r.shape for r in rec]
    assert all(r.sum() > 0 for r in rec[:2])  # the comparison is not vacuous
    for s, r in zip(spikes, rec, strict=True):
        assert torch.equal(s.float(), r.float())
    assert torch.allclose(out[:, -1] / 6, logits, atol=1e-5)
    assert torch.equal(out[:, -1].argmax(1), logits.argmax(1))


def test_import_of_export_equals_our_quantiser() -> None:
    m = _model("scnn", (1, 12, 12), 3)
    imp = quantize_lowered(lower(model_to_nir(m), DT, "bias"))
    q = quantize_model(m)
    assert networks_equal(imp.net, to_network(q))
    x = torch.randn(3, 1, 12, 12, generator=torch.Generator().manual_seed(2))
    assert np.array_equal(imp.input_bias(x), q.drive(x).detach().numpy().transpose(0, 3, 2, 1))


def test_round_trip_network_nir_network(tmp_path: Path) -> None:
    net = quantize_lowered(lower(model_to_nir(_model()), DT, "bias")).net
    g = read_graph(write_graph(network_to_nir(net), tmp_path / "n.nir"))
    back = quantize_lowered(lower(g, float(g.metadata["dt"]), "bias"), fixed=True).net
    assert networks_equal(net, back)
    kinds = [type(n).__name__ for _, n in chain(g)]  # file order is alphabetical
    assert kinds == [type(n).__name__ for _, n in chain(network_to_nir(back))]
    assert kinds == ["Input", "LIF", "Conv2d", "LIF", "Flatten", "Affine", "LIF", "Affine", "I",
                     "Output"]


def test_float_vs_fixed_agreement_of_export() -> None:
    imp = quantize_lowered(lower(model_to_nir(_model(steps=8)), DT, "bias"))
    x = torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    a = agreement(imp, x, 8)
    assert a.layers[0].count_corr > 0.99 and a.layers[0].float_rate > 0.05
    assert all(r.count_corr > 0.9 for r in a.layers)
    assert a.output_agreement >= 0.5


def _lif(shape, beta=0.75, thr=1.0, dt=DT):
    tau = np.full(shape, dt / (1 - beta))
    return nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(shape), v_threshold=np.full(shape, thr),
                   v_reset=np.zeros(shape))


def _every_node_graph(dt: float = DT) -> nir.NIRGraph:
    """Input spikes (2, 8, 8) through every supported node kind (Conv1d: its own test)."""
    rng = np.random.default_rng(0)
    f = np.full
    conv = nir.Conv2d(input_shape=(8, 8), weight=rng.normal(0, 1, (4, 2, 3, 3)), stride=1,
                      padding=1, dilation=1, groups=1, bias=np.zeros(4))
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                         padding=np.array([0, 0]))
    avg = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                        padding=np.array([0, 0]))
    tau = f((8,), dt / 0.5)
    nodes = {
        "input": nir.Input(input_type=np.array([2, 8, 8])),
        "conv": conv, "scale": nir.Scale(scale=f((4, 8, 8), 1.5)), "lif": _lif((4, 8, 8)),
        "sum": pool, "if": nir.IF(r=f((4, 4, 4), 0.5 / dt), v_threshold=f((4, 4, 4), 1.0)),
        "avg": avg, "cuba": nir.CubaLIF(tau_syn=f((4, 2, 2), dt / 0.5), tau_mem=f((4, 2, 2),
                                        dt / 0.25), r=f((4, 2, 2), 4.0),
                                        v_leak=f((4, 2, 2), 0.0), v_threshold=f((4, 2, 2), 1.0),
                                        w_in=f((4, 2, 2), 1 / 0.5)),
        "flat": nir.Flatten(input_type=np.array([4, 2, 2]), start_dim=0),
        "aff": nir.Affine(weight=rng.normal(0, 1, (16, 16)), bias=f(16, 0.1)),
        "lif2": _lif((16,), 0.9, 0.8),
        "lin": nir.Linear(weight=rng.normal(0, 1, (8, 16))),
        "li": nir.LI(tau=tau, r=tau / dt, v_leak=np.zeros(8)),
        "output": nir.Output(output_type=np.array([8])),
    }
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:], strict=True)),
                        metadata={"dt": dt})


def test_every_supported_node_imports_and_agrees(tmp_path: Path) -> None:
    g = read_graph(write_graph(_every_node_graph(), tmp_path / "all.nir"))
    imp = quantize_lowered(lower(g, DT, "spikes"))
    kinds = [layer.kind for layer in imp.net.layers]
    assert kinds == ["input", "conv", "conv", "conv", "flatten", "dense", "dense"]
    assert imp.net.layers[3].neuron.du < 4095  # CubaLIF keeps a current decay
    assert imp.net.layers[-1].neuron.dv > 0 and imp.net.layers[-1].neuron.vth == 131071
    x = (torch.rand(6, 10, 2, 8, 8, generator=torch.Generator().manual_seed(4)) < 0.3).double()
    a = agreement(imp, x, 10)
    assert a.layers[0].float_rate > 0.02
    assert all(r.count_corr > 0.8 for r in a.layers)


def test_conv1d_graph_as_one_wide_conv() -> None:
    rng = np.random.default_rng(1)
    nodes = {"input": nir.Input(input_type=np.array([3, 10])),
             "c": nir.Conv1d(input_shape=10, weight=rng.normal(0, 1, (5, 3, 3)), stride=2,
                             padding=1, dilation=1, groups=1, bias=np.zeros(5)),
             "lif": _lif((5, 5)), "output": nir.Output(output_type=np.array([5, 5]))}
    g = nir.NIRGraph(nodes=nodes, edges=[("input", "c"), ("c", "lif"), ("lif", "output")])
    imp = quantize_lowered(lower(g, DT, "spikes"))
    assert imp.net.layers[1].shape == (1, 5, 5)  # Lava (W=1, H=L, C)
    x = (torch.rand(4, 6, 3, 10, generator=torch.Generator().manual_seed(5)) < 0.4).double()
    assert agreement(imp, x, 6).layers[0].count_corr > 0.9


def test_snntorch_made_graph_imports() -> None:
    import snntorch as snn
    from snntorch.export_nir import _extract_snntorch_module

    torch.manual_seed(0)
    lin, lif = torch.nn.Linear(20, 7), snn.Leaky(beta=torch.full((7,), 0.8),
                                                    threshold=torch.ones(7))
    nodes = {"input": nir.Input(input_type=np.array([20])), "fc": _extract_snntorch_module(lin),
             "lif": _extract_snntorch_module(lif), "output": nir.Output(output_type=np.array([7]))}
    g = nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    imp = quantize_lowered(lower(g, 1e-4, "spikes"))
    assert imp.net.layers[1].neuron.dv == round(4096 * 0.2)
    assert np.any(imp.net.layers[1].neuron.bias != 0)  # the Affine bias became the LIF bias
    x = (torch.rand(8, 12, 20, generator=torch.Generator().manual_seed(6)) < 0.5).double()
    assert agreement(imp, x, 12).layers[0].count_corr > 0.95


def test_even_weights_import_and_write_as_lava_dl_reads_them(tmp_path: Path) -> None:
    """A dense layer whose chip weights are all even (here: a single weight) gets the bit
    count lava-dl derives (7), so the .net writes and reads back unchanged (NIR paper's
    lif_norse.nir failed: 'num_weight_bits 8 ... is not what lava-dl derives (7, 0)')."""
    from scnn.sim.netx import read_netx, write_netx

    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([1])),
                            "fc": nir.Linear(weight=np.array([[0.5]])), "lif": _lif((1,)),
                            "output": nir.Output(output_type=np.array([1]))},
                     edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    imp = quantize_lowered(lower(g, DT, "spikes"))
    dense = imp.net.layers[1]
    assert (dense.num_weight_bits, dense.weight_exp) == (7, 0)
    assert dense.chip_weight().tolist() == [[254]]
    path = write_netx(imp.net, tmp_path / "one.net")
    assert networks_equal(read_netx(path), imp.net)
    x = torch.ones(2, 5, 1, dtype=torch.float64)
    a = agreement(imp, x, 5)
    assert a.layers[0].same_trains == 1.0 and a.layers[0].float_rate > 0


def _dense_graph(in_type, lif: nir.NIRNode, meta=None) -> nir.NIRGraph:
    w = np.random.default_rng(2).normal(0.6, 0.5, (6, 20))
    return nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array(in_type)),
                               "fc": nir.Linear(weight=w), "lif": lif,
                               "output": nir.Output(output_type=np.array([6]))},
                        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
                        metadata=meta or {}, type_check=False)


def test_batch_axes_and_scalar_parameters_import_as_their_plain_form() -> None:
    """Norse writes a leading batch axis of 1 into Input shapes, Rockpool (1, 1, N) Input
    and Output shapes, sinabs scalar neuron parameters (declared shape []); all import
    as the plain graph does."""
    plain = quantize_lowered(lower(_dense_graph([20], _lif((6,))), DT, "spikes")).net
    batched = quantize_lowered(lower(_dense_graph([1, 20], _lif((6,))), DT, "spikes")).net
    assert networks_equal(plain, batched)
    rockpool = _dense_graph([1, 1, 20], _lif((6,)))
    rockpool.nodes["output"] = nir.Output(output_type=np.array([1, 1, 6]))  # as Rockpool 3.1
    assert networks_equal(plain, quantize_lowered(lower(rockpool, DT, "spikes")).net)
    tau = DT / 0.25
    scalar = nir.LIF(tau=np.array(tau), r=np.array(tau / DT), v_leak=np.array(0.0),
                     v_threshold=np.array(1.0))
    assert networks_equal(plain, quantize_lowered(lower(_dense_graph([20], scalar), DT,
                                                        "spikes")).net)
    w = np.random.default_rng(4).normal(0.3, 0.3, (3, 2, 3, 3))
    conv = nir.Conv2d(input_shape=(8, 8), weight=w, stride=1, padding=1, dilation=1, groups=1,
                      bias=np.zeros(3))

    def conv_graph(shape):
        return nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array(shape)), "c": conv,
                                   "lif": _lif((3, 8, 8)),
                                   "output": nir.Output(output_type=np.array([1, 3, 8, 8]))},
                            edges=[("input", "c"), ("c", "lif"), ("lif", "output")],
                            type_check=False)

    maps = [quantize_lowered(lower(conv_graph(shape), DT, "spikes")).net
            for shape in ([2, 8, 8], [1, 2, 8, 8])]
    assert networks_equal(*maps)
    flat = {k: _chain(("c", conv), ("lif", _lif((3, 8, 8))), ("f", nir.Flatten(
        input_type=None, start_dim=k, end_dim=-1)), ("fc", nir.Linear(weight=np.ones(
            (4, 192)) * 0.01)), ("lif2", _lif((4,))), shape=(2, 8, 8)) for k in (0, -3)}
    for g in flat.values():
        g.nodes["output"] = nir.Output(output_type=np.array([4]))
    assert networks_equal(*(quantize_lowered(lower(g, DT, "spikes")).net
                            for g in flat.values()))  # snntorch's Flatten(-3) = Flatten(0)
    with pytest.raises(NirError, match="'input' \\(Input\\): shape \\[2, 2, 8, 8\\]"):
        lower(conv_graph([2, 2, 8, 8]), DT, "spikes")


def test_missing_dt_is_inferred_from_unit_gain_or_asked_for(tmp_path: Path) -> None:
    from scnn.nir.importer import import_nir

    write_graph(_dense_graph([20], _lif((6,))), tmp_path / "snn.nir")  # r = tau / dt
    res = import_nir(tmp_path / "snn.nir", steps=5)
    assert res.dt_from.startswith("inferred") and res.imported.low.dt == pytest.approx(DT)
    assert res.imported.net.layers[1].neuron.dv == 1024
    norse = nir.LIF(tau=np.full(6, 1e-2), r=np.ones(6), v_leak=np.zeros(6),
                    v_threshold=np.ones(6))  # r = 1: the gain is dt / tau, dt unknown
    write_graph(_dense_graph([20], norse), tmp_path / "norse.nir")
    with pytest.raises(NirError, match="norse.nir: the graph has no dt in its metadata: pass "
                                       "--dt .*time constants 0.01..0.01 s.*at most 0.01 s"):
        import_nir(tmp_path / "norse.nir", steps=5)
    res = import_nir(tmp_path / "norse.nir", dt=2.5e-3, steps=5)
    assert res.dt_from == "--dt" and res.imported.net.layers[1].neuron.dv == 1024
    for dt, meta, source in ((-1.0, {}, "--dt"), (None, {"dt": "soon"}, "metadata")):
        write_graph(_dense_graph([20], norse, meta), tmp_path / "bad.nir")
        with pytest.raises(NirError, match=f"bad.nir: dt \\({source}\\) = .*must be a number "
                                           "> 0"):
            import_nir(tmp_path / "bad.nir", tmp_path / "o.net", dt=dt)
        assert not (tmp_path / "o.net").exists()


def _recurrent_graph(rec_into: str = "lif1", bias: float = 0.0) -> nir.NIRGraph:
    """input (12) -> fc1 -> lif1 (CubaLIF, with w_rec: lif1 -> lif1) -> fc2 -> lif2 -> output,
    the NIR paper's braille RNN in miniature."""
    rng = np.random.default_rng(7)
    tau_syn, tau_mem = DT / 0.4, DT / 0.1

    def cuba(n: int) -> nir.CubaLIF:
        f = np.full
        return nir.CubaLIF(tau_syn=f(n, tau_syn), tau_mem=f(n, tau_mem),
                           r=f(n, tau_mem / DT), w_in=f(n, tau_syn / DT), v_leak=f(n, 0.0),
                           v_threshold=f(n, 1.0), v_reset=f(n, 0.0))

    nodes = {"input": nir.Input(input_type=np.array([12])),
             "fc1": nir.Linear(weight=rng.normal(0.15, 0.3, (10, 12))), "lif1": cuba(10),
             "w_rec": nir.Affine(weight=rng.normal(0, 0.4, (10, 10)), bias=np.full(10, bias)),
             "fc2": nir.Linear(weight=rng.normal(0.2, 0.4, (5, 10))), "lif2": cuba(5),
             "output": nir.Output(output_type=np.array([5]))}
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
             ("lif2", "output"), (rec_into, "w_rec"), ("w_rec", rec_into)]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def test_recurrent_loops_import_as_dense_rec_with_lavas_bits(tmp_path: Path) -> None:
    from scnn.nir.check import run_fixed
    from scnn.nir.floatsim import simulate_float
    from scnn.sim import lava_backend
    from scnn.sim.netx import read_netx, write_netx

    low = lower(_recurrent_graph(), DT, "spikes")
    assert low.layers[1].weight_rec.shape == (10, 10) and low.layers[2].weight_rec is None
    imp = quantize_lowered(low)
    rec = imp.net.layers[1]
    assert rec.kind == "dense_rec" and rec.weight_rec.any()
    assert networks_equal(read_netx(write_netx(imp.net, tmp_path / "rec.net")), imp.net)
    x = (torch.rand(6, 20, 12, generator=torch.Generator().manual_seed(8)) < 0.3).double()
    a = agreement(imp, x, 20)
    assert a.layers[0].float_rate > 0.05 and a.layers[1].float_rate > 0.05
    assert a.layers[0].count_corr > 0.95 and a.output_agreement >= 5 / 6
    # the loop matters: without it the float network fires differently
    g = _recurrent_graph()
    del g.nodes["w_rec"]
    g.edges = [e for e in g.edges if "w_rec" not in e]
    flat = lower(g, DT, "spikes")
    assert not torch.equal(simulate_float(flat, 20, x)[0][0], simulate_float(low, 20, x)[0][0])
    one = x[:1]
    fixed, lava = run_fixed(imp, one, 20), run_fixed(imp, one, 20, lava_backend.simulate)
    assert all(np.array_equal(fixed[k], lava[k]) for k in fixed)


def test_affine_bias_into_cubalif_goes_on_v_as_its_steady_state() -> None:
    """snntorch's Linear + Synaptic (and the braille RNN) put a bias into the synaptic
    current; Loihi's bias adds to v, so the chip gets b / (1 - alpha) there, and the
    float reference keeps the graph's current bias: they agree once the current settles."""
    from scnn.nir.floatsim import simulate_float
    from scnn.nir.quantize import error_table

    low = lower(_recurrent_graph(bias=0.05), DT, "spikes")
    layer = low.layers[1]
    assert np.allclose(layer.bias_u, 0.05) and np.all(np.asarray(layer.bias) == 0)  # gain 1
    zero = lower(_recurrent_graph(), DT, "spikes")
    x = torch.zeros(2, 30, 12, dtype=torch.float64)  # no input: only the bias drives lif1
    v_biased = simulate_float(low, 30, x)[0][0]
    assert v_biased.sum() > 0 and simulate_float(zero, 30, x)[0][0].sum() == 0
    imp = quantize_lowered(low)
    alpha = layer.neuron.alpha
    expect = np.round(imp.scales[1] * layer.bias_u / (1 - alpha))
    assert np.array_equal(imp.net.layers[1].neuron.bias, expect.astype(np.int64))
    assert "steady state b / (1 - alpha), alpha = 0.6" in error_table(imp)
    x = (torch.rand(6, 60, 12, generator=torch.Generator().manual_seed(9)) < 0.2).double()
    assert agreement(imp, x, 60).layers[0].count_corr > 0.95


def test_bad_recurrent_loops_name_the_node() -> None:
    g = _recurrent_graph()
    g.nodes["w2"] = nir.Linear(weight=np.eye(10))
    g.edges += [("lif1", "w2"), ("w2", "lif1")]
    with pytest.raises(NirError, match="node 'lif1': two recurrent loops"):
        lower(g, DT, "spikes")
    w = np.random.default_rng(1).normal(0, 1, (3, 2, 3, 3))
    conv = nir.Conv2d(input_shape=(4, 4), weight=w, stride=1, padding=1, dilation=1, groups=1,
                      bias=np.zeros(3))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2, 4, 4])), "c": conv,
                            "lif": _lif((3, 4, 4)), "r": nir.Linear(weight=np.eye(48)),
                            "output": nir.Output(output_type=np.array([3, 4, 4]))},
                     edges=[("input", "c"), ("c", "lif"), ("lif", "output"), ("lif", "r"),
                            ("r", "lif")], type_check=False)
    with pytest.raises(NirError, match="node 'lif': a recurrent loop \\('r'\\) is supported "
                                       "on dense synapse layers only"):
        lower(g, DT, "spikes")


def _chain(*named: tuple[str, nir.NIRNode], shape=(4,), edges=None) -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type=np.array(shape)), **dict(named)}
    nodes["output"] = nir.Output(output_type=np.array(shape))
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=edges or list(zip(names[:-1], names[1:], strict=True)),
                        type_check=False)


@pytest.mark.parametrize(("graph", "match"), [
    (_chain(("d", nir.Delay(delay=np.ones(4)))), "'d' \\(Delay\\)"),
    (_chain(("t", nir.Threshold(threshold=np.ones(4)))), "'t': unsupported node type Threshold"),
    (_chain(("fc", nir.Linear(weight=np.eye(4))), ("lif", _lif((4,))),
            edges=[("input", "fc"), ("fc", "lif"), ("lif", "fc"), ("lif", "output")]),
     "'fc': merges|'lif': branches"),
    (_chain(("fc", nir.Linear(weight=np.ones((4, 5)))), ("lif", _lif((4,)))),
     "'fc' \\(Linear\\): declared input shape \\[5\\] does not match the inferred \\[4\\]"),
    (_chain(("fc", nir.Linear(weight=np.eye(4))), ("lif", nir.LIF(
        tau=np.array([1e-3, 1e-3, 2e-3, 1e-3]), r=np.ones(4), v_leak=np.zeros(4),
        v_threshold=np.ones(4)))), "'lif': tau differs across neurons"),
    (_chain(("fc", nir.Linear(weight=np.eye(4))), ("lif", nir.LIF(
        tau=np.ones(4), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.ones(4),
        v_reset=np.full(4, -1.0)))), "'lif': v_reset must be 0"),
    (_chain(("fc", nir.Linear(weight=np.eye(4))), ("lif", _lif((4,))),
            ("fc2", nir.Linear(weight=np.eye(4)))), "'fc2': linear nodes after the last neuron"),
])
def test_bad_graphs_name_the_node(graph: nir.NIRGraph, match: str) -> None:
    with pytest.raises(NirError, match=match):
        quantize_lowered(lower(graph, DT, "spikes"))


def test_two_convs_without_neurons_compose_or_are_rejected() -> None:
    rng = np.random.default_rng(3)
    w1, w2 = rng.normal(0, 1, (3, 2, 1, 1)), rng.normal(0, 1, (2, 3, 1, 1))
    conv = {k: nir.Conv2d(input_shape=(4, 4), weight=w, stride=1, padding=0, dilation=1,
                          groups=1, bias=np.zeros(w.shape[0]))
            for k, w in (("c1", w1), ("c2", w2))}
    g = _chain(*conv.items(), ("lif", _lif((2, 4, 4))), shape=(2, 4, 4))
    (layer,) = [x for x in lower(g, DT, "spikes").layers if x.kind == "conv"]
    assert np.allclose(layer.weight[:, :, 0, 0], w2[:, :, 0, 0] @ w1[:, :, 0, 0] * layer.unit)
    # padded 3x3 after padded 3x3: the first one's border outputs are not zero padding
    w3 = rng.normal(0, 1, (2, 2, 3, 3))
    conv = {k: nir.Conv2d(input_shape=(4, 4), weight=w3, stride=1, padding=1, dilation=1,
                          groups=1, bias=np.zeros(2)) for k in ("c1", "c2")}
    g = _chain(*conv.items(), ("lif", _lif((2, 4, 4))), shape=(2, 4, 4))
    with pytest.raises(NirError, match="'c1' and 'c2'.*do not compose"):
        lower(g, DT, "spikes")


@pytest.mark.lava
def test_imported_network_runs_in_lava_bit_exact() -> None:
    from scnn.nir.check import run_fixed
    from scnn.sim import lava_backend

    imp = quantize_lowered(lower(model_to_nir(_model("model_b", (1, 4, 4), 3)), DT, "bias"))
    x = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(7))
    a = run_fixed(imp, x, 3, fast.simulate)
    b = run_fixed(imp, x, 3, lava_backend.simulate)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _pool_conv_graph(side: int) -> nir.NIRGraph:
    """Spikes (2, side, side) -> LIF -> SumPool 2x2 -> Conv2d 3x3 (pad 1) -> LIF, no
    neurons between the pool and the convolution (sinabs/snntorch style)."""
    rng = np.random.default_rng(7)
    half = side // 2
    nodes = {
        "input": nir.Input(input_type=np.array([2, side, side])),
        "lif0": _lif((2, side, side)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "conv": nir.Conv2d(input_shape=(half, half), weight=rng.normal(0, 1, (3, 2, 3, 3)),
                           stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(3)),
        "lif1": _lif((3, half, half)),
        "output": nir.Output(output_type=np.array([3, half, half])),
    }
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:], strict=True)))


def test_pool_feeding_a_convolution_becomes_one_strided_convolution() -> None:
    from scnn.nir.chain import compose
    from scnn.nir.ops import Conv

    pool = Conv(np.eye(2)[:, :, None, None] * np.ones((1, 1, 2, 2)), np.zeros(2), (2, 2))
    conv = Conv(np.random.default_rng(0).normal(0, 1, (3, 2, 3, 3)), np.zeros(3), (1, 1), (1, 1))
    merged = compose(pool, conv)
    assert merged.weight.shape == (3, 2, 6, 6) and merged.stride == (2, 2)
    assert merged.padding == (2, 2)
    x = torch.randn(3, 2, 8, 8, dtype=torch.float64)
    assert torch.allclose(merged.apply(x), conv.apply(pool.apply(x)), atol=1e-12)
    imp = quantize_lowered(lower(_pool_conv_graph(8), DT, "spikes"))
    assert [layer.kind for layer in imp.net.layers] == ["input", "conv"]
    assert imp.net.layers[1].shape == (4, 4, 3) and imp.net.layers[1].stride == (2, 2)
    spikes = (torch.rand(4, 8, 2, 8, 8, generator=torch.Generator().manual_seed(2)) < 0.4)
    a = agreement(imp, spikes.double(), 8)
    assert all(r.count_corr > 0.9 for r in a.layers), a.layers
    with pytest.raises(NirError, match="do not compose"):  # 2x2 pool does not tile 9x9
        lower(_pool_conv_graph(9), DT, "spikes")
