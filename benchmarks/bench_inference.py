"""Latency of one prediction on a 10 s clip, features included: the path the app will use.

    python benchmarks/bench_inference.py [--rounds 30] [--device cpu|cuda]

Both tiny models, untrained (latency does not depend on the weights): ElasticAST with the
attention backend ``auto`` picks for inference, and a standard AST at 1024 frames.
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
    interleaved_times(paths, 3, sync)  # warm-up
    times = interleaved_times(paths, args.rounds, sync)
    rows = [[name, f"{np.median(t) * 1000:.1f}", f"{np.percentile(t, 90) * 1000:.1f}"]
            for name, t in times.items()]
    print(f"device {args.device}, {torch.get_num_threads()} threads, {args.seconds:.0f} s clip, "
          f"tiny models ({elastic.num_parameters() / 1e6:.1f}M parameters each)")
    print_table(["path", "median ms", "p90 ms"], rows)


if __name__ == "__main__":
    main()
