"""Ray for the pipeline: one way to start or join a cluster, and order-preserving shard maps.

``ray_session(address, num_cpus)`` starts a quiet local Ray (no dashboard, no usage
statistics, small object store) or joins an existing cluster (``ray://host:10001``
through Ray Client, ``auto`` on a cluster node). ``map_shards(fn, n, workers, *args)``
splits ``range(n)`` into contiguous shards, runs ``fn(indices, *args)`` on each as a
Ray task and returns the results in shard order, so callers can concatenate or merge
them into exactly what one process computes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from scnn.hw.errors import ScnnError

QUIET_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage reports (CI has no network anyway)
    "RAY_AUTH_MODE": "disabled",  # 2.60 writes an auth token and warns otherwise
    "RAY_AIR_NEW_OUTPUT": "0",  # no configuration tables with verbose=0
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    "RAY_DEDUP_LOGS": "1",
}
OBJECT_STORE_BYTES = 256 * 1024**2


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """A Ray runtime for the block: local (``address`` None) or an existing cluster."""
    for key, val in QUIET_ENV.items():
        os.environ.setdefault(key, val)
    import ray

    if ray.is_initialized():  # a caller (e.g. a test or a notebook) already set one up
        yield
        return
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count(),
                     include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES,
                     log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as err:
        where = address or "a local runtime"
        raise ScnnError(f"cannot start Ray on {where}: {str(err).splitlines()[0]}") from None
    try:
        yield
    finally:
        ray.shutdown()


def shards(n: int, k: int) -> list[np.ndarray]:
    """``range(n)`` in at most ``k`` contiguous, non-empty, nearly equal index arrays."""
    if k < 1:
        raise ScnnError(f"workers must be >= 1, got {k}")
    return [s for s in np.array_split(np.arange(n), min(k, max(n, 1))) if s.size]


def map_shards(fn: Callable, n: int, workers: int, *args, cpus: float = 1) -> list:
    """``[fn(indices, *args) for indices in shards(n, workers)]``, each as a Ray task.

    Large arguments are put into the object store once. Call inside ``ray_session``.
    """
    import ray

    remote = ray.remote(num_cpus=cpus)(fn)
    refs = [ray.put(a) for a in args]
    return ray.get([remote.remote(idx, *refs) for idx in shards(n, workers)])
