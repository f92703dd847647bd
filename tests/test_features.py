"""Front ends and encoders: shapes, determinism, batch independence, normalisation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tone

from scnn.data import FSDD
from scnn.encode import DriveConfig, delta, direct, frames_as_time, rate
from scnn.features import FeatureConfig, Normalizer, extract, fix_length
from scnn.hw.errors import ScnnError
from scnn.prepare import split_features


@pytest.mark.parametrize("kind", ["mfcc", "logmel"])
def test_feature_shapes(kind: str) -> None:
    cfg = FeatureConfig(kind=kind)
    x = extract([tone(0.3), tone(1.7, seed=2)], cfg)
    assert cfg.shape == (1, 32, 32) if kind == "mfcc" else (1, 40, 32)
    assert x.shape == (2, *cfg.shape) and x.dtype == torch.float32
    assert torch.isfinite(x).all()


def test_features_are_deterministic_and_batch_independent() -> None:
    cfg = FeatureConfig()
    waves = [tone(0.2 + 0.1 * i, freq=200 * (i + 1), seed=i) for i in range(5)]
    together = extract(waves, cfg)
    assert torch.equal(together, extract(waves, cfg))
    alone = torch.cat([extract([w], cfg) for w in waves])
    assert torch.equal(together, alone)
    quiet = extract([0.01 * waves[0]], cfg)  # the dB floor is relative to each clip
    assert not torch.equal(quiet, together[:1])


def test_fix_length_centres_and_crops() -> None:
    w = np.arange(1, 5, dtype=np.float32)
    assert fix_length(w, 8).tolist() == [0, 0, 1, 2, 3, 4, 0, 0]
    assert fix_length(np.arange(10, dtype=np.float32), 4).tolist() == [3, 4, 5, 6]


def test_config_rejects_bad_values_and_round_trips() -> None:
    with pytest.raises(ScnnError, match="front end"):
        FeatureConfig(kind="cqt")
    with pytest.raises(ScnnError, match="n_mfcc"):
        FeatureConfig(n_mfcc=64)
    cfg = FeatureConfig(kind="logmel", n_mels=24)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.kind = "mfcc"  # type: ignore[misc]


def test_normalizer_fits_per_coefficient() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(50, 1, 4, 6, generator=gen) * torch.tensor([1.0, 2, 3, 4]).view(1, 1, 4, 1)
    x = x + torch.tensor([10.0, -5, 0, 3]).view(1, 1, 4, 1)
    norm = Normalizer.fit(x)
    y = norm(x)
    assert torch.allclose(y.mean(dim=(0, 1, 3)), torch.zeros(4), atol=1e-5)
    assert torch.allclose(y.std(dim=(0, 1, 3), unbiased=False), torch.ones(4), atol=1e-4)
    assert Normalizer.from_dict(norm.to_dict()) == norm


def test_normalisation_uses_train_only(fsdd_dir: Path, tmp_path: Path) -> None:
    ds = FSDD(fsdd_dir)
    cfg = FeatureConfig()
    xtr, ytr, clips = split_features(ds, "train", cfg, cache_dir=tmp_path, progress=False)
    xte, _, _ = split_features(ds, "test", cfg, cache_dir=tmp_path, progress=False)
    assert xtr.shape == (2700, 1, 32, 32) and xte.shape == (300, 1, 32, 32)
    assert [c.label for c in clips] == ytr.tolist()
    assert Normalizer.fit(xtr) != Normalizer.fit(torch.cat([xtr, xte]))
    again = split_features(ds, "train", cfg, cache_dir=tmp_path, progress=False)  # from cache
    assert torch.equal(again[0], xtr) and again[2] == clips


def test_direct_and_rate_encoders() -> None:
    x = torch.tensor([[0.0, 0.25, 1.0, 3.0]])
    d = direct(x, 5)
    assert d.shape == (1, 5, 4) and torch.equal(d[:, 3], x)
    r1, r2 = rate(x, 400, seed=3), rate(x, 400, seed=3)
    assert torch.equal(r1, r2) and not torch.equal(r1, rate(x, 400, seed=4))
    assert set(r1.unique().tolist()) <= {0.0, 1.0}
    p = r1.mean(dim=1)[0]
    assert p[0] == 0 and p[2] == 1 and p[3] == 1 and 0.18 < p[1] < 0.32


def test_delta_encoder_emits_on_and_off_crossings() -> None:
    seq = torch.tensor([0.0, 0.6, 1.2, 1.2, 0.0, 0.0]).view(1, 6, 1)
    s = delta(seq, 0.5)
    assert s.shape == (1, 6, 2, 1)
    assert s[0, :, 0, 0].tolist() == [0, 1, 1, 0, 0, 0]  # ON at the rises
    assert s[0, :, 1, 0].tolist() == [0, 0, 0, 0, 1, 1]  # OFF, spread over two steps
    feats = torch.zeros(2, 1, 3, 7)
    assert frames_as_time(feats).shape == (2, 7, 1, 3)
    assert DriveConfig(kind="delta")(feats).shape == (2, 7, 2, 1, 3)


def test_drive_config_validation() -> None:
    with pytest.raises(ScnnError, match="drive"):
        DriveConfig(kind="latency")
    with pytest.raises(ScnnError, match="steps"):
        DriveConfig(steps=0)
    assert DriveConfig(kind="rate", steps=3)(torch.rand(2, 1, 4, 4)).shape == (2, 3, 1, 4, 4)


def test_per_clip_mean_normalisation() -> None:
    waves = [tone(0.8, freq=300 + 200 * i, seed=i) for i in range(3)]
    plain = extract(waves, FeatureConfig())
    cmn = extract(waves, FeatureConfig(cmn=True))
    assert torch.allclose(cmn.mean(dim=-1), torch.zeros(3, 1, 32), atol=1e-4)
    assert torch.allclose(cmn, plain - plain.mean(dim=-1, keepdim=True), atol=1e-5)
    assert torch.equal(extract(waves[1:2], FeatureConfig(cmn=True)), cmn[1:2])  # per clip
    assert FeatureConfig.from_dict(FeatureConfig(cmn=True).to_dict()).cmn
    for bad in ({"cmn": "yes"}, {"cmn": True, "kind": "spikes"}):
        with pytest.raises(ScnnError, match="cmn"):
            FeatureConfig(**bad)
    from scnn.features import recording_features

    with pytest.raises(ScnnError, match="without per-clip mean normalisation"):
        recording_features(np.zeros(4000, np.float32), FeatureConfig(kind="logmel", cmn=True))
