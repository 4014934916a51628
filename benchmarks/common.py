"""What the benchmarks share: a VoxCeleb-like length distribution and interleaved timing."""

from __future__ import annotations

import time

import numpy as np
import torch


def voxceleb_like_seconds(n: int, seed: int = 0) -> np.ndarray:
    """VoxCeleb utterances start at 4 s and have a long tail; the paper caps them at 30 s."""
    rng = np.random.default_rng(seed)
    return np.minimum(4.0 + rng.lognormal(np.log(3.0), 0.8, n), 30.0)


def frames_of(seconds, resolution: float = 1.0) -> np.ndarray:
    """Frames of the 10·r ms fbank, cropped to whole 16-frame patches."""
    frames = 1 + (np.asarray(seconds) * 16000 - 400) // int(160 * resolution)
    return (frames // 16 * 16).astype(int)


def random_specs(frames, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(int(f), 128, generator=g) for f in frames]


def interleaved_times(paths: dict, rounds: int, sync=lambda: None) -> dict:
    """Call every path once per round, in turn, as ``run(round)``; seconds per call.

    Interleaving spreads any slow-down of the machine over all paths alike.
    """
    times = {name: [] for name in paths}
    for r in range(rounds):
        for name, run in paths.items():
            sync()
            start = time.perf_counter()
            run(r)
            sync()
            times[name].append(time.perf_counter() - start)
    return times


def print_table(header: list[str], rows: list[list], title: str = "") -> None:
    if title:
        print(f"\n{title}")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
