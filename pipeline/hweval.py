"""Evaluate an exported network on audio exactly as the chip would be driven.

For every clip: front end -> normalisation -> input-layer bias mantissas (the model
card's drive rule) -> ``run_steps`` steps of the bit-exact simulator (``fast``) or
Lava's fixed_pt CPU models (``lava``, the oracle) -> the readout rule (argmax of the
readout layer's voltage after the last step). Nothing of the float model is used.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from scnn.export import (
    card_inputs,
    card_split,
    load_card,
    read_card_net,
    readout_signal,
    readout_state,
)
from scnn.features import FeatureConfig
from scnn.hw.errors import ScnnError
from scnn.train import accuracy_report, load_features

BACKENDS = ("fast", "lava")


def backend_simulate(name: str) -> Callable:
    """The ``simulate(net, steps, bias=..., record=...)`` function of a backend."""
    if name == "fast":
        from scnn.sim.fast import simulate
    elif name == "lava":
        from scnn.sim.lava_backend import simulate
    else:
        raise ScnnError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    return simulate


def spread(n: int, limit: int | None) -> np.ndarray:
    """Indices of ``limit`` clips spread evenly over ``n`` (all of them when no limit)."""
    if limit is None or limit >= n:
        return np.arange(n)
    if limit < 1:
        raise ScnnError(f"--limit must be >= 1, got {limit}")
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def predict_netx(net, card: dict, feats: torch.Tensor, backend: str = "fast",
                 batch: int = 64, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(predictions (n,), readout values (n, classes)) for raw features (n, C, F, N): the
    readout layer's ``v`` (LIF cards) or ``sigma`` (SDNN cards; streamed ones through the
    host's leaky average, ``scnn.export.readout_signal``) after the last step."""
    from tqdm import tqdm

    simulate = backend_simulate(backend)
    step = batch if backend == "fast" else 1
    layer, state = card["readout"]["layer"], readout_state(card)
    volts = []
    for i in tqdm(range(0, len(feats), step), desc=f"simulate ({backend})", unit="batch",
                  disable=None if progress else True, leave=False):
        res = simulate(net, card["run_steps"], **card_inputs(card, feats[i : i + step]),
                       record=(state,), layers=(layer,))
        volts.append(readout_signal(card, res[f"layer{layer}/{state}"])[..., -1])
    v = np.concatenate(volts).astype(np.int64)
    return v.argmax(axis=1), v


def _predict_shard(idx: np.ndarray, net, card: dict, feats: torch.Tensor,
                   backend: str) -> np.ndarray:
    """One Ray task's share of :func:`predict_netx` (predictions only)."""
    torch.set_num_threads(1)
    return predict_netx(net, card, feats[idx], backend)[0]


def check_classes(data_classes: list[str], card_classes: list[str], net_path: Path) -> None:
    """A dataset can score a network only if its classes are the network's, in order."""
    if list(data_classes) != list(card_classes):
        raise ScnnError(f"the dataset's classes {_names(data_classes)} are not {net_path}'s "
                        f"{_names(card_classes)} (its card's order): labels would be scored "
                        "against the wrong outputs")


def _names(names: list[str]) -> str:
    shown = ", ".join(map(str, names[:12]))
    return f"[{shown}{', ...' if len(names) > 12 else ''}] ({len(names)})"


def evaluate_netx(net_path: Path, data: Path | None, backend: str = "fast",
                  limit: int | None = None, split: str = "test", progress: bool = True,
                  workers: int = 1, address: str | None = None, spec=None,
                  noise=None) -> dict:
    """Accuracy of NET.net (with its model card) on a split; JSON-ready figures.

    ``spec``: a ``SplitSpec`` (default: the test split the card records, else the
    official one); ``noise``: a ``NoiseSpec`` mixed into every clip (``scnn.data.noise``).

    ``workers > 1`` spreads contiguous shards of the clips over Ray tasks (a local Ray,
    or the cluster at ``address``); every clip is simulated exactly as in one process,
    so the figures are identical.
    """
    card = load_card(net_path)
    net = read_card_net(net_path, card)
    fcfg = FeatureConfig.from_dict(card["features"])
    spec = card_split(card, net_path) if spec is None else spec
    raw, classes = load_features(data, fcfg, splits=(split,), progress=progress, spec=spec,
                                 noise=noise)
    check_classes(classes, card["classes"], net_path)
    if split not in raw:
        raise ScnnError(f"split {split!r} is empty in this dataset")
    x, y = raw[split]
    idx = spread(len(y), limit)
    if workers > 1:
        if backend != "fast":
            raise ScnnError("--workers spreads the fast backend only; Lava runs one process")
        from scnn.raypool import map_shards, ray_session

        with ray_session(address, workers):
            pred = np.concatenate(map_shards(_predict_shard, len(idx), workers, net, card,
                                             x[idx], backend))
    else:
        pred, _ = predict_netx(net, card, x[idx], backend, progress=progress)
    rep = accuracy_report(torch.from_numpy(pred), y[idx], len(card["classes"]))
    rep.update({"backend": backend, "network": str(net_path), "split": split,
                "run_steps": card["run_steps"], "clips": idx.tolist(),
                "predictions": pred.tolist(), "workers": workers})
    if spec.to_dict():
        rep["split_spec"] = spec.to_dict()
    if noise is not None:
        rep["noise"] = noise.to_dict()
    return rep
