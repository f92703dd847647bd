"""``scnn import``: a foreign NIR graph to a NetX network, with its agreement checked.

Reads the graph (``scnn.nir.graph``), lowers it to float layers
(``scnn.nir.lower``), puts them on the chip (``scnn.nir.quantize``; with
calibration inputs the input drive scale is calibrated), measures the agreement of the
fixed-point network with the float one on the inputs (``scnn.nir.check``; and with
Lava on one input if asked) and writes the .net.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from scnn.hw.quantize import DRIVE_SCALE
from scnn.nir.graph import NirError
from scnn.nir.lower import Lowered
from scnn.nir.quantize import Imported, calibrate_drive, quantize_lowered


def _load_inputs(data: Path | None, low: Lowered, steps: int, n: int = 8) -> torch.Tensor:
    """Inputs for the agreement run: ``data`` (an .npy file, or a directory holding
    ``inputs.npy``) of shape (B, *input) analog or (B, T, *input) spikes; else seeded random
    inputs (standard normal / Bernoulli(0.2) spikes)."""
    shape = low.input_shape
    if data is None:
        gen = torch.Generator().manual_seed(0)
        if low.mode == "bias":
            return torch.randn(n, *shape, generator=gen, dtype=torch.float64)
        return (torch.rand(n, steps, *shape, generator=gen) < 0.2).double()
    path = Path(data) / "inputs.npy" if Path(data).is_dir() else Path(data)
    try:
        x = torch.as_tensor(np.load(path)).double()
    except (OSError, ValueError) as err:
        raise NirError(f"{path}: cannot read input data ({err})") from None
    lead = 1 if low.mode == "bias" else 2
    if x.ndim != lead + len(shape) or x.shape[lead:].numel() != int(np.prod(shape)):
        raise NirError(f"{path}: inputs of shape {list(x.shape)} do not fit the graph input "
                       f"{list(shape)} ({'(B, *input)' if lead == 1 else '(B, T, *input)'})")
    return x.reshape(*x.shape[:lead], *shape)


@dataclass(frozen=True, eq=False)
class ImportResult:
    imported: Imported
    agreement: object  # scnn.nir.check.Agreement
    lava_agreement: object | None
    lava_bit_exact: bool | None
    steps: int
    calibration: dict | None = None  # bias mode with --data: drive scale and peak drive
    dt_from: str = "metadata"  # where dt came from: --dt, metadata, inferred (unit gain)


def _step(graph, meta: dict, dt: float | None, path: Path) -> tuple[float, str]:
    """(dt, its source): ``--dt``, else the metadata's, else inferred (scnn.nir.lower.infer_dt)."""
    from scnn.nir.lower import infer_dt

    for value, source in ((dt, "--dt"), (meta.get("dt"), "metadata")):
        if value is None:
            continue
        try:
            step = float(np.asarray(value).ravel()[0]) if np.size(value) == 1 else float("nan")
        except (TypeError, ValueError):
            step = float("nan")
        if not (np.isfinite(step) and step > 0):
            raise NirError(f"{path}: dt ({source}) = {value!r}: must be a number > 0")
        return step, source
    try:
        return infer_dt(graph), "inferred: unit input gain"
    except NirError as err:
        raise NirError(f"{path}: {err}") from None


def import_nir(path: Path, out: Path | None = None, data: Path | None = None,
               mode: str | None = None, dt: float | None = None, steps: int | None = None,
               lava: bool = False) -> ImportResult:
    """Read, lower, quantise, check agreement (fast, and Lava on one input if asked), write."""
    from scnn.nir.check import agreement, run_fixed
    from scnn.nir.graph import read_graph
    from scnn.nir.lower import lower
    from scnn.sim.netx import write_netx

    if out is not None and Path(out).suffix != ".net":
        raise NirError(f"{out}: a NetX file name must end in .net")
    graph = read_graph(path)
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    dt, dt_from = _step(graph, meta, dt, path)
    mode = mode or ("bias" if str(meta.get("input", "")) == "constant" else "spikes")
    fixed = int(meta.get("scnn_fixed_point", 0)) == 1
    steps = int(steps or meta.get("steps", 16))
    calib = None
    try:
        low = lower(graph, dt, mode)
        x = _load_inputs(data, low, steps)
        scale = DRIVE_SCALE
        if data is not None and low.mode == "bias" and not fixed:
            scale, peak = calibrate_drive(low, x)
            calib = {"drive_scale": scale, "max_abs_drive": peak, "inputs": int(x.shape[0])}
        imp = quantize_lowered(low, fixed, drive_scale=scale)
    except NirError as err:
        raise NirError(f"{path}: {err}") from None
    if imp.low.mode == "spikes":
        steps = x.shape[1]
    agree = agreement(imp, x, steps)
    lava_agree = exact = None
    if lava:
        from scnn.sim import lava_backend

        one = x[:1]
        lava_agree = agreement(imp, one, steps, lava_backend.simulate)
        a, b = run_fixed(imp, one, steps), run_fixed(imp, one, steps, lava_backend.simulate)
        exact = all(np.array_equal(a[k], b[k]) for k in a)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_netx(imp.net, out)
    return ImportResult(imp, agree, lava_agree, exact, steps, calib, dt_from)
