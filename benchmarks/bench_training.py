"""Training cost per informative token, and padding per packer: prints two tables.

    python benchmarks/bench_training.py            # tiny model (about 7 minutes on 2 cores)
    python benchmarks/bench_training.py --configs tiny base2   # and base width (+25 minutes)
    python benchmarks/bench_training.py --quick    # one round of 4 batches

Every path trains the same model (forward + backward) on the same batches of 24 clips with
VoxCeleb-like lengths (4 s plus a lognormal tail, capped at 30 s). A path's cost is what an
epoch would cost it: time over real tokens, summed over a round of batches that stands for
the epoch. Most batches hold only short clips, but the few that hold a long one cost padding
paths the most, so a round draws one batch from each of ``--strata`` (8) groups of the
epoch's batches ranked by their longest clip, and weighs it by its group's size (stratified
sampling). Paths take turns batch by batch. Each cost is the median over rounds; the ratios
to the ideal (each clip run alone, no padding, no mask) and to the default path are taken
within each round, their median printed with the range over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import (
    frames_of,
    interleaved_times,
    print_table,
    random_specs,
    voxceleb_like_seconds,
)

import elasticast_lite as el
from elasticast_lite.packing import plan_rows
from elasticast_lite.sampler import TokenBudgetSampler

# name -> (packing strategy, attention backend); the model packs lists itself for "varlen"
PATHS = {
    "pad to max, key-padding mask": ("pad", "dense"),
    "official-style (matmul+masked_fill+softmax), FCFS rows": ("fcfs", "matmul"),
    "dense block-diagonal mask, one SDPA, FCFS rows": ("fcfs", "dense"),
    "SDPA per packed segment, FCFS rows": ("fcfs", "segments"),
    "flex document mask, FCFS rows": ("fcfs", "flex"),
    "varlen: flat tokens, attention per sample": ("fcfs", "varlen"),
}
IDEAL = "ideal: each clip alone, no padding, no mask"


def epoch_batches(seconds: np.ndarray, batch: int) -> list[np.ndarray]:
    """Clip lengths in seconds, batch by batch: the epoch's consecutive full batches."""
    return [seconds[a : a + batch] for a in range(0, len(seconds) - batch + 1, batch)]


def stratified_rounds(seconds: np.ndarray, batch: int, strata: int, rounds: int,
                      seed: int = 0) -> tuple[list[list[int]], list[int]]:
    """``rounds`` lists of batch indices, one batch drawn from each of ``strata`` groups of
    (near) equal size of the epoch's batches ranked by their longest clip; and the size of
    each group, the weight of its batch when a round's costs are summed."""
    longest = [b.max() for b in epoch_batches(seconds, batch)]
    if not 1 <= strata <= len(longest):
        raise ValueError(f"strata must be between 1 and the {len(longest)} batches of an epoch")
    groups = np.array_split(np.argsort(longest, kind="stable"), strata)
    rng = np.random.default_rng(seed)
    return [[int(rng.choice(g)) for g in groups] for _ in range(rounds)], [len(g) for g in groups]


def counted_ratio(seconds: np.ndarray, batch: int, cfg: el.ModelConfig) -> float:
    """Forward FLOPs of pad-to-max over those of per-clip attention, counted over every batch
    of the epoch: per layer, a computed token costs 2(4 + 2 mlp_ratio) d^2 in matrix
    products and an attention score 4 d (Q K^T and the weighted sum of V)."""
    per_token, per_score = 2 * (4 + 2 * cfg.mlp_ratio) * cfg.width**2, 4 * cfg.width
    padded = useful = 0.0
    for b in epoch_batches(seconds, batch):
        n = frames_of(b) // 16 * 8
        padded += len(n) * (n.max() * per_token + n.max() ** 2 * per_score)
        useful += n.sum() * per_token + (n**2).sum() * per_score
    return padded / useful


