"""Training both models: one loop for ElasticAST (native length or mixed resolution) and the
fixed-length AST baseline, on CPU, one GPU or several (``torchrun``).

Paper, Sec. 3.2-3.4. ElasticAST sees every clip whole (up to the 30 s cap), packed; with
``--resolution mixed`` each clip gets its own r from C = {1.0, 1.2, ..., 4.0} every epoch.
The AST sees every clip trimmed or padded to ``--target-frames``. Everything else is shared:
AdamW, linear warm-up then cosine decay, gradient clipping, the same seeds.

ElasticAST's steps are filled to a token budget (``sampler.TokenBudgetSampler``) rather than
to a clip count, so a step of short clips holds many and a step of long ones few. The loss is
the mean over the clips of the *global* step: each rank sums its clips' losses and divides by
the clip count of all ranks together (times the world size, which DDP's gradient averaging
divides out), so two ranks give exactly the gradient of one process on the same clips.

Every epoch writes a checkpoint (``checkpoint.save_model`` plus the optimizer, schedule and
epoch as safetensors and JSON: nothing is pickled) and appends a line to ``log.jsonl``.
``--resume`` continues from the last one; every random draw derives from (seed, epoch), so a
resumed run ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from .checkpoint import save_model
from .data import AudioDataset, collate_packed
from .model import ElasticAST, ModelConfig, StandardAST
from .sampler import TokenBudgetSampler

STATE = "train_state.safetensors"


@dataclass
class Recipe:
    """Every training setting, saved with the checkpoint."""

    data: str = ""  # a built teaching set (folder with train.json ...) or a manifest
    out: str = "runs/model"
    model: str = "elastic"  # "elastic" or "ast"
    preset: str = "tiny"  # ModelConfig preset: tiny, small, base
    epochs: int = 10
    lr: float = 3e-4
    weight_decay: float = 0.05
    warmup: float = 0.1  # share of all steps
    clip_grad: float = 1.0
    tokens_per_step: int = 8192  # ElasticAST: real tokens per step (rows of 2048)
    batch_size: int = 16  # AST: clips per step
    resolution: str = "1.0"  # a number, or "mixed" (ElasticAST)
    target_frames: int = 400  # AST
    max_seconds: float = 30.0
    token_dropout: float = 0.0  # share of tokens dropped in training (the official code: 0.1)
    spec_augment: bool = False
    limit: int = 0  # use only the first N training clips (0: all)
    seed: int = 0
    device: str = "auto"
    workers: int = 0

    def resolution_value(self):
        return "mixed" if self.resolution == "mixed" else float(self.resolution)


def split_paths(data: str) -> tuple[Path, Path | None, Path | None]:
    """Train manifest, validation manifest and class CSV of a set folder or a manifest."""
    path = Path(data)
    if path.is_dir():
        csv = path / "class_labels_indices.csv"
        val = path / "validation.json"
        return path / "train.json", val if val.exists() else None, csv if csv.exists() else None
    csv = path.parent / "class_labels_indices.csv"
    return path, None, csv if csv.exists() else None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def build_model(recipe: Recipe, num_classes: int):
    cfg = getattr(ModelConfig, recipe.preset)(num_classes=num_classes)
    if recipe.model == "elastic":
        return ElasticAST(cfg)
    if recipe.model == "ast":
        return StandardAST(cfg, target_frames=recipe.target_frames)
    raise ValueError(f"--model must be 'elastic' or 'ast', got {recipe.model!r}")


def make_dataset(recipe: Recipe, manifest, train: bool, classes=None,
                 labels_csv=None) -> AudioDataset:
    return AudioDataset(
        manifest, classes=classes, labels_csv=labels_csv, max_seconds=recipe.max_seconds,
        resolution=recipe.resolution_value() if train else 1.0,
        fixed_frames=recipe.target_frames if recipe.model == "ast" else None,
        spec_augment=recipe.spec_augment and train, seed=recipe.seed)


def epoch_steps(recipe: Recipe, ds: AudioDataset, epoch: int, rank: int, world: int):
    """This rank's steps (lists of clip indices) of one epoch; every rank gets as many."""
    ds.set_epoch(epoch)
    n = len(ds) if not recipe.limit else min(recipe.limit, len(ds))
    if recipe.model == "elastic":
        lengths = ds.lengths_in_tokens()[:n]
        keep = [i for i in range(n) if lengths[i] > 0]  # unreadable clips: skipped, named
        sampler = TokenBudgetSampler([lengths[i] for i in keep], recipe.tokens_per_step,
                                     seed=recipe.seed, rank=rank, world_size=world)
        sampler.set_epoch(epoch)
        return [[keep[j] for j in step] for step in sampler]
    order = np.random.default_rng([recipe.seed, epoch]).permutation(n)
    steps = [order[a: a + recipe.batch_size] for a in range(0, n, recipe.batch_size)]
    shards = [np.array_split(step, world)[rank].tolist() for step in steps]
    return [s for s, step in zip(shards, steps) if len(step) >= world]


