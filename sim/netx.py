"""NetX HDF5 (.net) reader and writer for ``sim.network.Network``.

Reading maps a file exactly as lava-dl 0.6.0's loader does
(``lava/lib/dl/netx/hdf5.py``, ``utils.py``): ``du = iDecay - 1``,
``dv = vDecay``, ``vth = vThMant``, ``bias_exp = 6``; datasets cast with
``astype(int)``; shapes stored (C, H, W) used as (W, H, C); conv weights
``(C_out, C_in, kH, kW)`` flipped spatially and transposed to Lava's
``(C_out, kW, kH, C_in)``; dense weights through ``optimize_weight_bits``.
SDNN neurons as netx builds them: the input layer's a ``Delta``, a layer with a
``sigma_output`` entry a ``Sigma``, every other a ``SigmaDelta`` (ReLU), with
``spike_exp`` the loader's argument (``netx.hdf5.Network(spike_exp=6)``, not in the
file) and ``state_exp = 6``.  Dense delays as netx expands them (``DelayDense``).
What the loader would get wrong or cannot run (pooling, delays on conv layers,
weights it would silently clip or zero, an activation other than the ReLU it
applies regardless) raises ``ScnnError`` naming the layer.

One lookup table per boundary: ``READERS`` (file type -> reader), ``NEURON_READERS``
(neuron type -> reader), ``WRITERS`` (layer kind -> writer) and ``NEURON_WRITERS``
(neuron kind -> writer).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from scnn.hw import fixed_point as fx
from scnn.hw.errors import ScnnError
from scnn.sim.atomic import atomic_output
from scnn.sim.network import (
    LIF,
    Conv,
    Delta,
    Dense,
    Flatten,
    Input,
    Integrator,
    Layer,
    Network,
    Neuron,
    RecurrentDense,
    Shape,
    Sigma,
    SigmaDelta,
)

_FLOAT_EXACT = 1 << 24


class NetxError(ScnnError):
    """A .net file is unreadable, malformed or holds content we do not model."""


# ---------------------------------------------------------------- low-level


def _text(ds: h5py.Dataset) -> str:
    value = ds[()]
    if isinstance(value, np.ndarray):
        value = value.ravel()[0]
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _ints(ds: h5py.Dataset) -> np.ndarray:
    """netx's ``NetDict`` copy: ``f[key][()].astype(int)`` (floats truncate toward zero)."""
    return np.asarray(ds[()]).astype(np.int64)


def _pair(ds: h5py.Dataset) -> Shape:
    """netx's ``expand``: a scalar x -> (x, x); a file pair (y, x) -> (x, y)."""
    value = np.asarray(ds[()])
    if value.ndim == 0:
        return (int(value), int(value))
    return tuple(int(v) for v in value[::-1])


def _file_shape(group: h5py.Group) -> Shape:
    return tuple(int(s) for s in np.asarray(group["shape"][()]).ravel()[::-1])


# ---------------------------------------------------------------- dense weights


def netx_dense_weights(weight: np.ndarray) -> tuple[np.ndarray, int, int]:
    """lava-dl's ``optimize_weight_bits``: file weights -> (weights, num_weight_bits, weight_exp).

    ``scale_bits = floor(log2(scale)) + mixed`` with scale ``min(127/max, -128/min)``
    (mixed), ``255/max`` (excitatory) or ``-256/min`` (inhibitory); ``n`` = the
    largest power of two (<= 8) dividing all weights, minus ``mixed``;
    returns ``(w << scale_bits, 8 - scale_bits - n, -scale_bits)``.
    Raises where lava-dl would clip (mixed weights outside [-256, 254]), zero
    (a negative shift: weights beyond 8 bits) or crash (all weights zero).
    """
    w = np.asarray(weight, np.int64)
    mx, mn = int(w.max()), int(w.min())
    if (mx > 254 and mn < 0) or (mn < -256 and mx > 0):
        raise NetxError(f"mixed-sign weights in [{mn}, {mx}] outside [-256, 254]: "
                        "lava-dl would clip them")
    if mx == mn == 0:
        raise NetxError("all dense weights are zero: lava-dl cannot optimise them")
    mixed = int(mx >= 0 and mn < 0)
    if mixed:
        scale = min(127 / mx if mx > 0 else np.inf, -128 / mn)
    else:
        scale = -256 / mn if mx < 0 else 255 / mx
    scale_bits = int(np.floor(np.log2(np.float64(scale)))) + mixed
    if scale_bits < 0:
        raise NetxError(f"weights in [{mn}, {mx}] exceed 8 bits: lava-dl would zero them")
    n = next((k for k in range(8, 0, -1) if not np.any(w % (1 << k))), 0) - mixed
    return w << scale_bits, 8 - scale_bits - n, -scale_bits


