"""The `scnn` command: help, data check, run, one-line errors with exit status 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

SCNN = [sys.executable, "-c", "from scnn.cli import main; main()"]


def scnn(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SCNN, *args], capture_output=True, text=True, env=env, timeout=600)


def test_help_lists_commands() -> None:
    res = scnn("--help")
    assert res.returncode == 0
    for cmd in ("run", "data"):
        assert cmd in res.stdout


def test_data_check_counts(mini_fsdd: Path) -> None:
    res = scnn("data", "check", "--data", str(mini_fsdd), "--val-speaker", "bob")
    assert res.returncode == 0, res.stderr
    assert "48 clips" in res.stdout
    rows = {tuple(line.split()) for line in res.stdout.splitlines()}
    assert {("test", "30"), ("val", "9"), ("train", "9"), ("2", "16"), ("7", "0")} <= rows


def test_data_check_bad_file_is_one_line_error(mini_fsdd: Path) -> None:
    (mini_fsdd / "recordings" / "2_bob_3.wav").write_bytes(b"RIFF")
    res = scnn("data", "check", "--data", str(mini_fsdd))
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: ") and "2_bob_3.wav" in res.stderr
    assert "Traceback" not in res.stderr
    res = scnn("data", "check", "--data", str(mini_fsdd), "--skip-bad")
    assert res.returncode == 0 and "bad files: 1" in res.stdout


def test_missing_folder_is_one_line_error(tmp_path: Path) -> None:
    res = scnn("data", "check", "--data", str(tmp_path / "nope"))
    assert res.returncode == 2 and "does not exist" in res.stderr and "Traceback" not in res.stderr


def test_run_writes_run_directory(mini_fsdd: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = scnn("run", "--data", str(mini_fsdd), "--out", str(out), "--epochs", "2", "-T", "3",
               "--model", "model_b", "--qat-epochs", "1", "--lava-clips", "2")
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "run.json").read_text())["stages"]
    assert list(summary) == ["data", "features", "train", "qat", "export", "simulate", "lava",
                             "profile", "report"]
    assert summary["train"]["test_n"] == 30 and (out / "model.pt").exists()
    assert summary["simulate"]["n"] == 30 and summary["simulate"]["equals_qat"]
    assert summary["lava"]["clips"] == 2 and summary["lava"]["prediction_mismatches"] == 0
    assert (out / "network.net").exists() and (out / "network.json").exists()
    profiles = json.loads((out / "profile.json").read_text())
    assert [p["chip"] for p in profiles] == ["loihi1", "loihi2"]
    assert all(p["energy_uj"]["dynamic"] > 0 and p["cores"] >= 4 for p in profiles)
    page = (out / "report" / "report.html").read_text()
    for png in ("confusion.png", "spike_rates.png", "raster.png", "traces.png", "energy.png",
                "cores.png"):
        assert f'src="{png}"' in page and (out / "report" / png).stat().st_size > 1000
    machine = json.loads((out / "report" / "metrics.json").read_text())
    assert machine["accuracy"]["bit_exact"] == summary["simulate"]["accuracy"]
    for png in ("speakers.png", "noise.png"):  # per speaker, accuracy vs SNR
        assert f'src="{png}"' in page and (out / "report" / png).stat().st_size > 1000
    per = machine["per_speaker"]
    assert set(per) == {"alice", "bob"} and sum(v["n"] for v in per.values()) == 30
    assert sum(v["correct"] for v in per.values()) == round(30 * machine["accuracy"]["bit_exact"])
    curves = {(r["noise"], r["snr_db"]): r for r in machine["noise"]}
    assert len(curves) == 8 and all("float" in r and r["n"] == 30 for r in curves.values())
    ev = scnn("eval", str(out / "network.net"), "--data", str(mini_fsdd), "--noise", "babble",
              "--snr", "5", "--json", str(tmp_path / "noisy.json"))
    assert ev.returncode == 0, ev.stderr
    noisy = json.loads((tmp_path / "noisy.json").read_text())["accuracy"]
    assert noisy == curves[("babble", 5.0)]["bit_exact"]
    for args, needle in ((["--noise", "brown"], "'brown' is not a noise kind"),
                         (["--snr", "10,x"], "--snr '10,x'"), (["--snr", "80"], "[-20, 60]"),
                         (["--noise", "white,white"], "names a value twice")):
        bad = scnn("report", str(out), "--data", str(mini_fsdd), "--out",
                   str(tmp_path / "rep2"), *args)
        assert bad.returncode == 2 and needle in bad.stderr and "Traceback" not in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "rep2").exists()
    other = tmp_path / "other"  # another dataset: one test clip fewer
    shutil.copytree(mini_fsdd, other)
    (other / "recordings" / "2_bob_4.wav").unlink()
    bad = scnn("report", str(out), "--data", str(other), "--out", str(tmp_path / "rep2"))
    assert bad.returncode == 2 and "eval_fast.json was measured on another dataset" in \
        bad.stderr and not (tmp_path / "rep2").exists(), bad.stderr
    none = scnn("report", str(out), "--data", str(mini_fsdd), "--out", str(tmp_path / "rep3"),
                "--noise", "none")
    assert none.returncode == 0 and not (tmp_path / "rep3" / "noise.png").exists()
    # start from the exported network instead of training
    res = scnn("run", "--data", str(mini_fsdd), "--out", str(tmp_path / "again"), "--net",
               str(out / "network.net"), "--lava-clips", "0")
    assert res.returncode == 0, res.stderr
    again = json.loads((tmp_path / "again" / "run.json").read_text())["stages"]
    assert "skipped" in again["train"] and "skipped" in again["qat"]
    assert again["simulate"]["accuracy"] == summary["simulate"]["accuracy"]
    assert again["simulate"]["equals_qat"]
    assert (tmp_path / "again" / "report" / "report.html").exists()
    assert summary["features"]["n_train"] == 18 and summary["features"]["n_test"] == 30
    saved = json.loads((out / "features.json").read_text())
    assert len(saved["normalization"]["mean"]) == 32
    assert (out / "features.png").stat().st_size > 0


def test_train_then_eval(mini_fsdd: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = scnn("train", "--data", str(mini_fsdd), "--model", "model_b", "--epochs", "2",
               "-T", "3", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "test accuracy" in res.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_n"] == 30 and metrics["steps"] == 3
    res = scnn("eval", str(out), "--data", str(mini_fsdd), "--json", str(tmp_path / "e.json"))
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "e.json").read_text())
    assert rep["accuracy"] == metrics["test_accuracy"] and rep["n"] == 30
    assert len(rep["per_class"]) == 10 and (out / "confusion-test.png").exists()
    res = scnn("eval", str(tmp_path), "--data", str(mini_fsdd))
    assert res.returncode == 2 and "not a run directory" in res.stderr


def test_run_with_cmn_exports_what_it_trained(mini_fsdd: Path, tmp_path: Path) -> None:
    """--cmn is a front-end setting: the card carries it, so the bit-exact evaluation of
    the export feeds the chip the features the model was fine-tuned on."""
    out = tmp_path / "run"
    res = scnn("run", "--data", str(mini_fsdd), "--out", str(out), "--epochs", "2", "-T", "3",
               "--model", "model_b", "--qat-epochs", "1", "--lava-clips", "0", "--cmn")
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "run.json").read_text())["stages"]
    assert summary["simulate"]["equals_qat"]
    assert json.loads((out / "network.json").read_text())["features"]["cmn"] is True
    assert json.loads((out / "config.json").read_text())["features"]["cmn"] is True
