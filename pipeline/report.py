"""``scnn report``: one HTML page (plus PNGs and metrics.json) for a pipeline run.

Reads what the stages wrote into the run directory (run.json, metrics.json,
eval_fast.json, eval_lava.json, profile.json, network.net + network.json) and
simulates one test clip again for the raster and membrane traces. Every energy
figure carries its chip and the model it comes from; published figures are quoted
with their sources (HARDWARE_FIGURES.md).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from scnn.hw.errors import ScnnError
from scnn.plots import pyplot, save_figure

PUBLISHED = [  # system, task, energy per inference (uJ), note, source
    ("Loihi 1 (Wolf Mountain)", "keyword spotting, 93.8 %", 270.0, "dynamic",
     "Blouw et al., NICE 2019, Table 1"),
    ("Xylo Audio 2 (SynSense)", "keyword spotting, 95 %", 6.6, "dynamic, 291 uW",
     "Bos and Muir, arXiv 2406.15112"),
    ("CPU (Xeon E5-2630)", "keyword spotting", 6300.0, "dynamic",
     "Blouw et al., NICE 2019, Table 1"),
    ("GPU (Quadro K4000)", "keyword spotting", 29800.0, "dynamic",
     "Blouw et al., NICE 2019, Table 1"),
    ("Jetson TX1", "keyword spotting", 5600.0, "dynamic", "Blouw et al., NICE 2019, Table 1"),
    ("Movidius NCS", "keyword spotting", 1500.0, "dynamic", "Blouw et al., NICE 2019, Table 1"),
]


def _read(run: Path, name: str) -> dict | list | None:
    path = run / name
    return json.loads(path.read_text()) if path.exists() else None


def plot_layer_rates(profile: dict, path: Path) -> None:
    plt = pyplot()
    layers = profile["layers"]
    steps = profile["steps"]
    names = [f"{x['layer']}:{x['kind']}" for x in layers]
    rates = [x["spikes"] / (x["neurons"] * steps) for x in layers]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(names, [100 * r for r in rates], color="#4878a8")
    ax.set(ylabel="spikes per neuron per step (%)", title="spike rate per layer (mean per clip)")
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, path)


def plot_raster_and_traces(res: dict, layers: list[int], readout: int, classes: list[str],
                           path_raster: Path, path_traces: Path) -> None:
    """Raster of every spiking layer and voltage traces for one clip."""
    plt = pyplot()
    spiking = [i for i in layers if i != readout]
    fig, axes = plt.subplots(len(spiking), 1, figsize=(7, 1.4 * len(spiking) + 0.6), sharex=True,
                             squeeze=False)
    for ax, i in zip(axes[:, 0], spiking, strict=True):
        s = res[f"layer{i}/s"].reshape(-1, res[f"layer{i}/s"].shape[-1])  # (neurons, steps)
        ax.imshow(s, aspect="auto", interpolation="nearest", cmap="Greys", origin="lower",
                  extent=(0.5, s.shape[1] + 0.5, -0.5, s.shape[0] - 0.5))
        ax.set_ylabel(f"layer {i}\nneuron", fontsize=8)
    axes[-1, 0].set_xlabel("time step")
    fig.suptitle("spike raster of one test clip (bit-exact simulation)", fontsize=9)
    save_figure(fig, path_raster)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3))
    hidden = spiking[-1]
    lif = f"layer{hidden}/v" in res  # else a sigma-delta network: act and sigma, 12 bits
    state, unit = ("v", 64) if lif else ("act", 4096)
    v = res[f"layer{hidden}/{state}"].reshape(-1, res[f"layer{hidden}/{state}"].shape[-1])
    s = res[f"layer{hidden}/s"].reshape(v.shape) != 0
    counts = s.sum(axis=1)  # neurons that fire now and then show both leak and reset
    busiest = np.argsort(np.abs(counts - s.shape[1] / 3) + 1000 * (counts == 0))[:4]
    steps = np.arange(1, v.shape[1] + 1)
    for n in busiest:
        a1.plot(steps, v[n] / unit, lw=1, label=f"neuron {n}")
    a1.set(xlabel="time step", ylabel=f"{state} / {unit} (units)",
           title=f"membrane voltage, layer {hidden} (reset to 0 on a spike)" if lif else
           f"activation, layer {hidden} (sent as graded changes)")
    a1.legend(fontsize=7)
    out = "v" if lif else "sigma"
    vr = res[f"layer{readout}/{out}"].reshape(-1, res[f"layer{readout}/{out}"].shape[-1])
    for c in range(vr.shape[0]):
        a2.plot(steps, vr[c] / unit, lw=1.2 if c == vr[:, -1].argmax() else 0.6,
                label=classes[c] if c < len(classes) else str(c))
    a2.set(xlabel="time step", ylabel=f"{out} / {unit}",
           title=f"readout {'voltages' if lif else 'sigmas'} (argmax at the end wins)")
    a2.legend(fontsize=6, ncol=2)
    save_figure(fig, path_traces)


def plot_energy(profiles: list[dict], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    kinds = sorted({k for p in profiles for k in p["energy_uj"]["dynamic_parts"]})
    bottom = np.zeros(len(profiles))
    for k in kinds:
        vals = np.array([p["energy_uj"]["dynamic_parts"].get(k, 0.0) for p in profiles])
        ax.bar([p["chip"] for p in profiles], vals, bottom=bottom, label=k)
        bottom += vals
    ax.bar([p["chip"] for p in profiles], [p["energy_uj"]["static"] for p in profiles],
           bottom=bottom, label="static", color="#cccccc")
    ax.set(ylabel="energy per inference (uJ)", title="energy per inference by operation kind")
    ax.legend(fontsize=7)
    save_figure(fig, path)


def plot_cores(profiles: list[dict], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    width = 0.8 / len(profiles)
    for j, p in enumerate(profiles):
        xs = np.arange(len(p["layers"])) + j * width
        ax.bar(xs, [x["cores"] for x in p["layers"]], width, label=p["chip"])
    first = profiles[0]["layers"]
    ax.set_xticks(np.arange(len(first)) + width * (len(profiles) - 1) / 2,
                  [f"{x['layer']}:{x['kind']}" for x in first])
    ax.set(ylabel="cores", title="cores per layer")
    ax.legend()
    save_figure(fig, path)


MAX_SPEAKER_BARS = 30  # more speakers than this (Speech Commands) and the bars are skipped
REPORT_NOISE = ("white", "babble")
REPORT_SNRS = (20.0, 10.0, 5.0, 0.0)


def speaker_accuracy(run: Path, data: Path | None, card: dict, fast: dict) -> dict[str, list]:
    """{speaker: [correct, clips]} of the bit-exact evaluation ``fast`` (eval_fast.json)
    over the test split the card records."""
    from scnn.data.datasets import open_dataset
    from scnn.data.fetch import resolve_data
    from scnn.export import card_split

    spec = card_split(card, run / "network.net")
    ds = open_dataset(resolve_data(data, dataset=spec.dataset), splits=spec)
    clips = ds.split("test")
    if ds.classes != card["classes"] or max(fast["clips"], default=-1) >= len(clips):
        raise ScnnError(f"{run}: eval_fast.json was measured on another dataset than "
                        f"{ds.root} ({len(clips)} test clips, classes {ds.classes[:4]}...); "
                        "pass the run's --data")
    out: dict[str, list] = {}
    for i, pred in zip(fast["clips"], fast["predictions"], strict=True):
        row = out.setdefault(clips[i].speaker, [0, 0])
        row[0] += int(pred == clips[i].label)
        row[1] += 1
    return dict(sorted(out.items()))


def plot_speakers(acc: dict[str, list], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(acc) + 2), 3))
    names = list(acc)
    vals = [100 * c / n for c, n in acc.values()]
    ax.bar(names, vals, color="#4878a8")
    for x, (v, (_, n)) in enumerate(zip(vals, acc.values(), strict=True)):
        ax.text(x, v + 1, f"{v:.1f}\n(n={n})", ha="center", fontsize=7)
    ax.set(ylabel="bit-exact accuracy (%)", ylim=(0, 112), title="test accuracy per speaker")
    ax.tick_params(axis="x", labelsize=8, rotation=30 if len(acc) > 8 else 0)
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, path)


def noise_curves(run: Path, data: Path | None, kinds: tuple[str, ...], snrs: tuple[float, ...],
                 progress: bool = False) -> list[dict]:
    """Bit-exact accuracy of RUN/network.net and the float model's (RUN/model.pt, if
    there) on the test split mixed with each noise kind at each SNR (noise seed 0)."""
    from tqdm import tqdm

    from scnn.data.noise import NoiseSpec
    from scnn.hweval import evaluate_netx
    from scnn.train import accuracy, load_features, load_run

    float_run = load_run(run) if (run / "model.pt").exists() else None
    conds = [NoiseSpec(k, float(snr), 0) for k in kinds for snr in snrs]
    rows = []
    for spec in tqdm(conds, desc="noise curves", unit="condition", leave=False,
                     disable=None if progress else True):
        rep = evaluate_netx(run / "network.net", data, progress=False, noise=spec)
        row = {"noise": spec.kind, "snr_db": spec.snr_db, "bit_exact": rep["accuracy"],
               "n": rep["n"]}
        if float_run is not None:
            raw, _ = load_features(data, float_run.features, splits=("test",), progress=False,
                                   spec=float_run.split, noise=spec)
            x, y = raw["test"]
            row["float"] = accuracy(float_run.model, (float_run.normalizer(x), y))
        rows.append(row)
    return rows


def plot_noise(rows: list[dict], clean: dict, path: Path) -> None:
    """Accuracy against SNR, one panel per noise kind; clean accuracy as a dashed line."""
    plt = pyplot()
    kinds = list(dict.fromkeys(r["noise"] for r in rows))
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.2 * len(kinds) + 0.6, 3), squeeze=False,
                             sharey=True)
    for ax, kind in zip(axes[0], kinds, strict=True):
        mine = sorted((r for r in rows if r["noise"] == kind), key=lambda r: r["snr_db"])
        snr = [r["snr_db"] for r in mine]
        for key, style in (("bit_exact", "o-"), ("float", "s--")):
            if all(key in r for r in mine):
                ax.plot(snr, [100 * r[key] for r in mine], style, label=key.replace("_", "-"))
            if clean.get(key) is not None and key == "bit_exact":
                ax.axhline(100 * clean[key], ls=":", lw=0.8, color="#888",
                           label="clean, bit-exact")
        ax.set(title=f"{kind} noise", xlabel="SNR (dB)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize=7)
    save_figure(fig, path)


def _table(header: list[str], rows: list[list]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f} %"


def _clip_trace(run: Path, data: Path | None) -> tuple[dict, dict]:
    """Simulate the first test clip of the run's dataset; (results, card)."""
    import torch

    from scnn.export import card_inputs, card_split, load_card, readout_state
    from scnn.features import FeatureConfig
    from scnn.sim.fast import simulate
    from scnn.sim.netx import read_netx
    from scnn.train import load_features

    card = load_card(run / "network.net")
    raw, _ = load_features(data, FeatureConfig.from_dict(card["features"]), splits=("test",),
                           progress=False, spec=card_split(card, run / "network.net"))
    x = raw["test"][0][:1]
    res = simulate(read_netx(run / "network.net"), card["run_steps"],
                   **card_inputs(card, torch.as_tensor(x)),
                   record=("s", "v") if readout_state(card) == "v" else ("s", "act", "sigma"))
    return {k: v[0] for k, v in res.items()}, card


