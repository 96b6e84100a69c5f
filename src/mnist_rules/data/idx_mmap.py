"""IDX files memory-mapped: a training set that is never read whole into memory.

Resident mode reads an IDX file in one go (data.idx_read), which is fine for MNIST's
47 MB but not for a set larger than RAM. Here the file is mapped instead (Python's
mmap, read-only), and a tensor views the mapping without a copy, so the kernel pages in
only what is read. Pages once read stay in the process's resident memory until the
kernel needs them back, so a reader that has copied a range out calls `release` to drop
its pages: the process then holds only the ranges in flight. The header is checked
first (data.idx_header.check_idx_header): a damaged file fails with the same clear
error as in resident mode.
"""

from __future__ import annotations

import math
import mmap
import warnings
from pathlib import Path

import torch

from mnist_rules.data.idx_header import check_idx_header


def idx_shape(path: Path) -> tuple[int, ...]:
    """The dimensions an IDX file's header gives (after checking the whole header)."""
    return check_idx_header(path)


class MappedIdx:
    """An IDX file's uint8 data as a tensor of its dimensions, backed by the file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.shape = idx_shape(self.path)
        self.header = 4 + 4 * len(self.shape)
        self.row_bytes = math.prod(self.shape[1:])
        with open(self.path, "rb") as f:  # the mapping outlives the file descriptor
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        with warnings.catch_warnings():  # read-only by design: nothing writes to it
            warnings.filterwarnings("ignore", message=".*not writable.*")
            flat = torch.frombuffer(
                self._map, dtype=torch.uint8, offset=self.header, count=math.prod(self.shape)
            )
        self.data = flat.view(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def release(self, start: int, stop: int) -> None:
        """Drop the pages of rows [start, stop) from this process's memory (they are
        read again from the file, or the page cache, if used again). Only whole pages
        inside the range are dropped: a page shared with a neighbouring row stays."""
        page = mmap.PAGESIZE
        first = self.header + start * self.row_bytes
        last = self.header + stop * self.row_bytes
        lo, hi = -(-first // page) * page, last // page * page
        if hi > lo:
            self._map.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
