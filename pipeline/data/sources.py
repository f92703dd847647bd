"""Checksummed downloads of the standard spiking-audio datasets into the cache.

=========  =====================================  ==========================================
dataset    upstream files                         checksums
=========  =====================================  ==========================================
``gsc``    ``speech_commands_v0.02.tar.gz``       SHA-256 pinned here (as TensorFlow
           (Google Speech Commands v2, 2.4 GB)    Datasets records it)
``shd``    ``shd_train.h5.gz``, ``shd_test.h5.gz``  MD5 pinned here, and the server's
           (Spiking Heidelberg Digits)            ``md5sums.txt`` must agree
``ssc``    ``ssc_{train,valid,test}.h5.gz``       ``ssc_valid`` pinned; train and test from
           (Spiking Speech Commands)              the server's ``md5sums.txt`` (upstream's
                                                  own list: no second source was found)
=========  =====================================  ==========================================

FSDD has its own per-file manifest (:mod:`scnn.data.fetch`). Each file is hashed while
it downloads; a mismatch raises :class:`~scnn.data.fetch.ManifestError` naming the
file, and nothing is left in the cache. ``base_url`` points at a mirror (the folder
holding the files); ``checksums`` (a ``md5sum``/``sha256sum`` style file, ``DIGEST
NAME`` per line) replaces the pinned values for a mirror that repacked them. A verified
folder holds ``.verified.json`` and is not downloaded again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scnn.data.fetch import (
    ENV_CACHE,
    ManifestError,
    check_url,
    download,
    into_cache,
)
from scnn.hw.errors import ScnnError

MARKER = ".verified.json"
HEX = re.compile(r"^[0-9a-f]{32}$|^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Remote:
    """One file on the server: its name, pinned digest (or None) and how it unpacks
    (``tar``: a tarball of the dataset folder; ``gunzip``: one ``.gz`` file)."""

    name: str
    digest: str | None
    unpack: str


@dataclass(frozen=True)
class Source:
    """A downloadable dataset: where its files are and what they must hash to."""

    dataset: str
    title: str
    base_url: str
    folder: str
    files: tuple[Remote, ...]
    sums_file: str | None = None  # the server's own checksum list, if it has one

    def url(self, base: str | None, name: str) -> str:
        return f"{(base or self.base_url).rstrip('/')}/{name}"


SOURCES = {
    "gsc": Source("gsc", "Google Speech Commands v0.02", "https://download.tensorflow.org/data",
                  "gsc-v0.02", (Remote("speech_commands_v0.02.tar.gz",
                                       "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c"
                                       "709868ff58", "tar"),)),
    "shd": Source("shd", "Spiking Heidelberg Digits", "https://zenkelab.org/datasets", "shd",
                  (Remote("shd_train.h5.gz", "d47c9825dee33347913e8ce0f2be08b0", "gunzip"),
                   Remote("shd_test.h5.gz", "3062a80ec0c5719404d5b02e166543b1", "gunzip")),
                  "md5sums.txt"),
    "ssc": Source("ssc", "Spiking Speech Commands", "https://zenkelab.org/datasets", "ssc",
                  (Remote("ssc_train.h5.gz", None, "gunzip"),
                   Remote("ssc_valid.h5.gz", "555645b13e15fe270fbfe39cb763f805", "gunzip"),
                   Remote("ssc_test.h5.gz", None, "gunzip")),
                  "md5sums.txt"),
}


def source(dataset: str) -> Source:
    if dataset not in SOURCES:
        raise ScnnError(f"--dataset {dataset!r}: downloadable datasets are fsdd, "
                        f"{', '.join(SOURCES)}")
    return SOURCES[dataset]


def cache_folder(dataset: str, cache: Path | None = None) -> Path:
    """Where ``dataset`` is unpacked: ``cache`` or $SCNN_CACHE/<folder> (default
    ~/.cache/scnn-pipeline/<folder>)."""
    if cache is not None:
        return Path(cache)
    base = os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "scnn-pipeline"
    return Path(base) / source(dataset).folder


def parse_checksums(text: str, where: object) -> dict[str, str]:
    """``DIGEST  NAME`` lines (md5sum/sha256sum output; ``*NAME`` allowed) -> {name: digest}."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not HEX.match(parts[0].lower()):
            raise ScnnError(f"{where}:{n}: expected 'DIGEST  FILE' (32 or 64 hex digits), "
                            f"got {line.strip()[:60]!r}")
        name, digest = PurePosixPath(parts[1].lstrip("*")).name, parts[0].lower()
        if out.get(name, digest) != digest:
            raise ScnnError(f"{where}:{n}: {name} is listed twice with different checksums")
        out[name] = digest
    return out


