from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from idx_files import write_dataset
from mnist_rules.data.mnist import DatasetName, load
from mnist_rules.engines.modes import EngineName, StepMode

# Real MNIST, for the benchmarks marked `realdata`, found as tests/conftest.py finds it:
# ../shared/data beside the repository, or the directory in $MNIST_RULES_REAL_DATA.
REAL_DATA = Path(
    os.environ.get("MNIST_RULES_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not (REAL_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        pytest.skip(f"real MNIST not found in {REAL_DATA} (set MNIST_RULES_REAL_DATA)")
    return REAL_DATA


@pytest.fixture(scope="session")
def full_size_root(tmp_path_factory):
    """A data set of MNIST's sizes (60,000 + 10,000 images), written here: the cost of an
    update does not depend on the pixel values, and benchmarks must run anywhere."""
    root = tmp_path_factory.mktemp("bench-mnist")
    write_dataset(root, train=60_000, test=10_000)
    return root


@pytest.fixture(scope="session")
def full_size_data(full_size_root):
    return load(DatasetName.mnist, full_size_root)


def variants() -> list:
    """(engine, step mode, device) to measure: both engines eagerly on each device, the
    tuned engine's kernel mode on the CPU (where numba imports), and on CUDA its graph,
    compiled and kernel (Triton) modes. CUDA ones skip without a GPU."""
    cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
    eager = [(engine, StepMode.eager) for engine in EngineName]
    captured = [(EngineName.tuned, m) for m in (StepMode.graph, StepMode.compiled, StepMode.kernel)]
    cases = [pytest.param(e, m, "cpu", id=f"{e.value}-{m.value}-cpu") for e, m in eager]
    no_numba = pytest.mark.skipif(_no_numba(), reason="numba missing")
    kernel = (EngineName.tuned, StepMode.kernel, "cpu")
    cases.append(pytest.param(*kernel, id="tuned-kernel-cpu", marks=no_numba))
    cases += [
        pytest.param(e, m, "cuda", id=f"{e.value}-{m.value}-cuda", marks=cuda)
        for e, m in eager + captured
    ]
    return cases


def _no_numba() -> bool:
    from mnist_rules.engines.tuned.numba_sample_steps import available

    return available() is not None


def synchronize(device: str) -> None:
    """Benchmarked functions end here: a CUDA launch returns before the work is done."""
    if device == "cuda":
        torch.cuda.synchronize()
