"""ElasticAST and the standard AST it is compared with.

Paper, Sec. 2.1 (AST) and 2.2 (ElasticAST). Both models share the transformer encoder
(pre-norm blocks of multi-head attention and an MLP) and the 16x16 patch embedding.

``StandardAST`` is the fixed-input baseline: every spectrogram is trimmed or zero-padded
to ``target_frames``, a [cls] token is prepended, 1-D learned positions cover the
(frequency x time) patch grid, and the [cls] output is classified. Asked for another frame
count (``frames=``), it stretches its position grid along time by interpolation, as AST
does when its input size changes. That is the model whose accuracy collapses away from
its training length (Figure 1).

``ElasticAST`` keeps every patch of every clip: spectrograms are packed into rows
(``packing``), positions are factorised into a frequency table plus a time table (Sec. 3.2:
"we shifted from a 1D to a 2D positional embeddings") so any length has positions, attention
is masked per sample and masked attention pooling replaces [cls] (``attention``). A clip
longer than the time table gets the table interpolated to its own length; that happens per
sample, so no clip's output ever depends on its row-mates.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import (
    FLAT_LAYOUT,
    AttentionPool,
    FullAttention,
    SelfAttention,
    make_backend,
    resolve_backend,
)
from .features import NUM_MEL_BINS, PATCH_SIZE
from .packing import PackedBatch, pack, patchify


@dataclass
class ModelConfig:
    """Everything that fixes the shapes of a model's weights, plus run-time choices."""

    num_classes: int = 10
    width: int = 192
    depth: int = 4
    heads: int = 3
    mlp_ratio: float = 4.0
    patch_size: int = PATCH_SIZE
    num_mel_bins: int = NUM_MEL_BINS
    max_time_patches: int = 256  # one full 2048-token row of 8 frequency patches
    max_tokens: int = 2048  # L' of the paper: tokens per packed row
    packing: str = "fcfs"  # the paper's rule (packing.STRATEGIES); unused by flat "varlen"
    attention: str = "auto"  # see attention.BACKENDS
    dropout: float = 0.0

    @classmethod
    def tiny(cls, num_classes: int = 10, **kw) -> ModelConfig:
        """About 2M parameters: trains on 2 CPU cores in minutes."""
        return cls(**{"num_classes": num_classes, "width": 192, "depth": 4, "heads": 3, **kw})

    @classmethod
    def small(cls, num_classes: int = 10, **kw) -> ModelConfig:
        """ViT-S shape (384 wide, 6 heads, 12 layers), about 21M parameters."""
        return cls(**{"num_classes": num_classes, "width": 384, "depth": 12, "heads": 6, **kw})

    @classmethod
    def base(cls, num_classes: int = 10, **kw) -> ModelConfig:
        """The paper's B/16: 768 wide, 12 heads, 12 layers, about 86M parameters."""
        return cls(**{"num_classes": num_classes, "width": 768, "depth": 12, "heads": 12, **kw})

    @property
    def freq_patches(self) -> int:
        return self.num_mel_bins // self.patch_size

    def to_dict(self) -> dict:
        return asdict(self)


