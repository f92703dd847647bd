"""``scnn profile``: JSON schema, counts equal to an independent simulation, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli_data import scnn
from test_export import _tiny_run
from typer.testing import CliRunner

from scnn.cli import app
from scnn.export import card_drive, export_netx, load_card
from scnn.features import FeatureConfig
from scnn.hweval import spread
from scnn.sim import fast
from scnn.sim.netx import read_netx
from scnn.train import load_features

KEYS = {"chip", "chips", "cores", "synops", "neuron_updates", "spikes", "energy_uj",
        "latency_ms", "inferences_per_s", "layers", "neurobench", "sources"}
NEUROBENCH = {"effective_acs", "effective_macs", "dense_synops", "activation_sparsity",
              "connection_sparsity", "footprint_bytes"}


@pytest.fixture(scope="module")
def tiny_net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("profile")
    export_netx(_tiny_run(tmp), tmp / "tiny.net")
    return tmp / "tiny.net"


def _independent_spikes(net_path: Path, data: Path, limit: int) -> tuple[float, int]:
    """Mean spikes per clip over the same clips, straight from the fast simulator."""
    card = load_card(net_path)
    raw, _ = load_features(data, FeatureConfig.from_dict(card["features"]), splits=("test",),
                           progress=False)
    x = raw["test"][0]
    idx = spread(len(x), limit)
    res = fast.simulate(read_netx(net_path), card["run_steps"], bias=card_drive(card, x[idx]),
                        record=("s",))
    return sum(float(v.sum()) for v in res.values()) / len(idx), len(idx)


def test_profile_all_chips_json(tiny_net: Path, mini_fsdd: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    res = CliRunner().invoke(app, ["profile", str(tiny_net), "--data", str(mini_fsdd),
                                   "--chip", "all", "--limit", "5", "--json", str(out)])
    assert res.exit_code == 0, res.output
    recs = json.loads(out.read_text())
    assert [r["chip"] for r in recs] == ["loihi1", "loihi2"]
    spikes, n = _independent_spikes(tiny_net, mini_fsdd, 5)
    for r in recs:
        assert KEYS <= set(r) and NEUROBENCH <= set(r["neurobench"])
        assert r["samples"] == n and r["spikes"] == pytest.approx(spikes)
        assert r["synops"] == pytest.approx(r["neurobench"]["effective_acs"])
        assert r["synops"] == pytest.approx(sum(x["synops"] for x in r["layers"]))
        e = r["energy_uj"]
        assert e["dynamic"] > 0 and e["static"] > 0
        assert e["dynamic"] == pytest.approx(sum(x["energy_uj_dynamic"] for x in r["layers"]))
        assert r["inferences_per_s"] == pytest.approx(1e3 / r["latency_ms"])
        assert "Davies" in r["sources"]["energy"]  # Loihi 1 table, or its scaled structure
        assert ("fitted" in r["sources"]["energy"]) == (r["chip"] == "loihi2")
        band = r["energy_band_uj"]
        assert (band is None) == (r["chip"] == "loihi1")
        for kind in ("dynamic", "static", "total") if band else ():
            assert band[kind][0] < e[kind] < band[kind][1]
    assert recs[1]["energy_band_uj"]["dynamic"] == pytest.approx(
        [recs[1]["energy_uj"]["dynamic"] * 0.562 / 1.094,
         recs[1]["energy_uj"]["dynamic"] * 1.386 / 1.094], rel=5e-3)
    assert recs[0]["cores"] == sum(x["cores"] for x in recs[0]["layers"])


def test_profile_one_chip_is_one_object(tiny_net: Path, mini_fsdd: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    res = CliRunner().invoke(app, ["profile", str(tiny_net), "--data", str(mini_fsdd),
                                   "--chip", "loihi1", "--limit", "2", "--json", str(out)])
    assert res.exit_code == 0, res.output
    rec = json.loads(out.read_text())
    assert rec["chip"] == "loihi1" and rec["samples"] == 2
    assert np.isfinite(rec["energy_uj"]["total"])


def test_profile_errors_are_one_line(tiny_net: Path, mini_fsdd: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    res = scnn("profile", str(tiny_net), "--data", str(mini_fsdd), "--chip", "loihi3",
               "--json", str(out))
    assert res.returncode == 2 and res.stderr.startswith("error: ") and "loihi3" in res.stderr
    assert "Traceback" not in res.stderr and not out.exists()


def test_profile_driven_by_arrays(lava_gts: Path, tmp_path: Path) -> None:
    """No model card: PilotNet SDNN driven by its frames, PilotNet LIF by its image bias
    (reproducing the Loihi 2 calibration run's 73 cores and 1.09 mJ)."""
    d = lava_gts / "pilotnet_sdnn"
    frames = tmp_path / "frames.npy"
    np.save(frames, np.repeat(np.load(d / "input.npy"), 9, axis=-1))
    out = tmp_path / "sdnn.json"
    res = scnn("profile", str(d / "network.net"), "--input", str(frames), "--steps", "9",
               "--json", str(out))
    assert res.returncode == 0, res.stderr
    rec = json.loads(out.read_text())
    assert KEYS <= set(rec) and rec["samples"] == 1 and rec["steps"] == 9
    kinds = [(x["neuron"], x["payload_bits"], x["binary_input"]) for x in rec["layers"]]
    assert kinds[0] == ("Delta", 16, False) and kinds[-1] == ("Sigma", 16, False)
    assert rec["neurobench"]["effective_macs"] == rec["synops"] > 0
    assert rec["neurobench"]["effective_acs"] == 0
    lif = tmp_path / "lif.json"
    res = scnn("profile", str(lava_gts / "pilotnet_lif" / "network.net"), "--bias",
               str(lava_gts / "pilotnet_lif" / "image.npy"), "--steps", "16",
               "--reset-interval", "16", "--json", str(lif))
    assert res.returncode == 0, res.stderr
    rec = json.loads(lif.read_text())
    assert rec["cores"] == 73 and rec["energy_uj"]["dynamic"] == pytest.approx(1090, rel=1e-3)


@pytest.mark.parametrize("args, needle", [
    (["--input", "{x}"], "--steps is required with --input/--bias"),
    (["--input", "{x}", "--steps", "3", "--data", "{x}"], "--data/--limit drive a model"),
    (["--steps", "3"], "--steps go with --input/--bias"),
    (["--spike-exp", "3"], "--spike-exp go with --input/--bias"),
    (["--input", "{empty}", "--steps", "3"], "holds no samples (batch of 0)"),
    (["--input", "{x}", "--steps", "3", "--spike-exp", "9"], "--spike-exp 9"),
    (["--input", "{x}", "--steps", "4"], "x 4 steps"),
])
def test_profile_array_mode_errors(lava_gts: Path, tmp_path: Path, args: list[str],
                                   needle: str) -> None:
    x, empty = tmp_path / "x.npy", tmp_path / "empty.npy"
    np.save(x, np.zeros((100, 33, 3, 3), np.int32))
    np.save(empty, np.zeros((0, 100, 33, 3, 3), np.int32))
    out = tmp_path / "p.json"
    res = scnn("profile", str(lava_gts / "pilotnet_sdnn" / "network.net"),
               *[a.format(x=x, empty=empty) for a in args], "--json", str(out))
    assert res.returncode == 2 and res.stderr.startswith("error: ") and needle in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not out.exists()
