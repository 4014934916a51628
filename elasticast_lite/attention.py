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
gives the same numbers (the tests check outputs and gradients):
- ``dense``: one ``scaled_dot_product_attention`` call per layer with the dense
  block-diagonal mask [R, N, N] (the paper's formulation). Costs R * N^2 scores although
  only the sum of n_i^2 are useful.
- ``matmul``: the official code's way, matmul + masked_fill + softmax, kept for teaching
  and for the benchmark.
- ``segments``: one unmasked attention call per packed sample, on its slice of the row:
  exactly the useful n_i^2 scores, no mask at all.
- ``varlen``: the same per-sample attention, but the model lays all tokens of a batch end to
  end in a single row with no padding at all (the "varlen" layout of FlashAttention). On
  CUDA in half precision it calls PyTorch's FlashAttention varlen kernel.
- ``flex``: FlexAttention with a document mask (CUDA; compiled block-sparse kernels that
  skip the masked blocks). On CPU it runs forward only, and slowly: never chosen there.
- ``auto``: the fastest correct one for the device, see ``resolve_backend``.
"""

from __future__ import annotations

import contextlib
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from .packing import PackedBatch


class DensePooling:
    """Masked attention pooling with the paper's dense mask [R, n_max, N]."""

    def __init__(self, batch: PackedBatch):
        self.batch = batch
        pool = batch.pooling_mask()  # [R, n_max, N]
        # An unused slot (its row holds fewer samples) reads token 0 so that its softmax is
        # finite; its output is never gathered, so nothing flows back through it.
        unused = ~pool.any(-1, keepdim=True)
        first = torch.zeros_like(pool)
        first[..., 0] = True
        self.pool_mask = (pool | (unused & first))[:, None]  # [R, 1, n_max, N]

    def pool(self, query, k, v):
        """query [H, d], k, v [R, H, N, d] -> [S, H, d], one vector per packed sample."""
        R, H, _, d = k.shape
        n_max = self.pool_mask.shape[-2]
        q = query[None, :, None, :].expand(R, H, n_max, d)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=self.pool_mask)
        return out[self.batch.rows, :, self.batch.slots]


class DenseMaskAttention(DensePooling):
    """The block-diagonal mask built once per batch, reused by every layer."""

    def __init__(self, batch: PackedBatch):
        super().__init__(batch)
        self.mask = batch.attention_mask()[:, None]  # [R, 1, N, N], broadcast over heads

    def attend(self, q, k, v):
        """q, k, v: [R, H, N, d] -> [R, H, N, d], each token attending inside its sample."""
        return F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask)


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


class SegmentAttention:
    """Per-sample attention on slices of the rows: no mask, no wasted scores.

    Rows are cut with ``split`` (whose backward is a single concatenation, where slicing
    would allocate a full-size zero gradient per slice). Samples of equal length share one
    call, so a fixed-length data set costs one call per layer. A padding token attends only
    to itself, so its output is its own value vector, exactly as under the dense mask.
    """

    def __init__(self, batch: PackedBatch):
        self.batch = batch
        rows, lengths = batch.rows.tolist(), batch.lengths.tolist()
        width = batch.tokens.shape[1]
        self.row_members = [[] for _ in range(batch.num_rows)]  # packed samples per row
        for s, r in enumerate(rows):
            self.row_members[r].append(s)
        self.row_sizes = []  # sample lengths of each row, then its padding
        for members in self.row_members:
            sizes = [lengths[s] for s in members]
            self.row_sizes.append(sizes + [width - sum(sizes)])
        self.groups: dict[int, list[int]] = {}  # length -> packed samples of that length
        for s, n in enumerate(lengths):
            self.groups.setdefault(n, []).append(s)
        self.flat = batch.num_rows == 1 and self.row_sizes[0][-1] == 0
        self.cu_seqlens = F.pad(batch.lengths.cumsum(0), (1, 0)).to(torch.int32)
        self.longest = max(lengths)

    def _split(self, x):
        """[R, H, N, d] -> (one [H, n_s, d] view per packed sample, padding view per row)."""
        samples, padding = [], []
        for row, sizes in zip(x.unbind(0), self.row_sizes):
            *mine, pad = row.split(sizes, dim=1)
            samples += mine
            padding.append(pad)
        return samples, padding

    def _per_group(self, fn, *parts):
        """Apply ``fn`` to the samples of each length at once; results in packed order."""
        out: list = [None] * len(self.batch.lengths)
        for members in self.groups.values():
            if len(members) == 1:  # a view, not a copy
                stacked = (p[members[0]].unsqueeze(0) for p in parts)
            else:
                stacked = (torch.stack([p[s] for s in members]) for p in parts)
            for s, piece in zip(members, fn(*stacked).unbind(0)):
                out[s] = piece
        return out

    def attend(self, q, k, v):
        if self.flat and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16):
            if (varlen_attn := _flash_varlen_kernel()) is not None:
                cu, n = self.cu_seqlens, self.longest
                q, k, v = (x[0].transpose(0, 1) for x in (q, k, v))  # [T, H, d]
                return varlen_attn(q, k, v, cu, cu, n, n).transpose(0, 1)[None]
        (qs, _), (ks, _), (vs, v_pad) = self._split(q), self._split(k), self._split(v)
        with _no_per_shape_plans(q):
            out = self._per_group(F.scaled_dot_product_attention, qs, ks, vs)
        rows = [torch.cat([out[s] for s in members] + [pad], dim=1)  # padding: its own value
                for members, pad in zip(self.row_members, v_pad)]
        return torch.stack(rows)

    def pool(self, query, k, v):
        (ks, _), (vs, _) = self._split(k), self._split(v)

        def attend_one_query(kk, vv):
            q = query[None, :, None, :].expand(kk.shape[0], -1, 1, -1)
            return F.scaled_dot_product_attention(q, kk, vv)[:, :, 0]

        with _no_per_shape_plans(k):
            return torch.stack(self._per_group(attend_one_query, ks, vs))  # [S, H, d]