class Block(nn.Module):
    """Pre-norm transformer block; the attention backend decides who sees whom."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        hidden = int(cfg.width * cfg.mlp_ratio)
        self.norm1 = nn.LayerNorm(cfg.width)
        self.attn = SelfAttention(cfg.width, cfg.heads)
        self.norm2 = nn.LayerNorm(cfg.width)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.width, hidden), nn.GELU(), nn.Linear(hidden, cfg.width)
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, backend):
        x = x + self.drop(self.attn(self.norm1(x), backend))
        return x + self.drop(self.mlp(self.norm2(x)))


class Encoder(nn.Module):
    """What both models share: patch embedding, transformer blocks, final norm."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = nn.Linear(cfg.patch_size**2, cfg.width)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.width)
        self.head_norm = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width, cfg.num_classes)

    def encode(self, x, backend):
        for block in self.blocks:
            x = block(x, backend)
        return self.norm(x)

    def classify(self, pooled):
        return self.head(self.head_norm(pooled))

    @property
    def device(self):
        return self.head.weight.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def stretch_time(table: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly resample a position table ``[T, D]`` (or ``[T, F, D]``) to ``length`` rows."""
    if table.shape[0] == length:
        return table
    flat = table.reshape(table.shape[0], -1).T[None]  # [1, F*D, T]
    out = F.interpolate(flat, size=length, mode="linear", align_corners=True)
    return out[0].T.reshape(length, *table.shape[1:])


class ElasticAST(Encoder):
    """One AST for every length and resolution: packing, masks and attention pooling."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.freq_pos = nn.Parameter(torch.randn(cfg.freq_patches, cfg.width) * 0.02)
        self.time_pos = nn.Parameter(torch.randn(cfg.max_time_patches, cfg.width) * 0.02)
        self.pool = AttentionPool(cfg.width, cfg.heads)
        self.attention = cfg.attention

    @property
    def backend(self) -> str:
        """The attention backend this model runs now (``auto`` resolved for its device)."""
        return resolve_backend(self.attention, self.device, self.training)

    def pack(self, specs, **kw) -> PackedBatch:
        """Pack spectrograms as the config says: rows of ``max_tokens``, or, for a flat-layout
        backend (``varlen``), every token end to end in a single row without padding."""
        flat = self.backend in FLAT_LAYOUT
        max_tokens = math.inf if flat else self.cfg.max_tokens
        kw = {"max_tokens": max_tokens, "strategy": "fcfs" if flat else self.cfg.packing, **kw}
        return pack(specs, patch_size=self.cfg.patch_size, **kw)

    def positions(self, batch: PackedBatch) -> torch.Tensor:
        """Frequency-table row plus time-table row for every token, ``[R, N, D]``."""
        if batch.freq_patches != self.cfg.freq_patches:
            mels = batch.freq_patches * self.cfg.patch_size
            raise ValueError(
                f"spectrograms have {mels} mel bins; this model expects {self.cfg.num_mel_bins}"
            )
        # F.embedding, not table[index]: its backward sums repeated rows in a fixed order,
        # so training is bit-for-bit repeatable on CPU (indexing's backward is not).
        f, t = batch.coords.unbind(-1)
        table_len = self.time_pos.shape[0]
        pos = F.embedding(f, self.freq_pos) + F.embedding(t.clamp(max=table_len - 1), self.time_pos)
        for s in torch.nonzero(batch.time_patches > table_len).flatten().tolist():
            # a clip longer than the table: stretch the table to this clip alone
            r, a = int(batch.rows[s]), int(batch.starts[s])
            span = slice(a, a + int(batch.lengths[s]))
            table = stretch_time(self.time_pos, int(batch.time_patches[s]))
            pos[r, span] = F.embedding(f[r, span], self.freq_pos) + F.embedding(t[r, span], table)
        return pos

    def forward(self, x) -> torch.Tensor:
        """List of spectrograms ``[T_i, F]`` or a PackedBatch -> logits in input order."""
        batch = x if isinstance(x, PackedBatch) else self.pack(x)
        batch = batch.to(self.device)
        backend = make_backend(self.backend, batch)
        h = self.patch_embed(batch.tokens.to(self.head.weight.dtype)) + self.positions(batch)
        pooled = self.pool(self.encode(h, backend), backend)  # [S, D], packed order
        logits = self.classify(pooled)
        return logits[torch.argsort(batch.order)]


def trim_or_pad(spec: torch.Tensor, frames: int) -> torch.Tensor:
    """Keep the first ``frames`` frames, or append zero frames (after normalisation)."""
    if spec.shape[0] >= frames:
        return spec[:frames]
    return F.pad(spec, (0, 0, 0, frames - spec.shape[0]))


class StandardAST(Encoder):
    """The fixed-length baseline: trim/pad to ``target_frames``, [cls] token, 1-D positions."""

    def __init__(self, cfg: ModelConfig, target_frames: int = 1024):
        super().__init__(cfg)
        if target_frames < cfg.patch_size:
            raise ValueError(f"target_frames must be at least {cfg.patch_size}")
        self.target_frames = target_frames
        grid = cfg.freq_patches * (target_frames // cfg.patch_size)
        self.cls_token = nn.Parameter(torch.randn(cfg.width) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1 + grid, cfg.width) * 0.02)

    def positions(self, time_patches: int) -> torch.Tensor:
        """[cls] position plus the patch grid, stretched along time to ``time_patches``."""
        grid = self.pos_embed[1:].view(-1, self.cfg.freq_patches, self.cfg.width)
        grid = stretch_time(grid, time_patches).reshape(-1, self.cfg.width)
        return torch.cat([self.pos_embed[:1], grid])

    def forward(self, specs, frames: int | None = None) -> torch.Tensor:
        """Spectrograms (a list, or a tensor [B, T, F]) -> logits, each seen at ``frames``."""
        frames = frames or self.target_frames
        if frames < self.cfg.patch_size:
            raise ValueError(f"frames must be at least {self.cfg.patch_size}, got {frames}")
        x = torch.stack([trim_or_pad(s, frames) for s in specs]).to(self.device)
        tokens = self.patch_embed(patchify(x.to(self.head.weight.dtype), self.cfg.patch_size))
        cls = self.cls_token.expand(tokens.shape[0], 1, -1)
        h = torch.cat([cls, tokens], 1) + self.positions(frames // self.cfg.patch_size)
        return self.classify(self.encode(h, FullAttention())[:, 0])
