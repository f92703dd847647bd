"""Training-split augmentation: speed perturbation and noise, seeded per clip and copy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from badinput import assert_bad_input, run_scnn

from scnn.data import open_dataset
from scnn.data.augment import AugmentSpec, augment_option, augmented, speed_perturb
from scnn.features import FeatureConfig
from scnn.hw.errors import ScnnError
from scnn.train import load_splits


def test_copies_are_seeded_per_clip_and_copy(mini_fsdd: Path) -> None:
    ds = open_dataset(mini_fsdd)
    clips = ds.split("train")
    waves = [ds.load(c) for c in clips]
    spec = AugmentSpec(copies=2, speed=(0.8, 1.25), noise=("white", "babble"), snr=(5, 15))
    w_all, c_all = augmented(spec, ds, waves, clips)
    assert len(w_all) == 2 * len(clips) and c_all[: len(clips)] == clips
    # the same clip's copies, computed without the other clips: identical
    w_one, _ = augmented(spec, ds, waves[3:4], clips[3:4])
    assert np.array_equal(w_one[0], w_all[3]) and np.array_equal(w_one[1], w_all[len(clips) + 3])
    assert not np.array_equal(w_all[3], w_all[len(clips) + 3])  # two copies differ
    lengths = [len(w) / len(waves[i % len(clips)]) for i, w in enumerate(w_all)]
    assert 0.79 <= min(lengths) and max(lengths) <= 1.26 and np.std(lengths) > 0.02
    other = augmented(AugmentSpec(copies=2, speed=(0.8, 1.25), noise=("white", "babble"),
                                  snr=(5, 15), seed=1), ds, waves[3:4], clips[3:4])[0]
    assert not np.array_equal(other[0], w_one[0])


def test_speed_and_noise_do_what_they_say() -> None:
    t = np.arange(8000) / 8000
    wave = np.sin(2 * np.pi * 500 * t).astype(np.float32)
    fast = speed_perturb(wave, 1.25)
    assert len(fast) == 6400
    peak = np.argmax(np.abs(np.fft.rfft(fast))) * 8000 / len(fast)
    assert abs(peak - 625) < 3  # pitch up by the same factor
    from scnn.data.noise import mix

    rng = np.random.default_rng(0)
    noisy = mix(wave, rng.standard_normal(len(wave)), 10.0)
    snr = 10 * np.log10(np.mean(wave**2) / np.mean((noisy - wave) ** 2))
    assert abs(snr - 10.0) < 1e-3


def test_training_split_grows_and_the_rest_does_not(mini_fsdd: Path, tmp_path: Path) -> None:
    fcfg = FeatureConfig()
    plain, _, _ = load_splits(mini_fsdd, fcfg, progress=False)
    spec = AugmentSpec(copies=2, speed=(0.9, 1.1))
    aug, _, _ = load_splits(mini_fsdd, fcfg, progress=False, augment=spec,
                            cache_dir=tmp_path / "c")
    n = len(plain["train"][1])
    assert len(aug["train"][1]) == 3 * n and len(aug["test"][1]) == len(plain["test"][1])
    assert (aug["train"][1][:n] == aug["train"][1][n : 2 * n]).all()
    cached, _, _ = load_splits(mini_fsdd, fcfg, progress=False, augment=spec,
                               cache_dir=tmp_path / "c")
    assert all(np.array_equal(cached[s][0], aug[s][0]) for s in ("train", "test"))


def test_train_records_the_augmentation(mini_fsdd: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = run_scnn(["train", "--data", str(mini_fsdd), "--model", "model_b", "--epochs", "1",
                    "-T", "2", "--out", str(out), "--augment-speed", "0.9:1.1",
                    "--augment-noise", "pink,babble", "--augment-snr", "5:20"], tmp_path,
                   dict(os.environ, MPLBACKEND="Agg"))
    assert res.returncode == 0, res.stderr[-2000:]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["augment"] == {"copies": 1, "speed": [0.9, 1.1], "noise": ["pink", "babble"],
                              "snr": [5.0, 20.0], "seed": 0}


@pytest.mark.parametrize("args, needles", [
    (["--augment-speed", "3:4"], ("--augment-speed '3:4'", "0.5 <= LO <= HI <= 2")),
    (["--augment-speed", "1.1:0.9"], ("--augment-speed",)),
    (["--augment-noise", "brown"], ("'brown' is not a noise kind",)),
    (["--augment-noise", "white", "--augment-snr", "x"], ("--augment-snr 'x'",)),
    (["--augment-noise", "white", "--augment-copies", "0"], ("--augment-copies 0", "1..16")),
    (["--augment-copies", "3"], ("--augment-copies 3", "copies of what")),
    (["--augment-speed", "0.9:1.1", "--augment-snr", "0:10"], ("--augment-snr 0:10",
                                                               "--augment-noise")),
])
def test_bad_augmentation_options(mini_fsdd: Path, tmp_path: Path, args: list[str],
                                  needles: tuple[str, ...]) -> None:
    res = run_scnn(["train", "--data", str(mini_fsdd), "--epochs", "1", "--out",
                    str(tmp_path / "run"), *args], tmp_path)
    assert_bad_input(res, needles, tmp_path, keep=("fsdd",))


def test_spike_trains_are_not_augmented(tmp_path: Path) -> None:
    from fixture_datasets import spike_folder

    from scnn.prepare import split_features

    ds = open_dataset(spike_folder(tmp_path, "shd", n_classes=2, n=4))
    with pytest.raises(ScnnError, match="augmentation work on audio"):
        split_features(ds, "train", FeatureConfig(kind="spikes", hop_length=80),
                       augment=augment_option(1, "0.9:1.1", None, None, 0))
