"""The token-budget sampler: each sample exactly once per epoch, full rows, even ranks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elasticast_lite.packing import plan_rows
from elasticast_lite.sampler import TokenBudgetSampler


def speech_like_tokens(n, seed=0):
    """4 s plus a long tail, capped at 30 s, in tokens (8 per 16 frames of 10 ms)."""
    seconds = np.minimum(4 + np.random.default_rng(seed).lognormal(np.log(3), 0.8, n), 30)
    return (seconds * 100 // 16 * 8).astype(int).tolist()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 4), st.sampled_from([2048, 4096, 16384]),
       st.integers(0, 99))
def test_every_sample_once_per_epoch_and_every_rank_the_same_number_of_steps(
        n, world, budget, seed):
    lengths = speech_like_tokens(n, seed)
    if n < world:
        return
    ranks = [TokenBudgetSampler(lengths, budget, seed=seed, rank=r, world_size=world)
             for r in range(world)]
    seen = [list(r) for r in ranks]
    assert len({len(s) for s in seen}) == 1 and len(seen[0]) == len(ranks[0])
    flat = [i for steps in seen for step in steps for i in step]
    assert sorted(flat) == list(range(n))
    for steps in seen:
        for step in steps:  # every step fits its token budget
            assert sum(lengths[i] for i in step) <= max(budget, 2048)


def test_epochs_reshuffle_and_seeds_reproduce():
    lengths = speech_like_tokens(500)
    a, b = TokenBudgetSampler(lengths, seed=1), TokenBudgetSampler(lengths, seed=1)
    first = list(a)
    assert first == list(b)
    a.set_epoch(1)
    assert list(a) != first and sorted(sum(list(a), [])) == sorted(sum(first, []))


def test_rows_are_nearly_full_over_an_epoch():
    usage = TokenBudgetSampler(speech_like_tokens(3000), tokens_per_step=8 * 2048).usage()
    assert usage["padding_fraction"] < 0.03
    fcfs_padding = 0
    lengths = speech_like_tokens(3000)
    for start in range(0, 3000, 24):  # the paper's way: FCFS batches of 24 clips
        rows = plan_rows(lengths[start:start + 24], 2048, "fcfs")
        width = max(sum(lengths[start + j] for j in row) for row in rows)
        fcfs_padding += width * len(rows) - sum(lengths[start + j] for row in rows for j in row)
    assert usage["padding_fraction"] < fcfs_padding / (fcfs_padding + sum(lengths)) / 3


def test_bad_input():
    with pytest.raises(ValueError, match="sample 1 has 3000 tokens; a row holds 1 to 2048"):
        TokenBudgetSampler([100, 3000])
    with pytest.raises(ValueError, match="rank 2 is not in 0..1"):
        TokenBudgetSampler([100], rank=2, world_size=2)
    with pytest.raises(ValueError, match="cannot give 2 ranks the same number of steps"):
        list(TokenBudgetSampler([100], rank=0, world_size=2))
    with pytest.raises(ValueError, match="at least one sample"):
        TokenBudgetSampler([])
