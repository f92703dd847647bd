"""PilotNet LIF energy and throughput: our model beside the Loihi 2 measurement.

Usage (from the repository root):

    SCNN_LAVA_GTS=../shared/data/lava_gts .venv/bin/python bench/bench_pilotnet_energy.py

Runs the fast bit-exact simulator on lava-dl's PilotNet LIF ``network.net`` with
``image.npy`` as the input bias (reset interval 16, 16 steps), maps it on Loihi 2 (one
chip) and Loihi 1 (spread over chips as needed), prints energy and throughput per
inference beside the measured Loihi 2 figures (1.09 mJ dynamic, 408.91 inferences/s),
and the freshly fitted Loihi 2 scales beside the stored ones.  Note the Loihi 2 model
is calibrated on this very measurement: agreement is by construction, not a test.
"""

from __future__ import annotations

import sys

import torch

from scnn.hw.energy import COSTS
from scnn.profiling import calibrate_pilotnet, chip_profile, lava_gts_dir, pilotnet_activity


def main() -> int:
    torch.set_num_threads(2)
    gts = lava_gts_dir()
    if gts is None:
        print("lava ground truths not found: set SCNN_LAVA_GTS", file=sys.stderr)
        return 1
    net, act = pilotnet_activity(gts)
    measured_e = COSTS["loihi2.measured_dynamic_energy"].value * 1e3
    measured_ips = COSTS["loihi2.measured_throughput"].value
    print(f"PilotNet LIF, 16 steps: {act.total('spikes')} spikes, {act.total('synops')} SynOps")
    print(f"{'chip':8} {'chips':>5} {'cores':>5} {'dyn mJ':>8} {'static mJ':>9} "
          f"{'inf/s':>8}  source")
    for chip, max_chips in (("loihi2", 1), ("loihi1", 4)):
        r = chip_profile(net, act, chip, max_chips)
        e = r["energy_uj"]
        print(f"{chip:8} {r['chips']:5d} {r['cores']:5d} {e['dynamic'] / 1e3:8.3f} "
              f"{e['static'] / 1e3:9.3f} {r['inferences_per_s']:8.1f}  model")
    print(f"{'loihi2':8} {1:5d} {'-':>5} {measured_e:8.3f} {0.232 / measured_ips * 1e3:9.3f} "
          f"{measured_ips:8.1f}  measured ({COSTS['loihi2.measured_throughput'].source})")
    fit = calibrate_pilotnet(gts)
    for key in ("energy_scale", "time_scale"):
        print(f"loihi2.{key}: fitted {fit[key]:.6g}, stored {COSTS['loihi2.' + key].value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
