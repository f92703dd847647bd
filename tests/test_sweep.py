"""Ray: a two-trial sweep end to end, parallel eval and profile equal to serial, config."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from test_cli_data import scnn

from scnn.hw.errors import ScnnError
from scnn.raypool import shards
from scnn.sweep import SweepConfig, load_sweep, pareto_front, trial_model

TINY = """
[sweep]
model = "model_b"
samples = 1
epochs = 2
grace_epochs = 1
qat_epochs = 1
val_indices = [7, 8]
profile_clips = 4
batch_size = 8

[space]
steps = {grid = [2, 3]}
width = 0.5
"""


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (ray_session reuses it instead of starting its own)."""
    from scnn.raypool import ray_session

    with ray_session(None, 2):
        yield


def test_two_trial_sweep_writes_distinct_trials_and_exports_the_best(
        mini_fsdd: Path, tmp_path: Path, local_ray) -> None:
    from scnn.sweep import run_sweep

    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    out = tmp_path / "sweep"
    summary = run_sweep(load_sweep(cfg), out, mini_fsdd, progress=False)
    assert summary["trials"] == 2 and summary["errors"] == 0
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) == 2 and {r["param_steps"] for r in rows} == {"2", "3"}
    dirs = {r["trial"]: Path(r["trial_dir"]) for r in rows if r["status"] == "completed"}
    assert len(set(dirs.values())) == len(dirs) >= 1
    for row in rows:
        if row["status"] != "completed":
            continue
        card = json.loads((Path(row["trial_dir"]) / "network.json").read_text())
        assert card["steps"] == int(row["param_steps"])  # each trial kept its own network
        assert card["model"]["convs"][0]["channels"] == 3  # width 0.5 of model_b's 6
        assert 0 <= float(row["val_bitexact"]) <= 1 and float(row["energy_uj"]) > 0
    best = summary["best"]
    assert (out / "best.net").read_bytes() == (Path(best["trial_dir"]) / "network.net").read_bytes()
    assert set(summary["pareto"]) <= set(dirs) and best["trial"] in summary["pareto"]
    assert (out / "pareto.png").stat().st_size > 0
    assert "Pareto" in (out / "report.html").read_text()
    with pytest.raises(ScnnError, match="earlier sweep"):
        run_sweep(load_sweep(cfg), out, mini_fsdd, progress=False)


FAMILIES = """
[sweep]
model = "model_b"
samples = 1
epochs = 2
grace_epochs = 2
val_indices = [7, 8]
profile_clips = 4
batch_size = 8

[space]
family = {grid = ["sdnn_converted", "lif_stream", "sdnn_stream"]}
width = 0.05
qat_epochs = 1
"""


def test_sweep_over_families_measures_each_on_the_chip(mini_fsdd: Path, tmp_path: Path,
                                                       local_ray) -> None:
    from scnn.sweep import run_sweep

    cfg = tmp_path / "fam.toml"
    cfg.write_text(FAMILIES)
    summary = run_sweep(load_sweep(cfg), tmp_path / "sweep", mini_fsdd, progress=False)
    rows = {r["param_family"]: r for r in summary["rows"]}
    assert set(rows) == {"sdnn_converted", "lif_stream", "sdnn_stream"}
    assert summary["errors"] == 0 and summary["completed"] == 3, summary["rows"]
    kinds = {}
    for family, row in rows.items():
        card = json.loads((Path(row["trial_dir"]) / "network.json").read_text())
        kinds[family] = (card["drive"]["kind"], card["readout"].get("state", "v"),
                         card["readout"].get("leak_shift"))
        assert row["epochs_run"] == 2 and 0 <= row["val_bitexact"] <= 1
        assert row["energy_uj"] > row["energy_uj_dynamic"] > 0
    assert kinds == {"sdnn_converted": ("graded", "sigma", None),
                     "lif_stream": ("stream", "v", None),
                     "sdnn_stream": ("stream", "sigma", 4)}
    card = json.loads((Path(rows["sdnn_stream"]["trial_dir"]) / "network.json").read_text())
    assert card["model"]["hidden"] == [26, 13]  # 512-256 times width 0.05
    assert set(summary["pareto"]) <= {r["trial"] for r in summary["rows"]}


