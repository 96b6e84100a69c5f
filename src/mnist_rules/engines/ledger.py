"""The epoch's losses, kept on the device and read by the loop: one ledger for every
engine, so that no engine keeps loss bookkeeping of its own.

The ledger holds one number per update of the epoch: its mean loss over its samples
(each loss taken before the update is applied; an update under way holds its samples'
share so far). Everything the loop reports comes
from it: the running loss (at the reporter's refreshes), the epoch's mean loss, each
update's mean loss, the first update whose loss was NaN or infinite, and what a
mid-epoch checkpoint saves. Nothing in it synchronises the device until it is read.

An engine writes into it in one of two ways:
  - `add(mean_loss, chunk)`: a chunk's mean loss, as autograd computed it (the torch
    engine). One device op per chunk; an update of one chunk keeps its loss exactly.
  - `keep_logits(logits, onehot, flush)` once, then `trained_to(position)`: the engine
    writes each sample's logits into `logits` (the tuned engine, whose steps compute
    them anyway); the ledger turns the new ones into losses only when it is read.

Every reduction is a plain sum over a slice (no atomics, so the same on CUDA from run
to run), and an update's mean comes out the same however its samples were split
between reads, as long as the split falls at an update's end: where an epoch can stop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from mnist_rules.engines.chunks import Chunk


class LossLedger:
    def __init__(self, chunks: Sequence[Chunk], device: torch.device | str = "cpu"):
        stops = [c.stop for c in chunks if c.last]  # where each update ends
        self.updates = len(stops)
        self.samples_per_update = stops[0]  # all but a short last update
        starts = [0, *stops[:-1]]
        self._sizes = [b - a for a, b in zip(starts, stops, strict=True)]  # on the host
        self.sizes = torch.tensor(self._sizes, dtype=torch.float32, device=device)
        self.means = torch.zeros(self.updates, device=device)  # each update's mean loss
        self.samples = 0  # samples whose losses are in `means` or in the kept logits
        self._update = 0  # the update being written by `add`
        self._logits: torch.Tensor | None = None
        self._onehot: torch.Tensor | None = None
        self._folded = 0  # logits of positions [0, _folded) are in `means`
        self._flush: Callable[[], None] = lambda: None

    # -- written by an engine ----------------------------------------------------

    def add(self, mean_loss: torch.Tensor, chunk: Chunk) -> None:
        """A chunk's mean loss (a device scalar), weighted by its share of its update
        (of this process's part of it, under torchrun: not chunk.weight, which is its
        share of the whole update's gradient)."""
        share = chunk.size / self._sizes[self._update]  # 1.0 for an update of one chunk
        self.means[self._update].add_(mean_loss.detach(), alpha=share)
        self.samples += chunk.size
        self._update += chunk.last

    def keep_logits(
        self, logits: torch.Tensor, onehot: torch.Tensor, flush: Callable[[], None]
    ) -> None:
        """Read the losses from the logits the engine writes per sample (row p: the
        sample at position p of the epoch's order), against the one-hot labels in the
        same order. `flush`: run the steps held back, so that the logits are written."""
        self._logits, self._onehot, self._flush = logits, onehot, flush

    def trained_to(self, position: int) -> None:
        """The logits of positions [0, position) are written (or will be, at a flush)."""
        self.samples = position

    # -- read by the loop ---------------------------------------------------------

    def start_epoch(self, state: dict[str, Any] | None = None) -> None:
        """Afresh, or (`state`, from `state()`) as a stopped epoch left it."""
        self.means.zero_()
        self.samples = self._update = self._folded = 0
        if state is not None:
            done = state["means"]
            self.means[: len(done)] = done.to(self.means.device)
            self.samples = self._folded = state["samples"]
            self._update = state["updates"]

    def running_loss(self) -> float:
        """Mean loss of the epoch's samples so far. Synchronises the device."""
        self._fold()
        return (self.means * self.sizes).sum().item() / self.samples if self.samples else 0.0

    def epoch_loss(self) -> float:
        """Mean loss over the epoch's samples (the epoch's last sync)."""
        return self.running_loss()

    def update_losses(self) -> torch.Tensor:
        """Each update's mean loss, on the host."""
        self._fold()
        return self.means.to("cpu", copy=True)

    def first_nonfinite_update(self) -> int | None:
        """The index, within the epoch, of the first update whose loss was NaN or
        infinite (None if none). Synchronises the device."""
        self._fold()
        bad = (~torch.isfinite(self.means)).nonzero()
        return int(bad[0, 0]) if len(bad) else None

    def state(self) -> dict[str, Any]:
        """What a mid-epoch checkpoint keeps (at an update's end): host tensors and numbers."""
        self._fold()
        updates = -(-self.samples // self.samples_per_update)
        return {
            "means": self.means[:updates].to("cpu", copy=True),
            "samples": self.samples,
            "updates": updates,
        }

    def _fold(self) -> None:
        """The losses of the logits written since the last read, into their updates."""
        if self._logits is None:
            return
        self._flush()
        start, stop, per = self._folded, self.samples, self.samples_per_update
        if stop <= start:
            return
        log_probs = torch.log_softmax(self._logits[start:stop], 1)
        losses = -(log_probs * self._onehot[start:stop]).sum(1)
        # Cut at the updates' ends: a head that finishes the update under way, whole
        # updates (one sum each), and a tail that starts the next.
        head = min(stop, -(-start // per) * per) - start
        whole = (stop - start - head) // per * per
        first = start // per
        if head:
            self.means[first].add_(losses[:head].sum() / self.sizes[first])
        if whole:
            k = -(-start // per)
            means = (
                losses[head : head + whole].view(-1, per).sum(1) / self.sizes[k : k + whole // per]
            )
            self.means[k : k + whole // per].add_(means)
        if head + whole < stop - start:
            last = (start + head + whole) // per
            self.means[last].add_(losses[head + whole :].sum() / self.sizes[last])
        self._folded = stop
