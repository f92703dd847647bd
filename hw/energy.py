"""Energy and latency per inference: a pure function of activity counts and a cost table.

Model (per inference of ``T`` steps; layers ``l``, steps ``t``; counts from
``counts_from``)::

    E_dyn   = a * sum_{l,t} (S[l,t] e_syn + A[l,t] e_act + I[l,t] e_inact + M[l,t] e_msg)
    t_step  = b * ( max_l (S t_syn + A t_act + I t_inact + M t_msg)[l,t] / cores[l]
                    + t_barrier(cores) )
    latency = sum_t t_step[t];   E_static = P_static * chips * latency
    inferences/s = 1 / latency   (one inference at a time, no pipelining)

S synaptic operations (``sim.activity``: each spike times the synapses it reaches),
A / I active / inactive neuron updates, M spike messages (one per spike and
destination core, ``hw.mapping`` ``dest_cores``).  A message costs one spike sent
within a tile plus one mesh hop (mean of E-W and N-S): multi-hop routes are not
modelled (a lower bound).  A layer's work is spread evenly over its cores, cores
run in parallel, a step ends with a barrier: [D18] gives 113 ns for 1 tile and 465
ns for 32 tiles; we interpolate linearly in tiles (1 core per tile) and hold 465 ns
beyond 32 (unmodelled).  Chip-to-chip traffic is not modelled.

Loihi 1: per-operation figures of Davies et al. 2018 Table 2, ``a = b = 1``.

Loihi 2: Intel has published no per-operation energy.  We keep Loihi 1's cost
structure and fit two free scales on the one public measurement (PilotNet LIF,
``network.net`` + ``image.npy`` as input bias, reset interval 16, 16 steps, one
Loihi 2 chip: 1.09 mJ dynamic per inference and 408.91 inferences/s, i.e. 152.8 us
per step): our fast bit-exact simulator gives the activity, ``hw.mapping`` the
Loihi 2 cores (``synapses="nonzero"``, expanded conv memory), then::

    a = 1.09 mJ / E_dyn(a=1),    b = (1 / 408.91 s / 16) / mean_t t_step(b=1)

``fit_loihi2_scales`` computes them; ``scnn.profiling.calibrate_pilotnet`` runs
the whole procedure, and ``tests/test_energy.py`` recomputes the constants stored
in ``COSTS`` and compares.  Two scales fit two numbers exactly: the calibration
has no residual and is not a validation; other networks inherit Loihi 1's ratios
between operation kinds.  Static power 0.232 W is the measured figure.

Band: the same benchmark was recorded six times (2022-10 to 2023-01, two boards; 0.56 to
1.39 mJ dynamic per inference).  ``loihi2_band`` scales a modelled figure by each run's
dynamic and static energy relative to the fitted run's and reports the lowest and
highest: the spread of the one calibration point, carried to every Loihi 2 figure.

Conventional baseline (Horowitz 2014): a CNN twin of the same geometry does one
forward pass of MACs, ``dense_synops / T`` of them, at ``E_MAC = 4.6 pJ``; the SNN's
effective ACs on conventional hardware cost ``E_AC = 0.9 pJ`` each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scnn.hw.mapping import Mapping
from scnn.sim.activity import Activity


@dataclass(frozen=True)
class Cost:
    """One constant with its unit and source."""

    value: float
    unit: str
    source: str


D18 = "Davies et al. 2018, IEEE Micro 38(1), Table 2"
L2M = ("Loihi 2 PilotNet LIF benchmark (lava-dl tutorials/lava/lib/dl/netx/pilotnet_snn/"
       "benchmark.ipynb), one chip, 16 steps")
FIT = ("fit: hw.energy.fit_loihi2_scales on our fast simulation of PilotNet LIF "
       "(scnn.profiling.calibrate_pilotnet); rounded to 4 significant digits")

COSTS: dict[str, Cost] = {
    "loihi1.synop": Cost(23.6e-12, "J", f"{D18}: synaptic spike op (min)"),
    "loihi1.synop_time": Cost(3.5e-9, "s", f"{D18}: synaptic spike op (max)"),
    "loihi1.neuron_active": Cost(81e-12, "J", f"{D18}: neuron update, active"),
    "loihi1.neuron_active_time": Cost(8.4e-9, "s", f"{D18}: neuron update, active"),
    "loihi1.neuron_inactive": Cost(52e-12, "J", f"{D18}: neuron update, inactive"),
    "loihi1.neuron_inactive_time": Cost(5.3e-9, "s", f"{D18}: neuron update, inactive"),
    "loihi1.spike_in_tile": Cost(1.7e-12, "J", f"{D18}: spike sent within a tile"),
    "loihi1.spike_in_tile_time": Cost(2.1e-9, "s", f"{D18}: spike sent within a tile"),
    "loihi1.hop_ew": Cost(3.0e-12, "J", f"{D18}: spike hop between tiles, E-W"),
    "loihi1.hop_ns": Cost(4.0e-12, "J", f"{D18}: spike hop between tiles, N-S"),
    "loihi1.hop_ew_time": Cost(4.1e-9, "s", f"{D18}: spike hop between tiles, E-W"),
    "loihi1.hop_ns_time": Cost(6.5e-9, "s", f"{D18}: spike hop between tiles, N-S"),
    "loihi1.barrier_1_tile": Cost(113e-9, "s", f"{D18}: barrier synchronisation, 1 tile"),
    "loihi1.barrier_32_tiles": Cost(465e-9, "s", f"{D18}: barrier synchronisation, 32 tiles"),
    "loihi1.static_power": Cost(3.34 / 32, "W", "Frady et al. 2020, Table 1: 3.34 W / 32 chips"),
    "loihi2.static_power": Cost(0.232, "W", f"{L2M}: static power"),
    "loihi2.measured_dynamic_energy": Cost(1.09e-3, "J", f"{L2M}: dynamic energy/inference"),
    "loihi2.measured_throughput": Cost(408.91, "1/s", f"{L2M}: samples per second"),
    "loihi2.measured_steps": Cost(16, "steps", f"{L2M}: time steps per sample"),
    "loihi2.energy_scale": Cost(0.9140, "1", f"{FIT}: a = measured / modelled E_dyn"),
    "loihi2.time_scale": Cost(0.2521, "1", f"{FIT}: b = measured / modelled step time"),
    "horowitz.mac": Cost(4.6e-12, "J", "Horowitz ISSCC 2014: 32-bit float mult 3.7 + add 0.9 pJ"),
    "horowitz.ac": Cost(0.9e-12, "J", "Horowitz ISSCC 2014: 32-bit float add 0.9 pJ"),
}


# The six recorded runs of the same PilotNet LIF benchmark in the notebook's git history
# (../shared/docs/HARDWARE_FIGURES.md): commit, date, inferences/s, total W, static W.
# The fit above uses b9e3691.
L2RUNS = f"{L2M}, its git history: six recorded runs (2022-10 to 2023-01, two boards)"
LOIHI2_PILOTNET_RUNS: tuple[tuple[str, str, float, float, float], ...] = (
    ("12f0402", "2022-10-12", 342.29, 0.826, 0.352),
    ("f49e18b", "2022-10-12", 343.34, 0.770, 0.359),
    ("76c8fbb", "2022-10-25", 415.51, 0.412, 0.178),
    ("b5200e2", "2022-10-28", 414.72, 0.789, 0.382),
    ("baa23ad", "2022-10-28", 413.76, 0.752, 0.309),
    ("b9e3691", "2023-01-10", 408.91, 0.679, 0.232),
)
FITTED_RUN = "b9e3691"


def _v(key: str) -> float:
    return COSTS[key].value


@dataclass(frozen=True)
class CostTable:
    """Per-operation energy (J) and time (s) of one chip, scales and static power."""

    chip: str
    synop: float
    neuron_active: float
    neuron_inactive: float
    message: float
    synop_time: float
    neuron_active_time: float
    neuron_inactive_time: float
    message_time: float
    barrier_1: float
    barrier_32: float
    static_power: float
    energy_scale: float = 1.0
    time_scale: float = 1.0
    source: str = D18

    def barrier(self, tiles: int) -> float:
        """Barrier time (s): linear in tiles from 1 to 32, held beyond 32."""
        x = min(max(tiles, 1), 32)
        return self.barrier_1 + (self.barrier_32 - self.barrier_1) * (x - 1) / 31

    def scaled(self, energy_scale: float, time_scale: float, static_power: float, chip: str,
               source: str) -> CostTable:
        """The same structure with other scales (Loihi 2 from Loihi 1)."""
        return CostTable(chip, self.synop, self.neuron_active, self.neuron_inactive,
                         self.message, self.synop_time, self.neuron_active_time,
                         self.neuron_inactive_time, self.message_time, self.barrier_1,
                         self.barrier_32, static_power, energy_scale, time_scale, source)


LOIHI1_COSTS = CostTable(
    chip="loihi1",
    synop=_v("loihi1.synop"), neuron_active=_v("loihi1.neuron_active"),
    neuron_inactive=_v("loihi1.neuron_inactive"),
    message=_v("loihi1.spike_in_tile") + (_v("loihi1.hop_ew") + _v("loihi1.hop_ns")) / 2,
    synop_time=_v("loihi1.synop_time"), neuron_active_time=_v("loihi1.neuron_active_time"),
    neuron_inactive_time=_v("loihi1.neuron_inactive_time"),
    message_time=_v("loihi1.spike_in_tile_time")
    + (_v("loihi1.hop_ew_time") + _v("loihi1.hop_ns_time")) / 2,
    barrier_1=_v("loihi1.barrier_1_tile"), barrier_32=_v("loihi1.barrier_32_tiles"),
    static_power=_v("loihi1.static_power"),
    source=f"{D18}; static: {COSTS['loihi1.static_power'].source}",
)


def loihi2_costs(energy_scale: float | None = None, time_scale: float | None = None) -> CostTable:
    """Loihi 1's structure scaled by the PilotNet fit (stored scales by default)."""
    a = _v("loihi2.energy_scale") if energy_scale is None else energy_scale
    b = _v("loihi2.time_scale") if time_scale is None else time_scale
    return LOIHI1_COSTS.scaled(a, b, _v("loihi2.static_power"), "loihi2",
                               f"Loihi 1 structure ({D18}) x scales a = {a:.4g}, b = {b:.4g} "
                               f"fitted on {L2M}; static power measured there")


