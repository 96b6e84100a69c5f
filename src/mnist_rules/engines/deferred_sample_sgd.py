"""What the kernel step mode's two backends share (numba's loop on the CPU,
engines.kernel_sample_sgd; Triton's launches on CUDA, engines.triton_sample_sgd): the
blocked scheme of engines.blocked_sample_sgd with its steps taken lazily.

`step` only counts; the steps counted so far run in one call (`run_pending`, each
backend's own) when the block is full, when the first layer's pending update is
applied, or when the engine needs the model or the logits. Layers 2 and 3 are updated
in place in the model's parameters, so there are no augmented copies to take or give
back.
"""

from __future__ import annotations

from mnist_rules.engines.blocked_sample_sgd import BlockedSampleSgd
from mnist_rules.engines.regions import BLOCK_GEMMS


class DeferredSampleSgd(BlockedSampleSgd):
    """Per-sample SGD whose steps run a range at a time; `p` is current after `end`."""

    # profile's split: the block's torch GEMMs, and the compiled steps (one region each)
    first_layer_regions = (BLOCK_GEMMS, BLOCK_GEMMS)
    ran = 0  # steps of the block that have run (of self.k taken)

    def begin(self) -> None:
        """Nothing to take: the steps update layers 2 and 3 in place."""

    def end(self) -> None:
        """Run the steps taken and apply the first layer's pending updates: `p` is the
        model after every step so far."""
        self.finish_block()

    def step(self, onehot=None, logits_out=None) -> None:
        """Take the block's next step (it runs with the others, in one call)."""
        self.k += 1
        if self.k == self.block:
            self.run_pending()

    def run_pending(self) -> None:
        """Run the steps taken since the last call (steps self.ran..self.k-1)."""
        raise NotImplementedError

    def _apply_first_layer(self) -> None:
        self.run_pending()
        super()._apply_first_layer()
        self.ran = 0