def _accuracy_rows(metrics: dict, fast: dict | None, lava: dict | None) -> list[list]:
    rows = [["float model (surrogate-gradient training)", _pct(metrics.get("test_accuracy")),
             metrics.get("test_n", "-"), "torch, float32"],
            ["quantised (Loihi fixed point, before fine-tuning)",
             _pct(metrics.get("quantized_accuracy")), metrics.get("test_n", "-"),
             "Loihi-exact forward"],
            ["after Loihi-exact fine-tuning", _pct(metrics.get("qat_accuracy")),
             metrics.get("test_n", "-"), "Loihi-exact forward"]]
    if fast:
        rows.append(["exported network.net, bit-exact", _pct(fast["accuracy"]), fast["n"],
                     "sim.fast (what the chip computes)"])
    if lava:
        rows.append(["exported network.net in Lava (sample)", _pct(lava["accuracy"]), lava["n"],
                     "Lava fixed_pt CPU models (oracle)"])
    return rows


def build_report(run: Path, data: Path | None = None, out: Path | None = None,
                 noise: tuple[str, ...] = REPORT_NOISE, snrs: tuple[float, ...] = REPORT_SNRS,
                 progress: bool = False) -> Path:
    """Write OUT/report.html (default RUN/report) with PNGs and metrics.json; returns the path.
    ``noise`` x ``snrs``: the conditions of the accuracy-vs-SNR section (empty: none)."""
    from scnn.data.noise import NoiseSpec

    for kind in noise:  # checked before any work
        for snr in snrs:
            NoiseSpec(kind, float(snr), 0)
    run = Path(run)
    metrics = _read(run, "metrics.json")
    profiles = _read(run, "profile.json")
    if metrics is None or profiles is None or not (run / "network.net").exists():
        raise ScnnError(f"{run}: a report needs metrics.json, profile.json and network.net "
                        "(run `scnn run` or train, export and profile first)")
    out = Path(out) if out else run / "report"
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _write_report(run, data, out, metrics, profiles, noise, snrs, progress)
    except BaseException:
        if created:  # a report that failed leaves nothing behind
            import shutil

            shutil.rmtree(out, ignore_errors=True)
        raise


