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
    RF,
    ComplexDense,
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
    RFIz,
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


def netx_dense(in_shape: tuple[int, ...], out_shape: tuple[int, ...], weight: np.ndarray,
               neuron) -> Dense:
    """A Dense layer of integer ``weight`` with the ``num_weight_bits`` and ``weight_exp``
    lava-dl derives when it reads ``weight`` from a NetX file, so it writes and reads back
    unchanged.  The chip computes the same sums as 8 bits and exponent 0 would: the bits
    lava-dl drops are zero in every weight."""
    wf, bits, exp = netx_dense_weights(weight)
    return Dense(in_shape, out_shape, wf, weight_exp=exp, num_weight_bits=bits, neuron=neuron)


# ---------------------------------------------------------------- reading


def _int_param(cfg: h5py.Group, key: str) -> int:
    """A neuron parameter netx passes on unrounded: it must be an integer (a fractional
    vThMant, say, is scaled before Lava rounds it, or breaks Lava's integer shifts)."""
    value = np.asarray(cfg[key][()])
    if value.size != 1 or value.dtype.kind not in "biuf" or not np.isfinite(value).all() \
            or value.ravel()[0] != np.round(value.ravel()[0]):
        raise NetxError(f"neuron {key} = {value.tolist()!r} is not an integer")
    return int(value.ravel()[0])


def _read_lif(cfg: h5py.Group, is_input: bool, spike_exp: int) -> LIF:
    graded = "gradedSpike" in cfg and bool(np.asarray(cfg["gradedSpike"][()]).any())
    if graded:
        raise NetxError("graded spikes from LIF neurons are not modelled")
    if "messageBits" in cfg:
        raise NetxError("messageBits on a CUBA neuron: netx cannot read it (not one of its "
                        "array keys)")
    return LIF(du=_int_param(cfg, "iDecay") + fx.IDECAY_TO_DU, dv=_int_param(cfg, "vDecay"),
               vth=_int_param(cfg, "vThMant"), bias_exp=fx.BIAS_EXP_DEFAULT)


def _read_sdnn(cfg: h5py.Group, is_input: bool, spike_exp: int) -> Delta | SigmaDelta | Sigma:
    """netx's ``get_neuron_params`` for 'SDNN' (its choice of Delta, Sigma, SigmaDelta)."""
    if "messageBits" in cfg:
        raise NetxError("messageBits on an SDNN neuron: netx cannot read it (not one of its "
                        "array keys); it sends 16-bit payloads")
    if "activation" in cfg and _text(cfg["activation"]).lower() != "relu":
        raise NetxError(f"activation {_text(cfg['activation'])!r}: netx builds SigmaDelta "
                        "with ReLU regardless")
    if is_input:
        return Delta(vth=_int_param(cfg, "vThMant"), spike_exp=spike_exp)
    if "sigma_output" in cfg:  # netx tests the key, not its value
        return Sigma()
    return SigmaDelta(vth=_int_param(cfg, "vThMant"), spike_exp=spike_exp)


def rf_from_file(kind: str, vth: float, sin_decay: float, cos_decay: float) -> RF:
    """netx's RF neuron: ``slayer.neuron.rf.neuron_params`` turns the file's decays into a
    period and an alpha, from which Lava's ``RF`` recomputes its integer decays (often one
    less in magnitude than the file's); ``RF`` if the type says PHASE, else ``RF_IZ``."""
    scale = 1 << fx.RF_DECAY_BITS
    sin_d, cos_d = sin_decay / scale, cos_decay / scale
    decay = 1 - np.sqrt(sin_d ** 2 + cos_d ** 2)
    with np.errstate(divide="ignore"):
        period = 1 / (np.arctan2(sin_d, cos_d) / 2 / np.pi)
    return (RF if "PHASE" in kind else RFIz).from_period(vth, period, decay)


def _read_rf(cfg: h5py.Group, is_input: bool, spike_exp: int) -> RF:
    if is_input:
        raise NetxError("an RF input layer: netx's Input block needs an a_in port RF lacks")
    values = [np.asarray(cfg[k][()]) for k in ("vThMant", "sinDecay", "cosDecay")]
    if any(v.dtype.kind not in "biuf" or not np.isfinite(v).all() for v in values):
        raise NetxError("RF vThMant, sinDecay and cosDecay must be finite numbers")
    return rf_from_file(_text(cfg["type"]), *(float(v) for v in values))


NeuronReader = Callable[[h5py.Group, bool, int], Neuron]
NEURON_READERS: dict[str, NeuronReader] = {"CUBA": _read_lif, "LOIHI": _read_lif,
                                           "SDNN": _read_sdnn, "RF": _read_rf}


def _neuron_reader(kind: str) -> NeuronReader | None:
    """netx's dispatch: exact names, then any type containing 'RF' (RF_PHASE, RF_IZ...)."""
    return NEURON_READERS.get(kind) or (_read_rf if "RF" in kind else None)


def _read_neuron(group: h5py.Group, spike_exp: int, is_input: bool = False,
                 integrator: bool = False) -> Neuron:
    if "neuron" not in group:
        if integrator:  # create_dense's substitute
            return Integrator()
        raise NetxError("no neuron group (netx substitutes an integrator in dense layers "
                        "only; this layer's loader would fail)")
    cfg = group["neuron"]
    kind = _text(cfg["type"])
    reader = _neuron_reader(kind)
    if reader is None:
        raise NetxError(f"neuron type {kind!r} not supported (supported: "
                        f"{', '.join(NEURON_READERS)})")
    return reader(cfg, is_input, spike_exp)


