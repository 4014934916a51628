"""Packing keeps every real token exactly once, respects the row budget and can be undone."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import elasticast_lite as el
from conftest import random_specs

layouts = st.fixed_dictionaries({
    "max_tokens": st.integers(2, 160),
    "strategy": st.sampled_from(el.STRATEGIES),
    "seed": st.integers(0, 10_000),
}).flatmap(lambda d: st.lists(st.integers(1, d["max_tokens"] // 2), min_size=1, max_size=12)
           .map(lambda t: {**d, "time_patches": t}))


@settings(max_examples=200, deadline=None)
@given(layouts)
def test_every_real_token_exactly_once_in_budget_and_order_restores_input(layout):
    specs = random_specs(layout["time_patches"], layout["seed"], mels=32)
    b = el.pack(specs, max_tokens=layout["max_tokens"], strategy=layout["strategy"])
    assert (b.sample_ids >= 0).sum(1).max() <= layout["max_tokens"]
    assert sorted(b.order.tolist()) == list(range(len(specs)))
    for s in range(b.num_samples):
        i, r = int(b.order[s]), int(b.rows[s])
        mine = b.sample_ids[r] == b.slots[s]
        assert torch.equal(b.tokens[r, mine], el.patchify(specs[i]))  # all of it, in order
        assert mine.sum() == b.lengths[s] == 2 * layout["time_patches"][i]
        n_freq = 2
        t, f = torch.arange(int(b.lengths[s])) // n_freq, torch.arange(int(b.lengths[s])) % n_freq
        assert torch.equal(b.coords[r, mine], torch.stack([f, t], -1))
    assert b.stats()["real_tokens"] == sum(2 * t for t in layout["time_patches"])
    assert torch.all(b.tokens[b.sample_ids < 0] == 0)
    if layout["strategy"] in ("fcfs", "pad"):  # these keep the input order
        assert b.order.tolist() == list(range(len(specs)))
    if layout["strategy"] == "pad":
        assert b.num_rows == len(specs) and b.max_samples_per_row == 1


def test_fcfs_starts_a_new_row_only_when_the_next_sample_would_overflow():
    specs = random_specs([100, 100, 56, 1, 200, 55], mels=128)  # tokens 800, 800, 448, 8, ...
    b = el.pack(specs, max_tokens=2048)
    # 800 + 800 + 448 and 8 + 1600 + 440 both fill a row exactly
    assert b.rows.tolist() == [0, 0, 0, 1, 1, 1]
    assert b.tokens.shape[:2] == (2, 2048)


def test_decreasing_strategies_waste_less_than_fcfs_on_an_adversarial_order():
    specs = random_specs([150, 150, 100, 100], mels=128)  # fcfs: 3 rows, decreasing: 2
    pads = {s: el.pack(specs, strategy=s).stats()["padding_tokens"] for s in el.STRATEGIES}
    assert pads["ffd"] < pads["fcfs"] and pads["bfd"] < pads["fcfs"]


def test_patchify_keeps_each_patch_as_a_mel_by_frame_block():
    spec = torch.arange(32 * 48, dtype=torch.float32).view(32, 48)  # 2 time x 3 freq patches
    tok = el.patchify(spec)
    assert tok.shape == (6, 256)
    patch = tok[1 * 3 + 2].view(16, 16)  # time patch 1, freq patch 2
    assert torch.equal(patch, spec[16:32, 32:48].T)


def test_masks_follow_the_sample_ids():
    b = el.pack(random_specs([3, 1, 2], mels=32), max_tokens=10)  # tokens 6, 2 | 4
    ids = b.sample_ids
    assert ids.tolist() == [[0] * 6 + [1] * 2, [0] * 4 + [-1] * 4]
    m = b.attention_mask()
    assert m[0, 0, 5] and not m[0, 0, 6] and m[0, 7, 6]
    pad = ids[1] < 0
    assert torch.equal(m[1][pad][:, pad], torch.eye(4, dtype=torch.bool))  # padding: itself
    assert not m[1][~pad][:, pad].any()  # nobody real sees padding
    pm = b.pooling_mask()
    assert pm.shape == (2, 2, 8)
    assert torch.equal(pm[0, 1], ids[0] == 1) and not pm[1, 1].any()  # unused slot


def test_max_frames_crops_and_counts_the_cut():
    specs = random_specs([10, 3], mels=128)
    b = el.pack(specs, max_frames=64)
    assert b.lengths.tolist() == [32, 24]
    cut_frames = specs[0].shape[0] - 64 + specs[1].shape[0] % 16
    assert b.stats()["cut_tokens"] == pytest.approx(cut_frames * 8 / 16)


def test_one_unbounded_row():
    b = el.pack(random_specs([300, 200], mels=128), max_tokens=math.inf)
    assert b.num_rows == 1 and b.tokens.shape[1] == 4000


def test_sample_too_long_for_a_row_names_it():
    specs = random_specs([4, 257], mels=128)
    with pytest.raises(ValueError, match=r"sample 1 has 2056 tokens \(4\d\d\d frames\), more than"):
        el.pack(specs, max_tokens=2048)


def test_sample_too_short_for_a_patch_names_it():
    with pytest.raises(ValueError, match="sample 2 has 15 frames, fewer than one 16-frame patch"):
        el.pack([torch.zeros(32, 128), torch.zeros(16, 128), torch.zeros(15, 128)])


@pytest.mark.parametrize("specs, message", [
    ([], "at least one"),
    ([torch.zeros(32, 128), torch.zeros(32, 64)], "same mel bins"),
    ([torch.zeros(32, 128, 1)], "expected \\[frames, mels\\]"),
    ([torch.full((32, 128), float("nan"))], "sample 0 holds NaN"),
])
def test_bad_batches(specs, message):
    with pytest.raises(ValueError, match=message):
        el.pack(specs)


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown packing strategy 'lifo'"):
        el.pack(random_specs([1]), strategy="lifo")


def test_token_dropout_keeps_a_share_of_each_samples_tokens_at_their_own_positions():
    specs = random_specs([40, 3, 1, 25], seed=9)
    g = torch.Generator().manual_seed(0)
    b = el.pack(specs, token_dropout=0.3, generator=g, max_tokens=4096)
    full = el.pack(specs, max_tokens=4096)
    assert b.time_patches.tolist() == full.time_patches.tolist()
    assert 0.6 < b.lengths.sum() / full.lengths.sum() < 0.8
    for s in range(b.num_samples):
        i, r = int(b.order[s]), int(b.rows[s])
        mine = b.sample_ids[r] == b.slots[s]
        f, t = b.coords[r, mine].unbind(-1)
        assert mine.sum() >= 1 and f[0] == 0 and t[0] == 0  # the first token always stays
        assert torch.equal(b.tokens[r, mine], el.patchify(specs[i])[t * 8 + f])
