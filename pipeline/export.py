"""Export a trained run to NetX HDF5 with its model card.

``export_netx(run, OUT.net)`` writes the fixed-point network (fine-tuned
``loihi.pt`` if the run has one, else the float model quantised now) with
``sim.netx.write_netx`` and, beside it, ``OUT.json``: the model card — everything a
user needs to drive the network as the chip would be driven (front end,
normalisation, input drive in integer units), the number of steps, the readout
rule and the accuracy figures with how they were measured.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from scnn.defaults import LEAK_SHIFT_MAX
from scnn.features import FeatureConfig, Normalizer
from scnn.hw.errors import ScnnError
from scnn.hw.quantize import to_network
from scnn.models.loihi import LoihiSCNN, drive_mantissa, graded_mantissa
from scnn.qat import load_loihi
from scnn.sim.network import Network
from scnn.sim.netx import write_netx
from scnn.train import load_run

CARD_FORMAT = "scnn-pipeline model card 1"


def card_path(net_path: Path) -> Path:
    return Path(net_path).with_suffix(".json")


def card_header(net_name: str, model: dict, classes: list[str], fcfg: FeatureConfig,
                norm: Normalizer) -> dict:
    """The keys every model card starts with: format, network, model, classes, front end
    and normalisation."""
    return {"format": CARD_FORMAT, "network": net_name, "model": model, "classes": classes,
            "features": fcfg.to_dict(), "normalization": norm.to_dict()}


def make_card(q: LoihiSCNN, net: Network, fcfg: FeatureConfig, norm: Normalizer,
              classes: list[str], net_name: str) -> dict:
    cfg = q.cfg
    n_syn = len(cfg.convs) + len(cfg.dense) + 1
    return {
        **card_header(net_name, cfg.to_dict(), classes, fcfg, norm),
        "drive": {
            "rule": "bias_mant = clamp(round(gain * xs + offset), -max, max) (half to even), "
                    "xs = [x, -x] if polarity == 2 else x, x = normalised features "
                    "(C, F, N); set as layer 0's bias in Lava order (W=N, H=F, C), "
                    "constant over all steps",
            "polarity": cfg.polarity,
            "max": q.drive_max,
            "gain": q.in_gain.detach().double()[0, :, :, 0].tolist(),
            "offset": q.in_offset.detach().double()[0, :, :, 0].tolist(),
        },
        "steps": cfg.steps,
        "synapse_layers": n_syn,
        "run_steps": cfg.steps + n_syn,
        "readout": {
            "layer": len(net.layers) - 1,
            "rule": "prediction = argmax over classes of v of the readout layer after run_steps "
                    "steps (one step of synaptic delay per synapse layer); ties go to the "
                    "lowest class index",
        },
        "quantization": {"layers": [{"scale": x.scale, "dv": x.dv, "vth": x.vth}
                                    for x in q.quants],
                         "readout": {"scale": q.readout_q.scale, "dv": q.readout_q.dv,
                                     "vth": q.readout_q.vth}},
        "accuracy": {},
    }


def export_netx(run_path: Path, out: Path) -> dict:
    """Write OUT.net and OUT.json from a run directory; returns the card."""
    out = Path(out)
    if out.suffix != ".net":
        raise ScnnError(f"{out}: a NetX file name must end in .net")
    run = load_run(run_path)
    if run.model.cfg.neuron != "lif":
        raise ScnnError(f"{run_path}: {run.model.cfg.name} is a CNN; only SNNs export to NetX")
    q = load_loihi(run)
    net = to_network(q)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_netx(net, out)
    card = make_card(q, net, run.features, run.normalizer, run.classes, out.name)
    metrics_path = Path(run_path) / "metrics.json"
    if metrics_path.exists():
        m = json.loads(metrics_path.read_text())
        card["accuracy"]["training_run"] = {k: m[k] for k in (
            "test_accuracy", "float_accuracy", "quantized_accuracy", "qat_accuracy", "test_n")
            if k in m}
        if "conversion" in m:
            card["conversion"] = m["conversion"]
    card["accuracy"].update(hardware_figures(Path(run_path)))
    if run.split.to_dict():
        card["split"] = run.split.to_dict()  # what `scnn eval` tests it on by default
    card_path(out).write_text(json.dumps(card, indent=2) + "\n")
    return card


def hardware_figures(run_path: Path) -> dict:
    """Bit-exact figures a `scnn run` measured on this network (eval_fast/eval_lava.json)."""
    out: dict = {}
    fast = run_path / "eval_fast.json"
    if not fast.exists():
        return out
    f = json.loads(fast.read_text())
    out["bit_exact"] = {"accuracy": f["accuracy"], "n": f["n"], "split": f["split"],
                        "backend": "fast", "how": "scnn run stage simulate: every clip of the "
                        "split driven as the chip would be, readout rule applied"}
    lava = run_path / "eval_lava.json"
    if lava.exists():
        g = json.loads(lava.read_text())
        by_clip = dict(zip(f["clips"], f["predictions"], strict=True))
        same = sum(by_clip[c] == p for c, p in zip(g["clips"], g["predictions"], strict=True))
        out["lava"] = {"accuracy": g["accuracy"], "n": g["n"], "same_prediction_as_fast": same,
                       "how": "scnn run stage lava: clips spread evenly over the split, run in "
                       "Lava's fixed_pt CPU models"}
    return out


def load_card(net_path: Path) -> dict:
    path = card_path(net_path)
    if not Path(net_path).is_file():
        raise ScnnError(f"{net_path}: no such network file")
    if path.exists() and not path.is_file():
        raise ScnnError(f"{path}: the model card is not a regular file")
    try:
        card = json.loads(path.read_text())
    except FileNotFoundError:
        raise ScnnError(f"{net_path}: no model card {path.name} beside it (front end, drive "
                        "and readout are needed to evaluate on audio)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ScnnError(f"{path}: not a JSON model card ({err})") from None
    except OSError as err:
        raise ScnnError(f"{path}: cannot read the model card ({err.strerror or err})") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ScnnError(f"{path}: not a model card of this format "
                        f"({card.get('format') if isinstance(card, dict) else card!r:.40})")
    card_split(card, path)  # a recorded test split is checked at the door
    return card


def card_split(card: dict, source: object = "model card"):
    """The test split a card's network was trained for (a ``SplitSpec``; official when
    the card records none)."""
    from scnn.data.datasets import split_of

    return split_of(card, source)


DRIVE_KINDS = ("bias", "graded", "stream")


def drive_kind(card: dict) -> str:
    """``bias`` (LIF cards: the input layer's bias), ``graded`` (SDNN cards: integers
    into the input layer's Delta encoder) or ``stream`` (streamed cards, scnn.stream: one
    frame of graded input per step group into the first synapse); cards older than the
    key are ``bias``."""
    drive = card.get("drive")
    if not isinstance(drive, dict):
        raise ScnnError(f"model card key 'drive' must be an object, got {drive!r:.40}")
    kind = drive.get("kind", "bias")
    if kind not in DRIVE_KINDS:
        raise ScnnError(f"model card drive kind {kind!r}: expected one of {', '.join(DRIVE_KINDS)}")
    return kind


READOUT_STATES = ("v", "sigma")


def readout_state(card: dict) -> str:
    """The readout layer's state the prediction is the argmax of (``v``; ``sigma`` for SDNN)."""
    state = card["readout"].get("state", "v")
    if state not in READOUT_STATES:
        raise ScnnError(f"model card readout state {state!r}: expected one of "
                        f"{', '.join(READOUT_STATES)}")
    return state


