"""How many threads a simulation or training run may ask for on this machine.

Asking torch or numba for far more threads than there are cores does not run faster:
torch starts every OpenMP thread at once, and ``--threads 100000`` hung the process
past SIGTERM. The limit is ``THREADS_PER_CORE`` threads per core this process may use.
"""

from __future__ import annotations

import os

from scnn.hw.errors import ScnnError

THREADS_PER_CORE = 4


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_threads(n: object, option: str = "--threads") -> int:
    """``n`` if it is an integer in [1, THREADS_PER_CORE x cores], else a one-line error
    that says what fits."""
    cap = THREADS_PER_CORE * usable_cores()
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= cap:
        raise ScnnError(f"{option} {n}: this machine gives the process {usable_cores()} "
                        f"core(s); use an integer from 1 to {cap}")
    return n
