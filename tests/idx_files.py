"""Tiny MNIST-format data sets for tests: IDX files written by the tests themselves."""

from __future__ import annotations

import struct
from pathlib import Path

import torch

IDX_UBYTE = 0x08
FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


def write_idx(path: Path, array: torch.Tensor) -> None:
    """Write a uint8 tensor as an IDX file: magic (0, 0, type, ndim), big-endian dims, data."""
    assert array.dtype == torch.uint8
    header = struct.pack(">BBBB", 0, 0, IDX_UBYTE, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.contiguous().numpy().tobytes())


def learnable_digits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n 28x28 uint8 images in 10 classes: a fixed random stroke pattern per class plus
    noise, so a network can learn them in a few epochs but not in one update."""
    prototypes_rng = torch.Generator().manual_seed(1234)  # the same classes in every split
    prototypes = (torch.rand(10, 28, 28, generator=prototypes_rng) > 0.8).float()
    rng = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=rng)
    noise = torch.rand(n, 28, 28, generator=rng)
    images = 0.6 * prototypes[labels] + 0.5 * noise * (noise > 0.7)
    return (images.clamp(0, 1) * 255).round().to(torch.uint8), labels.to(torch.uint8)


def write_dataset(root: Path, folder: str = "MNIST", train: int = 512, test: int = 200) -> Path:
    """Write the four IDX files under root/folder/raw/ and return that raw folder."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", train, 1), ("test", test, 2)):
        images, labels = learnable_digits(n, seed)
        write_idx(raw / FILES[(split, "images")], images)
        write_idx(raw / FILES[(split, "labels")], labels)
    return raw
