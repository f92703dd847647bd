"""Hardware rules as small named checks; each raises HardwareRuleError naming the numbers.

Every check takes the layer's name and the values, and the chip (hw.chips.Chip) whose
limits apply. They are called by the quantiser (hw.quantize) on everything it emits.
"""

from __future__ import annotations

import numpy as np

from scnn.hw.chips import Chip
from scnn.hw.errors import HardwareRuleError

WEIGHT_GRID = "even integers in [-256, 254]"  # lava/proc/dense PyDenseModelBitAcc truncation


def check_weight_grid(layer: str, w: np.ndarray) -> None:
    """Weights must be even integers in [-256, 254] (8-bit mixed-sign synapses)."""
    w = np.asarray(w)
    bad = (w != np.round(w)) | (w % 2 != 0) | (w < -256) | (w > 254)
    if bad.any():
        first = w[bad].flat[0]
        raise HardwareRuleError("weight-grid", layer, f"{int(bad.sum())} weight(s) not "
                                f"{WEIGHT_GRID} (first: {first})")


def check_threshold(layer: str, vth: int, chip: Chip) -> None:
    """Threshold mantissa in [1, 2**bits - 1]."""
    if not 1 <= vth <= chip.threshold_mant_max:
        raise HardwareRuleError("threshold-range", layer, f"vth mantissa {vth} outside "
                                f"[1, {chip.threshold_mant_max}] ({chip.threshold_mant_bits} bits)")


def check_decay(layer: str, name: str, value: int, chip: Chip) -> None:
    """Decay constants du/dv in [0, 2**12 - 1]."""
    if not 0 <= value <= chip.decay_max:
        raise HardwareRuleError("decay-range", layer, f"{name} = {value} outside "
                                f"[0, {chip.decay_max}] ({chip.decay_bits} bits)")


def check_bias(layer: str, bias: np.ndarray, chip: Chip) -> None:
    """Bias mantissas are signed 13-bit."""
    lo, hi = chip.bias_mant_range
    b = np.asarray(bias)
    if b.size and (b.min() < lo or b.max() > hi):
        raise HardwareRuleError("bias-range", layer, f"bias mantissa range [{b.min()}, {b.max()}] "
                                f"exceeds [{lo}, {hi}] ({chip.bias_mant_bits} bits)")


def check_weight_scale(layer: str, scale: float, max_abs: float) -> None:
    """A layer's weight scale must be finite and positive (all-zero layers cannot be scaled)."""
    if not np.isfinite(scale) or scale <= 0:
        raise HardwareRuleError("weight-scale", layer, f"scale {scale} for max |w| = {max_abs} "
                                "cannot be represented")
