"""IDX files read whole into tensors, as torchvision's MNIST reads them, without
importing torchvision (about 1.3 s: its ops import torch._dynamo).

One read of each file, straight into the tensor's memory: no copy after it. The header
is checked first (data.idx_header.check_idx_header), so a damaged file fails with the
same clear error as in stream mode (data.idx_mmap). torchvision only downloads
(data.mnist), when the files are not there.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from mnist_rules.data.idx_header import check_idx_header


def read_idx(path: Path) -> torch.Tensor:
    """An MNIST IDX file's uint8 data, a tensor of the dimensions its header gives:
    what torchvision's read_image_file gives (its read_label_file: this, .long())."""
    shape = check_idx_header(path)
    data = torch.empty(shape, dtype=torch.uint8)
    with open(path, "rb") as f:
        f.seek(4 + 4 * len(shape))
        got = f.readinto(data.numpy().reshape(-1)) if data.numel() else 0
    if got != math.prod(shape):  # the file changed since its header was checked
        raise OSError(f"{path.name} ended after {got:,} of its {math.prod(shape):,} bytes")
    return data
