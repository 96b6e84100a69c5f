"""The dev dependencies some tests need (nbclient, nbformat, ipykernel, pandas): such a
test skips without one, saying why, except in CI, where they are installed and a skip
would hide a break (as tests/test_optional_packages.py does for numba and triton)."""

import importlib
import os

import pytest


def require(module: str):
    if os.environ.get("CI"):
        return importlib.import_module(module)  # fails, loudly, if it is missing
    return pytest.importorskip(module, reason=f"{module} is not installed (a dev dependency)")
