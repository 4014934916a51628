"""The teaching sets: built from real Debian audio, deterministic, splits that never share a
recording, manifests that round-trip, and clear messages when a source is missing.

Needs the source packages (``make data-sources``, which ``make test`` runs) and fluidsynth
(``make system-deps``).
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import elasticast_lite as el
from elasticast_lite.datasets import build_instruments, build_voices
from elasticast_lite.datasets import sources as src
from elasticast_lite.datasets.instruments import INSTRUMENTS, midi_file
from elasticast_lite.datasets.voices import VOICES

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    out = tmp_path_factory.mktemp("voices")
    return out, build_voices(out, clips=24, seed=5)


@pytest.fixture(scope="module")
def instruments(tmp_path_factory):
    out = tmp_path_factory.mktemp("instruments")
    return out, build_instruments(out, clips=20, seed=5)


def test_same_seed_same_bytes_other_seed_other_clips(voices, instruments, tmp_path):
    for (out, _), build in ((voices, build_voices), (instruments, build_instruments)):
        build(tmp_path / "again", clips=len(list(out.rglob("*.wav"))), seed=5)
        assert digest(tmp_path / "again") == digest(out)
        build(tmp_path / "other", clips=len(list(out.rglob("*.wav"))), seed=6)
        assert digest(tmp_path / "other") != digest(out)
        shutil.rmtree(tmp_path / "again")
        shutil.rmtree(tmp_path / "other")


def test_no_prompt_recording_is_in_two_splits(voices):
    _, entries = voices
    used = {split: {p for e in items for p in e["prompts"]} for split, items in entries.items()}
    assert all(used.values())
    assert not used["train"] & used["test"]
    assert not used["train"] & used["validation"]
    assert not used["validation"] & used["test"]


@pytest.mark.parametrize("which", ["voices", "instruments"])
def test_manifests_round_trip_to_real_16k_clips(which, voices, instruments):
    out, entries = voices if which == "voices" else instruments
    classes = (out / "class_labels_indices.csv").read_text().splitlines()
    assert classes[0] == "index,mid,display_name"
    names = [line.split(",")[2] for line in classes[1:]]
    assert names == (sorted(VOICES) if which == "voices" else list(INSTRUMENTS))
    for split, items in entries.items():
        assert json.loads((out / f"{split}.json").read_text())["data"] == items
        for e in items:
            assert e["labels"] in names and e.get("background") != e["labels"]
            info = sf.info(str(out / e["wav"]))
            assert (info.samplerate, info.channels) == (16000, 1)
            assert 1.0 <= info.duration <= 30.0
            assert abs(info.duration - e["seconds"]) < 0.01


def test_clips_are_real_audio_not_silence(voices, instruments):
    for out, entries in (voices, instruments):
        for e in entries["train"]:
            x, _ = sf.read(str(out / e["wav"]))
            assert 0.02 < np.sqrt(np.mean(x**2)) and np.abs(x).max() <= 0.9 + 1e-3


def test_fixed_length_variant(tmp_path):
    entries = build_instruments(tmp_path, clips=5, seed=1, fixed_seconds=10)
    for items in entries.values():
        for e in items:
            assert sf.info(str(tmp_path / e["wav"])).frames == 160000


def test_midi_writer_encodes_notes_and_variable_length_times():
    data = midi_file([(0.0, 0.5, 60, 100), (1.0, 0.25, 64, 90)], program=40)
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    track = data[22:]
    assert bytes([0xC0, 40]) in track  # program change
    assert bytes([0x90, 60, 100]) in track and bytes([0x80, 64, 0]) in track
    assert bytes([0x83, 0x60, 0x80, 60, 0]) in track  # 480 ticks later, as a 2-byte quantity


def test_a_missing_package_without_apt_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("ELASTICAST_CACHE", str(tmp_path))
    monkeypatch.setattr(src.shutil, "which", lambda tool: None)
    with pytest.raises(src.SourceError, match="needs the Debian package 'no-such-pkg'.*"
                                              "make data-sources"):
        src.package_file("no-such-pkg", "usr/share/nothing/here.wav")
    with pytest.raises(src.SourceError, match="apt-get install fluidsynth"):
        src.fluidsynth()


def test_an_unknown_package_gives_apt_gets_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("ELASTICAST_CACHE", str(tmp_path))
    with pytest.raises(src.SourceError, match="apt-get download no-such-pkg-elasticast` failed"):
        src.package_file("no-such-pkg-elasticast", "usr/share/nothing/here.wav")


def test_data_samples_cover_every_class_with_long_clips_and_stay_small():
    table = (SAMPLES / "README.md").read_text()
    files = sorted(SAMPLES.glob("*.flac"))
    assert 10 <= len(files) <= 20
    assert sum(f.stat().st_size for f in files) <= 5 * 2**20
    for f in files:
        assert f"| {f.name} |" in table
    seconds = [sf.info(str(f)).duration for f in files]
    assert sum(20 <= s <= 30 for s in seconds) >= 3
    assert any(f.name.startswith("ood_") for f in files)
    for name, classes in (("voices", VOICES), ("instruments", INSTRUMENTS)):
        manifest = json.loads((SAMPLES / f"{name}.json").read_text())["data"]
        assert sorted(e["labels"] for e in manifest) == sorted(classes)
        assert all((SAMPLES / e["wav"]).is_file() for e in manifest)


@pytest.mark.parametrize("name", ["voices", "instruments"])
def test_the_loaders_read_every_demo_clip(name):
    ds = el.AudioDataset(SAMPLES / f"{name}.json", on_error="raise")
    assert ds.classes == sorted(VOICES if name == "voices" else INSTRUMENTS)
    tokens = ds.lengths_in_tokens()
    for i in range(len(ds)):
        spec, target = ds[i]
        assert spec.shape == (tokens[i] // 8 * 16, 128) and torch.isfinite(spec).all()
        assert ds.classes[int(target)] in Path(ds.entries[i]["wav"]).name