# ---------------------------------------------------------------- reading


def _read_lif(cfg: h5py.Group, is_input: bool, spike_exp: int) -> LIF:
    graded = "gradedSpike" in cfg and bool(np.asarray(cfg["gradedSpike"][()]).any())
    if graded or ("messageBits" in cfg and int(np.asarray(cfg["messageBits"][()])) > 0):
        raise NetxError("graded spikes from LIF neurons are not modelled")
    return LIF(du=int(cfg["iDecay"][()]) + fx.IDECAY_TO_DU, dv=int(cfg["vDecay"][()]),
               vth=int(cfg["vThMant"][()]), bias_exp=fx.BIAS_EXP_DEFAULT)


def _read_sdnn(cfg: h5py.Group, is_input: bool, spike_exp: int) -> Delta | SigmaDelta | Sigma:
    """netx's ``get_neuron_params`` for 'SDNN' (its choice of Delta, Sigma, SigmaDelta)."""
    if "messageBits" in cfg:
        raise NetxError("messageBits on an SDNN neuron: netx cannot read it (not one of its "
                        "array keys); it sends 16-bit payloads")
    if "activation" in cfg and _text(cfg["activation"]).lower() != "relu":
        raise NetxError(f"activation {_text(cfg['activation'])!r}: netx builds SigmaDelta "
                        "with ReLU regardless")
    if is_input:
        return Delta(vth=int(np.asarray(cfg["vThMant"][()])), spike_exp=spike_exp)
    if "sigma_output" in cfg:  # netx tests the key, not its value
        return Sigma()
    return SigmaDelta(vth=int(np.asarray(cfg["vThMant"][()])), spike_exp=spike_exp)


NeuronReader = Callable[[h5py.Group, bool, int], Neuron]
NEURON_READERS: dict[str, NeuronReader] = {"CUBA": _read_lif, "LOIHI": _read_lif,
                                           "SDNN": _read_sdnn}


def _read_neuron(group: h5py.Group, spike_exp: int, is_input: bool = False,
                 integrator: bool = False) -> Neuron:
    if "neuron" not in group:
        if integrator:  # create_dense's substitute
            return Integrator()
        raise NetxError("no neuron group (netx substitutes an integrator in dense layers "
                        "only; this layer's loader would fail)")
    cfg = group["neuron"]
    kind = _text(cfg["type"])
    if kind not in NEURON_READERS:
        raise NetxError(f"neuron type {kind!r} not supported (supported: "
                        f"{', '.join(NEURON_READERS)})")
    return NEURON_READERS[kind](cfg, is_input, spike_exp)


def _with_file_bias(neuron: Neuron, group: h5py.Group) -> Neuron:
    if "bias" not in group:
        return neuron
    if not neuron.has_bias:
        raise NetxError(f"a bias on a {type(neuron).__name__} neuron (netx's process takes "
                        "none and fails to build)")
    return neuron.with_bias(_ints(group["bias"]))


def _no_delay(group: h5py.Group) -> None:
    if "delay" in group:
        raise NetxError("a delay on a conv layer: netx ignores it (delays are dense-only)")


def _read_delay(group: h5py.Group, shape: tuple[int, int]) -> np.ndarray | None:
    """netx's ``create_dense`` delays: clipped to [0, 62] when the largest exceeds 62; a
    scalar for every synapse, a vector per output neuron (or, failing that, per input),
    or the (N, M) matrix; cast to int (toward zero) by the block."""
    if "delay" not in group:
        return None
    d = np.asarray(group["delay"][()])
    if d.dtype.kind not in "biuf" or not np.isfinite(d).all():
        raise NetxError(f"delay must be finite numbers, got dtype {d.dtype}")
    if d.size and d.max() > fx.DELAY_MAX:
        d = np.clip(d, 0, fx.DELAY_MAX)
    if d.ndim == 0:
        d = np.full(shape, d)
    elif d.ndim == 1 and d.size == shape[0]:
        d = np.repeat(d.reshape(-1, 1), shape[1], axis=1)
    elif d.ndim == 1 and d.size == shape[1]:
        d = np.repeat(d.reshape(1, -1), shape[0], axis=0)
    elif d.shape != shape:
        raise NetxError(f"delay of shape {d.shape} fits neither the weight {shape} nor one "
                        "of its axes")
    return d.astype(np.int64)


