"""Datasets: parsing, splits, generic folders, bad files, resampling, manifest."""

from __future__ import annotations

import logging
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import tone, write_wav

from scnn.data import FSDD, AudioError, LabelledFolder, SplitSpec, load_audio, open_dataset
from scnn.data.fetch import (
    ManifestError,
    _extract_recordings,
    fetch_fsdd,
    load_manifest,
    raise_on_mismatch,
    sha256_file,
    verify_folder,
)


def test_fsdd_official_split_on_generated(mini_fsdd: Path) -> None:
    ds = FSDD(mini_fsdd)
    assert len(ds.clips) == 48
    assert {c.index for c in ds.split("test")} == set(range(5))
    assert {c.index for c in ds.split("train")} == {5, 6, 7}
    assert ds.split("val") == []


def test_validation_is_carved_from_train_never_test(mini_fsdd: Path) -> None:
    ds = FSDD(mini_fsdd, SplitSpec(val_indices=(0, 7), val_speakers=("bob",)))
    test, val, train = (set(c.path for c in ds.split(s)) for s in ("test", "val", "train"))
    assert {c.index for c in ds.split("test")} == set(range(5))
    assert not (test & val) and not (test & train) and not (val & train)
    assert all(c.index == 7 and c.speaker == "alice" for c in ds.split("train"))
    assert len(val) == 3 * 2 * 2 + 3  # 3 digits: index 5-6 of both speakers, index 7 of bob


def test_fsdd_real_split_has_no_test_index_in_train(fsdd_dir: Path) -> None:
    ds = FSDD(fsdd_dir, SplitSpec(val_speakers=("theo",)))
    assert len(ds.split("test")) == 300
    assert len(ds.split("train")) + len(ds.split("val")) == 2700
    assert all(c.index >= 5 for c in ds.split("train") + ds.split("val"))
    assert all(c.index < 5 for c in ds.split("test"))
    counts = ds.counts()
    assert set(counts["class"].values()) == {300}


def test_load_is_mono_8k_float32(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", tone(0.3))
    wave, rate = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1 and wave.size == 2400 and rate == 8000


def test_stereo_is_mixed_down(tmp_path: Path) -> None:
    left, right = tone(0.2, freq=300), tone(0.2, freq=700, seed=1)
    path = tmp_path / "st.wav"
    sf.write(path, np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    wave, _ = load_audio(path)
    np.testing.assert_allclose(wave, (left + right) / 2, atol=1e-6)


def test_other_rate_is_resampled_and_logged_once(tmp_path: Path, caplog) -> None:
    root = tmp_path / "set"
    for i in range(3):
        write_wav(root / "yes" / f"s_{i}.wav", tone(0.5, rate=16000, seed=i), rate=16000)
    ds = LabelledFolder(root)
    with caplog.at_level(logging.WARNING):
        waves = [ds.load(c) for c in ds.clips]
    assert all(abs(w.size - 4000) <= 1 for w in waves)
    assert sum("resampling 16000 Hz" in r.message for r in caplog.records) == 1


@pytest.mark.parametrize("kind", ["empty", "text", "truncated", "missing"])
def test_bad_files_raise_one_line_error_naming_the_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.wav"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not audio\n" * 20)
    elif kind == "truncated":
        write_wav(path, tone(0.5))
        path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_header_only_wav_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
    with pytest.raises(AudioError, match="no samples"):
        load_audio(path)


def test_skip_bad_counts_instead_of_raising(mini_fsdd: Path) -> None:
    bad = mini_fsdd / "recordings" / "1_alice_6.wav"
    bad.write_bytes(b"garbage")
    ds = FSDD(mini_fsdd)
    with pytest.raises(AudioError, match="1_alice_6.wav"):
        ds.load_many(ds.clips)
    waves, report = ds.load_many(ds.clips, skip_bad=True)
    assert len(waves) == 47 and len(report.skipped) == 1
    assert bad not in {c.path for c in report.clips}


def test_labelled_folder_with_splits_csv(tmp_path: Path) -> None:
    root = tmp_path / "kws"
    for label in ("no", "yes"):
        for i in range(4):
            write_wav(root / label / f"spk{i}_{i}.wav", tone(0.2, seed=i))
    (root / "splits.csv").write_text("yes/spk0_0.wav,test\nno/spk1_1.wav,val\n")
    ds = open_dataset(root)
    assert isinstance(ds, LabelledFolder) and ds.classes == ["no", "yes"]
    assert [c.path.name for c in ds.split("val")] == ["spk1_1.wav"]
    assert "yes/spk0_0.wav" in {f"{ds.classes[c.label]}/{c.path.name}" for c in ds.split("test")}


def test_manifest_covers_fsdd_and_catches_modification(tmp_path: Path, fsdd_dir: Path) -> None:
    manifest = load_manifest()
    assert len(manifest) == 3000
    rec = tmp_path / "recordings"
    rec.mkdir()
    names = sorted(manifest)[:5]
    sub = {n: manifest[n] for n in names}
    for n in names:
        (rec / n).write_bytes((fsdd_dir / "recordings" / n).read_bytes())
    assert verify_folder(rec, sub) == {"missing": [], "extra": [], "modified": []}
    data = bytearray((rec / names[2]).read_bytes())
    data[100] ^= 1
    (rec / names[2]).write_bytes(bytes(data))
    report = verify_folder(rec, sub)
    assert report["modified"] == [names[2]]
    with pytest.raises(ManifestError, match=names[2]):
        raise_on_mismatch(rec, report)


def _tarball(tmp_path: Path, files: dict[str, bytes]) -> Path:
    import io
    import tarfile

    path = tmp_path / "fsdd.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"free-spoken-digit-dataset-1.0.10/recordings/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_download_verifies_every_file(tmp_path: Path, fsdd_dir: Path, monkeypatch) -> None:
    manifest = load_manifest()
    good = {n: (fsdd_dir / "recordings" / n).read_bytes() for n in manifest}
    tar = _tarball(tmp_path, good)
    folder = fetch_fsdd(tmp_path / "cache", url=tar.as_uri(), progress=False)
    assert len(list(folder.glob("*.wav"))) == 3000
    assert sha256_file(folder / "3_theo_7.wav") == manifest["3_theo_7.wav"]
    # a tampered archive is refused and leaves no cache behind
    good["3_theo_7.wav"] = good["3_theo_7.wav"][:-2] + b"\x00\x01"
    bad = _tarball(tmp_path / "b", good) if (tmp_path / "b").mkdir() is None else None
    with pytest.raises(ManifestError, match="3_theo_7.wav"):
        fetch_fsdd(tmp_path / "cache2", url=bad.as_uri(), progress=False)
    assert not (tmp_path / "cache2" / "recordings").exists()


def test_extract_ignores_paths_outside_recordings(tmp_path: Path) -> None:
    tar = _tarball(tmp_path, {"0_a_0.wav": b"x", "../../evil.wav": b"y"})
    out = tmp_path / "out"
    out.mkdir()
    _extract_recordings(tar, out)
    assert sorted(p.name for p in out.iterdir()) == ["0_a_0.wav"]
    assert not (tmp_path / "evil.wav").exists()
