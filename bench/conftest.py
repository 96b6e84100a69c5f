from __future__ import annotations

import pytest
import torch

from idx_files import write_dataset
from mnist_rules.data import DatasetName, load


@pytest.fixture(scope="session")
def full_size_data(tmp_path_factory):
    """A data set of MNIST's sizes (60,000 + 10,000 images), written here: the cost of an
    update does not depend on the pixel values, and benchmarks must run anywhere."""
    root = tmp_path_factory.mktemp("bench-mnist")
    write_dataset(root, train=60_000, test=10_000)
    return load(DatasetName.mnist, root)


def devices() -> list:
    cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
    return ["cpu", pytest.param("cuda", marks=cuda)]
