"""Streaming a training set that is not held in memory: blocks of K samples read from
the memory-mapped IDX file in the epoch's order into a small ring of host buffers, the
next blocks read on a background thread while the current one trains. On CUDA the
host buffers are pinned, and each block is copied into a ring of device buffers with
non_blocking copies on a side stream, ordered against the compute by CUDA events: a
block's copy overlaps the training on the block before it.

A block is cheapest when its K positions lie inside one block of K rows of the file:
one sequential read (then permuted in memory), its pages dropped at once. Dataset
order does that; so does the block shuffle below, which is a different shuffle from
the resident mode's full permutation: the blocks are visited in a random order and
each is shuffled within, with the seed. Under torchrun a process's block of its own
positions takes a share of several blocks of rows: each of those is read in turn
(the processes read the same pages, which the page cache holds once).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import torch

from mnist_rules.data.idx_mmap import MappedIdx
from mnist_rules.data.modes import STREAM_BLOCK, STREAM_BUFFERS


def auto_data_mode(images_file: Path, processes: int = 1) -> str:
    """--data-mode auto: "stream" when the training images, once per process on this
    host, would take more than half the memory available now (resident mode holds
    them about 1.6 times over, as measured on 600,000 images), else "resident";
    resident too for a set still to be downloaded, which is MNIST-sized."""
    try:
        size = images_file.stat().st_size
    except FileNotFoundError:
        return "resident"
    return "stream" if size * processes > available_memory() / 2 else "resident"


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
    """Serves rows of the epoch's order, as (size, row bytes) uint8 tensors on
    `device`, from the mapped file: each block read once into a ring slot (block b
    into slot b % buffers), the next buffers - 1 blocks prefetched, the pages released.

    A served tensor is a view of a ring slot: it is valid until the next call of
    `rows` (the engines turn it into floats before asking for more)."""

    def __init__(
        self,
        mapped: MappedIdx,
        n: int,
        block: int = STREAM_BLOCK,
        buffers: int = STREAM_BUFFERS,
        device: torch.device | str = "cpu",
    ):
        if block < 1 or buffers < 2:
            raise ValueError(f"a stream needs block >= 1 and buffers >= 2; got {block}, {buffers}")
        self.mapped, self.n, self.block, self.buffers = mapped, n, block, buffers
        self.device = torch.device(device)
        self.images = mapped.data[:n].reshape(n, -1)  # a view of the file: nothing read
        shape = (min(block, n), self.images.shape[1])
        cuda = self.device.type == "cuda"
        # The reader's sequential copy of a block's rows, then permuted into a slot.
        self._staging = torch.empty(shape, dtype=torch.uint8)
        self._host = [
            torch.empty(shape, dtype=torch.uint8, pin_memory=cuda) for _ in range(buffers)
        ]
        self._copies = _DeviceRing(shape, buffers, self.device) if cuda else None
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
        self.stalled = 0.0  # seconds the training waited for the reader (profile's stall)
        self.copied_bytes = 0  # host-to-device bytes copied (CUDA)

    @property
    def timing(self) -> bool:
        """Whether the device's waits for copies are being measured (CUDA; `profile`)."""
        return self._copies is not None and self._copies.timing

    @timing.setter
    def timing(self, on: bool) -> None:
        if self._copies is not None:
            self._copies.timing = on

    def reset_stall(self) -> None:
        self.stalled, self.copied_bytes = 0.0, 0
        if self._copies is not None:
            self._copies.waits.clear()

    def device_stall(self) -> float:
        """Seconds the device waited for copies while `timing` (synchronises)."""
        return self._copies.stalled() if self._copies is not None else 0.0

    def start_epoch(self, order: torch.Tensor) -> None:
        self._release_before(len(self._order) // self.block + 1)
        self._order = order.cpu()
        self._blocks.clear()  # the reader runs its tasks in order: stale ones first
        self._want(0)

    def rows(self, start: int, size: int) -> torch.Tensor:
        """The images at positions [start, start+size) of the epoch's order."""
        first, last = start // self.block, (start + size - 1) // self.block
        self._release_before(first)  # the engine is done with what it was served
        if first == last:
            lo = start - first * self.block
            return self._get(first)[lo : lo + size]
        # Across blocks: gathered into a new tensor, block by block, so that any chunk
        # fits however few buffers there are: each block is released before the next is
        # served, but not the last, where the next chunk may start (released, it would
        # be read and copied again).
        out = torch.empty((size, self.images.shape[1]), dtype=torch.uint8, device=self.device)
        for b in range(first, last + 1):
            self._release_before(b)
            lo = max(start, b * self.block)
            hi = min(start + size, (b + 1) * self.block)
            out[lo - start : hi - start] = self._get(b)[lo - b * self.block : hi - b * self.block]
        return out

    def _get(self, b: int) -> torch.Tensor:
        for ahead in range(b, b + self.buffers):  # the next blocks, read while this trains
            self._want(ahead)
        future = self._blocks[b]
        if not future.done():
            waited = time.perf_counter()
            future.result()
            self.stalled += time.perf_counter() - waited
        rows = future.result()
        if self._copies is not None:
            return self._copies.wait(b % self.buffers, len(rows))
        return rows

    def _release_before(self, b: int) -> None:
        """The engine is done with the blocks before `b`: their slots may be refilled."""
        for old in [k for k in self._blocks if k < b]:
            del self._blocks[old]
            if self._copies is not None:  # once the device is done with what it queued
                self._copies.release(old % self.buffers)

    def _gather(self, positions: torch.Tensor, lo: int, hi: int, out=None) -> torch.Tensor:
        """The rows at `positions`, all within [lo, hi) (at most a block): one
        sequential read of that range, its pages dropped, then the rows picked out."""
        staging = self._staging[: hi - lo]
        staging.copy_(self.images[lo:hi])
        self.mapped.release(lo, hi)  # only the copy stays in memory
        return torch.index_select(staging, 0, positions - lo, out=out)

    def _want(self, b: int) -> None:
        if b * self.block < len(self._order) and b not in self._blocks:
            self._blocks[b] = self._pool.submit(self._read, b)

    def _read(self, b: int) -> torch.Tensor:
        """On the reader thread: block b's rows, in the order's order, into its slot
        (and on CUDA, its copy to the device queued on the side stream)."""
        positions = self._order[b * self.block : (b + 1) * self.block]
        slot = b % self.buffers
        if self._copies is not None:  # the slot's last copy to the device is done
            self._copies.host_free(slot)
        host = self._host[slot][: len(positions)]
        lo, hi = int(positions.min()), int(positions.max()) + 1
        if hi - lo <= self.block:  # the usual case: one window of the file
            self._gather(positions, lo, hi, out=host)
        else:  # a process's share under torchrun: parts of several blocks of rows
            windows = positions // self.block
            for window in windows.unique().tolist():
                where = (windows == window).nonzero().squeeze(1)
                part = positions[where]
                rows = self._gather(part, int(part.min()), int(part.max()) + 1)
                host.index_copy_(0, where, rows)
        if self._copies is not None:
            self.copied_bytes += host.nbytes
            self._copies.copy(slot, host)
        return host


class _DeviceRing:
    """The device side of a CUDA stream: a ring of device buffers filled by
    non_blocking copies on a side stream. Events order the two streams: a slot's copy
    waits until the compute released the slot, and the compute waits for the copy.
    While `timing`, each wait is bracketed by events, so that how long the device
    waited for a copy can be read afterwards without a sync per block."""

    def __init__(self, shape: tuple[int, int], buffers: int, device: torch.device):
        self.device = device
        self.slots = [torch.empty(shape, dtype=torch.uint8, device=device) for _ in range(buffers)]
        self.stream = torch.cuda.Stream(device)
        self.copied = [torch.cuda.Event() for _ in range(buffers)]
        self.released = [torch.cuda.Event() for _ in range(buffers)]
        self.timed = [False] * buffers  # whether the slot's copy event can be timed
        self.timing = False
        self.waits: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []

    def host_free(self, slot: int) -> None:
        """Block (the reader thread) until the slot's last copy has read its host buffer."""
        self.copied[slot].synchronize()

    def copy(self, slot: int, host: torch.Tensor) -> None:
        """Queue the slot's copy from its pinned host buffer (the reader thread)."""
        with torch.cuda.stream(self.stream):
            self.stream.wait_event(self.released[slot])  # the compute is done with it
            self.slots[slot][: len(host)].copy_(host, non_blocking=True)
            done = torch.cuda.Event(enable_timing=self.timing)
            done.record(self.stream)
            self.copied[slot], self.timed[slot] = done, self.timing

    def wait(self, slot: int, rows: int) -> torch.Tensor:
        """The slot's rows, for the compute stream, which waits for the copy first."""
        compute = torch.cuda.current_stream(self.device)
        copied = self.copied[slot]
        if self.timing and self.timed[slot]:
            reached = torch.cuda.Event(enable_timing=True)
            reached.record(compute)
            self.waits.append((reached, copied))
        compute.wait_event(copied)
        return self.slots[slot][:rows]

    def release(self, slot: int) -> None:
        self.released[slot].record(torch.cuda.current_stream(self.device))

    def stalled(self) -> float:
        """Seconds the compute stream reached a wait before its copy was done."""
        total = 0.0
        for reached, copied in self.waits:
            copied.synchronize()
            total += max(0.0, reached.elapsed_time(copied)) / 1000  # ms
        return total
