"""Data sets for training and evaluation: audio files and labels in, (spectrogram, target) out.

Paper, Sec. 3: ElasticAST trains on AST-style manifests (AudioSet, VGGSound, ...) keeping each
clip's own length up to a 30 s cap, and with mixed temporal resolution (Sec. 3.4): every clip
is seen at a resolution r drawn from 1.0, 1.2, ..., 4.0. The AST baseline instead trims or
pads every clip to one number of frames. Both are one ``AudioDataset`` away:

- ``read_entries``: ``{"wav": path, "labels": "a,b"}`` entries from an AST JSON manifest, a
  CSV file with columns ``wav,labels``, or a folder with one subfolder per class;
- ``read_class_labels``: AST's ``class_labels_indices.csv`` (labels given by mid or name);
- ``AudioDataset``: entry i -> ``(spectrogram [frames, 128], target)``, the target a class
  index, or a multi-hot vector when any entry has several labels. Random choices (mixed
  resolution, SpecAugment masks) come from a generator seeded by (seed, epoch, index), so a
  run can be repeated exactly;
- ``collate_packed`` keeps spectrograms a list (ElasticAST packs them); ``collate_fixed``
  stacks them (the AST baseline, built with ``fixed_frames``).

A missing file or an unknown label is refused when the data set is built, as a ``DataError``
(a ``ValueError``) naming the entry. A file that cannot be decoded shows up only when it is
read: by default it is skipped with a warning and listed in ``dataset.errors``; the collate
functions drop it and the rest of the batch is kept.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from .audio import MAX_SECONDS, load_audio
from .features import NUM_MEL_BINS, PATCH_SIZE, RESOLUTIONS, fbank, num_frames
from .model import trim_or_pad

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
FRAMES_PER_TIME_MASK, TIME_MASK_FRAMES = 500, 48  # one time mask of <= 48 frames per 500
FREQ_MASKS, FREQ_MASK_BINS = 2, 24


class DataError(ValueError):
    """A data source, entry or file the data set cannot use."""


def _entry(i: int, record, base: Path | None, where: str) -> dict:
    if not isinstance(record, dict) or not record.get("wav") or record.get("labels") is None:
        raise DataError(f"{where}: entry {i} needs a 'wav' path and 'labels', got {record!r}")
    path, labels = Path(record["wav"]), record["labels"]
    if base is not None and not path.is_absolute():
        path = base / path  # relative to the manifest's folder, not the working directory
    if isinstance(labels, (list, tuple)):
        labels = ",".join(map(str, labels))
    return {"wav": os.path.normpath(path), "labels": str(labels).strip()}


def _read_folder(root: Path) -> list[dict]:
    entries = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] != "."):
        files = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES
                       and p.is_file())
        entries += [{"wav": os.path.normpath(p), "labels": class_dir.name} for p in files]
    if not entries:
        raise DataError(f"{root}: no audio files ({' '.join(AUDIO_SUFFIXES)}) in class subfolders")
    return entries


def read_entries(source) -> list[dict]:
    """Entries ``{"wav": path, "labels": "a,b"}`` from a JSON manifest, a CSV file, a folder
    of class subfolders (sorted), or a list of such dicts. Relative paths are resolved
    against the manifest's folder."""
    if isinstance(source, (list, tuple)):
        return [_entry(i, record, None, "entries") for i, record in enumerate(source)]
    source = Path(source)
    if source.is_dir():
        return _read_folder(source)
    if not source.is_file():
        raise DataError(f"data source not found: {source}")
    if source.suffix.lower() == ".json":
        try:
            manifest = json.loads(source.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"{source} is not a JSON manifest: {e}") from e
        if not isinstance(manifest, dict) or not isinstance(manifest.get("data"), list):
            raise DataError(f'{source}: an AST manifest is {{"data": [{{"wav": ..., '
                            '"labels": ...}, ...]}')
        records = manifest["data"]
    elif source.suffix.lower() == ".csv":
        with open(source, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"wav", "labels"} - set(reader.fieldnames or ())
            if missing:
                raise DataError(f"{source}: no column(s) {sorted(missing)}; header: wav,labels")
            records = list(reader)
    else:
        raise DataError(f"{source}: give a .json manifest, a .csv file or a folder of classes")
    return [_entry(i, record, source.parent, source.name) for i, record in enumerate(records)]


