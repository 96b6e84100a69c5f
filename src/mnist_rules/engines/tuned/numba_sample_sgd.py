"""SGD with 1 to MAX_SAMPLES samples per update in the `kernel` step mode on the CPU: the
deferred blocked scheme (deferred_sample_sgd.py), its updates run by one compiled numba
loop a range at a time (numba_sample_steps.py for one sample per update,
numba_batch_steps.py for more). Layers 2 and 3 are updated in place in the model's
parameters (the compiled loop adds the biases itself), through numpy views made once.
"""

from __future__ import annotations

import numpy as np
import torch

from mnist_rules.engines.tuned import numba_batch_steps
from mnist_rules.engines.tuned.deferred_sample_sgd import DeferredSampleSgd
from mnist_rules.engines.tuned.mlp_steps import MlpParams
from mnist_rules.engines.tuned.numba_sample_steps import compiled_steps

# Scratch rows the compiled loop works in: a1, a2, dL/da1, dL/da2, dL/dz.
_SCRATCH_ROWS = 5


class NumbaSampleSgd(DeferredSampleSgd):
    """SGD on `p` with `samples_per_update` samples an update (a block holds whole
    updates) and the steps compiled; `p` is current after `end`."""

    def __init__(
        self,
        p: MlpParams,
        lr: float,
        device: torch.device,
        block: int,
        samples_per_update: int = 1,
        **kw,
    ):
        if device.type != "cpu":
            raise ValueError("the kernel step mode's compiled loop runs on the CPU")
        most = numba_batch_steps.MAX_SAMPLES
        self.check_samples("numba's compiled loops", block, samples_per_update, most)
        super().__init__(p, lr, device, block, **kw)
        self.samples_per_update = samples_per_update
        self._lr32 = np.float32(lr)
        hidden1, hidden2, classes = p.w1.shape[0], p.w2.shape[0], p.w3.shape[0]
        if samples_per_update == 1:
            self._steps = compiled_steps()
            self._scratch = torch.zeros(_SCRATCH_ROWS, max(hidden1, hidden2, classes))
        else:
            self._batch_steps = numba_batch_steps.compiled_batch_steps()
            self._batch_scratch = numba_batch_steps.scratch(
                samples_per_update, hidden1, hidden2, classes
            )
        self._arrays = tuple(t.numpy() for t in (self.pre, self.gram, self.signal))
        self._params = tuple(t.numpy() for t in (p.w2, p.b2, p.w3, p.b3))
        self._rows: tuple[np.ndarray, np.ndarray] | None = None  # the block's one-hots, logits

    def _bind_rows(self, onehot: torch.Tensor, logits: torch.Tensor) -> None:
        self._rows = (onehot.numpy(), logits.numpy())  # the loop writes the logits in place

    def _run(self, first: int, stop: int) -> None:
        pre, gram, signal = self._arrays
        w2, b2, w3, b3 = self._params
        onehot, logits = self._rows
        b = self.samples_per_update
        if b == 1:
            self._steps(pre, gram, signal, first, stop, w2, b2, w3, b3, onehot, logits,
                        self._lr32, self._scratch.numpy())  # fmt: skip
        else:
            self._batch_steps(pre, gram, signal, first, stop, b, w2, b2, w3, b3, onehot,
                              logits, self._lr32, self._batch_scratch)  # fmt: skip
