"""Marks for tests of what an optional package provides. numba is a dependency, but a
machine may lack it (the GPU machine runs the project with --no-deps): there the kernel
step mode falls back to eager with a warning, and its tests are skipped, saying why."""

import pytest

from mnist_rules.engines.tuned.numba_sample_steps import available

needs_numba = pytest.mark.skipif(available() is not None, reason="numba does not import")
KERNEL = pytest.param("kernel", marks=needs_numba)  # the kernel step mode, as a parameter