def cost_table(chip: str) -> CostTable:
    """The cost table of ``loihi1`` or ``loihi2``."""
    tables = {"loihi1": lambda: LOIHI1_COSTS, "loihi2": loihi2_costs}
    if chip not in tables:
        raise KeyError(f"no cost table for chip {chip!r}")
    return tables[chip]()


@dataclass(frozen=True, eq=False)
class Counts:
    """Per-inference operation counts, arrays (layers, steps), and the mapping's cores.

    ``messages[l, t]``: spike messages sent by layer l at step t (spikes times the
    destination cores of each spiking neuron, spread over steps like the spikes).
    """

    layers: tuple[int, ...]
    synops: np.ndarray
    active: np.ndarray
    inactive: np.ndarray
    messages: np.ndarray
    spikes: np.ndarray
    cores: np.ndarray
    chips: int

    @property
    def steps(self) -> int:
        return int(self.synops.shape[1])


def counts_from(act: Activity, mapping: Mapping) -> Counts:
    """Per-inference counts (mean over ``act.samples``) on a mapped network."""
    by_index = {m.index: m for m in mapping.layers}
    n = act.samples
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("syn", "act", "inact", "msg", "spk")}
    for x in act.layers:
        spikes = x.spikes.astype(np.float64)
        sent = float((x.spike_map * by_index[x.index].dest_cores).sum())
        per_spike = sent / spikes.sum() if spikes.sum() else 0.0
        rows["syn"].append(x.synops / n)
        rows["act"].append(x.active / n)
        rows["inact"].append(x.neurons - x.active / n)
        rows["msg"].append(spikes * per_spike / n)
        rows["spk"].append(spikes / n)
    arr = {k: np.array(v, np.float64) for k, v in rows.items()}
    return Counts(tuple(x.index for x in act.layers), arr["syn"], arr["act"], arr["inact"],
                  arr["msg"], arr["spk"], np.array([by_index[x.index].cores for x in act.layers]),
                  mapping.chips)


