"""Where the tuned engine's training inputs come from, given to it by `create`: the
set resident on the device (the default), copied from the host each step (`profile`'s
per-step transfer, CUDA only), or streamed from the memory-mapped file a block at a
time (stream mode). Each serves the images at positions start..start+size of the
epoch's order as floats scaled as ToTensor scales them, and times its own data and
transfer regions for `profile`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from mnist_rules.engines.base import unit_floats
from mnist_rules.engines.regions import DATA, TRANSFER, Regions

if TYPE_CHECKING:
    from mnist_rules.data.stream import BlockStream


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """One copy to the device; from pinned memory and asynchronous on CUDA."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


class InputSource:
    # Whether a captured unit (CUDA graph, torch.compile) may gather from it: only
    # what is on the device at fixed addresses, read through a device index.
    static = False
    pinned = False  # whether host memory is pinned for the copies (CUDA only)
    regions = Regions()  # the engine's, set when it is given the source

    def plan(self, positions: int) -> None:
        """Told once, before training, how many positions an epoch has (the whole set,
        or a process's share under torchrun)."""

    def start_epoch(self, order: torch.Tensor) -> None:
        """The epoch's order (indices into the training set, on the host)."""
        raise NotImplementedError

    def inputs(self, start: int, size: int, one_by_one: bool = False) -> torch.Tensor:
        """The images at positions start..start+size of the order, as floats on the
        device (`one_by_one`: each sample's image copied on its own, as per-sample SGD
        done the plain way would, where there is a copy)."""
        raise NotImplementedError


class ResidentInputs(InputSource):
    """The whole set moved to the device once; the order kept there too, at a fixed
    address, so that captured units gather through `at`."""

    static = True

    def __init__(self, images: torch.Tensor, device: torch.device, pinned: bool = False):
        self.images = to_device(images.contiguous(), device)  # pinned on CUDA in any case
        self.pinned = pinned and device.type == "cuda"
        self.order = torch.zeros(0, dtype=torch.long, device=device)

    def plan(self, positions: int) -> None:
        # Made once, before any unit is captured: a graph keeps reading this address.
        self.order = torch.zeros(positions, dtype=torch.long, device=self.images.device)

    def start_epoch(self, order: torch.Tensor) -> None:
        self.order.copy_(order)  # a length other than the plan's fails here

    def at(self, positions: torch.Tensor) -> torch.Tensor:
        """The images at `positions` (a device tensor) of the order, as floats."""
        with self.regions(DATA):
            return unit_floats(self.images[self.order[positions]])

    def inputs(self, start: int, size: int, one_by_one: bool = False) -> torch.Tensor:
        with self.regions(DATA):
            return unit_floats(self.images[self.order[start : start + size]])


class HostCopiedInputs(InputSource):
    """The images kept on the host; each step's gathered there and copied over."""

    def __init__(self, images: torch.Tensor, device: torch.device, pinned: bool):
        self.images, self.device = images.contiguous(), device
        self.pinned = pinned and device.type == "cuda"
        self._order = torch.zeros(0, dtype=torch.long)

    def start_epoch(self, order: torch.Tensor) -> None:
        self._order = order.cpu()

    def inputs(self, start: int, size: int, one_by_one: bool = False) -> torch.Tensor:
        with self.regions(DATA):
            idx = self._order[start : start + size]
            if self.pinned:  # the caching host allocator keeps it until the copy is done
                host = torch.empty((size, self.images.shape[1]), dtype=torch.uint8, pin_memory=True)
                torch.index_select(self.images, 0, idx, out=host)
            else:
                host = self.images[idx]
        with self.regions(TRANSFER):
            self.regions.count_copy(host)
            copy = lambda t: t.to(self.device, non_blocking=self.pinned)  # noqa: E731
            x = torch.stack([copy(row) for row in host]) if one_by_one else copy(host)
        with self.regions(DATA):
            return unit_floats(x)


class StreamedInputs(InputSource):
    """Blocks of the mapped file, read ahead by the stream (on CUDA it also queues the
    copies, on its side stream)."""

    def __init__(self, stream: BlockStream, pinned: bool = False):
        self.stream = stream
        self.pinned = pinned and stream.device.type == "cuda"  # as asked; its ring is, on CUDA

    def start_epoch(self, order: torch.Tensor) -> None:
        self.stream.start_epoch(order)

    def inputs(self, start: int, size: int, one_by_one: bool = False) -> torch.Tensor:
        with self.regions(DATA):
            return unit_floats(self.stream.rows(start, size))
