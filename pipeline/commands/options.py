"""Typer options shared by several commands (Ray parallelism, energy-aware training)."""

from __future__ import annotations

import typer

from scnn.defaults import ENERGY_CHIPS, ENERGY_WARMUP

WORKERS_OPTION = typer.Option(1, "--workers", min=1, help="Ray tasks over shards of the clips "
                              "(1: one process, no Ray); results are identical.")
ADDRESS_OPTION = typer.Option(None, "--address", help="An existing Ray cluster (ray://HOST:"
                              "10001, or auto on a cluster node); default: a local Ray.")
ENERGY_WEIGHT_OPTION = typer.Option(0.0, "--energy-weight", help="Energy-aware training: add "
                                    "this times the modelled spike energy (uJ per clip on "
                                    "--energy-chip) to the loss; 0: off.")
ENERGY_CHIP_OPTION = typer.Option("loihi2", "--energy-chip", help="Chip whose per-operation "
                                  "costs weight the energy penalty: "
                                  f"{' or '.join(ENERGY_CHIPS)}.")
ENERGY_WARMUP_OPTION = typer.Option(ENERGY_WARMUP, "--energy-warmup", help="Fraction of the "
                                    "training steps over which the energy weight ramps up "
                                    "from 0.")
TEST_SPEAKER_OPTION = typer.Option(None, "--test-speaker", help="Hold out this FSDD speaker "
                                   "as the test split, all of their recordings (repeatable): "
                                   "a speaker-independent split. Default: the official split "
                                   "(recordings 0-4 of every speaker), or the one a run or "
                                   "card records.")
DATASET_OPTION = typer.Option("auto", "--dataset", help="What the --data folder holds: auto "
                              "(detected), fsdd, folder (ROOT/<label>/*.wav), gsc (Speech "
                              "Commands, 35 words), gsc12 (its 12-class task), shd or ssc "
                              "(spike trains). Recorded with the run; without --data, the "
                              "dataset is downloaded into the cache.")
AUGMENT_COPIES_OPTION = typer.Option(1, "--augment-copies", help="With --augment-speed or "
                                     "--augment-noise: augmented copies of every training "
                                     "clip added to the originals.")
AUGMENT_SPEED_OPTION = typer.Option(None, "--augment-speed", help="Speed perturbation of the "
                                    "copies: a factor drawn from LO:HI (e.g. 0.9:1.1; tempo "
                                    "and pitch together).")
AUGMENT_NOISE_OPTION = typer.Option(None, "--augment-noise", help="Noise mixed into the "
                                    "copies: kinds drawn from a comma-separated list of "
                                    "white, pink, babble.")
AUGMENT_SNR_OPTION = typer.Option(None, "--augment-snr", help="SNR range of that noise, "
                                  "LO:HI dB (default 0:20).")
CMN_OPTION = typer.Option(False, "--cmn", help="Per-clip mean normalisation: subtract each "
                          "clip's mean of every coefficient over its frames (host-side, "
                          "recorded in the model card's front end).")
