"""``scnn export RUN --nir`` and ``scnn import IN.nir --netx OUT.net`` end to end."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from test_export import _tiny_run
from typer.testing import CliRunner

from scnn.cli import app
from scnn.hw.errors import ScnnError
from scnn.nir.torchrun import run_graph, torch_from_nir
from scnn.sim.netx import read_netx
from scnn.train import load_run

torch.set_num_threads(1)


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_run(tmp_path_factory.mktemp("nir"), steps=4)


def test_export_nir_then_import_to_netx(run: Path, tmp_path: Path) -> None:
    res = _invoke("export", str(run), "--nir", str(tmp_path / "m.nir"), "--nir-flavor", "full")
    assert res.exit_code == 0, res.output
    g = nir.read(tmp_path / "m.nir")
    lr = load_run(run)
    x = torch.load(run.parent / "raw.pt", weights_only=True)["x"][:10]
    xn = lr.normalizer(x)
    out, _ = run_graph(torch_from_nir(g), xn, 4)
    with torch.no_grad():
        logits = lr.model(xn)
    assert torch.equal(out[:, -1].argmax(1), logits.argmax(1))
    np.save(tmp_path / "inputs.npy", xn.numpy())
    res = _invoke("import", str(tmp_path / "m.nir"), "--netx", str(tmp_path / "m.net"),
                  "--data", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert "weight err" in res.output and "output agreement" in res.output
    assert "of 10 inputs" in res.output
    assert "input drive calibrated on 10 inputs" in res.output
    assert len(read_netx(tmp_path / "m.net").layers) == 5
    # the calibrated scale is the largest that keeps the peak drive inside the bias range
    from scnn.nir.lower import lower
    from scnn.nir.quantize import calibrate_drive, quantize_lowered

    low = lower(nir.read(tmp_path / "m.nir"), 1e-4, "bias")
    for k in (0.05, 1.0, 40.0):  # small drives gain resolution, large ones are not clipped
        scale, peak = calibrate_drive(low, k * xn.double())
        assert scale == max(1, int(4095 // peak))
        bias = quantize_lowered(low, drive_scale=scale).input_bias(k * xn.double())
        assert 4095 - peak - 1 < np.abs(bias).max() <= 4095


def test_export_needs_a_target(run: Path) -> None:
    res = _invoke("export", str(run))
    assert isinstance(res.exception, ScnnError)


def test_portable_export_is_the_default_and_runs_like_the_model(run: Path, tmp_path: Path
                                                                ) -> None:
    res = _invoke("export", str(run), "--nir", str(tmp_path / "p.nir"))
    assert res.exit_code == 0 and "(portable," in res.output, res.output
    g = nir.read(tmp_path / "p.nir")
    assert g.metadata["flavor"] == "portable"
    import h5py  # zero v_reset arrays are left out: nir <= 1.0.4 (sinabs) cannot read them

    with h5py.File(tmp_path / "p.nir") as f:
        assert not any("v_reset" in grp for grp in f["node/nodes"].values())
    assert all(not np.any(n.v_reset) for n in g.nodes.values() if isinstance(n, nir.LIF))
    lr = load_run(run)
    xn = lr.normalizer(torch.load(run.parent / "raw.pt", weights_only=True)["x"][:10])
    out, _ = run_graph(torch_from_nir(g), xn.reshape(10, -1, 1, xn.shape[-1]), 4)
    with torch.no_grad():
        assert torch.allclose(out.mean(1), lr.model(xn), atol=1e-5)


def test_export_rejects_unknown_flavors_before_writing(run: Path, tmp_path: Path) -> None:
    res = _invoke("export", str(run), "--netx", str(tmp_path / "m.net"), "--nir",
                  str(tmp_path / "m.nir"), "--nir-flavor", "lite")
    assert isinstance(res.exception, ScnnError)
    assert "--nir-flavor 'lite': expected one of portable, full" in str(res.exception)
    assert not list(tmp_path.iterdir())


def test_import_rejects_bad_files_without_output(tmp_path: Path) -> None:
    (tmp_path / "bad.nir").write_bytes(b"not hdf5")
    res = _invoke("import", str(tmp_path / "bad.nir"), "--netx", str(tmp_path / "o.net"))
    assert isinstance(res.exception, ScnnError) and "bad.nir" in str(res.exception)
    assert not (tmp_path / "o.net").exists()
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])),
                            "d": nir.Delay(delay=np.ones(3)),
                            "output": nir.Output(output_type=np.array([3]))},
                     edges=[("input", "d"), ("d", "output")])
    nir.write(tmp_path / "delay.nir", g)
    res = _invoke("import", str(tmp_path / "delay.nir"), "--netx", str(tmp_path / "o.net"))
    assert isinstance(res.exception, ScnnError) and "'d' (Delay)" in str(res.exception)
    assert not (tmp_path / "o.net").exists()
