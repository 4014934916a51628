"""What makes a teaching clip hard enough: long-tailed lengths, a second source, noise, tilt.

A clip of one voice (or instrument) alone would be recognised from any single frame, and
then length could not matter. Real recordings carry other talkers, noise and a channel of
their own; here every clip gets a quieter second source of another class (most of the time),
noise at a random signal-to-noise ratio, a random spectral tilt and a random smooth
equaliser (its own channel: the long-term spectrum alone must not give the class away).
Evidence then adds up over time, as it does in VoxCeleb, so a model that hears the whole
clip can do better.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16_000
SPLITS = ("train", "validation", "test")


def long_tail_seconds(rng, median=4.0, sigma=0.8, low=1.0, high=30.0) -> float:
    """A VoxCeleb-like length: lognormal around ``median``, clipped to [low, high] seconds."""
    return float(np.clip(rng.lognormal(np.log(median), sigma), low, high))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def tilt(x: np.ndarray, rng) -> np.ndarray:
    """A random first-order spectral tilt: brighter (a > 0) or darker (a < 0)."""
    a = rng.uniform(-0.8, 0.8)
    y = x.copy()
    y[1:] -= a * x[:-1]
    return y * (rms(x) / rms(y))


def equalise(x: np.ndarray, rng, max_db: float) -> np.ndarray:
    """A random smooth equaliser: gains of up to ``max_db`` at 8 points on a log-frequency
    axis, interpolated. Each clip gets its own channel, so the long-term spectrum alone
    stops telling who (or what) it is."""
    if max_db <= 0:
        return x
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    points = np.geomspace(50, SR / 2, 8)
    gain_db = np.interp(np.log(np.maximum(freqs, 50)), np.log(points),
                        rng.uniform(-max_db, max_db, len(points)))
    y = np.fft.irfft(spectrum * 10 ** (gain_db / 20), n=len(x))
    return y * (rms(x) / rms(y))


def degrade(main: np.ndarray, rng, other: np.ndarray | None, other_db: tuple, snr_db: tuple,
            eq_db: float = 0.0):
    """Mix ``other`` under ``main`` at a random relative level, add noise, tilt and
    equalise, set a random gain."""
    x = main.astype(np.float64)
    level = rms(x)
    if other is not None:
        x = x + other * (level / rms(other)) * 10 ** (rng.uniform(*other_db) / 20)
    noise = rng.standard_normal(len(x))
    x = x + noise * rms(x) / 10 ** (rng.uniform(*snr_db) / 20)
    x = equalise(tilt(x, rng), rng, eq_db)
    return (x / (np.abs(x).max() + 1e-9) * rng.uniform(0.3, 0.9)).astype(np.float32)


def write_wav(path: Path, x: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, SR, subtype="PCM_16", format="WAV")


def write_manifests(out: Path, entries: dict[str, list[dict]], classes: list[str]) -> None:
    """AST-style ``{split}.json`` manifests and ``class_labels_indices.csv``."""
    for split, items in entries.items():
        text = json.dumps({"data": items}, indent=1, sort_keys=True)
        (out / f"{split}.json").write_text(text + "\n")
    with open(out / "class_labels_indices.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["index", "mid", "display_name"])
        for i, name in enumerate(classes):
            w.writerow([i, name, name])


def split_counts(n: int, fractions=(0.8, 0.1, 0.1)) -> dict[str, int]:
    """How many clips each split gets (every split at least one when n >= 3)."""
    val = max(1, round(n * fractions[1])) if n >= 3 else 0
    test = max(1, round(n * fractions[2])) if n >= 3 else 0
    return {"train": n - val - test, "validation": val, "test": test}