def _write_report(run: Path, data: Path | None, out: Path, metrics: dict, profiles: list,
                  noise: tuple[str, ...], snrs: tuple[float, ...], progress: bool) -> Path:
    from scnn.export import card_split

    fast, lava = _read(run, "eval_fast.json"), _read(run, "eval_lava.json")
    res, card = _clip_trace(run, data)
    neuron_layers = sorted({int(k.split("/")[0][5:]) for k in res})
    plot_layer_rates(profiles[-1], out / "spike_rates.png")
    plot_raster_and_traces(res, neuron_layers, card["readout"]["layer"], card["classes"],
                           out / "raster.png", out / "traces.png")
    plot_energy(profiles, out / "energy.png")
    plot_cores(profiles, out / "cores.png")
    if fast:
        from scnn.train import save_confusion

        save_confusion(fast["confusion"], card["classes"], out / "confusion.png",
                       f"bit-exact: {100 * fast['accuracy']:.2f} %")
    speakers = speaker_accuracy(run, data, card, fast) if fast else {}
    if 1 < len(speakers) <= MAX_SPEAKER_BARS or (speakers and card_split(card).test_speakers):
        plot_speakers(speakers, out / "speakers.png")
    else:
        speakers = {}
    curves = noise_curves(run, data, tuple(noise), tuple(snrs), progress) \
        if noise and snrs and card["features"]["kind"] != "spikes" else []
    clean = {"bit_exact": fast["accuracy"] if fast else None,
             "float": metrics.get("test_accuracy")}
    if curves:
        plot_noise(curves, clean, out / "noise.png")
    machine = {"model": card["model"]["name"], "steps": card["steps"],
               "run_steps": card["run_steps"],
               "accuracy": {"float": metrics.get("test_accuracy"),
                            "quantized": metrics.get("quantized_accuracy"),
                            "qat": metrics.get("qat_accuracy"),
                            "bit_exact": fast["accuracy"] if fast else None,
                            "lava_sample": lava["accuracy"] if lava else None,
                            "lava_sample_n": lava["n"] if lava else None},
               "chips": {p["chip"]: {k: p.get(k) for k in ("cores", "chips", "synops", "spikes",
                                                        "energy_uj", "energy_band_uj",
                                                        "latency_ms",
                                                        "inferences_per_s", "sources")}
                         for p in profiles},
               "per_speaker": {k: {"correct": c, "n": n} for k, (c, n) in speakers.items()},
               "noise": curves}
    (out / "metrics.json").write_text(json.dumps(machine, indent=2) + "\n")
    (out / "report.html").write_text(_html(card, metrics, fast, lava, profiles)
                                     .replace("<!--harder-->", _harder(card, speakers, curves)))
    return out / "report.html"