def write_manifest(entries, path) -> Path:
    """Write entries as an AST JSON manifest; files under its folder are stored relative."""
    path = Path(path)
    base = Path(os.path.abspath(path.parent))
    data = []
    for e in read_entries(entries):
        wav = Path(os.path.abspath(e["wav"]))
        data.append({"wav": str(wav.relative_to(base) if wav.is_relative_to(base) else wav),
                     "labels": e["labels"]})
    path.write_text(json.dumps({"data": data}, indent=1))
    return path


def _read_class_rows(csv_path) -> list[tuple[str, str]]:
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataError(f"class label file not found: {csv_path}")
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"index", "mid", "display_name"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{csv_path}: no column(s) {sorted(missing)}; "
                            "header: index,mid,display_name")
        rows = list(reader)
    try:
        rows.sort(key=lambda row: int(row["index"]))
    except (TypeError, ValueError) as e:
        raise DataError(f"{csv_path}: every 'index' must be a whole number ({e})") from e
    if [int(row["index"]) for row in rows] != list(range(len(rows))):
        raise DataError(f"{csv_path}: indices must be 0..{len(rows) - 1}, each once")
    return [(row["mid"].strip(), row["display_name"].strip()) for row in rows]


def read_class_labels(csv_path) -> list[str]:
    """Class names (``display_name``) of AST's ``class_labels_indices.csv``, in index order."""
    return [name for _, name in _read_class_rows(csv_path)]


def _split_labels(text: str, known=None) -> list[str]:
    """Comma-separated labels. A known name that itself holds commas (AudioSet's "Male speech,
    man speaking") stays whole: the longest run of pieces that is a known name wins."""
    pieces, labels, i = text.split(","), [], 0
    while i < len(pieces):
        j = next((j for j in range(len(pieces), i + 1, -1)
                  if known and ",".join(pieces[i:j]).strip() in known), i + 1)
        labels.append(",".join(pieces[i:j]).strip())
        i = j
    return [label for label in labels if label]


