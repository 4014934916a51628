"""Latency of one prediction on a 10 s clip, features included: the path the app will use.

    python benchmarks/bench_inference.py [--rounds 30] [--device cpu|cuda]

Both tiny models, untrained (latency does not depend on the weights): ElasticAST with the
attention backend ``auto`` picks for inference, and a standard AST at 1024 frames. With the
shipped checkpoints, also what the app does when a slider is released on a 10 s example clip:
``compare`` (both models of a pair, features included: the model time the page reports) under
each AST protocol, and ``app.respond``, the page's whole answer with its figures.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import interleaved_times, print_table

import elasticast_lite as el

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def app_paths() -> dict:
    """The app's slider release on a real 10 s clip (needs the shipped checkpoints)."""
    from elasticast_lite.compare import Settings, compare
    from elasticast_lite.predict import CHECKPOINTS, PAIRS, load_pair

    if not (CHECKPOINTS / PAIRS["instruments"][0]).exists():
        print("no shipped checkpoints: app rows left out")
        return {}
    sys.path.insert(0, ROOT)
    import app

    clip = os.path.join(ROOT, "data_samples", "instruments_flute_10s.flac")
    wav = el.load_audio(clip)[0]
    models = load_pair("instruments")
    def slider_move(protocol):
        settings = Settings(None, 1.0, "frame shift", protocol)
        return lambda _: compare(wav, models, settings)

    paths = {f"app: compare, instruments pair, AST {p}": slider_move(p)
             for p in ("paper", "pad", "windows")}
    paths["app: respond (the page's answer, figures included)"] = (
        lambda _: app.respond(clip, "instruments", 10.0, 1.0, "frame shift", "pad"))
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    cfg = el.ModelConfig.tiny(num_classes=10)
    elastic = el.ElasticAST(cfg).to(args.device).eval()
    ast = el.StandardAST(cfg, target_frames=1024).to(args.device).eval()
    wav = torch.randn(int(args.seconds * 16000)) * 0.1
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)

    def features():
        return el.fbank(wav, 16000).to(args.device)

    @torch.inference_mode()
    def both(_):
        spec = features()
        return elastic([spec]), ast([spec])

    paths = {
        "features (fbank)": lambda _: features(),
        f"ElasticAST ({elastic.backend}), features included":
            torch.inference_mode()(lambda _: elastic([features()])),
        "StandardAST at 1024 frames, features included":
            torch.inference_mode()(lambda _: ast([features()])),
        "both models, one clip": both,
    }
    if args.device == "cpu":
        paths.update(app_paths())
    interleaved_times(paths, 3, sync)  # warm-up
    times = interleaved_times(paths, args.rounds, sync)
    rows = [[name, f"{np.median(t) * 1000:.1f}", f"{np.percentile(t, 90) * 1000:.1f}"]
            for name, t in times.items()]
    print(f"device {args.device}, {torch.get_num_threads()} threads, {args.seconds:.0f} s clip, "
          f"tiny models ({elastic.num_parameters() / 1e6:.1f}M parameters each)")
    print_table(["path", "median ms", "p90 ms"], rows)


if __name__ == "__main__":
    main()
