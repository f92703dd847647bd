"""Dataset split -> feature tensors, with an optional on-disk cache.

``split_features`` loads a split's audio, extracts features (see
:mod:`pipeline.features`) and returns ``(features, labels, clips)``:
features (n, 1, n_coef, n_frames) float32, labels (n,) int64. The cache key is
the front-end config plus each file's name, size and mtime, so a changed file or
config is recomputed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from scnn.data.datasets import AudioDataset, Clip
from scnn.features import FeatureConfig, extract


def _cache_key(clips: list[Clip], cfg: FeatureConfig, noise=None) -> str:
    extra = {"noise": noise.to_dict()} if noise is not None else {}
    h = hashlib.sha256(json.dumps({**cfg.to_dict(), **extra}, sort_keys=True).encode())
    for c in clips:
        st = c.path.stat()
        h.update(f"{c.path.name}|{c.label}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def split_features(ds: AudioDataset, split: str, cfg: FeatureConfig, *,
                   skip_bad: bool = False, cache_dir: Path | None = None,
                   progress: bool = True,
                   noise=None) -> tuple[torch.Tensor, torch.Tensor, list[Clip]]:
    """Features, labels and clips of ``split`` (cached in ``cache_dir`` when given);
    ``noise``: a :class:`scnn.data.noise.NoiseSpec` mixed into every clip first."""
    clips = ds.split(split)
    key = _cache_key(clips, cfg, noise) if cache_dir else ""
    path = Path(cache_dir) / f"features-{split}-{key}.pt" if cache_dir else None
    if path is not None and path.exists():
        saved = torch.load(path, weights_only=True)
        by_path = {str(c.path): c for c in clips}
        return saved["x"], saved["y"], [by_path[p] for p in saved["paths"]]
    waves, report = ds.load_many(clips, skip_bad=skip_bad, progress=progress)
    if noise is not None:
        from scnn.data.noise import noise_mixer

        waves = noise_mixer(noise, ds)(waves, report.clips)
    x = extract(waves, cfg)
    y = torch.tensor([c.label for c in report.clips], dtype=torch.long)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"x": x, "y": y, "paths": [str(c.path) for c in report.clips]}, path)
    return x, y, report.clips