def step_loss(model, specs, targets, count_all: int, world: int, batch=None):
    """Summed loss of this rank's clips over the global clip count (see the docstring)."""
    logits = model(batch if batch is not None else specs).float()
    targets = targets.to(logits.device)
    if targets.dtype.is_floating_point:  # multi-label
        loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(1)
    else:
        loss = F.cross_entropy(logits, targets, reduction="none")
    return loss.sum() * world / count_all


def schedule(step: int, total: int, warmup: float) -> float:
    """Linear warm-up over ``warmup`` of the steps, then cosine decay to zero."""
    w = max(1, int(total * warmup))
    if step < w:
        return (step + 1) / w
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - w) / max(1, total - w))))


@torch.no_grad()
def accuracy(model, ds: AudioDataset, device, batch: int = 16) -> float:
    """Top-1 accuracy (or mAP for multi-label data) of ``model`` on ``ds``."""
    model.eval()
    scores, targets = [], []
    for a in range(0, len(ds), batch):
        got = collate_packed([ds[i] for i in range(a, min(a + batch, len(ds)))])
        if got is None:
            continue
        specs, target = got
        scores.append(model([s.to(device) for s in specs]).float().cpu())
        targets.append(target)
    scores, targets = torch.cat(scores), torch.cat(targets)
    if targets.dtype.is_floating_point:
        return mean_average_precision(scores, targets)
    return float((scores.argmax(1) == targets).float().mean())


def mean_average_precision(scores: torch.Tensor, targets: torch.Tensor) -> float:
    aps = []
    for c in range(targets.shape[1]):
        if targets[:, c].sum() == 0:
            continue
        order = scores[:, c].argsort(descending=True)
        hits = targets[order, c]
        precision = hits.cumsum(0) / torch.arange(1, len(hits) + 1)
        aps.append(float((precision * hits).sum() / hits.sum()))
    return float(np.mean(aps)) if aps else 0.0


