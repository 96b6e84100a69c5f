"""Small-batch SGD steps as one compiled loop (numba): the `kernel` step mode on the CPU
for 2 to MAX_SAMPLES samples per update. numba_sample_steps.py is the same for one.

The deferred scheme of engines.tuned.blocked_sample_sgd, an update of b samples at a
time: every sample of an update sees the same weights, so sample j of the update that
starts at block position s computes its first layer as

    h1_j = P_j - lr * sum_{i<s} G_ji U_i

(U_i: dL/dh1 of the block's earlier samples, each already divided by its update's
size: the gradient of the update's mean loss), and the update's b samples then go
through layers 2 and 3 together:

- layer 2's forward takes four rows of W2 at a time past two samples at a time, in
  groups of eight samples, so each row is read once per group, not once per sample;
- the backward uses W3 and W2 as they were before the update: one pass per sample over
  the rows of W2 where its gradient is not zero, each row read for dL/da1 and then
  updated, and the share of the update's earlier samples taken off afterwards through
  their dot products (numba_batch_kernel.py);
- W2, W3 and their biases change once per update, by the mean over its samples, in
  place in the model's own parameters (numpy views: nothing is copied).

The block's GEMMs stay torch's, as for one sample per update: P = X W1^T + b1, the
Gram matrix X X^T + 1, and the deferred W1 -= lr U^T X. A block's updates may run in
several calls: each update's arithmetic is the same whichever call runs it.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from mnist_rules.engines.tuned.numba_sample_steps import (
    _numba,
    f32_zeros,
    jit_cached,
    seconds_to_compile,
)  # fmt: skip

# The most samples per update the compiled loop takes (--step-mode kernel). auto picks
# it up to where it is measured faster than the eager GEMMs: kernel_backends.FASTER_UP_TO.
MAX_SAMPLES = 64


@cache
def compiled_batch_steps():
    """The jitted loop (numba must be available; the loop's module imports numba once
    numba_sample_steps._numba() has set its cache directory)."""
    missing = _numba()  # a reason, where numba cannot be had
    if isinstance(missing, str):
        raise ImportError(missing)
    from mnist_rules.engines.tuned.numba_batch_kernel import batch_steps

    return jit_cached(batch_steps)


def scratch(b: int, hidden1: int, hidden2: int, classes: int) -> tuple[np.ndarray, ...]:
    """The loop's working rows for updates of `b` samples: a1, a2, dL/da1, dL/da2, dL/dz."""
    widths = (hidden1, hidden2, hidden1, hidden2, classes)
    return tuple(np.zeros((b, w), dtype=np.float32) for w in widths)


def compile_now() -> float:
    """Compile (or load from the cache) the loop for float32 arrays: seconds taken."""
    z = f32_zeros
    return seconds_to_compile(
        compiled_batch_steps, z(2, 3), z(2, 2), z(2, 3), 0, 0, 2, z(4, 3), z(4), z(2, 4),
        z(2), z(2, 2), z(2, 2), np.float32(0.1), scratch(2, 3, 4, 2),
    )  # fmt: skip