def _with_file_bias(neuron: Neuron, group: h5py.Group, conv_shape: Shape | None = None
                    ) -> Neuron:
    if "bias" not in group:
        return neuron
    if not neuron.has_bias:
        raise NetxError(f"a bias on a {type(neuron).__name__} neuron (netx's process takes "
                        "none and fails to build)")
    bias = _ints(group["bias"])
    if conv_shape is not None and bias.shape not in ((conv_shape[2],), conv_shape):
        raise NetxError(f"conv bias of shape {bias.shape}: netx takes one per channel "
                        f"({conv_shape[2]},) or the layer's {conv_shape}")
    return neuron.with_bias(bias)


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
                neuron=_with_file_bias(_read_neuron(group, spike_exp), group,
                                       _file_shape(group)))


def _read_flatten(group: h5py.Group, prev: Shape | None, spike_exp: int) -> Flatten:
    if prev is None:
        raise NetxError("flatten without an input shape")
    return Flatten(prev)


def _read_complex_dense(group: h5py.Group, prev: Shape | None, spike_exp: int
                        ) -> ComplexDense:
    """netx's complex branch of ``create_dense``: real and imaginary weights optimised
    separately; bias and delay are not read."""
    for key in ("bias", "delay"):
        if key in group:
            raise NetxError(f"a {key} on a complex dense layer: netx ignores it")
    n_out = int(np.prod(np.asarray(group["shape"][()])))
    parts = {}
    for part in ("real", "imag"):
        w = _ints(group[f"weight/{part}"])
        parts[part] = netx_dense_weights(w.reshape(n_out, -1) if w.ndim == 1 else w)
    (wr, br, er), (wi, bi, ei) = parts["real"], parts["imag"]
    neuron = _read_neuron(group, spike_exp)
    if not isinstance(neuron, RF):
        raise NetxError(f"complex weights into {type(neuron).__name__} neurons (netx wires "
                        "them to an RF neuron's real and imaginary inputs)")
    return ComplexDense(prev if prev is not None else (wr.shape[1],), (n_out,), wr, wi,
                        er, ei, br, bi, neuron)


def _read_dense(group: h5py.Group, prev: Shape | None, spike_exp: int) -> Dense | ComplexDense:
    if "weight/imag" in group:
        return _read_complex_dense(group, prev, spike_exp)
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
              spike_exp: int = fx.SDN_SPIKE_EXP_DEFAULT, input_message_bits: int = 0
              ) -> Network:
    """Read a NetX .net file (ours or lava-dl's) into a Network (layer i = ``layer/<i>``).

    The loader arguments of ``netx.hdf5.Network`` that a file cannot hold: ``input_shape``
    (Lava order) for a file that starts with a conv layer; ``spike_exp``, the graded
    spikes' fraction bits of SDNN layers; ``input_message_bits``, the payload width of
    external input into a synapse-first network (0: binary spikes).
    """
    try:
        with h5py.File(path, "r") as f:
            net = _read_layers(f, input_shape, spike_exp)
            return Network(net.layers, net.input_shape, input_message_bits) \
                if input_message_bits else net
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


def rf_file_decays(neuron: RF) -> tuple[int, int]:
    """File (sinDecay, cosDecay) that netx's float chain (``rf_from_file``) turns back into
    the neuron's integer decays, searched near them; raises if none does."""
    for ds in (0, 1, -1, 2, -2, 3, -3):
        for dc in (0, 1, -1, 2, -2, 3, -3):
            s, c = neuron.sin_decay + ds, neuron.cos_decay + dc
            got = rf_from_file("RF_PHASE", neuron.vth / (1 << fx.RF_STATE_EXP), s, c)
            if (got.sin_decay, got.cos_decay) == (neuron.sin_decay, neuron.cos_decay):
                return s, c
    raise NetxError(f"no NetX sinDecay/cosDecay gives Lava's decays ({neuron.sin_decay}, "
                    f"{neuron.cos_decay}) through netx's period/alpha conversion")


def _write_rf(cfg: h5py.Group, neuron: RF) -> None:
    _put_text(cfg, "type", "RF_PHASE" if neuron.phase else "RF_IZHIKEVICH")
    sin_decay, cos_decay = rf_file_decays(neuron)
    cfg.create_dataset("vThMant", data=np.float64(neuron.vth / (1 << fx.RF_STATE_EXP)))
    cfg.create_dataset("sinDecay", data=np.int64(sin_decay))
    cfg.create_dataset("cosDecay", data=np.int64(cos_decay))


NEURON_WRITERS: dict[type, Callable[[h5py.Group, Neuron], None]] = {
    LIF: _write_lif, Delta: _write_sdnn, SigmaDelta: _write_sdnn, Sigma: _write_sdnn,
    RF: _write_rf, RFIz: _write_rf}


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
    if isinstance(layer.neuron, RF):
        raise NetxError("an RF input layer (lava-dl's ComplexInput block) cannot be stored: "
                        "netx builds no RF input layer")
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


def _write_complex_dense(group: h5py.Group, layer: ComplexDense) -> None:
    _put_text(group, "type", "dense")
    group.create_dataset("shape", data=np.array([layer.shape[0], 1, 1], np.int64))
    group.create_dataset("inFeatures", data=np.int64(layer.in_shape[0]))
    group.create_dataset("outFeatures", data=np.int64(layer.shape[0]))
    weights = group.create_group("weight")
    for name, part in zip(("real", "imag"), layer.parts(), strict=True):
        _put(weights, name, dense_file_weights(part))
    _write_neuron(group, layer.neuron)


WRITERS: dict[str, Callable[[h5py.Group, Layer], None]] = {
    "input": _write_input, "conv": _write_conv, "flatten": _write_flatten,
    "dense": _write_dense, "dense_rec": _write_dense_rec,
    "complex_dense": _write_complex_dense}


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
