"""Per-sample SGD in the `kernel` step mode: the blocked scheme of
engines.blocked_sample_sgd, its per-step ops replaced by one compiled loop
(engines.numba_sample_steps) that runs a block's steps per call.

The steps are taken lazily (engines.deferred_sample_sgd). Layers 2 and 3 are updated
in place in the model's parameters (the compiled loop adds the biases itself), through
numpy views made once.
"""

from __future__ import annotations

import numpy as np
import torch

from mnist_rules.engines.deferred_sample_sgd import DeferredSampleSgd
from mnist_rules.engines.mlp_steps import MlpParams
from mnist_rules.engines.numba_sample_steps import compiled_steps
from mnist_rules.engines.regions import STEPS

# Scratch rows the compiled loop works in: a1, a2, dL/da1, dL/da2, dL/dz.
_SCRATCH_ROWS = 5


class KernelSampleSgd(DeferredSampleSgd):
    """Per-sample SGD on `p` with the steps compiled; `p` is current after `end`."""

    def __init__(self, p: MlpParams, lr: float, device: torch.device, block: int, **kw):
        if device.type != "cpu":
            raise ValueError("the kernel step mode's compiled loop runs on the CPU")
        super().__init__(p, lr, device, block, **kw)
        self._steps = compiled_steps()
        self._lr32 = np.float32(lr)
        widest = max(p.w1.shape[0], p.w2.shape[0], p.w3.shape[0])
        self._scratch = torch.zeros(_SCRATCH_ROWS, widest)
        self._arrays = tuple(t.numpy() for t in (self.pre, self.gram, self.signal))
        self._params = tuple(t.numpy() for t in (p.w2, p.b2, p.w3, p.b3))
        self._rows: tuple[np.ndarray, np.ndarray] | None = None  # the block's one-hots, logits
        self.ran = 0  # steps of the block that have run (of self.k taken)

    def start_block(self, x: torch.Tensor, onehot: torch.Tensor, logits: torch.Tensor) -> None:
        """Start a block: its images (K, 784) in training order, and views of the
        engine's one-hot labels and logits rows for the same positions."""
        self.next_block(x)
        self._rows = (onehot.numpy(), logits.numpy())
        self.ran = 0

    def run_pending(self) -> None:
        """Run the steps taken since the last call."""
        if self.ran == self.k or self._rows is None:
            return
        pre, gram, signal = self._arrays
        w2, b2, w3, b3 = self._params
        onehot, logits = self._rows
        with self.regions(STEPS):
            self._steps(pre, gram, signal, self.ran, self.k, w2, b2, w3, b3, onehot, logits,
                        self._lr32, self._scratch.numpy())  # fmt: skip
        self.ran = self.k