def readout_leak(card: dict) -> int | None:
    """The host's leak shift over a sigma readout (streamed SDNN cards), else None."""
    leak = card["readout"].get("leak_shift")
    if leak is None:
        return None
    if isinstance(leak, bool) or not isinstance(leak, int) or not 0 <= leak <= LEAK_SHIFT_MAX:
        raise ScnnError(f"model card 'readout.leak_shift' must be an integer in "
                        f"[0, {LEAK_SHIFT_MAX}], got {leak!r:.40}")
    if readout_state(card) != "sigma":
        raise ScnnError("model card 'readout.leak_shift' applies to a sigma readout only")
    return leak


def readout_signal(card: dict, x: np.ndarray) -> np.ndarray:
    """The readout layer's recorded state (..., steps) -> what the card's readout rule
    decides on (int64): the state itself, or with ``leak_shift`` the host's leaky
    average ``y[t] = y[t-1] + ((x[t] - y[t-1]) >> leak_shift)``, ``y[-1] = 0``."""
    x = np.asarray(x).astype(np.int64)
    leak = readout_leak(card)
    if leak is None:
        return x
    y = np.zeros_like(x)
    acc = np.zeros(x.shape[:-1], np.int64)
    for t in range(x.shape[-1]):
        acc = acc + ((x[..., t] - acc) >> leak)
        y[..., t] = acc
    return y


def card_drive(card: dict, feats: torch.Tensor) -> np.ndarray:
    """Raw features (batch, C, F, N) -> the input drive in Lava order (batch, N, F, C'):
    bias mantissas (``bias`` cards) or graded input integers (``graded`` cards, clamped
    at 0 below: the ReLU of the CNN twin's input layer)."""
    from scnn.hw.quantize import torch_to_lava_map

    norm = Normalizer.from_dict(card["normalization"])
    d = card["drive"]
    gain = torch.tensor(d["gain"], dtype=torch.float64)[None, :, :, None]
    offset = torch.tensor(d["offset"], dtype=torch.float64)[None, :, :, None]
    rule = graded_mantissa if drive_kind(card) == "graded" else drive_mantissa
    b = rule(norm(feats), gain, offset, d["polarity"], d["max"])
    return torch_to_lava_map(b.numpy()).astype(np.int64)


def read_card_net(net_path: Path, card: dict) -> Network:
    """NET.net read with the loader arguments its card records (a streamed network's
    ``input_message_bits``, as lava-dl's ``netx.hdf5.Network`` takes it)."""
    from scnn.sim.netx import read_netx

    if drive_kind(card) != "stream":
        return read_netx(net_path, input_message_bits=card.get("input_message_bits", 0))
    from scnn.stream import card_message_bits, check_stream_card

    where = card_path(net_path)
    bits = card_message_bits(card, where)
    net = read_netx(net_path)
    try:
        net = Network(net.layers, net.input_shape, bits)
    except ScnnError as err:
        raise ScnnError(f"{where}: model card 'input_message_bits' {bits} does not fit "
                        f"{net_path}: {err}") from None
    check_stream_card(card, net, where)
    return net


def card_inputs(card: dict, feats: torch.Tensor) -> dict[str, np.ndarray]:
    """Keyword arguments of ``simulate`` that drive the network as the card says: ``bias``
    (constant over all steps), ``spikes`` (graded input, the same frame every step) or,
    for streamed cards, ``spikes`` (frame after frame, then the latency tail)."""
    if drive_kind(card) == "stream":
        from scnn.stream import card_frames, stream_spikes

        return {"spikes": stream_spikes(card, card_frames(card, feats))}
    x = card_drive(card, feats)
    if drive_kind(card) == "bias":
        return {"bias": x}
    return {"spikes": np.repeat(x.astype(np.int32)[..., None], card["run_steps"], axis=-1)}
