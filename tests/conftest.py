"""Shared helpers: small models that keep property tests fast on 2 CPU cores."""

import pytest
import torch

import elasticast_lite as el


def micro_config(**kw) -> el.ModelConfig:
    """A model small enough to run thousands of layouts, with every part of the real one."""
    base = dict(num_classes=5, width=32, depth=2, heads=2, max_time_patches=64)
    return el.ModelConfig(**{**base, **kw})


def random_specs(time_patches, seed=0, mels=128):
    """Spectrograms with the given lengths in patches (16 frames each), plus a ragged tail."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(16 * t + int(torch.randint(0, 16, (1,), generator=g)), mels, generator=g)
            for t in time_patches]


@pytest.fixture
def micro_model():
    torch.manual_seed(0)
    return el.ElasticAST(micro_config()).eval()
