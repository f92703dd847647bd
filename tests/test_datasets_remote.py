"""Speech Commands v2 and SHD/SSC: parsing the real formats, the checksummed download
from a loopback HTTP server, training on them from the command line."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from badinput import assert_bad_input, run_scnn
from fixture_datasets import (
    COMMANDS,
    digest,
    gsc_folder,
    gsc_tarball,
    gzip_file,
    serve,
    spike_file,
    spike_folder,
    sums_file,
)

from scnn.data import open_dataset
from scnn.data.gsc import NOISE_CUTS, SpeechCommands
from scnn.data.sources import Remote, Source, expected_digests, fetch_dataset
from scnn.data.spikes import SpikeDataset, bin_spikes
from scnn.hw.errors import ScnnError


@pytest.fixture(scope="module")
def gsc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gsc_folder(tmp_path_factory.mktemp("gsc"))


def _env(tmp: Path) -> dict:
    env = dict(os.environ, SCNN_CACHE=str(tmp / "cache"), MPLBACKEND="Agg")
    env.pop("SCNN_DATA", None)
    return env


# ------------------------------------------------------------------ Speech Commands

def test_gsc_35_word_task_uses_the_official_lists(gsc: Path) -> None:
    ds = open_dataset(gsc)
    assert ds.name == "gsc" and ds.classes == sorted((*COMMANDS, "bed", "cat"))
    test = {c.key for c in ds.split("test")}
    assert test == set((gsc / "testing_list.txt").read_text().split())
    assert {c.speaker for c in ds.split("test")} == {"4e0a6b33"}
    assert {c.speaker for c in ds.split("val")} == {"3d8f5a22"}
    assert len(ds.split("train")) == 12 * 3 * 2


def test_gsc12_unknown_and_silence_per_split(gsc: Path) -> None:
    ds = SpeechCommands(gsc, "gsc12")
    assert ds.classes[:2] == ["_silence_", "_unknown_"] and ds.classes[2:] == list(COMMANDS)
    for split, n_speakers in (("train", 3), ("val", 1), ("test", 1)):
        clips = ds.split(split)
        known = 10 * n_speakers * 2
        extra = math.ceil(known * 0.1)
        by_label = np.bincount([c.label for c in clips], minlength=12)
        assert by_label[0] == extra and by_label[1] == extra and sum(by_label[2:]) == known
        unknown = [c for c in clips if c.label == 1]
        assert all(c.key.split("/")[0] in ("bed", "cat") for c in unknown)
        lo, hi = NOISE_CUTS[split]
        for c in (c for c in clips if c.label == 0):
            assert lo * 12 <= c.segment[0] and c.segment[0] + 1.0 <= hi * 12 + 1e-9
            assert 0.0 <= c.gain <= 0.1
            wave = ds.load(c)
            assert wave.shape == (8000,) and np.abs(wave).max() <= 0.1 * 1.0 + 1e-6
    assert len({c.key for c in ds.clips}) == len(ds.clips)


def test_gsc_bad_lists_are_one_line_errors(tmp_path: Path) -> None:
    root = gsc_folder(tmp_path, speakers=("0a7c2a8d", "1b4c9b89"), repeats=1)
    with pytest.raises(ScnnError, match="not there"):
        (root / "testing_list.txt").write_text("yes/ffffffff_nohash_0.wav\n")
        SpeechCommands(root)
    with pytest.raises(ScnnError, match="expected 'word/file.wav'"):
        (root / "testing_list.txt").write_text("../etc/passwd\n")
        SpeechCommands(root)
    (root / "testing_list.txt").write_text("yes/0a7c2a8d_nohash_0.wav\n")
    (root / "validation_list.txt").write_text("yes/0a7c2a8d_nohash_0.wav\n")
    with pytest.raises(ScnnError, match="is also in validation_list.txt"):
        SpeechCommands(root)
    (root / "validation_list.txt").write_text("")
    for p in (root / "stop").iterdir():
        p.unlink()
    (root / "stop").rmdir()
    with pytest.raises(ScnnError, match="missing stop"):
        SpeechCommands(root, "gsc12")


def test_gsc_download_verified_and_cached(tmp_path: Path, gsc: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    tar = gsc_tarball(gsc, site / "speech_commands_v0.02.tar.gz")
    sums = sums_file(tmp_path / "sums.txt", [tar], "sha256")
    with serve(site) as url:
        env = _env(tmp_path)
        res = run_scnn(["data", "fetch", "--dataset", "gsc", "--url", url, "--checksums",
                        str(sums)], tmp_path, env)
        assert res.returncode == 0, res.stderr
        folder = tmp_path / "cache" / "gsc-v0.02"
        assert f"--data {folder}" in res.stdout
        assert (folder / "yes" / "0a7c2a8d_nohash_0.wav").read_bytes() == \
            (gsc / "yes" / "0a7c2a8d_nohash_0.wav").read_bytes()
        assert json.loads((folder / ".verified.json").read_text())["files"] == \
            {tar.name: digest(tar, "sha256")}
        assert len(SpeechCommands(folder).clips) == len(SpeechCommands(gsc).clips)
        tar.unlink()  # a verified cache is not downloaded again
        again = run_scnn(["data", "fetch", "--dataset", "gsc", "--url", url], tmp_path, env)
        assert again.returncode == 0, again.stderr


def test_gsc_download_with_the_wrong_checksum_leaves_nothing(tmp_path: Path, gsc: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    gsc_tarball(gsc, site / "speech_commands_v0.02.tar.gz")
    run = tmp_path / "run"
    run.mkdir()
    with serve(site) as url:
        res = run_scnn(["data", "fetch", "--dataset", "gsc", "--url", url, "--cache",
                        str(run / "gsc")], run, _env(tmp_path))
    # the pinned SHA-256 is the real archive's, not the fixture's
    assert_bad_input(res, ("speech_commands_v0.02.tar.gz", "checksum",
                           "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"),
                     run)


@pytest.mark.parametrize("args, needles", [
    (["--checksums", "SUMS"], ("SUMS", "expected 'DIGEST  FILE'")),
    (["--checksums", "MISSING"], ("MISSING", "cannot read")),
    (["--dataset", "fsdd", "--checksums", "SUMS"], ("--checksums", "manifest")),
    (["--dataset", "tidigits"], ("--dataset 'tidigits'", "gsc, shd, ssc")),
])
def test_fetch_bad_options(tmp_path: Path, args: list[str], needles: tuple[str, ...]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    sums = tmp_path / "SUMS"
    sums.write_text("not-a-digest speech_commands_v0.02.tar.gz\n")
    args = [str(sums) if a == "SUMS" else str(tmp_path / "MISSING") if a == "MISSING" else a
            for a in args]
    if "--dataset" not in args:
        args = ["--dataset", "gsc", *args]
    res = run_scnn(["data", "fetch", "--cache", str(run / "c"), *args], run, _env(tmp_path))
    assert_bad_input(res, tuple(str(sums) if n == "SUMS" else n for n in needles), run)


def test_checksums_must_name_every_file(tmp_path: Path) -> None:
    sums = tmp_path / "sums.txt"
    sums.write_text(f"{'0' * 32}  shd_train.h5.gz\n")
    run = tmp_path / "run"
    run.mkdir()
    res = run_scnn(["data", "fetch", "--dataset", "shd", "--checksums", str(sums), "--cache",
                    str(run / "c")], run, _env(tmp_path))
    assert_bad_input(res, (str(sums), "no checksum for shd_test.h5.gz"), run)


def test_train_and_eval_gsc12_from_the_command_line(tmp_path: Path, gsc: Path) -> None:
    out = tmp_path / "run"
    env = dict(os.environ, MPLBACKEND="Agg")
    res = run_scnn(["train", "--data", str(gsc), "--dataset", "gsc12", "--epochs", "2",
                    "--out", str(out)], tmp_path, env, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["split"] == {"dataset": "gsc12"} and len(cfg["classes"]) == 12
    assert cfg["model"]["n_classes"] == 12
    ev = run_scnn(["eval", str(out), "--data", str(gsc), "--json", str(tmp_path / "e.json")],
                  tmp_path, env)
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert json.loads((tmp_path / "e.json").read_text())["n"] == 10 * 2 + 2 * 2


def test_test_speaker_is_fsdd_only(tmp_path: Path, gsc: Path) -> None:
    res = run_scnn(["data", "check", "--data", str(gsc), "--dataset", "gsc12",
                    "--test-speaker", "george"], tmp_path, _env(tmp_path))
    assert_bad_input(res, ("--test-speaker", "--dataset gsc12"), tmp_path, keep=("cache",))


# ------------------------------------------------------------------ SHD / SSC

def test_shd_reader_and_binning(tmp_path: Path) -> None:
    root = spike_folder(tmp_path, "shd", n_classes=4, n=8)
    ds = open_dataset(root)
    assert isinstance(ds, SpikeDataset) and ds.name == "shd"
    assert ds.classes == [f"word-{c}" for c in range(4)]
    assert [len(ds.split(s)) for s in ("train", "val", "test")] == [8, 0, 4]
    # sample 1 is class 1: channels 60..119 from 40 ms
    ev = ds.load(next(c for c in ds.split("train") if c.index == 1))
    x = bin_spikes([ev], 0.01, 101)
    assert x.shape == (1, 1, 700, 101) and x.sum() == len(ev)
    assert x[0, 0, 60:120].sum() >= 60
    assert x[0, 0, 60, 4] >= 1.0  # 0.04 s / 10 ms -> frame 4
    late = np.array([[0.5, 3.0], [0.5, 3.0], [2.0, 3.0]])
    assert bin_spikes([late], 0.01, 101)[0, 0, 3].tolist().count(2.0) == 1  # 2 s dropped
    ds.close()


def test_ssc_has_a_validation_split(tmp_path: Path) -> None:
    ds = open_dataset(spike_folder(tmp_path, "ssc", n_classes=3, n=6))
    assert ds.name == "ssc" and [len(ds.split(s)) for s in ("train", "val", "test")] == [6, 3, 3]


def test_spike_file_errors(tmp_path: Path) -> None:
    root = tmp_path / "shd"
    spike_file(root / "shd_train.h5", 4, 2, seed=0, bad_unit=True)
    ds = SpikeDataset(root)
    res = run_scnn(["data", "check", "--data", str(root)], tmp_path, _env(tmp_path))
    assert_bad_input(res, ("shd_train.h5: sample 3", "channel ids 0..699"), tmp_path,
                     keep=("shd", "cache"))
    ok = run_scnn(["data", "check", "--data", str(root), "--skip-bad"], tmp_path, _env(tmp_path))
    assert ok.returncode == 0 and "bad files: 1" in ok.stdout, ok.stderr
    ds.close()
    (root / "shd_train.h5").write_bytes(b"not hdf5")
    with pytest.raises(ScnnError, match="not a readable HDF5 file"):
        SpikeDataset(root)


def test_spikes_are_not_audio(tmp_path: Path, gsc: Path) -> None:
    root = spike_folder(tmp_path, "shd", n_classes=2, n=4)
    res = run_scnn(["train", "--data", str(root), "--epochs", "1", "--out",
                    str(tmp_path / "r")], tmp_path, _env(tmp_path))
    assert_bad_input(res, ("holds spike trains", "'spikes'"), tmp_path, keep=("shd",))


def _hsd_site(tmp_path: Path, kind: str) -> tuple[Path, list[Path]]:
    root = spike_folder(tmp_path / "src", kind, n_classes=3, n=6)
    site = tmp_path / "site"
    site.mkdir()
    gz = [gzip_file(p, site / f"{p.name}.gz") for p in sorted(root.glob("*.h5"))]
    sums_file(site / "md5sums.txt", gz)
    return root, gz


@pytest.mark.parametrize("kind", ["shd", "ssc"])
def test_hsd_download_verified_against_the_given_checksums(tmp_path: Path, kind: str) -> None:
    root, gz = _hsd_site(tmp_path, kind)
    sums = sums_file(tmp_path / "sums.txt", gz)
    with serve(tmp_path / "site") as url:
        res = run_scnn(["data", "fetch", "--dataset", kind, "--url", url, "--checksums",
                        str(sums)], tmp_path, _env(tmp_path))
    assert res.returncode == 0, res.stderr
    folder = tmp_path / "cache" / kind
    for p in root.glob("*.h5"):
        assert (folder / p.name).read_bytes() == p.read_bytes()
    assert len(open_dataset(folder).clips) == len(open_dataset(root).clips)


def test_hsd_server_list_must_agree_with_the_pins(tmp_path: Path) -> None:
    _hsd_site(tmp_path, "shd")
    run = tmp_path / "run"
    run.mkdir()
    with serve(tmp_path / "site") as url:
        res = run_scnn(["data", "fetch", "--dataset", "shd", "--url", url, "--cache",
                        str(run / "shd")], run, _env(tmp_path))
    assert_bad_input(res, ("md5sums.txt", "shd_train.h5.gz", "pinned",
                           "d47c9825dee33347913e8ce0f2be08b0"), run)


def test_unpinned_files_use_the_servers_list(tmp_path: Path) -> None:
    _, gz = _hsd_site(tmp_path, "ssc")
    src = Source("ssc", "fixture", "http://unused", "ssc-fixture",
                 tuple(Remote(p.name, None, "gunzip") for p in gz), "md5sums.txt")
    with serve(tmp_path / "site") as url:
        want = expected_digests(src, url, None, tmp_path, progress=False)
        assert want == {p.name: digest(p) for p in gz}
        from scnn.data import sources

        sources.SOURCES["ssc-fixture"] = src
        try:
            folder = fetch_dataset("ssc-fixture", tmp_path / "out", url, progress=False)
        finally:
            del sources.SOURCES["ssc-fixture"]
    assert sorted(p.name for p in folder.glob("*.h5")) == [p.name[:-3] for p in sorted(gz)]
    good = sums_file(tmp_path / "s.txt", gz)
    (tmp_path / "site" / gz[0].name).write_bytes(b"corrupt")
    with serve(tmp_path / "site") as url:
        with pytest.raises(ScnnError, match="is not the expected"):
            src2 = Source("ssc", "fixture", url, "x", src.files, None)
            sources.SOURCES["ssc-fixture"] = src2
            try:
                fetch_dataset("ssc-fixture", tmp_path / "out2", url, good, progress=False)
            finally:
                del sources.SOURCES["ssc-fixture"]
    assert not (tmp_path / "out2").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("kind", ["shd", "ssc"])
def test_train_stream_on_spike_trains_end_to_end(tmp_path: Path, kind: str) -> None:
    """scnn train-stream on SHD/SSC: input spikes (counts per 10 ms frame) into LIF
    layers, exported, evaluated bit-exactly by scnn eval, profiled."""
    import torch

    from scnn.export import card_path
    from scnn.stream import card_frames

    root = spike_folder(tmp_path, kind, n_classes=4, n=48)
    net = tmp_path / "net.net"
    env = _env(tmp_path)
    res = run_scnn(["train-stream", "--data", str(root), "--out", str(net), "--hidden", "32",
                    "--epochs", "8", "--qat-epochs", "1"], tmp_path, env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "no detector" in res.stdout
    card = json.loads(card_path(net).read_text())
    assert card["features"]["kind"] == "spikes" and card["model"]["input"] == "spikes"
    assert set(card["drive"]["gain"]) == {1.0} and set(card["drive"]["offset"]) == {0.0}
    exact = card["accuracy"]["bit_exact"]
    assert exact["n"] == 24 and exact["accuracy"] >= 0.9, exact
    ds = open_dataset(root)
    events = [ds.load(c) for c in ds.split("test")]
    counts = bin_spikes(events, 0.01, 101)
    assert np.array_equal(card_frames(card, torch.from_numpy(counts)), counts[:, 0])
    ev = run_scnn(["eval", str(net), "--data", str(root), "--json", str(tmp_path / "e.json")],
                  tmp_path, env)
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert json.loads((tmp_path / "e.json").read_text())["accuracy"] == exact["accuracy"]
    prof = run_scnn(["profile", str(net), "--data", str(root), "--json",
                     str(tmp_path / "p.json")], tmp_path, env)
    assert prof.returncode == 0, prof.stderr[-2000:]
    sdnn = run_scnn(["train-stream", "--data", str(root), "--out", str(tmp_path / "s.net"),
                     "--neuron", "sdnn", "--epochs", "1"], tmp_path, env)
    assert_bad_input(sdnn, ("spike trains", "--neuron lif"), tmp_path,
                     keep=(kind, "net.net", "net.json", "e.json", "p.json", "cache"))


# ------------------------------------------------------------------ hostile inputs

@pytest.mark.parametrize("url, needle", [
    ("", "--url ''"), ("not a url", "--url 'not a url'"),
    ("http://127.0.0.1:abc", "cannot download http://127.0.0.1:abc"),
])
@pytest.mark.parametrize("dataset", ["fsdd", "shd"])
def test_fetch_bad_urls(tmp_path: Path, url: str, needle: str, dataset: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    res = run_scnn(["data", "fetch", "--dataset", dataset, "--url", url, "--cache",
                    str(run / "deep" / "new" / "c")], run, _env(tmp_path))
    assert_bad_input(res, needle, run)


def test_fetch_failures_leave_no_folders(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "afile").write_text("x")
    empty = tmp_path / "empty-site"
    empty.mkdir()
    with serve(empty) as url:  # 404 for everything
        res = run_scnn(["data", "fetch", "--dataset", "shd", "--url", url, "--cache",
                        str(run / "a" / "b" / "shd")], run, _env(tmp_path))
    assert_bad_input(res, ("cannot download", "md5sums.txt", "404"), run, keep=("afile",))
    res = run_scnn(["data", "fetch", "--dataset", "gsc", "--cache", str(run / "afile" / "x")],
                   run, _env(tmp_path))
    assert_bad_input(res, ("--cache", "afile"), run, keep=("afile",))


def test_fetch_refuses_an_archive_without_the_dataset(tmp_path: Path) -> None:
    import gzip

    site = tmp_path / "site"
    site.mkdir()
    gz = []
    for name in ("shd_train.h5.gz", "shd_test.h5.gz"):
        with gzip.open(site / name, "wb"):
            pass
        gz.append(site / name)
    sums = sums_file(tmp_path / "sums.txt", gz)
    run = tmp_path / "run"
    run.mkdir()
    with serve(site) as url:
        res = run_scnn(["data", "fetch", "--dataset", "shd", "--url", url, "--checksums",
                        str(sums), "--cache", str(run / "shd")], run, _env(tmp_path))
    assert_bad_input(res, ("does not hold the dataset", "not a readable HDF5 file"), run)
    twice = tmp_path / "twice.txt"
    twice.write_text(f"{'0' * 32}  shd_train.h5.gz\n{'1' * 32}  shd_train.h5.gz\n")
    res = run_scnn(["data", "fetch", "--dataset", "shd", "--checksums", str(twice), "--cache",
                    str(run / "shd")], run, _env(tmp_path))
    assert_bad_input(res, (str(twice), "listed twice"), run)


def test_gsc_tarball_with_a_top_folder(tmp_path: Path, gsc: Path) -> None:
    import tarfile

    site = tmp_path / "site"
    site.mkdir()
    tar = site / "speech_commands_v0.02.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(gsc, arcname="speech_commands_v0.02")
    with serve(site) as url:
        folder = fetch_dataset("gsc", tmp_path / "c", url,
                               sums_file(tmp_path / "s.txt", [tar], "sha256"), progress=False)
    assert len(SpeechCommands(folder).clips) == len(SpeechCommands(gsc).clips)


def test_gsc_bad_file_is_one_line_and_speaker_options_refused(tmp_path: Path) -> None:
    root = gsc_folder(tmp_path, speakers=("0a7c2a8d", "1b4c9b89", "2c6d3e11"), repeats=1)
    (root / "yes" / "0a7c2a8d_nohash_0.wav").write_bytes(b"RIFF0000WAVEjunk")
    res = run_scnn(["data", "check", "--data", str(root), "--dataset", "gsc12"], tmp_path,
                   _env(tmp_path))
    assert_bad_input(res, "0a7c2a8d_nohash_0.wav", tmp_path, keep=("gsc",))
    res = run_scnn(["data", "check", "--data", str(root), "--val-speaker", "bob"], tmp_path,
                   _env(tmp_path))
    assert_bad_input(res, "validation speakers need FSDD file names", tmp_path, keep=("gsc",))


@pytest.mark.parametrize("damage, needle", [
    ("short_speaker", "'extra/speaker' must be one integer per sample"),
    ("dup_keys", "names class 'word-0' twice"),
    ("scalar_labels", "'labels' must be one non-negative integer per sample"),
    ("empty_train", "holds no samples"),
    ("test_dir", "not a regular file"),
])
def test_bad_spike_files(tmp_path: Path, damage: str, needle: str) -> None:
    import h5py

    root = spike_folder(tmp_path, "shd", n_classes=2, n=4)
    train = root / "shd_train.h5"
    if damage == "test_dir":
        (root / "shd_test.h5").unlink()
        (root / "shd_test.h5").mkdir()
    elif damage == "empty_train":
        spike_file(train, 0, 2, seed=0)
    else:
        with h5py.File(train, "a") as f:
            name, data = {"short_speaker": ("extra/speaker", np.zeros(2, np.uint16)),
                          "dup_keys": ("extra/keys", np.array([b"word-0", b"word-0"])),
                          "scalar_labels": ("labels", np.uint16(1))}[damage]
            del f[name]
            f.create_dataset(name, data=data)
    res = run_scnn(["data", "check", "--data", str(root)], tmp_path, _env(tmp_path))
    assert_bad_input(res, needle, tmp_path, keep=("shd",))


def test_run_with_the_wrong_dataset_kind_leaves_nothing(tmp_path: Path, gsc: Path) -> None:
    res = run_scnn(["run", "--data", str(gsc), "--dataset", "shd", "--out",
                    str(tmp_path / "run"), "--epochs", "1"], tmp_path, _env(tmp_path))
    line = res.stderr.strip()  # (stdout has the stage progress: "[data] ...")
    assert res.returncode == 2 and len(line.splitlines()) == 1 and "shd_train.h5" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"] or \
        sorted(p.name for p in tmp_path.iterdir()) == []
    root = spike_folder(tmp_path, "shd", n_classes=2, n=4)
    res = run_scnn(["run", "--data", str(root), "--out", str(tmp_path / "run"), "--epochs",
                    "1"], tmp_path, _env(tmp_path))
    assert res.returncode == 2 and "holds spike trains" in res.stderr
    assert not (tmp_path / "run").exists()
