"""Marks for tests of what an optional package provides. numba is a dependency, but a
machine may lack it (the GPU machine runs the project with --no-deps): there the kernel
step mode falls back to eager with a warning, and its tests are skipped, saying why."""

import pytest
import torch

from mnist_rules.engines.tuned import triton_sample_steps
from mnist_rules.engines.tuned.numba_sample_steps import available

needs_numba = pytest.mark.skipif(available() is not None, reason="numba does not import")
KERNEL = pytest.param("kernel", marks=needs_numba)  # the kernel step mode, as a parameter

# The Triton steps run on a GPU, or without one in Triton's interpreter (tests/conftest.py
# sets TRITON_INTERPRET=1 there).
TRITON_STEPS = [
    pytest.mark.triton,
    pytest.mark.skipif(
        triton_sample_steps.available() is not None, reason="triton does not import"
    ),
    pytest.mark.skipif(
        not torch.cuda.is_available()
        and triton_sample_steps.available() is None
        and not triton_sample_steps.interpreting(),
        reason="no GPU, and TRITON_INTERPRET is not 1 (tests/conftest.py sets it)",
    ),
]