@dataclass(frozen=True)
class Estimate:
    """Energy (J) and time (s) of one inference; ``layers_dynamic`` per layer (J)."""

    chip: str
    dynamic: float
    static: float
    latency: float
    step_times: tuple[float, ...]
    layers_dynamic: tuple[float, ...]
    parts: dict
    source: str

    @property
    def total(self) -> float:
        return self.dynamic + self.static

    @property
    def inferences_per_s(self) -> float:
        return 1.0 / self.latency if self.latency > 0 else float("inf")


def estimate(c: Counts, table: CostTable) -> Estimate:
    """Energy and latency of one inference (equations in the module docstring)."""
    parts = {"synops": c.synops * table.synop, "neurons_active": c.active * table.neuron_active,
             "neurons_inactive": c.inactive * table.neuron_inactive,
             "messages": c.messages * table.message}
    per_layer = sum(parts.values()) * table.energy_scale  # (L, T) J
    work = (c.synops * table.synop_time + c.active * table.neuron_active_time
            + c.inactive * table.neuron_inactive_time + c.messages * table.message_time)
    busiest = (work / c.cores[:, None]).max(axis=0)  # (T,) s, layers in parallel
    steps = table.time_scale * (busiest + table.barrier(int(c.cores.sum())))
    latency = float(steps.sum())
    return Estimate(
        chip=table.chip, dynamic=float(per_layer.sum()),
        static=table.static_power * c.chips * latency, latency=latency,
        step_times=tuple(float(s) for s in steps),
        layers_dynamic=tuple(float(e) for e in per_layer.sum(axis=1)),
        parts={k: float(v.sum()) * table.energy_scale for k, v in parts.items()},
        source=table.source)


