"""Profile an exported network: activity, cores, energy and latency per inference per chip.

Clips are driven exactly as ``pipeline.hweval`` drives them (model card front end,
``card_inputs``: input-bias mantissas or graded input, ``card['run_steps']`` steps of
the fast bit-exact simulator, no reset); activity (``sim.activity``) is summed over all clips and
reported as the mean per inference; ``hw.mapping`` places the network on each chip
and ``hw.energy`` turns counts into energy and latency.  Every figure carries its
chip and the source of its model.

Also here: the Loihi 2 calibration run (``calibrate_pilotnet``) on lava-dl's
PilotNet LIF ground truth, because it needs the simulator (``hw`` has no
simulation loop).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from scnn.export import card_inputs, card_split, drive_kind, load_card, read_card_net
from scnn.features import FeatureConfig
from scnn.hw.chips import CHIPS
from scnn.hw.energy import (
    L2RUNS,
    conventional_energy,
    cost_table,
    counts_from,
    estimate,
    fit_loihi2_scales,
    loihi2_band,
)
from scnn.hw.errors import ScnnError
from scnn.hw.mapping import map_network
from scnn.hweval import spread
from scnn.sim.activity import Activity, layer_activity
from scnn.sim.network import Network
from scnn.sim.netx import read_netx
from scnn.sim.neurobench import neurobench_metrics
from scnn.train import load_features

REPO = Path(__file__).resolve().parents[1]
PILOTNET_STEPS = 16  # lava-dl PilotNet LIF benchmark: 16 steps per sample, reset interval 16
ACTIVITY_SOURCE = "scnn-pipeline fast bit-exact simulator (sim.fast), counts by sim.activity"


def chip_names(chip: str) -> tuple[str, ...]:
    """``loihi1``, ``loihi2`` or ``all`` -> chip names."""
    if chip == "all":
        return tuple(CHIPS)
    if chip not in CHIPS:
        raise ScnnError(f"unknown chip {chip!r}; choose from {', '.join(CHIPS)} or all")
    return (chip,)


def chip_refusal(net: Network, chip: str) -> str | None:
    """Why ``chip`` cannot run ``net`` (a neuron kind it lacks, graded input), or None."""
    kinds = CHIPS[chip].neuron_kinds
    if kinds is None:
        return None
    for i, layer in enumerate(net.layers):
        kind = type(layer.neuron).__name__ if layer.neuron is not None else None
        if kind is not None and kind not in kinds:
            return (f"{chip} cannot run layer {i} ({layer.kind}, {kind} neurons"
                    f"{', graded spikes' if layer.neuron.graded else ''}): its neuron models "
                    f"are {' and '.join(kinds)}, its spikes binary; profile on loihi2")
    if net.graded_input:
        return (f"{chip} cannot take graded input (integer payloads into layer 0 or its "
                "synapse): its spikes are binary; profile on loihi2")
    return None


def usable_chips(net: Network, chips: tuple[str, ...]) -> tuple[str, ...]:
    """The chips of ``chips`` that can run ``net``; refuses when none can."""
    ok = tuple(c for c in chips if chip_refusal(net, c) is None)
    if not ok:
        raise ScnnError(chip_refusal(net, chips[0]))
    return ok


def simulate_activity(net: Network, card: dict, feats: torch.Tensor, batch: int = 16,
                      progress: bool = False) -> Activity:
    """Activity of ``feats`` (n, C, F, N) raw features driven as the model card says."""
    from tqdm import tqdm

    from scnn.sim.fast import simulate

    act = None
    for i in tqdm(range(0, len(feats), batch), desc="profile (fast)", unit="batch",
                  disable=None if progress else True, leave=False):
        inputs = card_inputs(card, feats[i : i + batch])
        res = simulate(net, card["run_steps"], **inputs)
        part = layer_activity(net, res, input_spikes=inputs.get("spikes"))
        act = part if act is None else act.merge(part)
    if act is None:
        raise ScnnError("no clips to profile")
    return act


def energy_text(prof: dict, kind: str = "dynamic", digits: int = 4) -> str:
    """``61.2 uJ dynamic`` or, with a band, ``61.2 uJ dynamic (31.5-77.5 over measured
    runs)``."""
    text = f"{prof['energy_uj'][kind]:.{digits}g} uJ {kind}"
    band = (prof.get("energy_band_uj") or {}).get(kind)
    if band:
        text += f" ({band[0]:.{digits - 1}g}-{band[1]:.{digits - 1}g} over measured runs)"
    return text


def _per_layer(act: Activity, mapping, est) -> list[dict]:
    n, rows = act.samples, []
    cores = {m.index: m.cores for m in mapping.layers}
    for x, e in zip(act.layers, est.layers_dynamic, strict=True):
        rows.append({"layer": x.index, "kind": x.kind, "neuron": x.neuron,
                     "payload_bits": x.payload_bits, "delay_slots": x.delay_slots,
                     "binary_input": x.binary_input, "neurons": x.neurons,
                     "cores": cores[x.index], "spikes": float(x.spikes.sum()) / n,
                     "synops": float(x.synops.sum()) / n,
                     "neuron_updates": float(x.neurons * act.steps),
                     "active_updates": float(x.active.sum()) / n,
                     "activation_sparsity": 1.0 - float(x.spikes.sum()) / (
                         x.neurons * act.steps * n),
                     "energy_uj_dynamic": e * 1e6})
    return rows


def chip_profile(net: Network, act: Activity, chip: str, max_chips: int = 1,
                 spikes_in: bool = False) -> dict:
    """One chip's JSON-ready profile of ``act`` (per-inference means); ``spikes_in``: the
    input layer receives external spikes (its cores need input axons)."""
    spec = CHIPS[chip]
    refusal = chip_refusal(net, chip)
    if refusal:
        raise ScnnError(refusal)
    mapping = map_network(net, spec, synapses=act.synapse_mode, max_chips=max_chips,
                          spikes_in=spikes_in)
    table = cost_table(chip)
    est = estimate(counts_from(act, mapping), table)
    nb = neurobench_metrics(act, net)
    n = act.samples
    band = None
    if chip == "loihi2":
        band = {k: [lo * 1e6, hi * 1e6]
                for k, (lo, hi) in loihi2_band(est.dynamic, est.static).items()}
    return {
        "chip": chip, "chips": mapping.chips, "cores": mapping.cores,
        "samples": n, "steps": act.steps,
        "synops": act.total("synops") / n,
        "neuron_updates": float(sum(x.neurons for x in act.layers) * act.steps),
        "active_neuron_updates": act.total("active") / n,
        "spikes": act.total("spikes") / n,
        "energy_uj": {"dynamic": est.dynamic * 1e6, "static": est.static * 1e6,
                      "total": est.total * 1e6,
                      "dynamic_parts": {k: v * 1e6 for k, v in est.parts.items()}},
        "energy_band_uj": band,
        "latency_ms": est.latency * 1e3,
        "inferences_per_s": est.inferences_per_s,
        "layers": _per_layer(act, mapping, est),
        "neurobench": nb,
        "conventional_uj": {k: v * 1e6 for k, v in conventional_energy(
            nb["dense_synops"], nb["effective_acs"], nb["effective_macs"], act.steps).items()},
        "mapping": {k: v for k, v in mapping.summary().items() if k != "layers"},
        "sources": {"energy": est.source, "chip_limits": spec.sources,
                    "mapping": "hw.mapping: contiguous chunks per layer, 9-bit synapses "
                               "(+6 delay bits in delayed layers, an assumption), "
                               f"{mapping.conv_memory} conv memory, {mapping.synapses} synapses",
                    "graded": "a graded spike is one message (nonzero payload, payload_bits "
                              "wide) and its SynOps cost what binary ones do: an assumption, "
                              "no per-operation energy of Loihi 2 graded spikes is published",
                    "activity": f"{ACTIVITY_SOURCE}, synapses={act.synapse_mode}",
                    "energy_band": (f"{L2RUNS}: each run's dynamic and static energy "
                                    "relative to the fitted run's, applied to this model; "
                                    "lowest and highest" if band else
                                    "none: Loihi 1's costs are the published per-operation "
                                    "figures"),
                    "conventional": "Horowitz ISSCC 2014: E_MAC 4.6 pJ, E_AC 0.9 pJ",
                    "neurobench": "NeuroBench conventions (Yik et al.), see sim.neurobench"},
    }


def _activity_shard(idx: np.ndarray, net: Network, card: dict, feats: torch.Tensor,
                    batch: int) -> Activity:
    """One Ray task's share of :func:`simulate_activity`."""
    torch.set_num_threads(1)
    return simulate_activity(net, card, feats[idx], batch)