def _read_input(group: h5py.Group, prev: Shape | None, spike_exp: int) -> Input:
    """Input entry; its 'weight'/'bias' are an input transform Lava never applies."""
    neuron = _read_neuron(group, spike_exp, is_input=True) if "neuron" in group else None
    return Input(_file_shape(group), neuron)


def _read_conv(group: h5py.Group, prev: Shape | None, spike_exp: int) -> Conv:
    if prev is None:
        raise NetxError("conv layer without an input shape (add an input entry)")
    _no_delay(group)
    w = _ints(group["weight"])[:, :, ::-1, ::-1]
    w = w.reshape(w.shape[:4]).transpose(0, 3, 2, 1)
    groups = int(np.asarray(group["groups"][()])) if "groups" in group else 1
    return Conv(in_shape=prev, shape=_file_shape(group), weight=w,
                stride=_pair(group["stride"]), padding=_pair(group["padding"]),
                dilation=_pair(group["dilation"]), groups=groups,
                neuron=_with_file_bias(_read_neuron(group, spike_exp), group))


def _read_flatten(group: h5py.Group, prev: Shape | None, spike_exp: int) -> Flatten:
    if prev is None:
        raise NetxError("flatten without an input shape")
    return Flatten(prev)


def _read_dense(group: h5py.Group, prev: Shape | None, spike_exp: int) -> Dense:
    n_out = int(np.prod(np.asarray(group["shape"][()])))
    w = _ints(group["weight"])
    w = w.reshape(n_out, -1) if w.ndim == 1 else w
    weight, bits, exp = netx_dense_weights(w)
    return Dense(in_shape=prev if prev is not None else (w.shape[1],), shape=(n_out,),
                 weight=weight, weight_exp=exp, num_weight_bits=bits,
                 neuron=_with_file_bias(_read_neuron(group, spike_exp, integrator=True),
                                        group),
                 delay=_read_delay(group, w.shape))


def _read_dense_rec(group: h5py.Group, prev: Shape | None, spike_exp: int) -> RecurrentDense:
    """netx's ``create_dense(rec=True)``: both matrices optimised jointly (one bit count and
    exponent), split back by columns."""
    n_out = int(np.prod(np.asarray(group["shape"][()])))
    w, w_rec = _ints(group["weight"]), _ints(group["weight_rec"])
    w = w.reshape(n_out, -1) if w.ndim == 1 else w
    w_rec = w_rec.reshape(n_out, -1) if w_rec.ndim == 1 else w_rec
    if w_rec.shape != (n_out, n_out) or w.shape[0] != n_out:
        raise NetxError(f"weight {w.shape} and weight_rec {w_rec.shape} do not fit "
                        f"{n_out} neurons")
    joint, bits, exp = netx_dense_weights(np.hstack((w, w_rec)))
    return RecurrentDense(in_shape=prev if prev is not None else (w.shape[1],), shape=(n_out,),
                          weight=joint[:, :w.shape[1]], weight_exp=exp, num_weight_bits=bits,
                          neuron=_with_file_bias(_read_neuron(group, spike_exp, integrator=True),
                                                 group),
                          delay=_read_delay(group, w.shape), weight_rec=joint[:, w.shape[1]:])


Reader = Callable[[h5py.Group, "Shape | None", int], Layer]
READERS: dict[str, Reader] = {"input": _read_input, "conv": _read_conv,
                              "flatten": _read_flatten, "dense": _read_dense,
                              "dense_rec": _read_dense_rec}


def read_netx(path: str | Path, input_shape: Shape | None = None,
              spike_exp: int = fx.SDN_SPIKE_EXP_DEFAULT) -> Network:
    """Read a NetX .net file (ours or lava-dl's) into a Network (layer i = ``layer/<i>``).

    ``input_shape`` (Lava order) is needed only when the file starts with a conv
    layer, as for ``netx.hdf5.Network(input_shape=...)``; ``spike_exp`` is the graded
    spikes' fraction bits of SDNN layers, ``netx.hdf5.Network(spike_exp=...)``.
    """
    try:
        with h5py.File(path, "r") as f:
            return _read_layers(f, input_shape, spike_exp)
    except (OSError, KeyError) as err:
        raise NetxError(f"{path}: not a readable NetX file ({err})") from err
    except ScnnError as err:
        raise NetxError(f"{path}: {err}") from err