def fit_loihi2_scales(c: Counts) -> tuple[float, float]:
    """(a, b) making the Loihi 1 structure reproduce the measured Loihi 2 PilotNet figures.

    ``c`` are PilotNet LIF counts on the Loihi 2 mapping over the measured number of
    steps: ``a = E_measured / E_dyn(a=1)``, ``b = t_step,measured / mean t_step(b=1)``
    with ``t_step,measured = 1 / (throughput * steps)``.
    """
    steps = int(_v("loihi2.measured_steps"))
    if c.steps != steps:
        raise ValueError(f"calibration counts cover {c.steps} steps, the measurement {steps}")
    base = estimate(c, loihi2_costs(1.0, 1.0))
    step_measured = 1.0 / (_v("loihi2.measured_throughput") * steps)
    return (_v("loihi2.measured_dynamic_energy") / base.dynamic,
            step_measured / (base.latency / steps))


def conventional_energy(dense_synops: float, effective_acs: float, effective_macs: float,
                        steps: int) -> dict[str, float]:
    """Horowitz-2014 baselines per inference (J).

    ``cnn_twin``: one forward pass of a CNN of the same geometry, ``dense_synops / steps``
    MACs at 4.6 pJ; ``snn_ops``: the SNN's effective ACs at 0.9 pJ plus MACs at 4.6 pJ.
    """
    mac, ac = _v("horowitz.mac"), _v("horowitz.ac")
    return {"cnn_twin": dense_synops / steps * mac,
            "snn_ops": effective_acs * ac + effective_macs * mac}


def loihi2_run_ratios() -> list[tuple[str, float, float]]:
    """Per recorded PilotNet run: (commit, dynamic, static) energy per inference over the
    fitted run's; dynamic = (total - static) / throughput as the notebook computes it."""
    per = {c: ((tot - st) / thr, st / thr) for c, _, thr, tot, st in LOIHI2_PILOTNET_RUNS}
    dyn0, st0 = per[FITTED_RUN]
    return [(c, d / dyn0, st / st0) for c, (d, st) in per.items()]


def loihi2_band(dynamic: float, static: float) -> dict[str, tuple[float, float]]:
    """The spread of a modelled Loihi 2 figure over the six measured PilotNet runs.

    Each run scales the model's dynamic and static energy by its own ratios to the
    fitted run (paired, so a run's total is one point); the band is the lowest and
    highest over the runs, for ``dynamic``, ``static`` and ``total`` (same unit as the
    arguments).  A spread of the one calibration network's measurements, not an error
    bar of the model on other networks.
    """
    ratios = loihi2_run_ratios()
    dyn = [dynamic * d for _, d, _ in ratios]
    st = [static * s for _, _, s in ratios]
    tot = [a + b for a, b in zip(dyn, st, strict=True)]
    return {k: (min(v), max(v)) for k, v in (("dynamic", dyn), ("static", st), ("total", tot))}