def training_costs(cfg: el.ModelConfig, rounds: list[list[list]], weights: list[int],
                   device: str) -> list[list]:
    """``rounds``: lists of batches (lists of spectrograms), the i-th batch of every round
    weighted by ``weights[i]``. One table row per path."""
    torch.manual_seed(0)
    model = el.ElasticAST(cfg).to(device).train()
    default = model.backend  # what `auto` picks for training on this device
    batches = [[s.to(device) for s in b] for r in rounds for b in r]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    autocast = torch.autocast("cuda", torch.bfloat16, enabled=device == "cuda")

    def step(specs, strategy, backend):
        model.attention = backend
        batch = specs if backend in el.attention.FLAT_LAYOUT else el.pack(specs, strategy=strategy)
        with autocast:
            loss = model(batch).float().logsumexp(-1).mean()
        loss.backward()
        model.zero_grad(set_to_none=True)

    def ideal(specs):
        for s in specs:  # one clip alone: no padding, no mask, no neighbours
            step([s], "fcfs", "varlen")

    paths = {name: how for name, how in PATHS.items() if how[1] != "flex" or device == "cuda"}
    runs = {name: (lambda i, how=how: step(batches[i], *how)) for name, how in paths.items()}
    runs[IDEAL] = lambda i: ideal(batches[i])
    default_name = next(name for name, how in paths.items() if how[1] == default)
    interleaved_times(runs, 1, sync)  # warm-up (and FlexAttention's compile) off the clock
    times = interleaved_times(runs, len(batches), sync)  # seconds per path, batch by batch
    tokens = np.array([sum(s.shape[0] // 16 * 8 for s in b) for b in batches])
    shape = (len(rounds), len(weights))  # times and tokens per round, batch
    # cost[name][j]: seconds per real token over round j, each batch standing for its group
    cost = {name: (np.reshape(ts, shape) @ weights) / (tokens.reshape(shape) @ weights)
            for name, ts in times.items()}
    rows = []
    for name, c in cost.items():
        mark = " (default)" if name == default_name else ""
        rows.append([name + mark, f"{np.median(c) * 1e6:.1f}",
                     spread(c / cost[IDEAL]), spread(c / cost[default_name])])
    return rows


def spread(ratios: np.ndarray) -> str:
    """Median over rounds, and the range when there are several."""
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}"
    return f"{np.median(ratios):.2f} ({ratios.min():.2f}-{ratios.max():.2f})"


def padding_table(seconds: np.ndarray, ast_frames=(1024,)) -> list[list]:
    tokens = (frames_of(seconds) // 16 * 8).tolist()
    rows = []
    for frames in ast_frames:  # a standard AST that trims/pads every clip to ``frames``
        ast_tokens = frames // 16 * 8
        ast_pad = sum(max(ast_tokens - n, 0) for n in tokens)
        ast_cut = sum(max(n - ast_tokens, 0) for n in tokens)
        rows.append([f"AST at {frames} frames (trim/pad)", "any",
                     f"{100 * ast_pad / (ast_tokens * len(tokens)):.1f}",
                     f"{100 * ast_cut / sum(tokens):.1f}"])
    for strategy in ("pad", "fcfs", "ffd", "bfd"):
        for bs in (4, 8, 16, 24, 32, 64):
            computed = 0
            for a in range(0, len(tokens), bs):
                chunk = tokens[a : a + bs]
                plan = plan_rows(chunk, 2048, strategy)
                computed += len(plan) * max(sum(chunk[j] for j in row) for row in plan)
            pad = 100 * (computed - sum(tokens)) / computed
            rows.append([f"ElasticAST, {strategy} per batch", bs, f"{pad:.1f}", "0.0"])
    for rows_per_step in (4, 8, 16):
        usage = TokenBudgetSampler(tokens, rows_per_step * 2048).usage()
        rows.append([f"token-budget sampler (bfd over a stream), {rows_per_step} rows/step",
                     f"~{len(tokens) / usage['steps']:.0f}",
                     f"{100 * usage['padding_fraction']:.1f}", "0.0"])
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one round of 4 batches, tiny only")
    ap.add_argument("--configs", nargs="+", default=["tiny"], choices=["tiny", "base2"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--strata", type=int, default=8, help="batches per round")
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--data", default="data/voices",
                    help="a built teaching set: its token usage table too (if it exists)")
    ap.add_argument("--usage-only", action="store_true", help="only the token usage tables")
    args = ap.parse_args(argv)
    rounds, strata, names = (1, 4, ["tiny"]) if args.quick else (
        args.rounds, args.strata, args.configs)

    seconds = voxceleb_like_seconds(3000, seed=0)
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"clip lengths: median {np.median(seconds):.1f} s, mean {seconds.mean():.1f} s, "
          f"{100 * (seconds >= 30).mean():.1f} % at the 30 s cap")
    picks, weights = stratified_rounds(seconds, args.batch, strata, rounds)
    batches = epoch_batches(seconds, args.batch)
    batch_of = lambda i: random_specs(frames_of(batches[i]), seed=i)
    configs = {
        "tiny": ("tiny (192 wide, 3 heads, 4 layers)", el.ModelConfig.tiny(num_classes=10)),
        "base2": ("base width, 2 layers (768 wide, 12 heads)",
                  el.ModelConfig.base(num_classes=10, depth=2)),
    }
    for title, cfg in (configs[name] for name in names if not args.usage_only):
        rows = training_costs(cfg, [[batch_of(i) for i in r] for r in picks], weights,
                              args.device)
        print_table(["path", "us per informative token", "x ideal (min-max)",
                     "x default (min-max)"], rows,
                    f"Forward+backward, {title}, batches of {args.batch}, "
                    f"median of {rounds} rounds of {strata} batches")
        print(f"Counted, not timed: over all {len(batches)} batches of the epoch, "
              f"pad to max costs {counted_ratio(seconds, args.batch, cfg):.2f}x the forward "
              "FLOPs of per-clip attention.")
    print_table(["packing", "clips per batch", "padding % of computed", "cut % of real"],
                padding_table(seconds), "Token usage over 3000 VoxCeleb-like clips (Table 1)")
    manifest = Path(args.data) / "train.json"
    if manifest.exists():
        data = np.minimum([e["seconds"] for e in json.loads(manifest.read_text())["data"]], 30)
        print_table(["packing", "clips per batch", "padding % of computed", "cut % of real"],
                    padding_table(data, (200, 400, 800, 1024)),
                    f"Token usage over the {len(data)} clips of {manifest} (Table 1)")


if __name__ == "__main__":
    main()
