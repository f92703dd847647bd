"""What a Loihi-class chip is: bit widths, ranges and per-core limits, each with its source.

Sources (see ../shared/docs/HARDWARE_FIGURES.md of the development checkout):

* [D18]  Davies et al., "Loihi: A Neuromorphic Manycore Processor with On-Chip
         Learning", IEEE Micro 38(1), 2018.
* [L2B]  Intel, "Taking Neuromorphic Computing with Loihi 2 to the Next Level",
         technology brief, 2021.
* [LAVA] lava-nc 0.10.0, ``lava/proc/lif/models.py`` (AbstractPyLifModelFixed: LavaPyType
         precisions of u, v, du, dv, bias_mant, bias_exp; vth << 6) and
         ``lava/proc/dense/models.py`` (8-bit weights), which Loihi 2 shares.

Numbers a source does not give are ``None`` and a check that needs one says so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chip:
    """Per-chip and per-core limits of one Loihi generation."""

    name: str
    cores_per_chip: int
    neurons_per_core: int
    synaptic_memory_bytes_per_core: int
    input_axons_per_core: int | None
    output_axons_per_core: int | None
    weight_bits: int          # magnitude bits + sign as the synapse stores them
    state_bits: int           # u and v registers, signed
    decay_bits: int           # du, dv
    threshold_mant_bits: int  # vth mantissa (unsigned), used as vth << 6
    bias_mant_bits: int       # signed bias mantissa
    bias_exp_bits: int        # unsigned bias exponent (Lava: 0..7; NetX sets 6)
    sources: str
    synaptic_word_bits: int | None = None  # width of a synaptic-memory word (None: unpublished)
    synapses_per_chip: int | None = None   # published synapse capacity (None: unpublished)
    neuron_kinds: tuple[str, ...] | None = None  # sim.network kinds it runs (None: all)

    @property
    def state_max(self) -> int:
        """Largest value of a 24-bit signed state register (u, v)."""
        return 2 ** (self.state_bits - 1) - 1

    @property
    def threshold_mant_max(self) -> int:
        return 2**self.threshold_mant_bits - 1

    @property
    def bias_mant_range(self) -> tuple[int, int]:
        half = 2 ** (self.bias_mant_bits - 1)
        return -half, half - 1

    @property
    def bias_exp_range(self) -> tuple[int, int]:
        return 0, 2**self.bias_exp_bits - 1

    @property
    def decay_max(self) -> int:
        return 2**self.decay_bits - 1


LOIHI1 = Chip(
    name="loihi1",
    cores_per_chip=128,                     # [D18]
    neurons_per_core=1024,                  # [D18] compartments per core
    synaptic_memory_bytes_per_core=128 * 1024,  # [D18] 16,384 x 64 bit
    input_axons_per_core=4096,              # [D18]
    output_axons_per_core=4096,             # [D18]
    weight_bits=9,                          # [D18] 1-9 bits: 8 + sign
    state_bits=24,                          # [D18], [LAVA] precision=24
    decay_bits=12,                          # [D18], [LAVA] precision=12
    threshold_mant_bits=17,                 # [D18] 17-bit mantissa << 6
    bias_mant_bits=13,                      # [D18], [LAVA] precision=13
    bias_exp_bits=3,                        # [D18], [LAVA] precision=3
    sources="Davies et al. 2018 (IEEE Micro 38(1)); lava-nc 0.10.0 fixed_pt LIF",
    synaptic_word_bits=64,                  # [D18] 16,384 x 64 bit
    synapses_per_chip=None,                 # not in HARDWARE_FIGURES.md (memory governs)
    # [D18]: CUBA LIF compartments with binary spike messages; graded spikes and
    # programmable neurons (sigma-delta, resonate-and-fire) are Loihi 2's [L2B]
    neuron_kinds=("LIF", "Integrator"),
)

LOIHI2 = Chip(
    name="loihi2",
    cores_per_chip=128,                     # [L2B]
    neurons_per_core=1_000_000 // 128,      # [L2B] up to 1 M neurons per chip
    synaptic_memory_bytes_per_core=192 * 1024,  # [L2B] 192 KB flexible memory per core
    input_axons_per_core=None,              # not published
    output_axons_per_core=None,             # not published
    weight_bits=9,                          # [LAVA] same fixed_pt synapse as Loihi 1
    state_bits=24,                          # [LAVA]
    decay_bits=12,                          # [LAVA]
    threshold_mant_bits=17,                 # [LAVA] vth << 6 into a 24-bit compare
    bias_mant_bits=13,                      # [LAVA]
    bias_exp_bits=3,                        # [LAVA]
    sources="Intel Loihi 2 technology brief 2021; lava-nc 0.10.0 fixed_pt LIF",
    synaptic_word_bits=None,                # not published
    synapses_per_chip=120_000_000,          # [L2B] up to 120 M synapses per chip
)

CHIPS: dict[str, Chip] = {c.name: c for c in (LOIHI1, LOIHI2)}
