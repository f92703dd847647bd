"""Atomic output files: write to a temporary file beside the target, then rename.

A failed or interrupted writer leaves no half-written output (DESIGN.md's hard rule);
the finished file gets the usual permissions (0666 minus the umask), not
``mkstemp``'s private 0600.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scnn.hw.errors import ScnnError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class OutputError(ScnnError):
    """An output path that cannot be written (a folder, under a file, not writable)."""


def check_output(path: str | Path) -> Path:
    """The output path, if a file can be written there (checked before the work starts):
    not a folder, and its nearest existing ancestor a writable folder."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    if path.exists() and not path.is_file():  # a device or FIFO: a rename would replace it
        raise OutputError(f"{path}: is not a regular file (a device or FIFO); give a file name")
    if not path.name or path.name in (".", ".."):
        raise OutputError(f"{path!s}: give a file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"{path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: {folder} is not writable")
    try:  # access() says yes to root in /proc and /sys: try a file there
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".scnn-probe-")
    except OSError as err:
        raise OutputError(f"{path}: {folder} does not take new files "
                          f"({err.strerror or err})") from None
    os.close(fd)
    os.unlink(probe)
    return path


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``path``, on error it is removed."""
    path = check_output(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=path.suffix + ".tmp", dir=path.parent)
    except OSError as err:
        raise OutputError(f"{path}: cannot write there ({err.strerror})") from err
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as err:
        raise OutputError(f"{path}: cannot write there ({err.strerror})") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
