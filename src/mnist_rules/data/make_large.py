"""A larger MNIST-format training set, for trying the out-of-core path on any machine:
the training images repeated K times, each copy after the first shifted by up to
`max_shift` pixels in each direction (seeded), with their labels; the test set as is.

Written one copy at a time, so memory stays at one copy (47 MB for MNIST) whatever K;
each file is written atomically, so an interrupted run leaves no half-written set.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import torch

from mnist_rules.atomic import atomic_path
from mnist_rules.data.mnist import MnistData

IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def shifted(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image moved by its own random (dy, dx) in [-max_shift, max_shift]; the
    pixels moved in from outside are 0 (background), none wrap around."""
    n, h, w = images.shape
    m = max_shift
    padded = torch.zeros(n, h + 2 * m, w + 2 * m, dtype=images.dtype)
    padded[:, m : m + h, m : m + w] = images
    dy = torch.randint(-m, m + 1, (n,), generator=generator)
    dx = torch.randint(-m, m + 1, (n,), generator=generator)
    out = torch.empty_like(images)
    for sy in range(-m, m + 1):  # (2m+1)^2 groups, each one slice: no per-image loop
        for sx in range(-m, m + 1):
            rows = ((dy == sy) & (dx == sx)).nonzero().squeeze(1)
            out[rows] = padded[rows, m - sy : m - sy + h, m - sx : m - sx + w]
    return out


def _header(magic_ndim: int, dims: tuple[int, ...]) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, magic_ndim) + struct.pack(f">{len(dims)}I", *dims)


def make_large(
    data: MnistData,
    copies: int,
    out: Path,
    seed: int = 0,
    max_shift: int = 2,
    progress: Callable[[int], None] = lambda copy: None,
) -> Path:
    """Write the set under out/<Dataset>/raw/ and return that folder."""
    raw = out / data.raw_folder.parent.name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    images, labels = data.train.data, data.train.targets.to(torch.uint8)
    n, h, w = images.shape
    generator = torch.Generator().manual_seed(seed)
    with (
        atomic_path(raw / IMAGES) as tmp_images,
        atomic_path(raw / LABELS) as tmp_labels,
        open(tmp_images, "wb") as fi,
        open(tmp_labels, "wb") as fl,
    ):
        fi.write(_header(3, (n * copies, h, w)))
        fl.write(_header(1, (n * copies,)))
        for copy in range(copies):
            batch = images if copy == 0 else shifted(images, max_shift, generator)
            fi.write(batch.contiguous().numpy().data)  # a view: no copy of the copy
            fl.write(labels.numpy().data)
            progress(copy + 1)
    for name in TEST_FILES:
        with atomic_path(raw / name) as tmp:
            shutil.copyfile(data.raw_folder / name, tmp)
    return raw
