"""Speaker-independent splits: --test-speaker holds a speaker's recordings out as the
test split; the run, the model card and every later command keep to it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from badinput import assert_bad_input, run_scnn

from scnn.data import SplitSpec, open_dataset
from scnn.hw.errors import ScnnError


def test_split_spec_holds_out_whole_speakers(mini_fsdd: Path) -> None:
    ds = open_dataset(mini_fsdd, splits=SplitSpec(test_speakers=("bob",)))
    test, train = ds.split("test"), ds.split("train")
    assert len(test) == 24 and {c.speaker for c in test} == {"bob"}
    assert {c.index for c in test} == set(range(8))  # every recording, not only 0-4
    assert len(train) == 24 and {c.speaker for c in train} == {"alice"}
    spec = SplitSpec(test_speakers=("bob",), val_indices=(6, 8))
    ds = open_dataset(mini_fsdd, splits=spec)
    assert {c.speaker for c in ds.split("val")} == {"alice"} and len(ds.split("val")) == 6
    assert SplitSpec.from_dict(spec.to_dict()).test_speakers == ("bob",)
    assert SplitSpec().to_dict() == {} and SplitSpec.from_dict({}) == SplitSpec()


@pytest.mark.parametrize("record, needle", [
    ({"test_speakers": "bob"}, "list of speaker names"),
    ({"test_speakers": ["b0b"]}, "list of speaker names"),
    ({"speakers": ["bob"]}, "'split' must be"),
    ([], "'split' must be"),
])
def test_recorded_split_is_checked(record: object, needle: str) -> None:
    with pytest.raises(ScnnError, match=needle):
        SplitSpec.from_dict(record, "card.json")


def test_run_on_a_held_out_speaker_keeps_to_it(mini_fsdd: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = run_scnn(["run", "--data", str(mini_fsdd), "--out", str(out), "--epochs", "1",
                    "-T", "3", "--model", "model_b", "--qat-epochs", "0", "--lava-clips", "1",
                    "--test-speaker", "bob"], tmp_path)
    assert res.returncode == 0, res.stderr
    stages = json.loads((out / "run.json").read_text())["stages"]
    assert stages["features"]["n_train"] == 24 and stages["features"]["n_test"] == 24
    assert stages["train"]["test_n"] == 24 and stages["simulate"]["n"] == 24
    assert stages["simulate"]["equals_qat"] and stages["lava"]["prediction_mismatches"] == 0
    assert json.loads((out / "config.json").read_text())["split"] == {"test_speakers": ["bob"]}
    card = json.loads((out / "network.json").read_text())
    assert card["split"] == {"test_speakers": ["bob"]}
    profile = json.loads((out / "profile.json").read_text())
    assert {p["samples"] for p in profile} == {24}
    # eval defaults to the card's split; --test-speaker overrides it
    res = run_scnn(["eval", str(out / "network.net"), "--data", str(mini_fsdd), "--json",
                    str(tmp_path / "e.json")], tmp_path)
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "e.json").read_text())
    assert rep["n"] == 24 and rep["split_spec"] == {"test_speakers": ["bob"]}
    assert rep["accuracy"] == stages["simulate"]["accuracy"]
    res = run_scnn(["eval", str(out), "--data", str(mini_fsdd), "--test-speaker", "alice",
                    "--json", str(tmp_path / "f.json")], tmp_path)
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "f.json").read_text())
    assert rep["n"] == 24 and rep["split_spec"] == {"test_speakers": ["alice"]}
    # a card whose recorded split is malformed is refused, naming the card
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(out / "network.net", bad / "network.net")
    (bad / "network.json").write_text(json.dumps({**card, "split": {"test_speakers": 5}}))
    res = run_scnn(["eval", str(bad / "network.net"), "--data", str(mini_fsdd)], bad)
    assert_bad_input(res, ("network.json", "test_speakers"), bad,
                     keep=("network.net", "network.json"))


@pytest.mark.parametrize("speakers, needles", [
    (["carol"], ("'carol'", "alice, bob")),
    (["alice", "bob"], ("every speaker",)),
    (["b0b"], ("--test-speaker 'b0b'", "letters only")),
    (["bob", "bob"], ("names a speaker twice",)),
])
def test_bad_test_speakers(mini_fsdd: Path, tmp_path: Path, speakers: list[str],
                           needles: tuple[str, ...]) -> None:
    args = [a for s in speakers for a in ("--test-speaker", s)]
    res = run_scnn(["train", "--data", str(mini_fsdd), "--model", "model_b", "--epochs", "1",
                    "--out", str(tmp_path / "run"), *args], tmp_path)
    assert_bad_input(res, needles, tmp_path, keep=("fsdd",))


def test_test_speaker_needs_fsdd_names(tmp_path: Path, mini_fsdd: Path) -> None:
    folder = tmp_path / "folder"
    for p in sorted((mini_fsdd / "recordings").glob("*.wav")):
        (folder / p.name[0]).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, folder / p.name[0] / f"x{p.name}")
    work = tmp_path / "work"
    work.mkdir()
    res = run_scnn(["train", "--data", str(folder), "--model", "model_b", "--epochs", "1",
                    "--out", str(work / "run"), "--test-speaker", "bob"], work)
    assert_bad_input(res, ("test speakers need FSDD file names", str(folder)), work)
    res = run_scnn(["run", "--net", "n.net", "--test-speaker", "bob"], work)
    assert_bad_input(res, ("--test-speaker", "--net"), work)


def test_data_check_shows_the_speaker_split(mini_fsdd: Path, tmp_path: Path) -> None:
    res = run_scnn(["data", "check", "--data", str(mini_fsdd), "--test-speaker", "alice"],
                   tmp_path)
    assert res.returncode == 0, res.stderr
    rows = {tuple(line.split()) for line in res.stdout.splitlines()}
    assert {("test", "24"), ("train", "24")} <= rows
    res = run_scnn(["data", "check", "--data", str(mini_fsdd), "--val-speaker", "bobb"],
                   tmp_path)
    assert_bad_input(res, ("validation speaker 'bobb'", "alice, bob"), tmp_path,
                     keep=("fsdd",))
