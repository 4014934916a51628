"""A quick difficulty check: a linear probe on time-pooled log-mel statistics.

How hard should a teaching set be? Not so easy that one second gives the answer, not so hard
that a tiny model stays near chance, and longer clips must help. This probe, a logistic
regression on each clip's per-bin mean and standard deviation of the log-mel spectrogram,
says so without training any transformer: its accuracy by clip length, and on test clips
cropped to 1, 2, 4, 8 s, shows how much evidence time adds. The data sets' difficulty was
fixed by this check, never by comparing AST with ElasticAST.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..audio import load_audio
from ..features import fbank

BUCKETS = ((1, 2), (2, 4), (4, 8), (8, 16), (16, 31))


def clip_features(path, crop_seconds: float | None = None) -> torch.Tensor:
    wav, sr = load_audio(path)
    if crop_seconds:
        wav = wav[: int(crop_seconds * sr)]
    spec = fbank(wav, sr)
    return torch.cat([spec.mean(0), spec.std(0)])


def fit_linear(x: torch.Tensor, y: torch.Tensor, classes: int, steps: int = 300):
    """Multinomial logistic regression on standardised features (full-batch L-BFGS)."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    layer = torch.nn.Linear(x.shape[1], classes)
    opt = torch.optim.LBFGS(layer.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer((x - mean) / std), y)
        loss = loss + 1e-3 * layer.weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    return lambda z: layer((z - mean) / std).argmax(-1)


def probe(folder, crops=(1, 2, 4, 8)) -> dict:
    """Probe accuracy on the test split: by native length bucket and by crop length."""
    folder = Path(folder)
    data = {s: json.loads((folder / f"{s}.json").read_text())["data"] for s in ("train", "test")}
    classes = sorted({e["labels"] for e in data["train"]})
    index = {c: i for i, c in enumerate(classes)}

    def features(entries, crop=None):
        return torch.stack([clip_features(folder / e["wav"], crop) for e in entries])

    predict = fit_linear(features(data["train"]),
                         torch.tensor([index[e["labels"]] for e in data["train"]]), len(classes))
    test = data["test"]
    y = np.array([index[e["labels"]] for e in test])
    seconds = np.array([e["seconds"] for e in test])
    full = predict(features(test)).numpy() == y
    result = {"chance": 1 / len(classes), "test_clips": len(test), "native": full.mean(),
              "by_length": {}, "by_crop": {}}
    for lo, hi in BUCKETS:
        sel = (seconds >= lo) & (seconds < hi)
        if sel.any():
            result["by_length"][f"{lo}-{hi} s"] = (float(full[sel].mean()), int(sel.sum()))
    long = seconds >= max(crops)  # the same clips at every crop: only evidence changes
    result["long_clips"] = int(long.sum())
    if not long.any():
        return result
    for c in crops:
        cropped = predict(features([e for e, keep in zip(test, long) if keep], c)).numpy()
        result["by_crop"][f"{c} s"] = float((cropped == y[long]).mean())
    result["by_crop"]["whole"] = float(full[long].mean())
    return result


def format_probe(r: dict) -> str:
    lines = [f"chance {100 * r['chance']:.1f} %, {r['test_clips']} test clips, "
             f"probe accuracy {100 * r['native']:.1f} %"]
    lines.append("by clip length: " + ", ".join(
        f"{k} {100 * a:.1f} % (n={n})" for k, (a, n) in r["by_length"].items()))
    if r["by_crop"]:
        lines.append(f"the {r['long_clips']} test clips of 8 s or more, cropped: " + ", ".join(
            f"{k} {100 * a:.1f} %" for k, a in r["by_crop"].items()))
    return "\n".join(lines)
