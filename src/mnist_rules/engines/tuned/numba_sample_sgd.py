"""Per-sample SGD in the `kernel` step mode on the CPU: the deferred blocked scheme
(deferred_sample_sgd.py), its steps run by one compiled numba loop a range at a time
(numba_sample_steps.py). Layers 2 and 3 are updated in place in the model's parameters
(the compiled loop adds the biases itself), through numpy views made once.
"""

from __future__ import annotations

import numpy as np
import torch

from mnist_rules.engines.tuned.deferred_sample_sgd import DeferredSampleSgd
from mnist_rules.engines.tuned.mlp_steps import MlpParams
from mnist_rules.engines.tuned.numba_sample_steps import compiled_steps

# Scratch rows the compiled loop works in: a1, a2, dL/da1, dL/da2, dL/dz.
_SCRATCH_ROWS = 5


class NumbaSampleSgd(DeferredSampleSgd):
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

    def _bind_rows(self, onehot: torch.Tensor, logits: torch.Tensor) -> None:
        self._rows = (onehot.numpy(), logits.numpy())  # the loop writes the logits in place

    def _run(self, first: int, stop: int) -> None:
        pre, gram, signal = self._arrays
        w2, b2, w3, b3 = self._params
        onehot, logits = self._rows
        self._steps(pre, gram, signal, first, stop, w2, b2, w3, b3, onehot, logits,
                    self._lr32, self._scratch.numpy())  # fmt: skip