def _read_layers(f: h5py.File, input_shape: Shape | None, spike_exp: int) -> Network:
    groups = f["layer"]
    n = len(groups)
    if sorted(groups.keys(), key=int) != [str(i) for i in range(n)]:
        raise NetxError(f"layer keys {sorted(groups.keys())} are not 0..{n - 1}")
    layers: list[Layer] = []
    prev = tuple(input_shape) if input_shape is not None else None
    for i in range(n):
        kind = _text(groups[str(i)]["type"])
        if kind not in READERS:
            raise NetxError(f"layer {i}: unsupported layer type {kind!r} "
                            f"(supported: {', '.join(READERS)})")
        try:
            layer = READERS[kind](groups[str(i)], prev, spike_exp)
        except (ScnnError, KeyError, ValueError, TypeError) as err:
            raise NetxError(f"layer {i} ({kind}): {err}") from err
        layers.append(layer)
        prev = layer.shape
    return Network(tuple(layers), layers[0].in_shape)


# ---------------------------------------------------------------- writing


def _put(group: h5py.Group, name: str, value: np.ndarray | int) -> None:
    arr = np.asarray(value)
    if arr.dtype.kind in "iu" and (arr.size == 0 or np.abs(arr).max() < _FLOAT_EXACT):
        arr = arr.astype(np.float32) if name in ("weight", "bias") else arr
    group.create_dataset(name, data=arr)


def _put_text(group: h5py.Group, name: str, text: str) -> None:
    group.create_dataset(name, data=np.array([text.encode("ascii")], dtype="S10"))


def _write_lif(cfg: h5py.Group, neuron: LIF) -> None:
    if neuron.bias_exp != fx.BIAS_EXP_DEFAULT:
        raise NetxError(f"bias_exp {neuron.bias_exp} cannot be stored (netx fixes it to 6)")
    _put_text(cfg, "type", "CUBA")
    for name, value in (("iDecay", neuron.du - fx.IDECAY_TO_DU), ("vDecay", neuron.dv),
                        ("vThMant", neuron.vth), ("refDelay", 1)):
        cfg.create_dataset(name, data=np.int64(value))


def _write_sdnn(cfg: h5py.Group, neuron: Delta | SigmaDelta | Sigma) -> None:
    if neuron.message_bits != fx.SDN_MESSAGE_BITS_DEFAULT:
        raise NetxError(f"message_bits {neuron.message_bits} cannot be stored (netx sends "
                        f"{fx.SDN_MESSAGE_BITS_DEFAULT}-bit payloads)")
    if getattr(neuron, "state_exp", fx.SDN_STATE_EXP) != fx.SDN_STATE_EXP:
        raise NetxError(f"state_exp {neuron.state_exp} cannot be stored (netx fixes it to "
                        f"{fx.SDN_STATE_EXP})")
    _put_text(cfg, "type", "SDNN")
    _put_text(cfg, "activation", "relu")
    if isinstance(neuron, Sigma):
        cfg.create_dataset("sigma_output", data=True)
    else:
        cfg.create_dataset("vThMant", data=np.int64(neuron.vth))


NEURON_WRITERS: dict[type, Callable[[h5py.Group, Neuron], None]] = {
    LIF: _write_lif, Delta: _write_sdnn, SigmaDelta: _write_sdnn, Sigma: _write_sdnn}


def _write_neuron(group: h5py.Group, neuron: Neuron) -> None:
    if isinstance(neuron, Integrator):  # netx's substitute: no neuron group
        return
    NEURON_WRITERS[type(neuron)](group.create_group("neuron"), neuron)


def spike_exp_of(net: Network) -> int:
    """The one ``spike_exp`` of the network's SDNN neurons (netx's loader argument), or the
    default when there are none; raises when they differ (a .net cannot say so)."""
    exps = {layer.neuron.spike_exp for layer in net.layers
            if isinstance(layer.neuron, (Delta, SigmaDelta))}
    if len(exps) > 1:
        raise NetxError(f"SDNN layers with spike_exp {sorted(exps)}: netx loads one value "
                        "for the whole network")
    return exps.pop() if exps else fx.SDN_SPIKE_EXP_DEFAULT


def _file_pair(pair: Shape) -> np.ndarray:
    return np.array(pair[::-1], dtype=np.int64)


def _write_input(group: h5py.Group, layer: Input) -> None:
    _put_text(group, "type", "input")
    group.create_dataset("shape", data=np.array(layer.shape[::-1], np.int64))
    if layer.neuron is not None:
        if layer.neuron.has_bias and np.any(layer.neuron.bias):
            raise NetxError("an input layer's bias is a run-time drive NetX cannot store; "
                            "pass it to the simulator instead")
        _write_neuron(group, layer.neuron)


def _conv_bias(layer: Conv) -> np.ndarray:
    full = np.broadcast_to(layer.neuron.bias, layer.shape)
    per_channel = full[0, 0, :]
    return per_channel if np.array_equal(np.broadcast_to(per_channel, layer.shape), full) else full


