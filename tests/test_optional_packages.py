"""numba and triton are optional at import (a bare GPU machine may lack numba), and the
tests of what they provide skip without them, saying why. In CI both are installed
(numba is a dependency, triton comes with torch's Linux wheels), so there a skip would
hide a break: fail instead."""

import os

import pytest

from mnist_rules.engines.tuned import numba_sample_steps, triton_sample_steps


@pytest.mark.skipif(not os.environ.get("CI"), reason="CI only: elsewhere they may be absent")
@pytest.mark.parametrize("module", [numba_sample_steps, triton_sample_steps])
def test_ci_has_the_packages_the_kernel_tests_need(module):
    assert module.available() is None
