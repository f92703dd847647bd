"""Small files in the real formats of Speech Commands v2 and SHD/SSC, and a loopback HTTP
server to download them from (the real archives cannot be reached from CI)."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from conftest import tone, write_wav

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
OTHERS = ("bed", "cat")
SPEAKERS = ("0a7c2a8d", "1b4c9b89", "2c6d3e11", "3d8f5a22", "4e0a6b33")


def gsc_folder(root: Path, speakers: tuple[str, ...] = SPEAKERS, repeats: int = 2) -> Path:
    """ROOT/gsc: every command word and two others, each said ``repeats`` times by each
    speaker (a 1 s, 16 kHz tone whose pitch is the word's), the last speaker's clips in
    testing_list.txt, the one before in validation_list.txt, and two 12 s noise
    recordings in _background_noise_."""
    gsc = root / "gsc"
    val, test = [], []
    for w, word in enumerate(COMMANDS + OTHERS):
        for s, spk in enumerate(speakers):
            for r in range(repeats):
                rel = f"{word}/{spk}_nohash_{r}.wav"
                write_wav(gsc / rel, tone(1.0, 16000, 300 + 150 * w, seed=10 * s + r), 16000)
                if s == len(speakers) - 1:
                    test.append(rel)
                elif s == len(speakers) - 2:
                    val.append(rel)
    rng = np.random.default_rng(0)
    for name in ("white_noise.wav", "running_tap.wav"):
        write_wav(gsc / "_background_noise_" / name,
                  (0.3 * rng.standard_normal(12 * 16000)).clip(-1, 1).astype(np.float32), 16000)
    (gsc / "testing_list.txt").write_text("\n".join(test) + "\n")
    (gsc / "validation_list.txt").write_text("\n".join(val) + "\n")
    (gsc / "LICENSE").write_text("CC BY 4.0 (fixture)\n")
    return gsc


def gsc_tarball(folder: Path, dest: Path) -> Path:
    """The folder packed as upstream packs it: members ./word/file.wav, gzip."""
    with tarfile.open(dest, "w:gz") as tar:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                tar.add(p, arcname="./" + p.relative_to(folder).as_posix())
    return dest


def spike_file(path: Path, n: int, n_classes: int, seed: int, keys: bool = True,
               bad_unit: bool = False) -> Path:
    """An SHD/SSC-format HDF5 file of ``n`` samples: sample i of class c = i %
    n_classes fires channels 60c..60c+59 at 5 ms intervals from (c * 40) ms, plus a few
    random spikes; times float16 seconds and units uint16 as upstream stores them."""
    import h5py

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    vf, vu = h5py.vlen_dtype(np.float16), h5py.vlen_dtype(np.uint16)
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n,), dtype=vf)
        units = f.create_dataset("spikes/units", (n,), dtype=vu)
        labels = np.arange(n) % n_classes
        for i, c in enumerate(labels):
            u = np.concatenate([np.arange(60 * c, 60 * c + 60), rng.integers(0, 700, 20)])
            t = np.concatenate([c * 0.04 + 0.005 * np.arange(60), rng.uniform(0, 0.9, 20)])
            order = np.argsort(t)
            if bad_unit and i == n - 1:
                u[0] = 700
            times[i] = t[order].astype(np.float16)
            units[i] = u[order].astype(np.uint16)
        f.create_dataset("labels", data=labels.astype(np.uint16))
        f.create_dataset("extra/speaker", data=(np.arange(n) % 3).astype(np.uint16))
        if keys:
            f.create_dataset("extra/keys", data=np.array([f"word-{c}".encode()
                                                          for c in range(n_classes)]))
    return path


def spike_folder(root: Path, kind: str = "shd", n_classes: int = 4, n: int = 24) -> Path:
    """ROOT/KIND holding KIND_train.h5, KIND_test.h5 (and ssc_valid.h5)."""
    parts = ("train", "valid", "test") if kind == "ssc" else ("train", "test")
    for k, part in enumerate(parts):
        spike_file(root / kind / f"{kind}_{part}.h5", n if part == "train" else n // 2,
                   n_classes, seed=k)
    return root / kind


def gzip_file(src: Path, dest: Path) -> Path:
    with src.open("rb") as fh, gzip.open(dest, "wb") as out:
        out.write(fh.read())
    return dest


def digest(path: Path, algo: str = "md5") -> str:
    return hashlib.new(algo, path.read_bytes()).hexdigest()


def sums_file(path: Path, files: list[Path], algo: str = "md5") -> Path:
    path.write_text("".join(f"{digest(p, algo)}  {p.name}\n" for p in files))
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port) for the duration; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
