"""Data sets on real audio files written here: sources, classes, crops, resolutions, masks,
targets, batches, and the entries that are refused or skipped."""

import csv
import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

import elasticast_lite as el
from elasticast_lite.data import (
    AudioDataset,
    DataError,
    collate_fixed,
    collate_packed,
    read_class_labels,
    read_entries,
    write_manifest,
)
from elasticast_lite.sampler import TokenBudgetSampler


def write(path, seconds, sr=16000, channels=1, seed=0, tone_hz=None):
    """Noise (or a tone) of ``seconds`` at ``sr``; stereo when ``channels`` is 2."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * sr)
    if tone_hz:
        x = 0.5 * np.sin(2 * math.pi * tone_hz * np.arange(n) / sr)[:, None].repeat(channels, 1)
    else:
        x = 0.1 * np.random.default_rng(seed).standard_normal((n, channels))
    sf.write(path, x.astype(np.float32) if channels > 1 else x[:, 0].astype(np.float32), sr)
    return path


def corrupt(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    return path


def spec_of(path, resolution=1.0, seconds=None):
    """The spectrogram computed by hand from the real loader, for comparison."""
    wav, sr = el.load_audio(path)
    return el.fbank(wav if seconds is None else wav[: int(seconds * sr)], sr, resolution)


@pytest.fixture
def folder(tmp_path):
    """Two classes, four files: 16 and 8 kHz, mono and stereo, wav/flac/ogg, plus a stray."""
    root = tmp_path / "audio"
    write(root / "dog" / "a.wav", 1.0)
    write(root / "dog" / "b.flac", 1.5, sr=8000, channels=2, seed=1)
    write(root / "cat" / "c.wav", 2.0, seed=2)
    write(root / "cat" / "d.ogg", 1.2, sr=8000, seed=3)
    (root / "cat" / "notes.txt").write_text("not audio")
    return root


EXPECTED = [("cat/c.wav", "cat"), ("cat/d.ogg", "cat"), ("dog/a.wav", "dog"),
            ("dog/b.flac", "dog")]


def relative(entries, root):
    return [(Path(e["wav"]).relative_to(root).as_posix(), e["labels"]) for e in entries]


# ---- sources -------------------------------------------------------------------------------

def test_manifest_csv_and_folder_give_the_same_entries_and_classes(folder):
    from_folder = read_entries(folder)
    assert relative(from_folder, folder) == EXPECTED
    rows = [{"wav": wav, "labels": labels} for wav, labels in EXPECTED]
    (folder / "train.json").write_text(json.dumps({"data": rows}))
    with open(folder / "train.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["wav", "labels"])
        writer.writeheader()
        writer.writerows(rows)
    assert read_entries(folder / "train.json") == from_folder
    assert read_entries(folder / "train.csv") == from_folder
    for source in (folder, folder / "train.json", folder / "train.csv"):
        ds = AudioDataset(source)
        assert ds.classes == ["cat", "dog"] and not ds.multi_label
        assert [int(ds[i][1]) for i in range(4)] == [0, 0, 1, 1]


def test_relative_paths_follow_the_manifest_not_the_working_directory(folder, tmp_path,
                                                                      monkeypatch):
    lists = tmp_path / "lists"
    lists.mkdir()
    absolute = str(folder / "dog" / "a.wav")
    manifest = {"data": [{"wav": "../audio/cat/c.wav", "labels": "cat"},
                         {"wav": absolute, "labels": "dog"}]}
    (lists / "train.json").write_text(json.dumps(manifest))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    entries = read_entries(lists / "train.json")
    assert os.path.samefile(entries[0]["wav"], folder / "cat" / "c.wav")
    assert entries[1]["wav"] == absolute
    ds = AudioDataset(os.path.relpath(lists / "train.json"))  # a relative manifest path too
    torch.testing.assert_close(ds[0][0], spec_of(folder / "cat" / "c.wav"))


def test_manifest_round_trip_stores_relative_paths(folder, tmp_path):
    outside = write(tmp_path / "extra" / "e.wav", 1.0, seed=9)
    entries = read_entries(folder) + [{"wav": str(outside), "labels": "cat,dog"}]
    path = write_manifest(entries, folder / "all.json")
    stored = json.loads(path.read_text())["data"]
    assert [row["wav"] for row in stored[:4]] == [wav for wav, _ in EXPECTED]
    assert stored[4]["wav"] == str(outside)  # not under the manifest's folder: kept absolute
    assert read_entries(path) == entries


@pytest.mark.parametrize("name, text, message", [
    ("a.json", "{not json", "not a JSON manifest"),
    ("b.json", '[{"wav": "x.wav"}]', "an AST manifest is"),
    ("c.json", '{"data": [{"wav": "x.wav"}]}', "entry 0 needs a 'wav' path and 'labels'"),
    ("d.csv", "path,label\nx.wav,dog\n", r"no column\(s\) \['labels', 'wav'\]"),
    ("e.txt", "x.wav dog", "give a .json manifest, a .csv file or a folder"),
])
def test_bad_sources_are_refused(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=message):
        read_entries(tmp_path / name)


def test_missing_source_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_entries(tmp_path / "nope.json")
    (tmp_path / "empty" / "dog").mkdir(parents=True)
    with pytest.raises(DataError, match="no audio files"):
        read_entries(tmp_path / "empty")


# ---- classes and targets -------------------------------------------------------------------

def test_class_csv_by_mid_and_by_display_name(tmp_path):
    labels_csv = tmp_path / "class_labels_indices.csv"
    labels_csv.write_text('index,mid,display_name\n1,/m/cat,Cat\n0,/m/dog,Dog\n'
                          '2,/m/09x0r,"Male speech, man speaking"\n')
    assert read_class_labels(labels_csv) == ["Dog", "Cat", "Male speech, man speaking"]
    a, c = write(tmp_path / "a.wav", 1.0), write(tmp_path / "c.wav", 1.0, seed=1)
    by_mid = AudioDataset([{"wav": a, "labels": "/m/dog"}, {"wav": c, "labels": "/m/cat,/m/09x0r"}],
                          labels_csv=labels_csv)
    by_name = AudioDataset([{"wav": a, "labels": "Dog"},
                            {"wav": c, "labels": "Cat,Male speech, man speaking"}],
                           labels_csv=labels_csv)
    for ds in (by_mid, by_name):
        assert ds.classes == ["Dog", "Cat", "Male speech, man speaking"] and ds.multi_label
        assert ds[0][1].tolist() == [1.0, 0.0, 0.0]
        assert ds[1][1].tolist() == [0.0, 1.0, 1.0]  # the name with a comma is one class


def test_bad_class_csv(tmp_path):
    (tmp_path / "a.csv").write_text("index,name\n0,Dog\n")
    with pytest.raises(DataError, match=r"no column\(s\) \['display_name', 'mid'\]"):
        read_class_labels(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("index,mid,display_name\n0,/m/a,A\n2,/m/b,B\n")
    with pytest.raises(DataError, match=r"indices must be 0..1"):
        read_class_labels(tmp_path / "b.csv")


def test_multi_label_targets_are_multi_hot_and_single_labels_are_indices(folder):
    a, c = str(folder / "dog" / "a.wav"), str(folder / "cat" / "c.wav")
    multi = AudioDataset([{"wav": a, "labels": "dog"}, {"wav": c, "labels": "cat, dog"},
                          {"wav": c, "labels": "bird"}])
    assert multi.multi_label and multi.classes == ["bird", "cat", "dog"]
    targets = [multi[i][1] for i in range(3)]
    assert all(t.dtype == torch.float32 and t.shape == (3,) for t in targets)
    assert [t.tolist() for t in targets] == [[0, 0, 1], [0, 1, 1], [1, 0, 0]]
    single = AudioDataset([{"wav": a, "labels": "dog"}, {"wav": c, "labels": "cat"}],
                          classes=["dog", "cat"])
    assert not single.multi_label
    assert [single[i][1] for i in range(2)] == [torch.tensor(0), torch.tensor(1)]
    assert single[0][1].dtype == torch.long and single[0][1].shape == ()
    _, stacked = collate_packed([multi[0], multi[1]])
    assert stacked.shape == (2, 3)


def test_missing_file_is_refused_at_construction_naming_the_entry(folder):
    entries = read_entries(folder)
    entries[2]["wav"] = str(folder / "dog" / "gone.wav")
    with pytest.raises(DataError, match=r"entry 2 \(.*gone\.wav\): audio file not found"):
        AudioDataset(entries)


def test_unknown_label_is_refused_at_construction_naming_the_entry(folder, tmp_path):
    entries = read_entries(folder)
    entries[3]["labels"] = "dgo"
    with pytest.raises(DataError, match=r"entry 3 \(.*b\.flac\): label 'dgo' is not one of the "
                                        r"2 classes; did you mean 'dog'"):
        AudioDataset(entries, classes=["cat", "dog"])
    labels_csv = tmp_path / "classes.csv"
    labels_csv.write_text("index,mid,display_name\n0,/m/cat,cat\n1,/m/dog,dog\n")
    entries[3]["labels"] = "/m/cow"
    with pytest.raises(DataError, match=r"entry 3 .*'/m/cow'"):
        AudioDataset(entries, labels_csv=labels_csv)


@pytest.mark.parametrize("kw, message", [
    (dict(resolution=0), "resolution"), (dict(resolution="fast"), "resolution"),
    (dict(fixed_frames=0), "fixed_frames"), (dict(max_seconds=0), "max_seconds"),
    (dict(on_error="ignore"), "on_error"), (dict(seed=-1), "seed"),
    (dict(classes=["cat", "dog"], labels_csv="x.csv"), "not both"),
])
def test_bad_settings(folder, kw, message):
    with pytest.raises(ValueError, match=message):
        AudioDataset(folder, **kw)


# ---- lengths, resolutions, masks -----------------------------------------------------------

def test_long_clip_is_cropped_to_its_first_30_seconds_and_short_clip_untouched(tmp_path):
    long = tmp_path / "long.wav"
    x = np.concatenate([0.1 * np.random.default_rng(0).standard_normal(30 * 16000),
                        0.5 * np.sin(np.arange(10 * 16000) * 0.3)]).astype(np.float32)
    sf.write(long, x, 16000)
    short = write(tmp_path / "short.wav", 20.0)
    ds = AudioDataset([{"wav": long, "labels": "a"}, {"wav": short, "labels": "a"}])
    cropped = ds[0][0]
    assert cropped.shape == (2992, 128)  # 1 + (480000 - 400) // 160 = 2998 -> whole patches
    torch.testing.assert_close(cropped, spec_of(long, seconds=30))  # the start is kept
    torch.testing.assert_close(ds[1][0], spec_of(short))  # 20 s: as is, and no masks
    ten = AudioDataset([{"wav": long, "labels": "a"}], max_seconds=10)
    assert ten[0][0].shape[0] == 992


def test_mixed_resolution_is_drawn_per_item_reproducibly_and_per_epoch(tmp_path):
    path = write(tmp_path / "a.wav", 4.0)
    entries = [{"wav": path, "labels": "a"}] * 12
    ds = AudioDataset(entries, resolution="mixed", seed=3)
    draws = [ds.resolution_for(i) for i in range(12)]
    assert set(draws) <= set(el.RESOLUTIONS) and len(set(draws)) > 3
    frames = [ds[i][0].shape[0] for i in range(12)]
    assert len(set(frames)) > 1
    assert frames == [spec_of(path, r).shape[0] for r in draws]
    again = AudioDataset(entries, resolution="mixed", seed=3)
    assert [again[i][0].shape[0] for i in range(12)] == frames
    ds.set_epoch(1)
    assert [ds.resolution_for(i) for i in range(12)] != draws
    ds.set_epoch(0)
    assert [ds.resolution_for(i) for i in range(12)] == draws
    assert AudioDataset(entries, resolution=2.0)[0][0].shape == spec_of(path, 2.0).shape


def test_fixed_frames_trims_and_pads(tmp_path):
    short, long = write(tmp_path / "s.wav", 1.0), write(tmp_path / "l.wav", 40.0, sr=8000)
    ds = AudioDataset([{"wav": short, "labels": "a"}, {"wav": long, "labels": "b"}],
                      fixed_frames=1024)
    (s, _), (lg, _) = ds[0], ds[1]
    assert s.shape == lg.shape == (1024, 128)
    torch.testing.assert_close(s[:96], spec_of(short))  # 1 s is 96 frames, then zeros
    assert s[96:].abs().sum() == 0
    torch.testing.assert_close(lg, spec_of(long, seconds=30)[:1024])
    specs, targets = collate_fixed([ds[0], ds[1]])
    assert specs.shape == (2, 1024, 128) and targets.tolist() == [0, 1]


def masked(spec):
    """(time frames, frequency bins) that are zero everywhere: the masks."""
    zero = spec == 0
    return int(zero.all(1).sum()), int(zero.all(0).sum())


def test_spec_augment_masks_are_reproducible_and_scale_with_length(tmp_path):
    short, long = write(tmp_path / "s.wav", 5.0), write(tmp_path / "l.wav", 25.0, seed=1)
    entries = [{"wav": short, "labels": "a"}, {"wav": long, "labels": "a"}]
    plain = AudioDataset(entries)
    aug = AudioDataset(entries, spec_augment=True, seed=7)
    a, p = aug[0][0], plain[0][0]
    assert not torch.equal(a, p) and masked(p) == (0, 0)
    assert torch.all((a == p) | (a == 0))  # masks only set the normalised mean, 0
    time_frames, bins = masked(a)
    assert 1 <= time_frames <= 48 and 1 <= bins <= 48
    assert torch.equal(AudioDataset(entries, spec_augment=True, seed=7)[0][0], a)
    aug.set_epoch(1)
    assert not torch.equal(aug[0][0], a)
    short_frames = long_frames = 0
    for epoch in range(5):
        aug.set_epoch(epoch)
        short_frames += masked(aug[0][0])[0]
        long_frames += masked(aug[1][0])[0]
    assert long_frames > 2 * short_frames  # 4 time masks on 2496 frames, 1 on 496


def test_lengths_in_tokens_match_the_spectrograms_without_decoding(tmp_path, monkeypatch):
    files = [write(tmp_path / "a.wav", 1.0), write(tmp_path / "b.flac", 3.3, sr=8000),
             write(tmp_path / "c.wav", 40.0, sr=8000, channels=2), write(tmp_path / "d.ogg", 2.5),
             write(tmp_path / "e.wav", 0.3)]  # too short for one patch at r >= 1.6
    files.append(tmp_path / "f.wav")  # resampled to 15599.6 samples: rounded up, 96 frames
    sf.write(files[-1], np.random.default_rng(5).standard_normal(21498) * 0.1, 22050)
    entries = [{"wav": f, "labels": "a"} for f in files]
    for kw in (dict(), dict(resolution=1.4), dict(resolution=2.6), dict(resolution="mixed"),
               dict(fixed_frames=512), dict(max_seconds=2.0)):
        ds = AudioDataset(entries, **kw)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            items = [ds[i] for i in range(len(ds))]
        expected = [0 if item is None else item[0].shape[0] // 16 * 8 for item in items]
        assert len(caught) == expected.count(0) and ds.lengths_in_tokens() == expected, kw
    assert AudioDataset(entries, resolution=2.6).lengths_in_tokens()[4] == 0  # e was skipped
    full = AudioDataset(entries)
    waves = [el.load_audio(f)[0][: 30 * 16000] for f in files if f.name != "e.wav"]
    for r in el.RESOLUTIONS:  # the header arithmetic is fbank's, at every resolution
        lengths = full.lengths_in_tokens(resolution=r)
        assert lengths[:4] + lengths[5:] == [
            el.fbank(w, 16000, r).shape[0] // 16 * 8 for w in waves], r
    assert full.durations() == pytest.approx([1.0, 3.3, 30.0, 2.5, 0.3, 0.975], abs=1e-3)

    def no_decoding(*args, **kwargs):
        raise AssertionError("lengths must come from the headers")

    monkeypatch.setattr("elasticast_lite.data.load_audio", no_decoding)
    assert AudioDataset(entries).lengths_in_tokens()[:3] == [48, 160, 2992 // 16 * 8]


def test_token_budget_sampler_from_lengths_feeds_packing(folder):
    ds = AudioDataset(folder, resolution="mixed")
    sampler = TokenBudgetSampler(ds.lengths_in_tokens(), tokens_per_step=512, row_tokens=256)
    seen = []
    for specs, targets in DataLoader(ds, batch_sampler=sampler, collate_fn=collate_packed):
        batch = el.pack(specs, max_tokens=256)
        assert batch.lengths.sum() == sum(s.shape[0] // 16 * 8 for s in specs)
        seen += targets.tolist()
    assert sorted(seen) == [0, 0, 1, 1]


# ---- failures at load time and collation ---------------------------------------------------

def test_corrupt_file_is_skipped_and_the_rest_of_the_batch_kept(folder):
    entries = read_entries(folder)
    entries[2] = {"wav": str(corrupt(folder / "dog" / "bad.wav")), "labels": "dog"}
    ds = AudioDataset(entries)
    with pytest.warns(UserWarning, match=r"skipping entry 2 \(.*bad\.wav\): cannot decode"):
        specs, targets = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate_packed)))
    assert len(specs) == 3 and targets.tolist() == [0, 0, 1]  # entries 0, 1 and 3
    torch.testing.assert_close(specs[2], spec_of(folder / "dog" / "b.flac"))
    assert [(i, Path(p).name) for i, p, _ in ds.errors] == [(2, "bad.wav")]
    with pytest.warns(UserWarning, match="entry 2"):
        assert ds.lengths_in_tokens()[2] == 0  # no header either: skipped, 0 tokens

    strict = AudioDataset(entries, on_error="raise")
    with pytest.raises(DataError, match=r"entry 2 \(.*bad\.wav\): cannot decode"):
        next(iter(DataLoader(strict, batch_size=4, collate_fn=collate_packed)))


def test_collate_functions_drop_none_and_check_shapes():
    a, b = (torch.zeros(32, 128), torch.tensor(0)), (torch.ones(48, 128), torch.tensor(1))
    specs, targets = collate_packed([a, None, b])
    assert [s.shape[0] for s in specs] == [32, 48] and targets.tolist() == [0, 1]
    assert collate_packed([None, None]) is None and collate_fixed([None]) is None
    with pytest.raises(ValueError, match=r"one shape, got \[\(32, 128\), \(48, 128\)\]"):
        collate_fixed([a, b])
    stacked, targets = collate_fixed([None, a, a])
    assert stacked.shape == (2, 32, 128) and targets.tolist() == [0, 0]