def read_checksums(path: Path, src: Source) -> dict[str, str]:
    """A ``--checksums`` file: it must name every file of the dataset."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ScnnError(f"--checksums {path}: cannot read ({err})") from None
    sums = parse_checksums(text, path)
    missing = [r.name for r in src.files if r.name not in sums]
    if missing:
        raise ScnnError(f"--checksums {path}: no checksum for {', '.join(missing)} (the files "
                        f"of {src.dataset})")
    return sums


def _hasher(digest: str):
    return hashlib.md5() if len(digest) == 32 else hashlib.sha256()


def file_digest(path: Path, like: str) -> str:
    """``path``'s digest in the algorithm of ``like`` (32 hex digits: MD5, 64: SHA-256)."""
    h = _hasher(like)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def expected_digests(src: Source, base: str | None, checksums: Path | None,
                     tmp: Path, progress: bool) -> dict[str, str]:
    """{file: digest} the download must match (see the module docstring)."""
    if checksums is not None:
        return read_checksums(checksums, src)
    want = {r.name: r.digest for r in src.files if r.digest}
    if src.sums_file is None:
        return want
    url = src.url(base, src.sums_file)
    download(url, tmp / src.sums_file, False, src.sums_file)
    try:
        served = parse_checksums((tmp / src.sums_file).read_text(), url)
    except UnicodeDecodeError:
        raise ScnnError(f"{url}: not a checksum list") from None
    for r in src.files:
        if r.name not in served:
            if r.name not in want:
                raise ManifestError(f"{url}: no checksum for {r.name}, and none is pinned")
            continue
        if r.name in want and served[r.name] != want[r.name]:
            raise ManifestError(f"{url}: {r.name} listed as {served[r.name]}, but the pinned "
                                f"checksum is {want[r.name]}")
        want[r.name] = served[r.name]
    return want


def _untar(tarball: Path, dest: Path) -> None:
    """Every regular file of the tarball into ``dest`` (members that would land outside
    it, links and devices are skipped); the archive's single top folder, if any, is
    dropped."""
    try:
        with tarfile.open(tarball) as tar:
            files = []
            for member in tar.getmembers():
                parts = [p for p in PurePosixPath(member.name).parts if p not in ("", ".")]
                if member.isfile() and parts and ".." not in parts and \
                        not member.name.startswith("/"):
                    files.append((member, parts))
            tops = {parts[0] for _, parts in files}
            drop = 1 if len(tops) == 1 and all(len(parts) > 1 for _, parts in files) else 0
            for member, parts in files:
                src = tar.extractfile(member)
                if src is None:
                    continue
                target = dest.joinpath(*parts[drop:])
                target.parent.mkdir(parents=True, exist_ok=True)
                with src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
    except (tarfile.TarError, OSError, EOFError) as err:
        reason = " ".join(str(err).split())[:200]
        raise ScnnError(f"{tarball.name}: not a readable tar archive ({reason})") from None


def _gunzip(gz: Path, dest: Path) -> None:
    try:
        with gzip.open(gz, "rb") as src, (dest / gz.name[:-3]).open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except (OSError, EOFError) as err:
        reason = " ".join(str(err).split())[:200]
        raise ScnnError(f"{gz.name}: not a readable gzip file ({reason})") from None


def fetch_dataset(dataset: str, cache: Path | None = None, base_url: str | None = None,
                  checksums: Path | None = None, progress: bool = True) -> Path:
    """``dataset`` (gsc, shd or ssc) downloaded, verified and unpacked; returns its folder
    (what ``--data`` takes). Already verified: returned at once."""
    src = source(dataset)
    if base_url is not None:
        check_url(base_url)
    folder = cache_folder(dataset, cache)
    if (folder / MARKER).is_file():
        return folder
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ScnnError(f"{folder}: exists and is not a verified {src.title} download; "
                        "remove it or pass another --cache")
    with into_cache(folder):
        _fetch_into(src, folder, base_url, checksums, progress, dataset)
    return folder


def _check_unpacked(src: Source, staged: Path) -> None:
    """What was unpacked must open as the dataset (an empty or foreign archive that
    happens to match its checksum is refused before it is marked verified)."""
    from scnn.data.datasets import open_dataset

    kind = src.dataset
    if kind not in ("gsc", "shd", "ssc"):
        return
    try:
        ds = open_dataset(staged, kind)
    except ScnnError as err:
        raise ScnnError(f"the {src.title} download does not hold the dataset: "
                        f"{str(err).replace(str(staged), 'the archive')}") from None
    getattr(ds, "close", lambda: None)()


def _fetch_into(src: Source, folder: Path, base_url: str | None, checksums: Path | None,
                progress: bool, dataset: str) -> None:
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{src.folder}-") as tmp:
        tmpdir = Path(tmp)
        want = expected_digests(src, base_url, checksums, tmpdir, progress)
        staged = tmpdir / "data"
        staged.mkdir()
        got = {}
        for r in src.files:
            url = src.url(base_url, r.name)
            if r.name not in want:
                raise ManifestError(f"{url}: no checksum to verify it against")
            path = tmpdir / r.name
            download(url, path, progress, r.name)
            got[r.name] = file_digest(path, want[r.name])
            if got[r.name] != want[r.name]:
                raise ManifestError(f"{url}: checksum {got[r.name]} is not the expected "
                                    f"{want[r.name]} (a corrupt or different file)")
            (_untar if r.unpack == "tar" else _gunzip)(path, staged)
            path.unlink()
        _check_unpacked(src, staged)
        (staged / MARKER).write_text(json.dumps({"dataset": dataset, "files": got,
                                                 "base_url": base_url or src.base_url},
                                                indent=2) + "\n")
        if folder.exists():
            folder.rmdir()
        staged.rename(folder)
