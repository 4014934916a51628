"""Sequence packing: many spectrograms of different lengths in a few rows of tokens.

This is the heart of ElasticAST (paper, Sec. 2.2, "Sequence Packing", and Figure 3).
A standard AST trims or pads every clip to one length. ElasticAST instead cuts each
spectrogram into 16x16 patches, keeps *all* of them, and lays the token sequences of
several samples end to end in a row of at most ``max_tokens`` (2048) tokens. Rows are
then padded to the longest row, so the batch is a rectangle ``[rows, N, 256]``.

Every token carries:
- ``sample_ids``: which packed sample of its row it belongs to (0, 1, ...), -1 on padding;
- ``coords``: its (frequency patch, time patch) position inside its own spectrogram,
  so positions restart at 0 for each sample.

The paper packs first come, first served ("fcfs": input order, a new row when the next
sample would overflow). Two classic bin-packing rules are here too: "ffd" (first fit
decreasing) and "bfd" (best fit decreasing) sort samples by length first and waste less
padding. "pad" does not pack at all: one sample per row, padded to the longest, which is
what an ordinary padded batch with a key-padding mask computes (the baseline to beat).
Whatever the rule, ``order`` maps packed samples back to the input, so models return
outputs in input order. For training, ``sampler.TokenBudgetSampler`` chooses which clips
share a step so that rows come out full.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from .features import PATCH_SIZE

STRATEGIES = ("fcfs", "ffd", "bfd", "pad")


def patchify(spec: torch.Tensor, patch_size: int = PATCH_SIZE) -> torch.Tensor:
    """Cut ``[frames, mels]`` into ``[time_patches * freq_patches, patch_size**2]`` tokens.

    Tokens are time-major (all frequency patches of the first 16 frames, then the next 16
    frames, ...), so the first ``8 * k`` tokens are exactly the first ``16 * k`` frames.
    Each token holds its patch as (mel, frame) pixels, like AST's convolution over a
    [mel, time] image. Trailing frames that do not fill a patch are dropped.
    """
    p = patch_size
    t, f = spec.shape[-2] // p, spec.shape[-1] // p
    x = spec[..., : t * p, : f * p]
    x = x.reshape(*x.shape[:-2], t, p, f, p)  # [..., t, p_time, f, p_mel]
    x = x.transpose(-3, -2).transpose(-2, -1)  # [..., t, f, p_mel, p_time]
    return x.reshape(*x.shape[:-4], t * f, p * p)


def plan_rows(lengths: list[int], max_tokens: int, strategy: str = "fcfs") -> list[list[int]]:
    """Group sample indices into rows whose token counts add up to at most ``max_tokens``."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown packing strategy {strategy!r}; choose one of {STRATEGIES}")
    if strategy == "pad":  # no packing: an ordinary padded batch, one sample per row
        return [[i] for i in range(len(lengths))]
    if strategy == "fcfs":
        rows: list[list[int]] = []
        used = 0
        for i, n in enumerate(lengths):
            if not rows or used + n > max_tokens:
                rows.append([])
                used = 0
            rows[-1].append(i)
            used += n
        return rows
    rows, free = [], []
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        fits = [r for r in range(len(rows)) if free[r] >= lengths[i]]
        if not fits:
            rows.append([])
            free.append(max_tokens)
            fits = [len(rows) - 1]
        # first fit takes the oldest row with room, best fit the one it fills most tightly
        r = fits[0] if strategy == "ffd" else min(fits, key=lambda r: (free[r], r))
        rows[r].append(i)
        free[r] -= lengths[i]
    return rows


@dataclass
class PackedBatch:
    """Rows of packed tokens plus everything needed to mask, pool and unpack them.

    Per token: ``tokens [R, N, p*p]``, ``sample_ids [R, N]`` (slot in its row, -1 padding),
    ``coords [R, N, 2]`` (frequency patch, time patch). Per packed sample ``s`` (row-major):
    ``order[s]`` its input index, ``rows[s]``/``slots[s]`` where it sits, ``starts[s]`` and
    ``lengths[s]`` its token span in the row, ``time_patches[s]`` its length in patches.
    """

    tokens: torch.Tensor
    sample_ids: torch.Tensor
    coords: torch.Tensor
    order: torch.Tensor
    rows: torch.Tensor
    slots: torch.Tensor
    starts: torch.Tensor
    lengths: torch.Tensor
    time_patches: torch.Tensor
    patch_size: int
    max_tokens: int
    freq_patches: int = 8
    cut_frames: int = 0

    @property
    def num_samples(self) -> int:
        return self.order.numel()

    @property
    def num_rows(self) -> int:
        return self.tokens.shape[0]

    @property
    def max_samples_per_row(self) -> int:
        return int(self.slots.max()) + 1

    def to(self, device) -> PackedBatch:
        moved = {
            f.name: getattr(self, f.name).to(device)
            if isinstance(getattr(self, f.name), torch.Tensor)
            else getattr(self, f.name)
            for f in fields(self)
        }
        return PackedBatch(**moved)

    def attention_mask(self) -> torch.Tensor:
        """``[R, N, N]`` bool, True where query token i may attend to key token j.

        Real tokens see exactly the tokens of their own sample. A padding token sees only
        itself: never a fully masked row (which would give NaN), and no real token ever
        sees a padding token, so padding cannot change any real output.
        """
        ids = self.sample_ids
        same = (ids[:, :, None] == ids[:, None, :]) & (ids[:, :, None] >= 0)
        eye = torch.eye(ids.shape[1], dtype=torch.bool, device=ids.device)
        return same | (eye & (ids < 0)[:, :, None])

    def pooling_mask(self) -> torch.Tensor:
        """``[R, n_max, N]`` bool, True where pooling slot s of a row may read token j.

        Slot s is the s-th packed sample of the row. Rows holding fewer than ``n_max``
        samples leave their last slots fully masked; the pooling layer handles them.
        """
        slot = torch.arange(self.max_samples_per_row, device=self.sample_ids.device)
        return self.sample_ids[:, None, :] == slot[None, :, None]

    def stats(self) -> dict:
        """Token usage as in the paper's Table 1: real, padding and cut tokens, rows."""
        real = int(self.lengths.sum())
        computed = self.tokens.shape[0] * self.tokens.shape[1]
        cut = self.cut_frames * self.freq_patches / self.patch_size  # in token equivalents
        return {
            "samples": self.num_samples,
            "rows": self.num_rows,
            "row_length": self.tokens.shape[1],
            "real_tokens": real,
            "padding_tokens": computed - real,
            "computed_tokens": computed,
            "cut_tokens": cut,
            "padding_fraction": (computed - real) / computed,
            "cut_fraction": cut / (real + cut),
        }