def _no_per_shape_plans(x):
    """On CUDA, keep SDPA off cuDNN, which builds a plan for every new sequence length
    (and every packed sample has its own); elsewhere, change nothing."""
    if not x.is_cuda:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backends = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    return sdpa_kernel(backends)


def _flash_varlen_kernel():
    """PyTorch's FlashAttention varlen kernel, or None on a torch without it."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_attn


class FlexAttention(DensePooling):
    """FlexAttention with a document mask: block-sparse kernels skip whole masked blocks.

    Rows are padded to a multiple of the 128-token block so that a training run compiles a
    handful of shapes, not one per batch. Pooling uses the small dense pooling mask.
    """

    BLOCK = 128

    def __init__(self, batch: PackedBatch):
        from torch.nn.attention.flex_attention import create_block_mask

        super().__init__(batch)
        R, N = batch.sample_ids.shape
        self.pad = -N % self.BLOCK
        ids = F.pad(batch.sample_ids, (0, self.pad), value=-1)

        def same_sample(b, h, q_idx, kv_idx):
            return ((ids[b, q_idx] == ids[b, kv_idx]) & (ids[b, q_idx] >= 0)) | (q_idx == kv_idx)

        size = N + self.pad
        self.block_mask = create_block_mask(same_sample, R, None, size, size, device=ids.device)

    def attend(self, q, k, v):
        if not q.is_cuda and torch.is_grad_enabled() and q.requires_grad:
            raise ValueError("the flex backend has no backward pass on CPU; use 'varlen'")
        q, k, v = (F.pad(x, (0, 0, 0, self.pad)) for x in (q, k, v))
        out = _flex_attention(q.is_cuda)(q, k, v, block_mask=self.block_mask)
        return out[:, :, : out.shape[2] - self.pad]


_FLEX = {}


def _flex_attention(compiled: bool):
    """flex_attention, compiled once on CUDA (compiling takes seconds, a call microseconds).

    On CPU the eager version runs: it exists there to check the mask logic, not for speed.
    """
    from torch.nn.attention.flex_attention import flex_attention

    if not compiled:
        def eager(*args, **kw):
            with warnings.catch_warnings():  # "use torch.compile": we know, see above
                warnings.simplefilter("ignore")
                return flex_attention(*args, **kw)

        return eager
    if "fn" not in _FLEX:
        _FLEX["fn"] = torch.compile(flex_attention)
    return _FLEX["fn"]


BACKENDS = {
    "dense": DenseMaskAttention,
    "matmul": MatmulMaskAttention,
    "segments": SegmentAttention,
    "varlen": SegmentAttention,
    "flex": FlexAttention,
}
FLAT_LAYOUT = {"varlen"}  # backends for which the model packs everything into one row


def resolve_backend(name: str, device, training: bool) -> str:
    """Turn ``auto`` into a backend name; check any other name.

    The rule comes from ``benchmarks/bench_training.py``: on CPU the flat ``varlen`` layout
    is fastest for training and inference (FlexAttention is forward-only there and no
    faster than SDPA); on CUDA too, where it runs FlashAttention's varlen kernel.
    """
    if name == "auto":
        return "varlen"
    if name not in BACKENDS:
        choices = sorted([*BACKENDS, "auto"])
        raise ValueError(f"unknown attention backend {name!r}; choose one of {choices}")
    return name


def make_backend(name: str, batch: PackedBatch, training: bool = False):
    """Build the named (or ``auto``) attention backend for one packed batch."""
    return BACKENDS[resolve_backend(name, batch.tokens.device, training)](batch)


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
        query = self.query.view(self.heads, -1).to(k.dtype)  # k is bf16 under autocast
        return self.proj(backend.pool(query, k, v).flatten(1))