def profile_netx(net_path: Path, data: Path | None, chips: tuple[str, ...] = ("loihi2",),
                 limit: int | None = None, split: str = "test", batch: int = 16,
                 max_chips: int = 1, progress: bool = True, workers: int = 1,
                 address: str | None = None) -> list[dict]:
    """Profiles (one per chip that can run it) of NET.net on ``limit`` clips of a split of
    ``data``.

    ``workers > 1`` simulates contiguous shards of the clips as Ray tasks and merges
    their integer counts: the profile is identical to one process's.
    """
    card = load_card(net_path)
    net = read_card_net(net_path, card)
    chips = usable_chips(net, chips)
    raw, _ = load_features(data, FeatureConfig.from_dict(card["features"]), splits=(split,),
                           progress=progress, spec=card_split(card, net_path))
    if split not in raw:
        raise ScnnError(f"split {split!r} is empty in this dataset")
    x, _ = raw[split]
    idx = spread(len(x), limit)
    if workers > 1:
        from scnn.raypool import map_shards, ray_session

        with ray_session(address, workers):
            parts = map_shards(_activity_shard, len(idx), workers, net, card, x[idx], batch)
        act = parts[0]
        for part in parts[1:]:
            act = act.merge(part)
    else:
        act = simulate_activity(net, card, x[idx], batch, progress)
    # graded input into an input layer with neurons (SDNN's Delta) needs input axons
    spikes_in = drive_kind(card) != "bias" and net.layers[0].neuron is not None
    out = []
    for chip in chips:
        rec = chip_profile(net, act, chip, max_chips, spikes_in)
        rec.update({"network": str(net_path), "data": str(data), "split": split,
                    "clips": idx.tolist(), "run_steps": card["run_steps"]})
        if drive_kind(card) == "stream":  # a clip is clip_seconds of streamed audio
            from scnn.stream import audio_rates

            secs = card["features"]["clip_seconds"]
            rec["stream"] = audio_rates(rec, secs, card["run_steps"], card)
            # a conventional network of these layers runs once per frame, not once per clip
            rec["conventional_uj"]["cnn_twin"] = rec["stream"]["conventional_uj_per_s"] * secs
        out.append(rec)
    return out


