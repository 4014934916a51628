#!/usr/bin/env bash
# The CUDA checks in one go, for a machine with a GPU: the CUDA tests (compiled
# FlexAttention, FlashAttention varlen, bf16 autocast), then both benchmarks on the GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_model.py
python3 benchmarks/bench_inference.py --device cuda
python3 benchmarks/bench_training.py --device cuda --configs tiny base2