def _harder(card: dict, speakers: dict, curves: list[dict]) -> str:
    """The per-speaker and accuracy-vs-SNR section of the page ('' if neither)."""
    from scnn.export import card_split

    parts = []
    if speakers:
        held = card_split(card).test_speakers
        what = (f"held-out speaker(s) {', '.join(held)}: voices the network never heard"
                if held else "the official split: every test speaker is also in training")
        rows = [[k, c, n, _pct(c / n)] for k, (c, n) in speakers.items()]
        parts.append(f"<h3>Per speaker ({html.escape(what)})</h3>"
                     + _table(["speaker", "correct", "clips", "bit-exact"], rows)
                     + '<div class="row"><img src="speakers.png" alt="per speaker"></div>')
    if curves:
        rows = [[r["noise"], f"{r['snr_db']:g}", _pct(r.get("float")), _pct(r["bit_exact"]),
                 r["n"]] for r in curves]
        parts.append("<h3>In noise (test clips mixed at each SNR, noise seed 0; babble: six "
                     "training clips of other speakers)</h3>"
                     + _table(["noise", "SNR dB", "float", "bit-exact", "clips"], rows)
                     + '<div class="row"><img src="noise.png" alt="accuracy vs SNR"></div>')
    return "".join(parts)


def _with_band(p: dict, kind: str) -> str:
    """The modelled figure (uJ) and, on Loihi 2, its spread over the measured runs."""
    band = (p.get("energy_band_uj") or {}).get(kind)
    return f"{p['energy_uj'][kind]:.2f}" + (f" ({band[0]:.1f}-{band[1]:.1f})" if band else "")