class AudioDataset(Dataset):
    """Entries -> ``(spectrogram [frames, 128] float, target)``; see the module docstring.

    Classes come from ``classes`` (a list), ``labels_csv`` (AST's class file; entries may
    name a class by mid or display name) or else the sorted labels of the entries. Audio is
    loaded at ``sample_rate`` and cropped to its first ``max_seconds``. ``resolution``: a
    number, or ``"mixed"`` to draw one of ``RESOLUTIONS`` per item and epoch (``set_epoch``;
    with ``persistent_workers`` the DataLoader's workers keep the epoch they started with).
    ``fixed_frames``: trim or pad to that many frames (the AST baseline). ``spec_augment``:
    time and frequency masks. ``on_error``: "skip" (warn, record in ``errors``, return None)
    or "raise" a ``DataError`` when a file cannot be decoded. (With DataLoader workers the
    records land in the workers' copies; the warnings still show.)
    """

    def __init__(self, source, classes=None, labels_csv=None, sample_rate: int = 16_000,
                 max_seconds: float = 30.0, resolution: float | str = 1.0,
                 fixed_frames: int | None = None, spec_augment: bool = False, seed: int = 0,
                 on_error: str = "skip"):
        if resolution != "mixed" and not (isinstance(resolution, (int, float)) and resolution > 0):
            raise ValueError(f"resolution must be a positive number or 'mixed', got {resolution!r}")
        if fixed_frames is not None and (int(fixed_frames) != fixed_frames or fixed_frames < 1):
            raise ValueError(f"fixed_frames must be a positive whole number, got {fixed_frames}")
        if not max_seconds > 0:
            raise ValueError(f"max_seconds must be positive, got {max_seconds}")
        if on_error not in ("skip", "raise"):
            raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
        if int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, got {seed}")
        if classes is not None and labels_csv is not None:
            raise ValueError("give classes or labels_csv, not both")
        self.sample_rate, self.max_seconds, self.resolution = sample_rate, max_seconds, resolution
        self.fixed_frames, self.spec_augment, self.on_error = fixed_frames, spec_augment, on_error
        self.seed, self.epoch = int(seed), 0
        self.errors: list[tuple[int, str, str]] = []  # (index, path, what went wrong)
        self._headers: list[tuple[int, int]] | None = None
        self.entries = read_entries(source)
        if not self.entries:
            raise DataError(f"{source}: no entries")
        if labels_csv is not None:
            rows = _read_class_rows(labels_csv)
            self.classes = [name for _, name in rows]
            lookup = {mid: i for i, (mid, _) in enumerate(rows)}
        else:
            if classes is None:
                classes = sorted({lab for e in self.entries for lab in _split_labels(e["labels"])})
            self.classes, lookup = list(classes), {}
            if len(set(self.classes)) != len(self.classes):
                raise DataError("classes holds the same name twice")
        lookup.update({name: i for i, name in enumerate(self.classes)})
        self._label_ids = [self._check(i, e, lookup) for i, e in enumerate(self.entries)]
        self.multi_label = any(len(ids) > 1 for ids in self._label_ids)

    def _check(self, i: int, entry: dict, lookup: dict) -> list[int]:
        where = f"entry {i} ({entry['wav']})"
        if not Path(entry["wav"]).is_file():
            raise DataError(f"{where}: audio file not found")
        labels = _split_labels(entry["labels"], lookup)
        if not labels:
            raise DataError(f"{where} has no labels")
        for label in labels:
            if label not in lookup:
                near = difflib.get_close_matches(label, list(lookup), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise DataError(f"{where}: label {label!r} is not one of the "
                                f"{len(self.classes)} classes{hint}")
        return sorted({lookup[label] for label in labels})

    def __len__(self) -> int:
        return len(self.entries)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose draws (mixed resolution, masks) the items use."""
        self.epoch = int(epoch)

    def _rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index, stream])

    def resolution_for(self, index: int) -> float:
        """The temporal resolution item ``index`` is computed at in the current epoch."""
        if self.resolution != "mixed":
            return float(self.resolution)
        return RESOLUTIONS[int(self._rng(index, 0).integers(len(RESOLUTIONS)))]

    def __getitem__(self, index: int):
        index = range(len(self))[index]
        try:  # AudioError (undecodable, empty, NaN, ...) or too short for one patch
            wav, _ = load_audio(self.entries[index]["wav"], target_sr=self.sample_rate)
            wav = wav[: int(self.max_seconds * self.sample_rate)]  # a working-length crop
            spec = fbank(wav, self.sample_rate, resolution=self.resolution_for(index))
        except ValueError as error:
            return self._failed(index, error)
        if self.fixed_frames is not None:
            spec = trim_or_pad(spec, self.fixed_frames)
        if self.spec_augment:
            spec = self._augment(spec, index)
        return spec, self._target(index)

    def _failed(self, index: int, error: Exception) -> None:
        path = self.entries[index]["wav"]
        message = f"entry {index} ({path}): {error}"
        if self.on_error == "raise":
            raise DataError(message) from error
        warnings.warn(f"skipping {message}", stacklevel=3)
        if all(i != index for i, _, _ in self.errors):
            self.errors.append((index, path, str(error)))

    def _target(self, index: int) -> torch.Tensor:
        if not self.multi_label:
            return torch.tensor(self._label_ids[index][0], dtype=torch.long)
        target = torch.zeros(len(self.classes))
        target[self._label_ids[index]] = 1.0
        return target

    def _augment(self, spec: torch.Tensor, index: int) -> torch.Tensor:
        """SpecAugment: zero (the normalised mean) one time mask of 1-48 frames per 500 frames,
        at least one, and two frequency masks of 1-24 bins."""
        rng, spec = self._rng(index, 1), spec.clone()
        frames, bins = spec.shape
        for _ in range(max(1, frames // FRAMES_PER_TIME_MASK)):
            width = int(rng.integers(1, min(TIME_MASK_FRAMES, frames) + 1))
            start = int(rng.integers(0, frames - width + 1))
            spec[start : start + width] = 0.0
        for _ in range(FREQ_MASKS):
            width = int(rng.integers(1, FREQ_MASK_BINS + 1))
            start = int(rng.integers(0, bins - width + 1))
            spec[:, start : start + width] = 0.0
        return spec

    def _header(self, index: int) -> tuple[int, int]:
        """(samples, sample rate) from the file's header, without decoding the audio."""
        path = self.entries[index]["wav"]
        try:
            info = sf.info(path)
            return info.frames, info.samplerate
        except Exception as sf_error:  # a format libsndfile lacks: ask librosa
            try:
                import librosa

                with warnings.catch_warnings():  # its fallback chatter; failure is reported
                    warnings.simplefilter("ignore")
                    sr = librosa.get_samplerate(path)
                    return round(librosa.get_duration(path=path) * sr), sr
            except Exception:
                self._failed(index, DataError(f"cannot read its header: {sf_error}"))
                return 0, 0

    def _all_headers(self) -> list[tuple[int, int]]:
        if self._headers is None:
            self._headers = [self._header(i) for i in range(len(self))]
        return self._headers

    def durations(self) -> list[float]:
        """Seconds of audio each item uses (its length, cropped to ``max_seconds``), read from
        the file headers alone. An unreadable header is a load failure (``on_error``): 0.0."""
        return [min(n / sr, self.max_seconds) if sr else 0.0 for n, sr in self._all_headers()]

    def lengths_in_tokens(self, resolution: float | None = None) -> list[int]:
        """Tokens (16x16 patches) of each item's spectrogram, from the file headers alone:
        what ``sampler.TokenBudgetSampler`` needs. ``resolution`` defaults to each item's own
        (with "mixed", this epoch's draw: ask again after ``set_epoch``). An item that will be
        skipped (unreadable, longer than the loader accepts, too short for a patch) has 0."""
        out = []
        for i, (n, sr) in enumerate(self._all_headers()):
            frames = self._frames(n, sr, resolution or self.resolution_for(i))
            if frames and self.fixed_frames is not None:
                frames = self.fixed_frames
            out.append(frames // PATCH_SIZE * (NUM_MEL_BINS // PATCH_SIZE))
        return out

    def _frames(self, n: int, sr: int, resolution: float) -> int:
        """The frame count ``fbank`` gives this item, from its header's sample count."""
        if not sr or n > MAX_SECONDS * sr:
            return 0
        samples = min(-(-n * self.sample_rate // sr), int(self.max_seconds * self.sample_rate))
        return num_frames(samples, self.sample_rate, resolution)


def _present(items):
    items = [item for item in items if item is not None]
    return (None, None) if not items else tuple(zip(*items))


def collate_packed(items):
    """``[(spec, target), ...]`` -> ``(list of specs, stacked targets)`` for ElasticAST: the
    specs keep their own lengths. Skipped items (None) are dropped; if all were skipped the
    batch is None (skip that step)."""
    specs, targets = _present(items)
    return None if specs is None else (list(specs), torch.stack(targets))


def collate_fixed(items):
    """``[(spec, target), ...]`` -> ``(specs [B, T, F], targets)`` for the AST baseline. All
    specs must share one shape (build the data set with ``fixed_frames``)."""
    specs, targets = _present(items)
    if specs is None:
        return None
    shapes = sorted({tuple(s.shape) for s in specs})
    if len(shapes) > 1:
        raise ValueError(f"collate_fixed needs spectrograms of one shape, got {shapes}; build the "
                         "data set with fixed_frames=... or use collate_packed")
    return torch.stack(specs), torch.stack(targets)
