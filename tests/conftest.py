from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch  # does not import triton (torchvision, imported below, does)

# Without a GPU, Triton's kernels (the kernel step mode on CUDA) run in its interpreter
# on CPU tensors: tests/test_triton_kernel.py. Set before anything imports triton, so it
# holds for the whole session.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from idx_files import write_dataset
from mnist_rules.data.mnist import DatasetName, load

# Real MNIST for the tests marked `realdata`: ../shared/data beside the repository, as
# torchvision lays it out (MNIST/raw/ with the four uncompressed IDX files), or the
# directory in $MNIST_RULES_REAL_DATA. Those tests are skipped, and say so, without it.
REPO = Path(__file__).resolve().parent.parent
REAL_DATA = Path(os.environ.get("MNIST_RULES_REAL_DATA", REPO.parent / "shared" / "data"))


# The edit-and-check loop (`pytest -m quick`: about 45 s on 2 cores, docs/development.md)
# is every test file but these, which start processes (torchrun, the CLI in a fresh
# interpreter, signals), train on real MNIST, run Triton's interpreter or the notebook.
SLOW_FILES = {
    "test_checkpoint.py",
    "test_cache_dir.py",
    "test_distributed.py",
    "test_gpu_check.py",
    "test_grid_storage.py",
    "test_interrupts.py",
    "test_realdata.py",
    "test_sm90.py",
    "test_triton_kernel.py",
    "test_triton_persistent.py",
    "test_tutorial.py",
}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.path.name not in SLOW_FILES:
            item.add_marker(pytest.mark.quick)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """A data directory holding a tiny MNIST: 512 training and 200 test images."""
    root = tmp_path_factory.mktemp("tiny-mnist")
    write_dataset(root)
    return root


@pytest.fixture(scope="session")
def tiny_data(tiny_root):
    return load(DatasetName.mnist, tiny_root)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not (REAL_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        pytest.skip(f"real MNIST not found in {REAL_DATA} (set MNIST_RULES_REAL_DATA)")
    return REAL_DATA


@pytest.fixture
def offline(monkeypatch):
    """Make torchvision's download fail at once, as on a machine with no internet: the
    mirrors point at a closed local port."""
    from torchvision import datasets

    for cls in (datasets.MNIST, datasets.FashionMNIST, datasets.KMNIST):
        monkeypatch.setattr(cls, "mirrors", ["http://127.0.0.1:9/"])


@pytest.fixture(autouse=True)
def _no_data_env(monkeypatch):
    # A user's $MNIST_RULES_DATA must not leak into the tests' choice of directory.
    monkeypatch.delenv("MNIST_RULES_DATA", raising=False)