def _write_conv(group: h5py.Group, layer: Conv) -> None:
    _put_text(group, "type", "conv")
    group.create_dataset("shape", data=np.array(layer.shape[::-1], np.int64))
    w = layer.weight.transpose(0, 3, 2, 1)[:, :, ::-1, ::-1]  # -> (C_out, C_in/g, kH, kW)
    _put(group, "weight", np.ascontiguousarray(w))
    for name, value in (("inChannels", layer.in_shape[2]), ("outChannels", layer.shape[2]),
                        ("groups", layer.groups)):
        group.create_dataset(name, data=np.int64(value))
    group.create_dataset("kernelSize", data=np.array(w.shape[2:], np.int64))
    for name in ("stride", "padding", "dilation"):
        group.create_dataset(name, data=_file_pair(getattr(layer, name)))
    if layer.neuron.has_bias:
        _put(group, "bias", _conv_bias(layer))
    _write_neuron(group, layer.neuron)


def _write_flatten(group: h5py.Group, layer: Flatten) -> None:
    _put_text(group, "type", "flatten")
    group.create_dataset("shape", data=np.array([layer.shape[0], 1, 1], np.int64))


def dense_file_weights(layer: Dense) -> np.ndarray:
    """File weights whose ``optimize_weight_bits`` gives back this layer's parameters."""
    shift = -layer.weight_exp
    if shift < 0 or np.any(layer.weight % (1 << shift)):
        raise NetxError(f"dense weights with weight_exp {layer.weight_exp} have no NetX encoding")
    w = layer.weight >> shift
    got = netx_dense_weights(w)
    if not (np.array_equal(got[0], layer.weight) and got[1:] == (layer.num_weight_bits,
                                                                  layer.weight_exp)):
        raise NetxError(f"dense (num_weight_bits {layer.num_weight_bits}, weight_exp "
                        f"{layer.weight_exp}) is not what lava-dl derives from its weights "
                        f"({got[1]}, {got[2]})")
    return w


def _write_dense_group(group: h5py.Group, layer: Dense, kind: str,
                       weights: dict[str, np.ndarray]) -> None:
    _put_text(group, "type", kind)
    group.create_dataset("shape", data=np.array([layer.shape[0], 1, 1], np.int64))
    group.create_dataset("inFeatures", data=np.int64(layer.in_shape[0]))
    group.create_dataset("outFeatures", data=np.int64(layer.shape[0]))
    for name, w in weights.items():
        _put(group, name, np.ascontiguousarray(w))
    if layer.delay is not None:
        group.create_dataset("delay", data=layer.delay)
    if layer.neuron.has_bias:
        _put(group, "bias", np.broadcast_to(layer.neuron.bias, layer.shape))
    _write_neuron(group, layer.neuron)


def _write_dense(group: h5py.Group, layer: Dense) -> None:
    _write_dense_group(group, layer, "dense", {"weight": dense_file_weights(layer)})


def _write_dense_rec(group: h5py.Group, layer: RecurrentDense) -> None:
    """Both matrices from one joint file matrix, so netx's joint optimisation gives back the
    layer's bit count and exponent."""
    n_in = layer.in_shape[0]
    joint = Dense((n_in + layer.shape[0],), layer.shape,
                  np.hstack((layer.weight, layer.weight_rec)), layer.weight_exp,
                  layer.num_weight_bits, layer.neuron)
    w = dense_file_weights(joint)
    _write_dense_group(group, layer, "dense_rec", {"weight": w[:, :n_in],
                                                   "weight_rec": w[:, n_in:]})


WRITERS: dict[str, Callable[[h5py.Group, Layer], None]] = {
    "input": _write_input, "conv": _write_conv, "flatten": _write_flatten,
    "dense": _write_dense, "dense_rec": _write_dense_rec}


def write_netx(net: Network, path: str | Path) -> Path:
    """Write ``net`` as a NetX .net file lava-dl loads (atomically: temp file, rename)."""
    path = Path(path)
    try:
        spike_exp_of(net)
    except NetxError as err:
        raise NetxError(f"{path}: {err}") from err
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        layers = f.create_group("layer")
        for i, layer in enumerate(net.layers):
            try:
                WRITERS[layer.kind](layers.create_group(str(i)), layer)
            except ScnnError as err:
                raise NetxError(f"{path}: layer {i} ({layer.kind}): {err}") from err
        sim = f.create_group("simulation")
        sim.create_dataset("Ts", data=np.int64(1))
    return path
