"""Shared fixtures: generated WAVs for unit tests, FSDD from SCNN_DATA or ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


def _shared(env: str, sub: str) -> Path | None:
    path = Path(os.environ.get(env) or REPO.parent / "shared" / "data" / sub)
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def fsdd_dir() -> Path:
    path = _shared("SCNN_DATA", "fsdd")
    if path is None:
        pytest.skip("FSDD not available: set SCNN_DATA or place it at ../shared/data/fsdd")
    return path


@pytest.fixture(scope="session")
def lava_gts() -> Path:
    path = _shared("SCNN_LAVA_GTS", "lava_gts")
    if path is None:
        pytest.skip("Lava ground truths not available: set SCNN_LAVA_GTS")
    return path


def tone(seconds: float = 0.4, rate: int = 8000, freq: float = 440.0, seed: int = 0) -> np.ndarray:
    """A short tone with a little seeded noise, float32 in [-1, 1]."""
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.5 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def write_wav(path: Path, wave: np.ndarray, rate: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, rate, subtype="PCM_16")
    return path


def tone_fsdd(root: Path, freq_step: float = 200.0) -> Path:
    """ROOT/fsdd: an FSDD-named folder of 3 digits x 2 speakers x indices 0-7, each clip a
    tone of 300 + freq_step * digit Hz lasting 0.2 + 0.05 * index s."""
    rec = root / "fsdd" / "recordings"
    for digit in range(3):
        for speaker in ("alice", "bob"):
            for idx in range(8):
                wave = tone(0.2 + 0.05 * idx, freq=300 + freq_step * digit, seed=idx)
                write_wav(rec / f"{digit}_{speaker}_{idx}.wav", wave)
    return root / "fsdd"


@pytest.fixture
def mini_fsdd(tmp_path: Path) -> Path:
    """A tiny FSDD-named folder: 3 digits x 2 speakers x indices 0-7 (generated tones)."""
    return tone_fsdd(tmp_path)
