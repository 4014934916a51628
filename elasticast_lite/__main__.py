"""``python -m elasticast_lite``: pack clips of different lengths and show the token bill.

Builds a few synthetic clips (1 to 30 s, two temporal resolutions), turns them into
spectrograms, packs them into 2048-token rows, runs an untrained tiny ElasticAST on the
packed rows and prints where every token went, next to what a fixed 10 s AST would spend.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from .features import fbank
from .model import ElasticAST, ModelConfig
from .packing import pack

SR = 16_000


def synthetic_clip(seconds: float, seed: int) -> torch.Tensor:
    """A gliding tone with bursts of noise: something with structure in time and frequency."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SR)) / SR
    f0 = 200 + 600 * torch.rand(1, generator=g)
    phase = 2 * math.pi * (f0 * t + 40 * t**2 / max(seconds, 1))
    bursts = (torch.sin(2 * math.pi * 0.7 * t) > 0.6).float()
    return 0.3 * torch.sin(phase) + 0.05 * bursts * torch.randn(t.shape, generator=g)


def fixed_length_bill(frames: list[int], target: int, freq_patches: int = 8, p: int = 16):
    """Real, padding and cut tokens when every clip is trimmed or padded to ``target``."""
    per_clip = target // p * freq_patches
    real = sum(min(f, target) // p * freq_patches for f in frames)
    cut = sum(max(f - target, 0) // p * freq_patches for f in frames)
    return real, per_clip * len(frames) - real, cut


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, nargs="+", default=[1.3, 4.0, 7.5, 10.0, 22.0, 30.0])
    ap.add_argument("--resolutions", type=float, nargs="+", default=[1.0, 2.0])
    ap.add_argument("--strategy", default="fcfs", choices=["fcfs", "ffd", "bfd"])
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    model = ElasticAST(ModelConfig.tiny(num_classes=10)).eval()
    clips = [(s, r) for r in args.resolutions for s in args.seconds]
    specs = [fbank(synthetic_clip(s, i), SR, resolution=r) for i, (s, r) in enumerate(clips)]
    batch = pack(specs, max_tokens=2048, strategy=args.strategy)  # the paper's rows
    start = time.perf_counter()
    with torch.no_grad():
        logits = model(batch)
    ms = (time.perf_counter() - start) * 1000

    print(f"{'clip':>4} {'seconds':>7} {'r':>4} {'frames':>6} {'tokens':>6} {'row':>3} {'slot':>4}")
    where = {int(i): (int(r), int(s)) for i, r, s in zip(batch.order, batch.rows, batch.slots)}
    for i, ((sec, r), spec) in enumerate(zip(clips, specs)):
        row, slot = where[i]
        n = spec.shape[0] // 16 * 8
        print(f"{i:>4} {sec:>7.1f} {r:>4.1f} {spec.shape[0]:>6} {n:>6} {row:>3} {slot:>4}")
    st = batch.stats()
    print(
        f"\nElasticAST ({args.strategy} packing, rows of {batch.max_tokens} tokens): "
        f"{st['rows']} rows x {st['row_length']} tokens"
    )
    print(
        f"  real {st['real_tokens']}, padding {st['padding_tokens']} "
        f"({100 * st['padding_fraction']:.1f} % of computed), cut {st['cut_tokens']:.0f}"
    )
    real, pad, cut = fixed_length_bill([s.shape[0] for s in specs], target=1024)
    print("Standard AST at 1024 frames (10 s), same clips:")
    print(
        f"  real {real}, padding {pad} ({100 * pad / (real + pad):.1f} % of computed), "
        f"cut {cut} ({100 * cut / (real + cut):.1f} % of the audio's tokens thrown away)"
    )
    print(f"\nlogits {tuple(logits.shape)} in input order; forward pass {ms:.0f} ms on CPU")


if __name__ == "__main__":
    main()
