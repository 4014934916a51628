"""The invariants of DESIGN.md: packing changes how samples are computed, never what.

Every test here compares against something that could disagree: a sample run alone
through a plain, unmasked transformer written out below, another order, another packing.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import elasticast_lite as el
from conftest import micro_config, random_specs
from elasticast_lite.attention import FullAttention, split_heads
from elasticast_lite.model import stretch_time

BACKENDS = sorted(el.BACKENDS)
TRAINABLE = [b for b in BACKENDS if b != "flex"]  # FlexAttention has no backward on CPU


def reference_logits(model: el.ElasticAST, spec: torch.Tensor) -> torch.Tensor:
    """One sample, no packing, no masks: the plain transformer the packed model must equal."""
    cfg = model.cfg
    tokens = el.patchify(spec)
    n_time = tokens.shape[0] // cfg.freq_patches
    table = model.time_pos
    if n_time > cfg.max_time_patches:
        table = stretch_time(model.time_pos, n_time)
    f = torch.arange(tokens.shape[0]) % cfg.freq_patches
    t = torch.arange(tokens.shape[0]) // cfg.freq_patches
    h = (model.patch_embed(tokens) + model.freq_pos[f] + table[t])[None]
    for block in model.blocks:
        h = block(h, FullAttention())
    h = model.norm(h)
    k, v = (split_heads(x, cfg.heads) for x in model.pool.kv(h).chunk(2, -1))
    q = model.pool.query.view(1, cfg.heads, 1, -1)
    pooled = model.pool.proj(F.scaled_dot_product_attention(q, k, v).flatten(1))
    return model.classify(pooled)[0]


def build(backend="dense", seed=0, **kw):
    torch.manual_seed(seed)
    model = el.ElasticAST(micro_config(**kw)).eval()
    model.attention = backend
    return model


layouts = st.fixed_dictionaries({
    "max_tokens": st.sampled_from([8, 24, 64, 200, 512]),
    "strategy": st.sampled_from(el.STRATEGIES),
    "backend": st.sampled_from(BACKENDS),
    "seed": st.integers(0, 1000),
}).flatmap(lambda d: st.lists(st.integers(1, d["max_tokens"] // 8), min_size=1, max_size=7)
           .map(lambda t: {**d, "time_patches": t}))


@settings(max_examples=60, deadline=None)
@given(layouts)
def test_packed_forward_equals_each_sample_alone(layout):
    model = build(layout["backend"], max_tokens=layout["max_tokens"], packing=layout["strategy"])
    specs = random_specs(layout["time_patches"], layout["seed"])
    with torch.no_grad():
        packed = model(specs)
        alone = torch.stack([reference_logits(model, s) for s in specs])
    torch.testing.assert_close(packed, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sample_that_exactly_fills_a_row(backend):
    model = build(backend, max_tokens=2048)
    specs = random_specs([256, 3, 253, 1])  # 2048 | 24 + 2024 | 8
    batch = el.pack(specs, max_tokens=2048)
    assert batch.rows.tolist() == [0, 1, 1, 2] and batch.tokens.shape[1] == 2048
    with torch.no_grad():
        torch.testing.assert_close(
            model(batch), torch.stack([reference_logits(model, s) for s in specs]),
            atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", TRAINABLE)
def test_gradients_stay_inside_their_sample(backend):
    model = build(backend, max_tokens=64)
    specs = [s.requires_grad_() for s in random_specs([2, 3, 1, 4, 3], seed=3)]
    batch = model.pack(specs)
    assert batch.max_samples_per_row >= 2  # row-mates exist
    batch.tokens.retain_grad()
    for i in range(len(specs)):
        for s in specs:
            s.grad = None
        batch.tokens.grad = None
        model(batch)[i].sum().backward(retain_graph=True)
        assert specs[i].grad.abs().sum() > 0
        for j, other in enumerate(specs):
            if j != i:
                assert other.grad is None or torch.count_nonzero(other.grad) == 0, (i, j)
        assert torch.count_nonzero(batch.tokens.grad[batch.sample_ids < 0]) == 0


@pytest.mark.parametrize("backend", TRAINABLE)
def test_padding_gets_zero_gradient_and_cannot_change_outputs(backend):
    model = build(backend, max_tokens=80)
    batch = el.pack(random_specs([9, 2, 5, 1], seed=4), max_tokens=80)
    pad = batch.sample_ids < 0
    assert pad.any()
    tokens = batch.tokens.clone().requires_grad_()
    batch.tokens = tokens
    out = model(batch)
    out.pow(2).sum().backward()
    assert torch.count_nonzero(tokens.grad[pad]) == 0
    with torch.no_grad():
        batch.tokens = tokens.detach().masked_fill(pad[..., None], 1e4)  # garbage in padding
        torch.testing.assert_close(model(batch), out.detach(), atol=1e-5, rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(st.permutations(list(range(6))), st.sampled_from(el.STRATEGIES))
def test_permuting_inputs_permutes_outputs(perm, strategy):
    model = build(max_tokens=64, packing=strategy)
    specs = random_specs([1, 4, 2, 8, 3, 5], seed=5)
    with torch.no_grad():
        out = model(specs)
        permuted = model([specs[i] for i in perm])
    torch.testing.assert_close(permuted, out[perm], atol=1e-5, rtol=1e-5)


def test_no_nan_or_inf_over_a_thousand_random_layouts():
    torch.manual_seed(0)
    model = el.ElasticAST(el.ModelConfig(num_classes=3, width=16, depth=1, heads=2,
                                         max_time_patches=8))
    rng = np.random.default_rng(0)
    for trial in range(1000):
        max_tokens = int(rng.choice([8, 16, 40, 96]))
        n = int(rng.integers(1, 6))
        # bias towards rows that are mostly padding: one long sample, then short ones
        lengths = rng.integers(1, max_tokens // 8 + 1, size=n)
        if trial % 3 == 0:
            lengths[1:] = 1
        specs = random_specs(lengths.tolist(), seed=trial)
        model.attention = TRAINABLE[trial % len(TRAINABLE)]
        batch = model.pack(specs, max_tokens=max_tokens, strategy=el.STRATEGIES[trial % 3])
        batch.tokens.requires_grad_()
        out = model(batch)
        out.sum().backward()
        assert torch.isfinite(out).all(), trial
        assert torch.isfinite(batch.tokens.grad).all(), trial
        assert all(torch.isfinite(p.grad).all() for p in model.parameters()), trial
        model.zero_grad()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_clip_longer_than_the_time_table_is_stretched_for_itself_alone(backend):
    model = build(backend, max_time_patches=4, max_tokens=400)
    short, long = random_specs([3, 11], seed=6)
    with torch.no_grad():
        out = model([short, long])
        torch.testing.assert_close(out[0], model([short])[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out[0], reference_logits(model, short), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out[1], reference_logits(model, long), atol=1e-5, rtol=1e-5)


def test_backends_agree_on_outputs_and_gradients():
    specs = random_specs([7, 2, 12, 1, 5], seed=7)
    results = {}
    for backend in TRAINABLE:
        model = build(backend, max_tokens=128)
        out = model(specs)
        out.square().sum().backward()
        results[backend] = (out.detach(), model.patch_embed.weight.grad.clone())
    ref_out, ref_grad = results["dense"]
    for out, grad in results.values():
        torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(grad, ref_grad, atol=1e-4, rtol=1e-4)


def test_unknown_backend_and_wrong_mel_count():
    model = build("flash-of-genius")
    with pytest.raises(ValueError, match="unknown attention backend 'flash-of-genius'"):
        model(random_specs([2]))
    with pytest.raises(ValueError, match="no backward pass on CPU; use 'varlen'"):
        build("flex").train()(random_specs([2]))
    with pytest.raises(ValueError, match="this model expects 128"):
        build()(random_specs([2], mels=64))


def test_presets_have_the_papers_shapes():
    base = el.ModelConfig.base(num_classes=527)
    assert (base.width, base.heads, base.depth) == (768, 12, 12)
    tiny = el.ElasticAST(el.ModelConfig.tiny())
    assert 1.5e6 < tiny.num_parameters() < 3e6


# ---- the standard AST baseline ----

def ast_model(target_frames=64):
    torch.manual_seed(0)
    return el.StandardAST(micro_config(), target_frames=target_frames).eval()


def test_standard_ast_trims_and_pads_to_its_length():
    model = ast_model(64)
    long, short = random_specs([7, 2], seed=8)
    with torch.no_grad():
        out = model([long, short])
        torch.testing.assert_close(out[0], model([long[:64]])[0], atol=1e-5, rtol=1e-5)
        padded = torch.cat([short, torch.zeros(64 - short.shape[0], 128)])
        torch.testing.assert_close(out[1], model([padded])[0], atol=1e-5, rtol=1e-5)
        assert not torch.allclose(out[0], model([long[16:80]])[0])  # the start is what it keeps


def test_standard_ast_at_another_length_interpolates_its_position_grid():
    model = ast_model(64)
    grid = model.pos_embed[1:].view(4, 8, -1)  # [time, freq, D]
    torch.testing.assert_close(model.positions(4)[1:].view(4, 8, -1), grid)
    stretched = model.positions(7)[1:].view(7, 8, -1)
    torch.testing.assert_close(stretched[0], grid[0])
    torch.testing.assert_close(stretched[-1], grid[-1])
    torch.testing.assert_close(stretched[3], (grid[1] + grid[2]) / 2)  # t=3 of 7 is 1.5 of 4
    with torch.no_grad():
        out = model(random_specs([10, 3]), frames=128)
    assert out.shape == (2, 5) and torch.isfinite(out).all()
