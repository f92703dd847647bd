"""scnn: spiking networks for audio, from training to bit-exact Loihi fixed point.

The Python API (``scnn.api``), imported on first use so that ``import scnn`` stays light::

    net = scnn.read_netx("network.net")
    out = scnn.simulate(net, 16, bias=image)                 # fast, bit-exact
    scnn.assert_same(out, scnn.simulate(net, 16, bias=image, backend="lava"))
    scnn.profile(net, 16, bias=image)[0]["energy_uj"]
    scnn.evaluate("network.net", "fsdd/", noise="pink", snr=10)["accuracy"]   # on audio
    scnn.stream_recording("stream.net", "long.wav", "long.csv")["detections"]

Subpackages: ``scnn.sim`` (network description, simulators), ``scnn.hw`` (the chips),
``scnn.models`` (training models), ``scnn.nir``; the command line is ``scnn.cli``.
"""

from __future__ import annotations

API = ("BACKENDS", "Difference", "assert_same", "compare", "evaluate", "profile", "read_netx",
       "simulate", "stream_recording", "write_netx")
__all__ = list(API)


def __getattr__(name: str) -> object:
    if name in API:
        from scnn import api

        return getattr(api, name)
    raise AttributeError(f"module 'scnn' has no attribute {name!r}")
