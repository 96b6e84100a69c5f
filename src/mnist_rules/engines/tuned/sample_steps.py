"""The per-sample steps contract: what the tuned engine asks of an object that runs
per-sample SGD a block at a time. Three implementations:

- BlockedSampleSgd (blocked_sample_sgd.py): eager torch ops, a step as it is taken;
- NumbaSampleSgd (numba_sample_sgd.py) and TritonSampleSgd (triton_sample_sgd.py):
  the kernel step mode's compiled steps, taken lazily and run a range at a time; what
  they share (the laziness, the rows, the bookkeeping) is DeferredSampleSgd
  (deferred_sample_sgd.py), and each adds only how its backend runs a range.

A block: `start_block` (its images and the engine's rows for it), then up to `block`
calls of `step`; `finish_block` or the next `start_block` applies the first layer's
update. Between `begin` and `end` the model's layers 2 and 3 may live in the object's
own buffers; after `end` (and `run_pending` for the logits) the model and the logits
hold every step taken.
"""

from __future__ import annotations

from typing import Protocol

import torch

from mnist_rules.engines.regions import Regions


class SampleSteps(Protocol):
    block: int  # samples per block
    k: int  # steps taken in the current block
    signal: torch.Tensor  # (block, hidden1): dL/dh1 of each step of the block
    # Layers 2 and 3 with the bias as a last column: the eager steps' working copies
    # between begin and end (a captured unit saves and restores them); unused by the
    # compiled steps, which update the model's parameters in place.
    w2a: torch.Tensor
    w3a: torch.Tensor
    regions: Regions  # the engine's named regions (profile)
    block_threads: int | None  # CPU threads for the per-block GEMMs (None: leave them)

    def begin(self) -> None:
        """An epoch (or the rest of one) starts: take what the steps update."""

    def next_block(self, x: torch.Tensor) -> None:
        """Apply the block just trained to the first layer; start one on images `x`."""

    def start_block(self, x: torch.Tensor, onehot: torch.Tensor, logits: torch.Tensor) -> None:
        """`next_block`, told also the engine's one-hot and logits rows for the block."""

    def step(self, onehot: torch.Tensor | None = None, logits_out: torch.Tensor | None = None):
        """Take the block's next step (eager: its rows; compiled: none, they have them)."""

    def take(self, samples: int) -> None:
        """The compiled steps only: take the block's next update, of `samples` samples."""

    def run_pending(self) -> None:
        """Run the steps taken but not yet run (the logits then hold them)."""

    def finish_block(self) -> None:
        """Apply the steps taken since the block started to the first layer now."""

    def end(self) -> None:
        """Everything pending applied: the model holds every step so far."""