def profile_arrays(net: Network, steps: int, spikes: np.ndarray | None = None,
                   bias: np.ndarray | None = None, chips: tuple[str, ...] = ("loihi2",),
                   reset_interval: int | None = None, reset_offset: int = 0,
                   max_chips: int = 1) -> list[dict]:
    """Profiles (one per chip that can run it) of ``net`` driven by arrays, as ``scnn sim``
    drives it.

    spikes: ([B,] *input_shape, steps) 0/1, or integers into an SDNN input layer; bias:
    ([B,] *layer0_shape) input-layer bias mantissas.  Every state is recorded, so active
    neuron updates are exact; figures are means over the batch.
    """
    from scnn.sim.drive import make_drive
    from scnn.sim.fast import simulate

    chips = usable_chips(net, chips)
    drive = make_drive(net, steps, spikes, bias, reset_interval, reset_offset)
    if drive.batch == 0:
        raise ScnnError("the input holds no samples (batch of 0): nothing to profile")
    res = simulate(net, steps, spikes=spikes, bias=bias, reset_interval=reset_interval,
                   reset_offset=reset_offset)
    act = layer_activity(net, res, input_spikes=drive.spikes)
    first = net.layers[0]
    spikes_in = spikes is not None and first.neuron is not None
    out = []
    for chip in chips:
        rec = chip_profile(net, act, chip, max_chips, spikes_in)
        rec.update({"drive": {"steps": steps, "input": spikes is not None,
                              "bias": bias is not None, "reset_interval": reset_interval,
                              "reset_offset": reset_offset}})
        out.append(rec)
    return out


def lava_gts_dir() -> Path | None:
    """lava-dl ground truths: $SCNN_LAVA_GTS or ../shared/data/lava_gts of the checkout."""
    path = Path(os.environ.get("SCNN_LAVA_GTS") or REPO.parent / "shared" / "data" / "lava_gts")
    return path if path.is_dir() else None


def pilotnet_activity(gts: Path) -> tuple[Network, Activity]:
    """PilotNet LIF: ``image.npy`` as input bias, reset interval 16, 16 steps (fast sim)."""
    from scnn.sim.fast import simulate

    folder = Path(gts) / "pilotnet_lif"
    net = read_netx(folder / "network.net")
    image = np.load(folder / "image.npy")  # (200, 66, 3) = Lava (W, H, C) bias mantissas
    res = simulate(net, PILOTNET_STEPS, bias=image, reset_interval=PILOTNET_STEPS)
    return net, layer_activity(net, res)


def calibrate_pilotnet(gts: Path) -> dict:
    """Fit the Loihi 2 scales (``hw.energy.fit_loihi2_scales``) on PilotNet LIF."""
    net, act = pilotnet_activity(gts)
    mapping = map_network(net, CHIPS["loihi2"], synapses=act.synapse_mode)
    a, b = fit_loihi2_scales(counts_from(act, mapping))
    return {"energy_scale": a, "time_scale": b, "cores": mapping.cores,
            "synops": act.total("synops"), "spikes": act.total("spikes")}
