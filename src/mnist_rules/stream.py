"""Streaming a training set that is not held in memory: blocks of K samples read from
the memory-mapped IDX file in the epoch's order, the next block read on a background
thread while the current one trains.

The order must keep each block of K positions inside one block of K rows of the file,
so that a block is one sequential read (then permuted in memory) and its pages can be
dropped at once. Dataset order does; so does the block shuffle below, which is a
different shuffle from the resident mode's full permutation: the blocks are visited
in a random order and each is shuffled within, with the seed.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import torch

from mnist_rules.idx_mmap import MappedIdx

# Samples per block: 7.8 MB of MNIST images. Large enough that a block is one long
# sequential read; small enough that two blocks in memory are nothing beside torch.
STREAM_BLOCK = 10_000


def auto_data_mode(images_file: Path) -> str:
    """--data-mode auto: "stream" when the training images would take more than half
    the memory available now (resident mode holds them about 1.6 times over, as
    measured on 600,000 images), else "resident"; resident too for a set still to be
    downloaded, which is MNIST-sized."""
    try:
        size = images_file.stat().st_size
    except FileNotFoundError:
        return "resident"
    return "stream" if size > available_memory() / 2 else "resident"


def available_memory() -> int:
    """Bytes the kernel says can be used without swapping (MemAvailable)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def block_shuffled_order(n: int, block: int, generator: torch.Generator) -> torch.Tensor:
    """A permutation of range(n): the whole blocks of `block` rows in a random order,
    each shuffled within; a short last block stays last (shuffled within), so that
    every block of positions lies in one block of rows."""
    whole = n // block
    parts = []
    for b in torch.randperm(whole, generator=generator).tolist():
        parts.append(b * block + torch.randperm(block, generator=generator))
    if n % block:
        parts.append(whole * block + torch.randperm(n % block, generator=generator))
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


class BlockStream:
    """Serves rows of the epoch's order, as (size, row bytes) uint8 tensors, from the
    mapped file: each block read once, the next one prefetched, the pages released."""

    def __init__(self, mapped: MappedIdx, n: int, block: int):
        self.mapped, self.n, self.block = mapped, n, block
        self.images = mapped.data[:n].reshape(n, -1)  # a view of the file: nothing read
        # One intra-op thread for the reader (a per-thread setting): with the default,
        # its copies competed with training's threads and halved a 600,000-image batch
        # epoch here (21.2 s against 11.3 s; resident 10.3 s).
        self._pool = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="mnist-stream",
            initializer=torch.set_num_threads,
            initargs=(1,),
        )
        self._order = torch.zeros(0, dtype=torch.long)
        self._blocks: dict[int, Future] = {}
        self.stalled = 0.0  # seconds the training waited for a block (profile's stall)

    def start_epoch(self, order: torch.Tensor) -> None:
        self._order = order.cpu()
        self._blocks.clear()
        self._want(0)

    def rows(self, start: int, size: int) -> torch.Tensor:
        """The images at positions [start, start+size) of the epoch's order."""
        first, last = start // self.block, (start + size - 1) // self.block
        parts = []
        for b in range(first, last + 1):
            data = self._get(b)
            lo = max(start, b * self.block) - b * self.block
            hi = min(start + size, (b + 1) * self.block) - b * self.block
            parts.append(data[lo:hi])
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _get(self, b: int) -> torch.Tensor:
        self._want(b)
        self._want(b + 1)  # the next block, read while this one trains
        for old in [k for k in self._blocks if k < b]:  # two blocks at most in memory
            del self._blocks[old]
        future = self._blocks[b]
        if not future.done():
            waited = time.perf_counter()
            future.result()
            self.stalled += time.perf_counter() - waited
        return future.result()

    def _want(self, b: int) -> None:
        if b * self.block < self.n and b not in self._blocks:
            self._blocks[b] = self._pool.submit(self._read, b)

    def _read(self, b: int) -> torch.Tensor:
        positions = self._order[b * self.block : (b + 1) * self.block]
        lo, hi = int(positions.min()), int(positions.max()) + 1
        if hi - lo > self.block:
            raise ValueError("the order spreads a block of positions over the whole file")
        rows = self.images[lo:hi].clone()  # one sequential read of the block's rows
        self.mapped.release(lo, hi)  # and its pages dropped: only the copy stays
        return rows[positions - lo]