def save_state(out: Path, optimizer, epoch: int, step: int) -> None:
    tensors, meta = {}, {"epoch": epoch, "step": step, "params": []}
    for i, state in optimizer.state_dict()["state"].items():
        meta["params"].append(i)
        for key, value in state.items():
            tensors[f"{i}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    save_file(tensors, str(out / STATE), metadata={"meta": json.dumps(meta)})


def load_state(out: Path, optimizer) -> tuple[int, int]:
    from safetensors import safe_open

    with safe_open(str(out / STATE), "pt") as f:
        meta = json.loads(f.metadata()["meta"])
    tensors = load_file(str(out / STATE))
    state = optimizer.state_dict()
    state["state"] = {i: {k.split(".", 1)[1]: v for k, v in tensors.items()
                          if k.split(".", 1)[0] == str(i)} for i in meta["params"]}
    optimizer.load_state_dict(state)
    return meta["epoch"], meta["step"]


def train(recipe: Recipe, resume: bool = False, stop_after_steps: int | None = None) -> Path:
    """Train as ``recipe`` says; returns the checkpoint folder. ``resume`` continues from the
    last epoch saved in ``recipe.out``; ``stop_after_steps`` ends the run early as if it were
    killed (for the resume test)."""
    world, rank = int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0))
    device = resolve_device(recipe.device)
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    out = Path(recipe.out)
    train_manifest, val_manifest, labels_csv = split_paths(recipe.data)
    train_ds = make_dataset(recipe, train_manifest, train=True, labels_csv=labels_csv)
    classes = train_ds.classes
    val_ds = make_dataset(recipe, val_manifest, train=False, classes=classes) if val_manifest \
        else None
    torch.manual_seed(recipe.seed)
    model = build_model(recipe, len(classes)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr,
                                  weight_decay=recipe.weight_decay)
    start_epoch, step = 0, 0
    if resume and (out / STATE).exists():
        from .checkpoint import load_model

        model.load_state_dict(load_model(out).state_dict())
        start_epoch, step = load_state(out, optimizer)
    ddp = model
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    total = recipe.epochs * len(epoch_steps(recipe, train_ds, 0, rank, world))
    autocast = torch.autocast("cuda", torch.bfloat16, enabled=device.type == "cuda")
    info = {"classes": classes, "features": {"sample_rate": 16000, "num_mel_bins": 128,
                                             "frame_shift_ms": 10.0, "max_seconds":
                                             recipe.max_seconds}, "recipe": asdict(recipe)}
    for epoch in range(start_epoch, recipe.epochs):
        model.train()
        steps = epoch_steps(recipe, train_ds, epoch, rank, world)
        losses, started = [], time.perf_counter()
        bar = tqdm(steps, desc=f"epoch {epoch + 1}/{recipe.epochs}", disable=rank != 0)
        for indices in bar:
            got = collate_packed([train_ds[i] for i in indices])
            specs, targets = got if got is not None else ([], torch.zeros(0, dtype=torch.long))
            count = torch.tensor(float(len(specs)))
            if world > 1:
                dist.all_reduce(count)
            for group in optimizer.param_groups:
                group["lr"] = recipe.lr * schedule(step, total, recipe.warmup)
            specs = [s.to(device) for s in specs]
            batch = None
            if recipe.model == "elastic" and recipe.token_dropout > 0 and specs:
                g = torch.Generator().manual_seed(recipe.seed * 1_000_003 + step)
                batch = model.pack(specs, token_dropout=recipe.token_dropout, generator=g)
            with autocast:
                loss = step_loss(ddp, specs, targets, int(count), world, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad)
            optimizer.step()
            step += 1
            losses.append(loss.item() * int(count) / world / max(1, len(specs)))
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if stop_after_steps is not None and step >= stop_after_steps:
                return out
        if rank == 0:
            metrics = {"epoch": epoch + 1, "step": step, "train_loss": float(np.mean(losses)),
                       "seconds": round(time.perf_counter() - started, 1)}
            if val_ds is not None:
                metrics["val_accuracy"] = accuracy(model, val_ds, device)
            save_model(model, out, **info)
            save_state(out, optimizer, epoch + 1, step)
            with open(out / "log.jsonl", "a") as f:
                f.write(json.dumps(metrics) + "\n")
            tqdm.write(json.dumps(metrics))
        if world > 1:
            dist.barrier()
    return out


def end_distributed() -> None:
    """Leave a DDP worker: wait for every rank, tear the process group down, exit at once.

    Exiting through Python's own shutdown can abort a finished run (SIGABRT, "terminate called
    without an active exception", about one exit in 20 here): once DDP has used a gloo group,
    torch 2.14 keeps the group's worker threads alive after ``destroy_process_group``, and a
    worker that frees its last finished collective while the interpreter is finalizing cannot
    take the GIL. ``os._exit`` skips that finalization; every file is closed by then."""
    dist.barrier()
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m elasticast_lite.train",
                                 description=__doc__.splitlines()[0])
    defaults = Recipe()
    for f in fields(Recipe):
        value = getattr(defaults, f.name)
        if isinstance(value, bool):
            ap.add_argument(f"--{f.name.replace('_', '-')}", action="store_true")
        else:
            ap.add_argument(f"--{f.name.replace('_', '-')}", type=type(value), default=value,
                            required=f.name == "data")
    ap.add_argument("--resume", action="store_true", help="continue from OUT's last epoch")
    args = vars(ap.parse_args(argv))
    resume = args.pop("resume")
    train(Recipe(**args), resume=resume)
    if dist.is_initialized():
        end_distributed()


if __name__ == "__main__":
    main()
