"""Evaluating across lengths and resolutions: the experiments behind the paper's Figures 1, 4, 5.

Paper, Sec. 3.3-3.5. Each test clip is heard at a series of frame caps (ElasticAST cuts only
what is longer than the cap and never pads) and at a series of temporal resolutions r (frame
shift 10·r ms, or average pooling by an integer factor). A standard AST cannot take a length
it was not trained for, so how it meets one is a choice, and each choice is reported:

- ``paper``: trim/pad the clip to the evaluation length and interpolate the position grid to
  it (what the paper did);
- ``pad``: trim/pad to the AST's own training length, whatever the evaluation length (what a
  fixed-input model does by default);
- ``windows``: slide the AST's own window (hop: half a window) over the clip and average the
  logits (what practitioners do; it costs more tokens on long clips).

Every difference between two models comes with a paired bootstrap 95 % interval: the same
test clips are resampled for both, so the interval is about the models, not the clips.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .audio import load_audio
from .checkpoint import load_model
from .data import read_entries
from .features import compress, fbank
from .model import ElasticAST, trim_or_pad

CAPS = (100, 200, 256, 400, 512, 800, 1024, 1600, 2048, 3072)
RESOLUTIONS = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
FACTORS = (1, 2, 3, 4)
PROTOCOLS = ("paper", "pad", "windows")


def ast_windows(frames: int, own: int) -> list[tuple[int, int]]:
    """The ``windows`` protocol's [start, end) frames: the AST's own window slid with
    half-window hops, the last one ending with the clip (one window when the clip fits)."""
    if frames <= own:
        return [(0, own)]
    starts = list(range(0, frames - own + 1, own // 2))
    if starts[-1] + own < frames:
        starts.append(frames - own)  # the last window ends with the clip
    return [(a, a + own) for a in starts]


@torch.no_grad()
def ast_logits(model, spec: torch.Tensor, protocol: str, length: int | None = None):
    """One clip's logits from a StandardAST under ``protocol`` (see the module docstring).
    ``length``: the evaluation length in frames (``paper`` trims/pads the clip to it); by
    default the clip's own length."""
    own = model.target_frames
    if protocol == "paper":
        frames = max(16, (length or spec.shape[0]) // 16 * 16)
        return model([trim_or_pad(spec, frames)], frames=frames)[0]
    if protocol == "pad" or spec.shape[0] <= own:
        return model([trim_or_pad(spec, own)])[0]
    return model([spec[a:b] for a, b in ast_windows(spec.shape[0], own)]).mean(0)


@torch.no_grad()
def predict(model, specs: list[torch.Tensor], protocol: str = "paper",
            length: int | None = None, batch: int = 16) -> np.ndarray:
    """Predicted class of each spectrogram (ElasticAST: as it is; AST: by ``protocol``)."""
    model.eval()
    if isinstance(model, ElasticAST):
        out = [model(specs[a: a + batch]).argmax(1) for a in range(0, len(specs), batch)]
        return torch.cat(out).numpy()
    same = {"pad": model.target_frames, "paper": length}.get(protocol)
    if same:  # every clip trimmed/padded to one length: batch them (same numbers as one by one)
        frames = max(16, same // 16 * 16)
        out = [model([trim_or_pad(s, frames) for s in specs[a: a + batch]], frames=frames)
               for a in range(0, len(specs), batch)]
        return torch.cat(out).argmax(1).numpy()
    return np.array([int(ast_logits(model, s, protocol, length).argmax()) for s in specs])


def paired_bootstrap(correct_a: np.ndarray, correct_b: np.ndarray, rounds: int = 2000,
                     seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``a - b`` (accuracy difference) and its 95 % interval over resampled clips."""
    rng = np.random.default_rng(seed)
    diff = correct_a.astype(float) - correct_b.astype(float)
    idx = rng.integers(0, len(diff), size=(rounds, len(diff)))
    means = diff[idx].mean(1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def load_clips(data: str, split: str = "test", max_seconds: float = 30.0):
    """Waveforms and labels of a built set's split (or of a manifest)."""
    path = Path(data)
    manifest = path / f"{split}.json" if path.is_dir() else path
    entries = read_entries(manifest)
    wavs = [load_audio(e["wav"])[0][: int(max_seconds * 16000)] for e in entries]
    return wavs, [e["labels"] for e in entries]


def evaluate(checkpoints: list[str], data: str, caps=CAPS, resolutions=RESOLUTIONS,
             factors=FACTORS, split: str = "test", long_seconds: float = 16.0) -> dict:
    """Accuracy of each checkpoint by frame cap, by resolution and by pooling factor."""
    models = {Path(c).name: load_model(c) for c in checkpoints}
    classes = models[Path(checkpoints[0]).name].classes
    wavs, labels = load_clips(data, split)
    y = np.array([classes.index(label) for label in labels])
    base = [fbank(w, 16000) for w in wavs]
    long = np.array([w.numel() >= long_seconds * 16000 for w in wavs])
    runs = {}  # (model, protocol) -> {condition: correct [clips]}

    def record(name, protocol, condition, specs, length=None):
        runs.setdefault(f"{name}/{protocol}", {})[condition] = predict(
            models[name], specs, protocol, length) == y

    runs_todo = [(name, protocol) for name, model in models.items()
                 for protocol in (["native"] if isinstance(model, ElasticAST) else PROTOCOLS)]
    coarser = {f"r {r}": [fbank(w, 16000, resolution=r) for w in wavs]
               for r in resolutions if r != 1.0}
    coarser.update({f"pool {k}": [compress(s, k) for s in base] for k in factors if k != 1})
    for name, protocol in tqdm(runs_todo, desc="evaluate", unit="model/protocol"):
        record(name, protocol, "native", base)
        for cap in caps:
            record(name, protocol, f"cap {cap}", [s[:cap] for s in base], length=cap)
        for condition, specs in coarser.items():
            record(name, protocol, condition, specs)
    result = {"checkpoints": checkpoints, "data": data, "split": split, "clips": len(y),
              "long_clips": int(long.sum()), "accuracy": {}, "long_accuracy": {},
              "differences": {}}
    for run, by in runs.items():
        result["accuracy"][run] = {c: float(v.mean()) for c, v in by.items()}
        if long.any():
            result["long_accuracy"][run] = {c: float(v[long].mean()) for c, v in by.items()}
    elastic = [r for r in runs if r.endswith("/native")]
    for e in elastic:
        for other in runs:
            if other in elastic:
                continue
            for cond in runs[e]:
                if cond in runs[other]:
                    d, lo, hi = paired_bootstrap(runs[e][cond], runs[other][cond])
                    result["differences"].setdefault(f"{e} - {other}", {})[cond] = [d, lo, hi]
    return result


def figures(result: dict, out: Path) -> list[Path]:
    """Accuracy against frame cap and against resolution (paper Figs. 4, 5): plotly HTML, and
    PNG where a static export works (kaleido with a Chromium; skipped with a note if not)."""
    from .viz import accuracy_curves, write_png

    written = []
    for kind in ("cap", "r"):
        fig = accuracy_curves(result, kind)
        path = out.with_name(f"{out.stem}_{kind}.html")
        fig.write_html(str(path), include_plotlyjs="cdn")
        written.append(path)
        png = write_png(fig, path.with_suffix(".png"))
        if png:
            written.append(png)
    return written


def _table(rows: dict, columns: list[str], cell) -> list[str]:
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(cell(values.get(c)) for c in columns) + " |")
    return lines


def report(result: dict) -> str:
    """The result as markdown tables: accuracy % by length and by resolution, on the clips
    of 16 s or more, and every ElasticAST - AST difference with its 95 % interval."""
    acc, out = result["accuracy"], []
    conds = list(next(iter(acc.values())))
    by_length = [c for c in conds if c == "native" or c.startswith("cap ")]
    by_r = ["native"] + [c for c in conds if c.startswith(("r ", "pool "))]
    pct = lambda v: "" if v is None else f"{100 * v:.1f}"
    ivl = lambda v: "" if v is None else f"{100 * v[0]:+.1f} [{100 * v[1]:+.1f}, {100 * v[2]:+.1f}]"
    title = f"{result['data']}, {result['split']} split, {result['clips']} clips"
    out += [f"Accuracy % by frame cap ({title}):", ""] + _table(acc, by_length, pct)
    if result.get("long_accuracy"):
        out += ["", f"The {result['long_clips']} clips of 16 s or more, cropped to each cap:", ""]
        out += _table(result["long_accuracy"], by_length, pct)
    out += ["", "Accuracy % by resolution (r: frame shift 10·r ms; pool k: 10 ms pooled by k):",
            ""] + _table(acc, by_r, pct)
    if result["differences"]:
        out += ["", "ElasticAST minus AST, points, paired bootstrap 95 % interval:", ""]
        out += _table(result["differences"], by_length + by_r[1:], ivl)
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m elasticast_lite.evaluate",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="*")
    ap.add_argument("--report", metavar="RESULT_JSON",
                    help="print a results JSON as markdown tables (nothing is evaluated)")
    ap.add_argument("--data", help="a built set folder or a manifest")
    ap.add_argument("--split", default="test")
    ap.add_argument("--caps", type=int, nargs="*", default=list(CAPS))
    ap.add_argument("--resolutions", type=float, nargs="*", default=list(RESOLUTIONS))
    ap.add_argument("--factors", type=int, nargs="*", default=list(FACTORS))
    ap.add_argument("--out", default="results/results.json")
    args = ap.parse_args(argv)
    if args.report:
        print(report(json.loads(Path(args.report).read_text())))
        return
    if not args.checkpoints or not args.data:
        ap.error("give checkpoints and --data (or --report RESULT_JSON)")
    result = evaluate(args.checkpoints, args.data, args.caps, args.resolutions, args.factors,
                      args.split)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(report(result))
    for path in figures(result, out):
        print("figure", path)


if __name__ == "__main__":
    main()