def _html(card: dict, metrics: dict, fast: dict | None, lava: dict | None,
          profiles: list[dict]) -> str:
    m = card["model"]
    chip_rows = [[p["chip"], p["cores"], p["chips"], f"{p['spikes']:.0f}", f"{p['synops']:.0f}",
                  _with_band(p, "dynamic"), _with_band(p, "static"),
                  f"{p['latency_ms']:.3f}", f"{p['inferences_per_s']:.0f}",
                  p["sources"]["energy"]] for p in profiles]
    ours = [[f"this model on {p['chip']} (modelled)", "FSDD digits, "
             f"{_pct(fast['accuracy']) if fast else '-'} bit-exact",
             _with_band(p, "dynamic"), "dynamic", p["sources"]["energy"]]
            for p in profiles]
    conv = profiles[-1].get("conventional_uj", {})
    conv_rows = [[k, f"{v:.2f}"] for k, v in conv.items()]
    published = [[s, t, f"{e:g}", n, src] for s, t, e, n, src in PUBLISHED]
    lava_line = ""
    if lava and fast:
        by = dict(zip(fast["clips"], fast["predictions"], strict=True))
        same = sum(by[c] == p for c, p in zip(lava["clips"], lava["predictions"], strict=True))
        lava_line = (f"<p>Lava cross-check: {same} of {lava['n']} clips give the same "
                     "prediction in Lava's fixed_pt models as in the fast simulator.</p>")
    arch = " - ".join([f"{c['channels']}C{c['kernel']}s{c['stride']}" for c in m["convs"]]
                      + [str(d) for d in m["dense"]] + [str(m["n_classes"])])
    sdnn = card.get("quantization", {}).get("kind") == "sdnn"
    neurons = (f"sigma-delta ReLU with graded spikes, send threshold "
               f"{card['conversion']['threshold']} of each layer's scale" if sdnn else
               f"LIF beta {m['beta']}, threshold {m['threshold']}")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>scnn report: {html.escape(m['name'])}</title>
<style>
body {{ font-family: sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }}
td, th {{ border: 1px solid #bbb; padding: 3px 8px; text-align: left; }}
th {{ background: #eef; }} img {{ max-width: 100%; }}
.row {{ display: flex; gap: 1em; }} .row img {{ max-width: 49%; height: auto; }}
.note {{ color: #555; font-size: 0.85em; }}
</style></head><body>
<h1>{html.escape(m['name'])}: SCNN on Loihi fixed point</h1>
<p>Architecture {html.escape(arch)} (input {m['polarity']} x {m['input_shape'][1]} x
{m['input_shape'][2]}, {neurons}), T = {card['steps']}
steps per clip, {card['run_steps']} chip steps including one step of synaptic delay per layer.
Front end: {html.escape(card['features']['kind'])}, {card['features']['sample_rate']} Hz.</p>
<h2>Accuracy on the test split</h2>
{_table(["model", "accuracy", "clips", "computed by"], _accuracy_rows(metrics, fast, lava))}
{lava_line}
<div class="row"><img src="confusion.png" alt="confusion matrix"></div>
<!--harder-->
<h2>Activity</h2>
<div class="row"><img src="spike_rates.png" alt="spike rates"></div>
<img src="raster.png" alt="raster"><img src="traces.png" alt="membrane traces">
<h2>Hardware: cores, energy, latency per inference</h2>
{_table(["chip", "cores", "chips", "spikes", "SynOps", "dynamic uJ", "static uJ",
         "latency ms", "inferences/s", "energy model"], chip_rows)}
<div class="row"><img src="energy.png" alt="energy"><img src="cores.png" alt="cores"></div>
<p class="note">Loihi 1: Davies et al. 2018 per-operation costs. Loihi 2: the same cost
structure scaled to reproduce the one public Loihi 2 measurement (lava-dl PilotNet LIF,
1.09 mJ dynamic per inference, 408.9 inferences/s); a calibration, not a validation.
In brackets: the Loihi 2 figure scaled by each of the six recorded runs of that same
benchmark (0.56-1.39 mJ dynamic, two boards, 2022-10 to 2023-01), lowest to highest.</p>
<h3>Conventional baseline (Horowitz 2014: 4.6 pJ per MAC, 0.9 pJ per AC)</h3>
{_table(["quantity", "uJ per inference"], conv_rows)}
<h2>Comparison with published figures</h2>
{_table(["system", "task", "energy per inference (uJ)", "kind", "source"], ours + published)}
<p class="note">Published figures are for other networks and tasks (keyword spotting);
they give scale, not a like-for-like comparison.</p>
</body></html>
"""
