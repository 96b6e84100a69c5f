"""What the kernel step mode's two backends share (numba's loop on the CPU,
numba_sample_sgd.py; Triton's launches on CUDA, triton_sample_sgd.py): the blocked
scheme of blocked_sample_sgd.py with its steps taken lazily.

`step` only counts; the steps counted so far run in one call (`run_pending`) when the
block is full, when the first layer's pending update is applied, or when the engine
needs the model or the logits. A backend writes two methods: `_bind_rows` (where the
block's one-hot labels and logits are) and `_run(first, stop)` (steps first..stop-1).
Layers 2 and 3 are updated in place in the model's parameters, so there are no
augmented copies to take or give back.
"""

from __future__ import annotations

import torch

from mnist_rules.engines.regions import BLOCK_GEMMS, STEPS
from mnist_rules.engines.tuned.blocked_sample_sgd import BlockedSampleSgd


class DeferredSampleSgd(BlockedSampleSgd):
    """Per-sample SGD whose steps run a range at a time; `p` is current after `end`."""

    # profile's split: the block's torch GEMMs, and the compiled steps (one region each)
    first_layer_regions = (BLOCK_GEMMS, BLOCK_GEMMS)
    ran = 0  # steps of the block that have run (of self.k taken)
    bound = False  # whether a block's rows are bound (a block has started)

    @staticmethod
    def check_samples(what: str, block: int, samples_per_update: int, most: int) -> None:
        """Refuse updates the compiled steps (`what`) do not take: more than `most`
        samples, or a block that does not hold whole updates."""
        if not 1 <= samples_per_update <= most:
            raise ValueError(
                f"{what} take 1 to {most} samples per update, not {samples_per_update}"
            )
        if block % samples_per_update:
            raise ValueError(
                f"a block of {block} does not hold whole updates of {samples_per_update}"
            )

    def begin(self) -> None:
        """Nothing to take: the steps update layers 2 and 3 in place."""

    def end(self) -> None:
        """Run the steps taken and apply the first layer's pending updates: `p` is the
        model after every step so far."""
        self.finish_block()

    def start_block(self, x: torch.Tensor, onehot: torch.Tensor, logits: torch.Tensor) -> None:
        """Start a block: its images (K, 784) in training order, and the engine's one-hot
        labels and logits rows for the same positions."""
        self.next_block(x)
        self._bind_rows(onehot, logits)
        self.bound, self.ran = True, 0

    def step(self, onehot=None, logits_out=None) -> None:
        """Take the block's next step (it runs with the others, in one call)."""
        self.take(1)

    def take(self, samples: int) -> None:
        """Take the block's next update, of `samples` samples (it runs with the others)."""
        self.k += samples
        if self.k == self.block:
            self.run_pending()

    def run_pending(self) -> None:
        """Run the steps taken since the last call (steps self.ran..self.k-1)."""
        if self.ran == self.k or not self.bound:
            return
        with self.regions(STEPS):
            self._run(self.ran, self.k)
        self.ran = self.k

    def _apply_first_layer(self) -> None:
        self.run_pending()
        super()._apply_first_layer()
        self.ran = 0

    def _bind_rows(self, onehot: torch.Tensor, logits: torch.Tensor) -> None:
        """The engine's rows of the block's one-hot labels and logits."""
        raise NotImplementedError

    def _run(self, first: int, stop: int) -> None:
        """Run the block's steps first..stop-1, their logits written to the rows."""
        raise NotImplementedError