def pack(
    specs,
    max_tokens: int = 2048,
    patch_size: int = PATCH_SIZE,
    strategy: str = "fcfs",
    max_frames: int | None = None,
    token_dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> PackedBatch:
    """Pack spectrograms ``[frames, mels]`` of any lengths into rows of ``max_tokens``.

    ``max_frames`` optionally crops longer samples first (the cut is counted in
    ``stats()``). ``token_dropout`` drops that share of each sample's tokens at random (a
    training regulariser of the official code; every sample keeps its first token, and kept
    tokens keep their own coordinates). A sample with fewer frames than one patch, or more
    tokens than ``max_tokens`` (use ``math.inf`` for one unbounded row), is a ``ValueError``.
    """
    specs = list(specs)
    if not specs:
        raise ValueError("pack needs at least one spectrogram")
    for i, spec in enumerate(specs):
        if spec.ndim != 2:
            raise ValueError(f"sample {i}: expected [frames, mels], got shape {tuple(spec.shape)}")
    mels = {s.shape[-1] for s in specs}
    if len(mels) != 1 or next(iter(mels)) < patch_size:
        raise ValueError(f"all spectrograms need the same mel bins (>= {patch_size}); got {mels}")
    patches, cut_frames = [], 0
    for i, spec in enumerate(specs):
        frames = spec.shape[0]
        if frames < patch_size:
            raise ValueError(
                f"sample {i} has {frames} frames, fewer than one {patch_size}-frame patch"
            )
        if not torch.isfinite(spec).all():
            raise ValueError(f"sample {i} holds NaN or Inf values")
        keep = min(frames, max_frames or frames) // patch_size * patch_size
        if keep < patch_size:
            raise ValueError(f"max_frames={max_frames} leaves sample {i} without a whole patch")
        cut_frames += frames - keep
        patches.append(patchify(spec[:keep], patch_size))
    freq_patches = specs[0].shape[-1] // patch_size
    time_patches = [p.shape[0] // freq_patches for p in patches]
    kept = [torch.arange(p.shape[0]) for p in patches]  # token index within its sample
    if token_dropout > 0:
        for i, p in enumerate(patches):
            mask = torch.rand(p.shape[0], generator=generator) >= token_dropout
            mask[0] = True
            kept[i] = kept[i][mask]
            patches[i] = p[mask.to(p.device)]
    lengths = [p.shape[0] for p in patches]
    for i, n in enumerate(lengths):
        if n > max_tokens:
            raise ValueError(
                f"sample {i} has {n} tokens ({specs[i].shape[0]} frames), more than "
                f"max_tokens={max_tokens}; crop it (max_frames) or raise max_tokens"
            )
    plan = plan_rows(lengths, max_tokens, strategy)
    width = max(sum(lengths[i] for i in row) for row in plan)
    R, dev, dt = len(plan), specs[0].device, specs[0].dtype
    tokens = torch.zeros(R, width, patch_size * patch_size, device=dev, dtype=dt)
    sample_ids = torch.full((R, width), -1, dtype=torch.long)
    coords = torch.zeros(R, width, 2, dtype=torch.long)
    per_sample = []  # (input index, row, slot, start, length)
    for r, row in enumerate(plan):
        start = 0
        for slot, i in enumerate(row):
            n = lengths[i]
            tokens[r, start : start + n] = patches[i]
            sample_ids[r, start : start + n] = slot
            coords[r, start : start + n] = torch.stack(
                [kept[i] % freq_patches, kept[i] // freq_patches], -1)
            per_sample.append((i, r, slot, start, n))
            start += n
    cols = torch.tensor(per_sample, dtype=torch.long).T
    return PackedBatch(
        tokens=tokens,
        sample_ids=sample_ids.to(dev),
        coords=coords.to(dev),
        order=cols[0].to(dev),
        rows=cols[1].to(dev),
        slots=cols[2].to(dev),
        starts=cols[3].to(dev),
        lengths=cols[4].to(dev),
        time_patches=torch.tensor(time_patches)[cols[0]].to(dev),
        patch_size=patch_size,
        max_tokens=max_tokens if math.isfinite(max_tokens) else width,
        freq_patches=freq_patches,
        cut_frames=cut_frames,
    )
