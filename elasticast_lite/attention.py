"""Masked self-attention and masked attention pooling over packed rows.

Paper, Sec. 2.2, "Mask Self-Attention" and "Mask Attention Pooling". Once several samples
share a row, plain attention would let a token of one clip read the tokens of another.
ElasticAST forbids that with a boolean mask M[b, i, j] = "token i may attend to token j",
true only inside one sample: ``softmax(Mask(Q K^T / sqrt(d))) V``. The [cls] token of AST
is replaced by attention pooling: one learned query per packed sample, masked so it reads
only its own sample's tokens (the cone shadows of Figure 3).

We scale scores by 1/sqrt(d) as every transformer does; the paper's formula and the
official code omit the scale. Fully masked query rows (padding tokens, unused pooling
slots) are never left fully masked here, because softmax over nothing but -inf is NaN and
``0 * NaN`` then poisons real tokens in the backward pass.

How the masked attention is computed is a *backend* choice, picked by name; every backend
gives the same numbers:
- ``dense``: one ``scaled_dot_product_attention`` call per layer with the dense
  block-diagonal mask [R, N, N] (the paper's formulation);
- ``matmul``: the official code's way, matmul + masked_fill + softmax, kept for teaching
  and for the benchmark.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .packing import PackedBatch


class DenseMaskAttention:
    """Masks built once per batch from a ``PackedBatch``, reused by every layer."""

    def __init__(self, batch: PackedBatch):
        self.batch = batch
        self.mask = batch.attention_mask()[:, None]  # [R, 1, N, N], broadcast over heads
        pool = batch.pooling_mask()  # [R, n_max, N]
        # An unused slot (its row holds fewer samples) reads token 0 so that its softmax is
        # finite; its output is never gathered, so nothing flows back through it.
        unused = ~pool.any(-1, keepdim=True)
        first = torch.zeros_like(pool)
        first[..., 0] = True
        self.pool_mask = (pool | (unused & first))[:, None]  # [R, 1, n_max, N]

    def attend(self, q, k, v):
        """q, k, v: [R, H, N, d] -> [R, H, N, d], each token attending inside its sample."""
        return F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask)

    def pool(self, query, k, v):
        """query [H, d], k, v [R, H, N, d] -> [S, H, d], one vector per packed sample."""
        R, H, _, d = k.shape
        n_max = self.pool_mask.shape[-2]
        q = query[None, :, None, :].expand(R, H, n_max, d)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=self.pool_mask)
        return out[self.batch.rows, :, self.batch.slots]


class MatmulMaskAttention(DenseMaskAttention):
    """The official code's formulation, written out: scores, masked_fill, softmax, matmul.

    It materialises every [N, N] score of every head, so it costs R * N^2 memory even
    though only the sum of n_i^2 entries are useful. Uses the dtype's lowest finite value,
    not -inf, so a masked score contributes exactly 0 without ever producing NaN.
    """

    @staticmethod
    def _attention(q, k, v, mask):
        scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        return scores.softmax(-1) @ v

    def attend(self, q, k, v):
        return self._attention(q, k, v, self.mask)

    def pool(self, query, k, v):
        R, H, _, d = k.shape
        q = query[None, :, None, :].expand(R, H, self.pool_mask.shape[-2], d)
        return self._attention(q, k, v, self.pool_mask)[self.batch.rows, :, self.batch.slots]


class FullAttention:
    """No mask at all: every token sees every token (a standard AST's attention)."""

    def attend(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


BACKENDS = {"dense": DenseMaskAttention, "matmul": MatmulMaskAttention}


def make_backend(name: str, batch: PackedBatch):
    """Build the named attention backend for one packed batch."""
    if name not in BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}; choose one of {sorted(BACKENDS)}")
    return BACKENDS[name](batch)


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[R, N, D] -> [R, H, N, D/H]"""
    R, N, D = x.shape
    return x.view(R, N, heads, D // heads).transpose(1, 2)


class SelfAttention(nn.Module):
    """Multi-head self-attention whose masking is delegated to a backend."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, backend) -> torch.Tensor:
        q, k, v = (split_heads(t, self.heads) for t in self.qkv(x).chunk(3, dim=-1))
        out = backend.attend(q, k, v)  # [R, H, N, d]
        return self.proj(out.transpose(1, 2).flatten(2))


class AttentionPool(nn.Module):
    """Masked attention pooling: one learned query reads each packed sample's tokens."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Parameter(torch.randn(width) * 0.02)
        self.kv = nn.Linear(width, 2 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, backend) -> torch.Tensor:
        """x [R, N, D] -> [S, D], one row per packed sample in packed order."""
        k, v = (split_heads(t, self.heads) for t in self.kv(x).chunk(2, dim=-1))
        query = self.query.view(self.heads, -1)
        return self.proj(backend.pool(query, k, v).flatten(1))
