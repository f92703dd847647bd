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
from scnn.hw.errors import ScnnError


def _cache_key(clips: list[Clip], cfg: FeatureConfig, noise=None, augment=None) -> str:
    extra = {"noise": noise.to_dict()} if noise is not None else {}
    if augment is not None:
        extra["augment"] = augment.to_dict()
    h = hashlib.sha256(json.dumps({**cfg.to_dict(), **extra}, sort_keys=True).encode())
    for c in clips:
        st = c.path.stat()
        h.update(f"{c.key}|{c.label}|{c.segment}|{c.gain}|{st.st_size}|{st.st_mtime_ns}\n"
                 .encode())
    return h.hexdigest()[:16]


def split_features(ds: AudioDataset, split: str, cfg: FeatureConfig, *,
                   skip_bad: bool = False, cache_dir: Path | None = None,
                   progress: bool = True, noise=None,
                   augment=None) -> tuple[torch.Tensor, torch.Tensor, list[Clip]]:
    """Features, labels and clips of ``split`` (cached in ``cache_dir`` when given);
    ``noise``: a :class:`scnn.data.noise.NoiseSpec` mixed into every clip first;
    ``augment``: a :class:`scnn.data.augment.AugmentSpec` whose copies of every clip
    follow the originals (for the training split)."""
    spiking = ds.spiking
    if spiking != (cfg.kind == "spikes"):
        raise ScnnError(f"{ds.root}: {ds.name} " + (
            "holds spike trains: its front end is 'spikes' (train a streamed network: "
            "scnn train-stream)" if spiking else "is audio: the 'spikes' front end is for "
            "SHD/SSC spike trains"))
    if spiking and (noise is not None or augment is not None):
        raise ScnnError(f"{ds.root}: noise and augmentation work on audio; {ds.name} is "
                        "spike trains")
    clips = ds.split(split)
    key = _cache_key(clips, cfg, noise, augment) if cache_dir else ""
    path = Path(cache_dir) / f"features-{split}-{key}.pt" if cache_dir else None
    if path is not None and path.exists():
        saved = torch.load(path, weights_only=True)
        by_key = {c.key: c for c in clips}
        return saved["x"], saved["y"], [by_key[k] for k in saved["keys"]]
    waves, report = ds.load_many(clips, skip_bad=skip_bad, progress=progress)
    if spiking:
        from scnn.data.spikes import bin_spikes

        x = torch.from_numpy(bin_spikes(waves, cfg.frame_seconds, cfg.n_frames))
    else:
        if noise is not None:
            from scnn.data.noise import noise_mixer

            waves = noise_mixer(noise, ds)(waves, report.clips)
        if augment is not None:
            from scnn.data.augment import augmented

            more, more_clips = augmented(augment, ds, waves, report.clips)
            waves, report.clips = [*waves, *more], [*report.clips, *more_clips]
        x = extract(waves, cfg)
    y = torch.tensor([c.label for c in report.clips], dtype=torch.long)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"x": x, "y": y, "keys": [c.key for c in report.clips]}, path)
    return x, y, report.clips
