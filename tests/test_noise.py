"""Noise robustness: clips mixed with white, pink or babble noise at an exact SNR,
reproducible per clip; `scnn eval --noise KIND --snr DB`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from badinput import assert_bad_input, run_scnn
from conftest import tone

from scnn.data import SplitSpec, open_dataset
from scnn.data.noise import NoiseSpec, mix, noise_mixer, pink
from scnn.hw.errors import ScnnError

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("snr", [-5.0, 0.0, 7.5, 20.0])
def test_mix_has_the_asked_snr(snr: float) -> None:
    rng = np.random.default_rng(1)
    wave, noise = tone(0.5).astype(np.float64), rng.standard_normal(4000)
    out = mix(wave, noise, snr).astype(np.float64)
    got = 10 * math.log10(np.mean(wave**2) / np.mean((out - wave) ** 2))
    assert got == pytest.approx(snr, abs=1e-3)


def test_pink_noise_falls_by_one_decade_per_decade() -> None:
    x = pink(2**16, 8000, np.random.default_rng(0))
    seg = x.reshape(64, -1)  # averaged periodogram over 64 segments
    power = np.mean(np.abs(np.fft.rfft(seg, axis=1)) ** 2, axis=0)
    f = np.fft.rfftfreq(seg.shape[1], 1 / 8000)
    band = (f > 50) & (f < 3000)
    slope = np.polyfit(np.log10(f[band]), np.log10(power[band]), 1)[0]
    assert -1.15 < slope < -0.85 and np.mean(x**2) == pytest.approx(1.0)


def test_noise_is_per_clip_and_seeded(mini_fsdd: Path) -> None:
    ds = open_dataset(mini_fsdd)
    clips = ds.split("test")[:3]
    waves = [ds.load(c) for c in clips]
    for kind in ("white", "pink", "babble"):
        one = noise_mixer(NoiseSpec(kind, 5.0), ds)(waves, clips)
        rev = noise_mixer(NoiseSpec(kind, 5.0), ds)(waves[::-1], clips[::-1])[::-1]
        other = noise_mixer(NoiseSpec(kind, 5.0, seed=1), ds)(waves, clips)
        for a, b, c, w in zip(one, rev, other, waves, strict=True):
            assert np.array_equal(a, b) and not np.array_equal(a, c)
            assert not np.array_equal(a, w) and a.dtype == np.float32


def test_babble_is_made_of_other_speakers_only(mini_fsdd: Path) -> None:
    rec = mini_fsdd / "recordings"
    for p in rec.glob("*_alice_*.wav"):  # alice's clips silent: bob's babble is silence
        sf.write(p, np.zeros(1600, np.float32), 8000, subtype="PCM_16")
    ds = open_dataset(mini_fsdd, splits=SplitSpec(test_speakers=("bob",)))
    bob = ds.split("test")[:4]
    waves = [ds.load(c) for c in bob]
    out = noise_mixer(NoiseSpec("babble", 0.0), ds)(waves, bob)
    assert all(np.array_equal(a, w) for a, w in zip(out, waves, strict=True))
    with pytest.raises(ScnnError, match="training clips of other speakers"):  # only alice trains
        noise_mixer(NoiseSpec("babble", 0.0), ds)([np.ones(800, np.float32)],
                                                  ds.split("train")[:1])


def test_eval_in_noise_is_bit_exact_and_hurts(fsdd_dir: Path, tmp_path: Path) -> None:
    net = REPO / "netx_exports" / "fsdd_scnn.net"
    reps, said = {}, {}
    for name, extra in (("clean", []), ("loud", ["--noise", "white", "--snr", "-20"]),
                        ("pink", ["--noise", "pink", "--snr", "60"])):
        out = tmp_path / f"{name}.json"
        res = run_scnn(["eval", str(net), "--data", str(fsdd_dir), "--limit", "30", "--json",
                        str(out), *extra], tmp_path)
        assert res.returncode == 0, res.stderr
        reps[name], said[name] = json.loads(out.read_text()), res.stdout
    assert "with white noise at -20 dB SNR" in said["loud"] and "noise" not in said["clean"]
    assert reps["loud"]["noise"] == {"kind": "white", "snr_db": -20.0, "seed": 0}
    assert reps["clean"]["accuracy"] >= 0.9 and reps["loud"]["accuracy"] < 0.6
    assert abs(reps["pink"]["accuracy"] - reps["clean"]["accuracy"]) <= 1 / 30 + 1e-9
    assert "noise" not in reps["clean"]


@pytest.mark.parametrize("args, needles", [
    (["--noise", "brown", "--snr", "5"], ("--noise 'brown'", "white, pink, babble")),
    (["--noise", "pink", "--snr", "100"], ("--snr 100", "[-20, 60]")),
    (["--noise", "pink", "--snr", "nan"], ("--snr nan", "finite")),
    (["--noise", "pink"], ("--noise and --snr go together",)),
    (["--snr", "5"], ("--noise and --snr go together",)),
    (["--noise", "white", "--snr", "5", "--noise-seed", "-1"], ("--noise-seed -1",)),
])
def test_bad_noise_options(mini_fsdd: Path, tmp_path: Path, args: list[str],
                           needles: tuple[str, ...]) -> None:
    net = REPO / "netx_exports" / "fsdd_scnn.net"
    res = run_scnn(["eval", str(net), "--data", str(mini_fsdd), *args], tmp_path)
    assert_bad_input(res, needles, tmp_path, keep=("fsdd",))
