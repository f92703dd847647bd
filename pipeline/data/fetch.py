"""Where the dataset comes from: a local folder, ``SCNN_DATA``, or a verified download.

Real users get FSDD v1.0.10 from its upstream repository (one tarball), unpacked
into a cache directory and verified file by file against the SHA-256 manifest
shipped in this package (``fsdd-v1.0.10.sha256``). Tests and CI point
``--data``/``SCNN_DATA`` at a local copy instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
from importlib import resources
from pathlib import Path

from scnn.hw.errors import ScnnError

FSDD_TAG = "v1.0.10"
FSDD_URL = (
    "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/"
    f"{FSDD_TAG}.tar.gz"
)
MANIFEST = f"fsdd-{FSDD_TAG}.sha256"
ENV_DATA = "SCNN_DATA"
ENV_CACHE = "SCNN_CACHE"


class ManifestError(ScnnError):
    """Files that do not match the shipped manifest."""


def load_manifest() -> dict[str, str]:
    """The shipped manifest as {file name: sha256 hex}."""
    text = resources.files("scnn.data").joinpath(MANIFEST).read_text()
    pairs = (line.split() for line in text.splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_folder(folder: Path, manifest: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Compare ``folder``'s files with the manifest.

    Returns {"missing": [...], "modified": [...], "extra": [...]} (file names).
    """
    manifest = manifest if manifest is not None else load_manifest()
    present = {p.name for p in folder.iterdir() if p.is_file() and p.suffix == ".wav"}
    report: dict[str, list[str]] = {
        "missing": sorted(set(manifest) - present),
        "extra": sorted(present - set(manifest)),
        "modified": [],
    }
    for name in sorted(present & set(manifest)):
        if sha256_file(folder / name) != manifest[name]:
            report["modified"].append(name)
    return report


def raise_on_mismatch(folder: Path, report: dict[str, list[str]]) -> None:
    """ManifestError summarising missing/modified files (extra files are allowed)."""
    bad = [(k, report[k]) for k in ("missing", "modified") if report[k]]
    if bad:
        parts = [f"{len(v)} {k} (first: {v[0]})" for k, v in bad]
        raise ManifestError(f"{folder}: FSDD {FSDD_TAG} manifest check failed: " + ", ".join(parts))


def default_cache() -> Path:
    base = os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "scnn-pipeline"
    return Path(base) / f"fsdd-{FSDD_TAG}"


def download(url: str, dest: Path, progress: bool, label: str) -> None:
    """``url`` -> ``dest`` with a progress bar; any network, protocol or file error is one
    line naming the URL."""
    import http.client

    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=60) as resp, dest.open("wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=label,
                      disable=None if progress else True) as bar:
                for block in iter(lambda: resp.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
    except (OSError, ValueError, http.client.HTTPException) as err:
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise ScnnError(f"cannot download {url}: {reason}") from None


def check_url(url: str) -> str:
    """``--url``: an http(s) or file URL."""
    if not url or urllib.parse.urlsplit(url).scheme not in ("http", "https", "file"):
        raise ScnnError(f"--url {url!r}: expected an http://, https:// or file:// URL")
    return url


def make_parent(folder: Path) -> list[Path]:
    """Create ``folder``'s missing parents; returns those created (deepest last), for
    :func:`remove_made` to undo. A parent that cannot be made is a one-line error."""
    made = [p for p in reversed(folder.parents) if not p.exists()]
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ScnnError(f"--cache {folder}: cannot create {folder.parent} "
                        f"({err.strerror or err})") from None
    return made


def remove_made(made: list[Path]) -> None:
    """Remove the folders :func:`make_parent` created, if they are still empty."""
    for p in reversed(made):
        try:
            p.rmdir()
        except OSError:
            return


@contextlib.contextmanager
def into_cache(folder: Path):
    """Around a download into ``folder``: its missing parents are made, and removed again
    if the download fails; a file-system error is one line naming the cache."""
    made = make_parent(folder)
    try:
        yield
    except OSError as err:
        remove_made(made)
        raise ScnnError(f"--cache {folder}: {err.strerror or err}") from None
    except BaseException:
        remove_made(made)
        raise


def _extract_recordings(tarball: Path, dest: Path) -> None:
    """Copy ``*/recordings/*.wav`` members of the tarball into ``dest`` (flat, safe names)."""
    try:
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if not (member.isfile() and len(parts) >= 2 and parts[-2] == "recordings"
                        and parts[-1].endswith(".wav")):
                    continue
                src = tar.extractfile(member)
                if src is None:
                    continue
                with src, (dest / Path(parts[-1]).name).open("wb") as out:
                    shutil.copyfileobj(src, out)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ScnnError(f"{tarball}: not a readable FSDD archive ({err})") from None


def fetch_fsdd(cache: Path | None = None, url: str = FSDD_URL, progress: bool = True) -> Path:
    """FSDD recordings in ``cache`` (downloaded and verified if not there yet).

    Returns the folder holding the 3,000 WAV files. A download that does not match
    the manifest raises :class:`ManifestError` and leaves no partial cache.
    """
    check_url(url)
    folder = (cache or default_cache()) / "recordings"
    manifest = load_manifest()
    if folder.is_dir():
        report = verify_folder(folder, manifest)
        if not (report["missing"] or report["modified"]):
            return folder
    with into_cache(folder), tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        tmpdir = Path(tmp)
        tarball = tmpdir / "fsdd.tar.gz"
        download(url, tarball, progress, "FSDD download")
        staged = tmpdir / "recordings"
        staged.mkdir()
        _extract_recordings(tarball, staged)
        raise_on_mismatch(Path(url), verify_folder(staged, manifest))
        if folder.exists():
            shutil.rmtree(folder)
        staged.rename(folder)
    return folder


def resolve_data(data: str | Path | None, download: bool = True, dataset: str = "auto") -> Path:
    """The dataset folder: ``data`` if given, else ``$SCNN_DATA``, else the download cache
    of ``dataset`` (FSDD for auto, fsdd and folder; :mod:`scnn.data.sources` for gsc,
    gsc12, shd and ssc)."""
    chosen = data or os.environ.get(ENV_DATA)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.exists():
            raise ScnnError(f"{path}: dataset folder does not exist")
        return path
    if not download:
        raise ScnnError(f"no dataset given: pass --data DIR or set {ENV_DATA}")
    if dataset in ("gsc", "gsc12", "shd", "ssc"):
        from scnn.data.sources import fetch_dataset

        return fetch_dataset(dataset.removesuffix("12"))
    return fetch_fsdd()