def test_parallel_eval_and_profile_equal_serial(mini_fsdd: Path, tmp_path: Path,
                                                local_ray) -> None:
    from scnn.hweval import evaluate_netx
    from scnn.profiling import profile_netx

    run, net = tmp_path / "run", tmp_path / "m.net"
    res = scnn("train", "--data", str(mini_fsdd), "--model", "model_b", "--epochs", "2",
               "-T", "3", "--out", str(run))
    assert res.returncode == 0, res.stderr
    assert scnn("export", str(run), "--netx", str(net)).returncode == 0
    serial = evaluate_netx(net, mini_fsdd, progress=False)
    parallel = evaluate_netx(net, mini_fsdd, progress=False, workers=3)
    assert parallel.pop("workers") == 3 and serial.pop("workers") == 1
    assert parallel == serial
    one = profile_netx(net, mini_fsdd, ("loihi1", "loihi2"), progress=False)
    many = profile_netx(net, mini_fsdd, ("loihi1", "loihi2"), progress=False, workers=4)
    assert many == one
    with pytest.raises(ScnnError, match="fast backend only"):
        evaluate_netx(net, mini_fsdd, "lava", progress=False, workers=2)


def test_shards_cover_every_clip_once_in_order() -> None:
    for n, k in ((10, 3), (2, 5), (7, 1), (0, 2)):
        parts = shards(n, k)
        assert np.array_equal(np.concatenate(parts) if parts else np.arange(0), np.arange(n))
        assert len(parts) <= k and all(p.size for p in parts)
    with pytest.raises(ScnnError, match="workers"):
        shards(4, 0)


def test_pareto_front_by_hand() -> None:
    acc = np.array([0.90, 0.95, 0.95, 0.80, 0.99])
    energy = np.array([10.0, 20.0, 25.0, 5.0, 40.0])
    # 2 is beaten by 1 (same accuracy, less energy); the rest trade off
    assert pareto_front(acc, energy).tolist() == [0, 1, 3, 4]


def test_sweep_config_errors_and_trial_models(tmp_path: Path) -> None:
    def load(text: str) -> SweepConfig:
        path = tmp_path / "s.toml"
        path.write_text(text)
        return load_sweep(path)

    with pytest.raises(ScnnError, match="unknown parameter 'gamma'"):
        load("[space]\ngamma = [1, 2]\n")
    with pytest.raises(ScnnError, match="unknown \\[sweep\\] key"):
        load("[sweep]\nepoch = 3\n")
    with pytest.raises(ScnnError, match="expected one of grid"):
        load("[space]\nlr = {normal = [0, 1]}\n")
    with pytest.raises(ScnnError, match="not valid TOML"):
        load("[sweep\n")
    with pytest.raises(ScnnError, match="unknown model"):
        load("[sweep]\nmodel = 'resnet'\n")
    with pytest.raises(ScnnError, match="family 'cnn': expected one of lif_rate"):
        load("[space]\nfamily = ['lif_rate', 'cnn']\n")
    with pytest.raises(ScnnError, match="family takes a list, grid or choice"):
        load("[space]\nfamily = {uniform = [0, 1]}\n")
    with pytest.raises(ScnnError, match="sdnn_threshold 1.5: a fraction in \\[0, 1\\)"):
        load("[space]\nsdnn_threshold = [0.1, 1.5]\n")
    with pytest.raises(ScnnError, match="no such sweep file"):
        load_sweep(tmp_path / "missing.toml")
    cfg = load("[sweep]\nmodel = 'scnn'\n[space]\nbeta = [0.5, 0.9]\n")
    m = trial_model(cfg, {"beta": 0.9, "steps": 4.0, "width": 0.25}, (1, 32, 32))
    assert (m.beta, m.steps, m.dense, m.convs[1].channels) == (0.9, 4, (64,), 16)
