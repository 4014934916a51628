"""CUDA paths: compiled FlexAttention, FlashAttention varlen and bf16 autocast.

Skipped without a CUDA GPU (CI has none); run on a GPU machine with
``pytest tests/test_cuda.py``. The CPU tests prove the same invariants for every backend.
"""

import pytest
import torch

import elasticast_lite as el
from conftest import micro_config, random_specs

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
GPU_BACKENDS = ["dense", "segments", "varlen", "flex"]


def models(backend, **kw):
    torch.manual_seed(0)
    cpu = el.ElasticAST(micro_config(max_tokens=256, **kw)).eval()
    gpu = el.ElasticAST(micro_config(max_tokens=256, **kw)).cuda().eval()
    gpu.load_state_dict(cpu.state_dict())
    cpu.attention, gpu.attention = "dense", backend
    return cpu, gpu


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_float32_on_cuda_equals_the_cpu_model(backend):
    cpu, gpu = models(backend)
    specs = random_specs([1, 30, 7, 12, 3, 32], seed=1)
    with torch.no_grad():
        torch.testing.assert_close(gpu([s.cuda() for s in specs]).cpu(), cpu(specs),
                                   atol=2e-4, rtol=2e-4)


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_bf16_autocast_agrees_and_gradients_stay_inside_their_sample(backend):
    cpu, gpu = models(backend)
    gpu.train()
    specs = [s.cuda().requires_grad_() for s in random_specs([5, 9, 2, 14], seed=2)]
    with torch.autocast("cuda", torch.bfloat16):
        out = gpu(specs)
    with torch.no_grad():
        ref = cpu([s.detach().cpu() for s in specs])
    torch.testing.assert_close(out.float().cpu(), ref, atol=0.1, rtol=0.05)
    out[1].float().sum().backward()
    assert specs[1].grad.abs().sum() > 0
    for j in (0, 2, 3):
        assert specs[j].grad is None or torch.count_nonzero(specs[j].grad) == 0


def test_auto_picks_a_backend_that_trains_on_cuda():
    _, gpu = models("auto")
    gpu.train()
    assert gpu.backend in el.BACKENDS
    with torch.autocast("cuda", torch.bfloat16):
        loss = gpu([s.cuda() for s in random_specs([3, 8])]).float().sum()
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in gpu.parameters() if p.grad is not None)
